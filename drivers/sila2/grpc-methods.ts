/** What SiLA's client and server both need of grpc-js: method definitions built once per RPC, and durations. */
import type * as grpc from '@grpc/grpc-js';
import type { RpcDefinition } from './proto.ts';

const methodDefinitions = new WeakMap<RpcDefinition, grpc.MethodDefinition<any, any>>();

/** The grpc-js method of an RPC (built once per RPC: this sits on every call's path). */
export function methodDefinition(rpc: RpcDefinition): grpc.MethodDefinition<any, any> {
  let definition = methodDefinitions.get(rpc);
  if (!definition) {
    definition = {
      path: rpc.path,
      requestStream: rpc.requestStream,
      responseStream: rpc.responseStream,
      requestSerialize: (message: object) => asBuffer(rpc.requestType.encode(message).finish()),
      requestDeserialize: (bytes: Buffer) => rpc.requestType.decode(bytes),
      responseSerialize: (message: object) => asBuffer(rpc.responseType.encode(message).finish()),
      responseDeserialize: (bytes: Buffer) => rpc.responseType.decode(bytes),
      originalName: rpc.name,
    };
    methodDefinitions.set(rpc, definition);
  }
  return definition;
}

/** protobufjs writes Buffers under Node already: copying them again on every message is waste. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A SiLA Duration message for a number of seconds. */
export function duration(seconds: number): { seconds: number; nanos: number } {
  const whole = Math.floor(seconds);
  return { seconds: whole, nanos: Math.round((seconds - whole) * 1e9) };
}

/** Seconds of a received Duration message (undefined when it is absent). */
export function durationSeconds(message: { seconds: unknown; nanos: number } | null | undefined): number | undefined {
  return message ? Number(message.seconds) + message.nanos / 1e9 : undefined;
}

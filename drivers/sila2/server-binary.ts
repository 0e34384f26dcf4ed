/**
 * The server's binary transfer services (SiLABinaryTransfer.proto): BinaryUpload for parameters over
 * 2 MiB, BinaryDownload for responses over 2 MiB, both in chunks of at most 2 MiB.
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { BinaryStore } from './binary-store.ts';
import { SilaError, UndefinedExecutionError, ValidationError, toGrpcStatus } from './errors.ts';
import { duration, methodDefinition } from './grpc-methods.ts';
import { FRAMEWORK_PACKAGE, type RpcDefinition } from './proto.ts';

/** One of the binary transfer RPCs, typed from the framework root. */
export function binaryTransferRpc(root: protobuf.Root, service: 'BinaryUpload' | 'BinaryDownload', name: string, request: string, response: string, streaming: boolean): RpcDefinition {
  const type = (n: string) => root.lookupType(`${FRAMEWORK_PACKAGE}.${n}`);
  return { name, path: `/${FRAMEWORK_PACKAGE}.${service}/${name}`, requestType: type(request), responseType: type(response), requestStream: streaming, responseStream: streaming };
}

const fail = (error: unknown) => toGrpcStatus(error instanceof SilaError ? error : new UndefinedExecutionError((error as Error).message)) as grpc.ServiceError;

const unary =
  (body: (request: any) => unknown): grpc.handleUnaryCall<any, any> =>
  (call, callback) => {
    try {
      callback(null, body(call.request));
    } catch (error) {
      callback(fail(error));
    }
  };

const bidi =
  (body: (request: any) => unknown): grpc.handleBidiStreamingCall<any, any> =>
  (call) => {
    call.on('data', (request) => {
      try {
        call.write(body(request));
      } catch (error) {
        call.emit('error', fail(error));
      }
    });
    call.on('end', () => call.end());
  };

/** Adds both services to `server`; `isBinaryParameter` says which parameters may be uploaded. */
export function addBinaryTransferServices(server: grpc.Server, root: protobuf.Root, binaries: BinaryStore, isBinaryParameter: (parameterFqi: string) => boolean): void {
  const rpc = (service: 'BinaryUpload' | 'BinaryDownload', name: string, request: string, response: string, streaming: boolean) => methodDefinition(binaryTransferRpc(root, service, name, request, response, streaming));
  const deleteBinary = unary((request) => {
    binaries.delete(request.binaryTransferUUID);
    return {};
  });
  server.addService(
    {
      CreateBinary: rpc('BinaryUpload', 'CreateBinary', 'CreateBinaryRequest', 'CreateBinaryResponse', false),
      UploadChunk: rpc('BinaryUpload', 'UploadChunk', 'UploadChunkRequest', 'UploadChunkResponse', true),
      DeleteBinary: rpc('BinaryUpload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false),
    },
    {
      CreateBinary: unary((request) => {
        const parameter = String(request.parameterIdentifier ?? '');
        if (!isBinaryParameter(parameter)) throw new ValidationError(parameter, `'${parameter}' is not a Binary parameter of any command of this server`);
        const created = binaries.createUpload(parameter, Number(request.binarySize), request.chunkCount);
        return { binaryTransferUUID: created.uuid, lifetimeOfBinary: duration(created.lifetimeSeconds) };
      }),
      UploadChunk: bidi((request) => {
        const lifetime = binaries.addChunk(request.binaryTransferUUID, request.chunkIndex, Buffer.from(request.payload));
        return { binaryTransferUUID: request.binaryTransferUUID, chunkIndex: request.chunkIndex, lifetimeOfBinary: duration(lifetime) };
      }),
      DeleteBinary: deleteBinary,
    },
  );
  server.addService(
    {
      GetBinaryInfo: rpc('BinaryDownload', 'GetBinaryInfo', 'GetBinaryInfoRequest', 'GetBinaryInfoResponse', false),
      GetChunk: rpc('BinaryDownload', 'GetChunk', 'GetChunkRequest', 'GetChunkResponse', true),
      DeleteBinary: rpc('BinaryDownload', 'DeleteBinary', 'DeleteBinaryRequest', 'DeleteBinaryResponse', false),
    },
    {
      GetBinaryInfo: unary((request) => {
        const info = binaries.downloadInfo(request.binaryTransferUUID);
        return { binarySize: info.size, lifetimeOfBinary: duration(info.lifetimeSeconds) };
      }),
      GetChunk: bidi((request) => {
        const offset = Number(request.offset);
        const payload = binaries.chunk(request.binaryTransferUUID, offset, request.length);
        return { binaryTransferUUID: request.binaryTransferUUID, offset, payload, lifetimeOfBinary: duration(binaries.downloadInfo(request.binaryTransferUUID).lifetimeSeconds) };
      }),
      DeleteBinary: deleteBinary,
    },
  );
}

/**
 * The server's side of values: received parameters checked and decoded (uploaded binaries put in
 * place), responses encoded (binaries over 2 MiB offered for download instead of sent inline).
 */
import type { BinaryStore } from './binary-store.ts';
import { MAX_INLINE_BINARY, type ValueCodec } from './codec.ts';
import { UndefinedExecutionError, ValidationError } from './errors.ts';
import { fqi, type Command, type Feature, type Parameter } from './feature.ts';
import { BinaryRef, type SilaValue } from './values.ts';

/** A command's parameters as plain values; a missing or invalid one is the client's ValidationError. */
export function readParameters(feature: Feature, codec: ValueCodec, binaries: BinaryStore, command: Command, request: Record<string, unknown>): Record<string, SilaValue> {
  const values: Record<string, SilaValue> = {};
  for (const parameter of command.parameters) {
    try {
      let value = codec.decode(parameter.dataType, request[parameter.identifier], '', true);
      if (codec.mayContainBinary(parameter.dataType)) value = resolveUploads(binaries, value, fqi.parameter(feature, command.identifier, parameter.identifier));
      values[parameter.identifier] = value;
    } catch (error) {
      const detail = (error as Error).message;
      throw new ValidationError(fqi.parameter(feature, command.identifier, parameter.identifier), detail === 'missing value' ? `parameter ${parameter.identifier} is missing` : `parameter ${parameter.identifier}: ${detail}`);
    }
  }
  return values;
}

/** Replaces binary transfer references in a decoded parameter by the uploaded bytes. */
function resolveUploads(binaries: BinaryStore, value: SilaValue, parameterFqi: string): SilaValue {
  if (value instanceof BinaryRef) return binaries.takeUpload(value.binaryTransferUUID, parameterFqi);
  if (Array.isArray(value)) return value.map((v) => resolveUploads(binaries, v, parameterFqi));
  if (value && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveUploads(binaries, v as SilaValue, parameterFqi)]));
  }
  return value;
}

/** The wire message of responses (or intermediate responses); a handler's invalid value is the server's fault. */
export function encodeResponses(codec: ValueCodec, binaries: BinaryStore, items: readonly Parameter[], values: Record<string, SilaValue> | void): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  for (const item of items) {
    let value = values?.[item.identifier];
    if (value !== undefined && codec.mayContainBinary(item.dataType)) value = offerLargeBinaries(binaries, value);
    try {
      message[item.identifier] = codec.encode(item.dataType, value, item.identifier);
    } catch (error) {
      throw new UndefinedExecutionError(`the server produced an invalid response: ${(error as Error).message}`);
    }
  }
  return message;
}

function offerLargeBinaries(binaries: BinaryStore, value: SilaValue): SilaValue {
  if (value instanceof Uint8Array) return value.length > MAX_INLINE_BINARY ? new BinaryRef(binaries.offerDownload(value)) : value;
  if (Array.isArray(value)) return value.map((v) => offerLargeBinaries(binaries, v));
  if (value && typeof value === 'object' && !(value instanceof BinaryRef)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, offerLargeBinaries(binaries, v as SilaValue)]));
  }
  return value;
}

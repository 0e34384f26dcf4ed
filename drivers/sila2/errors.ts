/**
 * SiLA 2 errors as typed exceptions, and their wire form: gRPC status ABORTED whose details are the
 * standard base64 of a serialized SiLAError (or BinaryTransferError for the binary transfer services).
 */
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { frameworkRoot } from './proto.ts';

export const FRAMEWORK_ERROR_TYPES = [
  'COMMAND_EXECUTION_NOT_ACCEPTED',
  'INVALID_COMMAND_EXECUTION_UUID',
  'COMMAND_EXECUTION_NOT_FINISHED',
  'INVALID_METADATA',
  'NO_METADATA_ALLOWED',
] as const;
export type FrameworkErrorType = (typeof FRAMEWORK_ERROR_TYPES)[number];

export const BINARY_TRANSFER_ERROR_TYPES = ['INVALID_BINARY_TRANSFER_UUID', 'BINARY_UPLOAD_FAILED', 'BINARY_DOWNLOAD_FAILED'] as const;
export type BinaryTransferErrorType = (typeof BINARY_TRANSFER_ERROR_TYPES)[number];

export abstract class SilaError extends Error {}

/** A parameter was missing or did not satisfy its type or constraints; `parameter` is its fully qualified id. */
export class ValidationError extends SilaError {
  override name = 'ValidationError';
  constructor(readonly parameter: string, message: string) {
    super(message);
  }
}

/**
 * An error the feature defines. Handlers may throw it with the short identifier ('UnimplementedFeature');
 * the server qualifies it. Clients receive the fully qualified identifier.
 */
export class DefinedExecutionError extends SilaError {
  override name = 'DefinedExecutionError';
  constructor(readonly errorIdentifier: string, message: string) {
    super(message);
  }

  /** The short identifier: the last segment of the fully qualified one. */
  get identifier(): string {
    return this.errorIdentifier.split('/').at(-1)!;
  }
}

export class UndefinedExecutionError extends SilaError {
  override name = 'UndefinedExecutionError';
}

export class FrameworkError extends SilaError {
  override name = 'FrameworkError';
  constructor(readonly errorType: FrameworkErrorType, message: string) {
    super(message);
  }
}

/**
 * The server no longer knows an execution because its lifetime of execution has passed: the client
 * knew the UUID would expire then (CommandConfirmation.lifetimeOfExecution, ExecutionInfo.updatedLifetimeOfExecution).
 */
export class ExecutionExpiredError extends FrameworkError {
  override name = 'ExecutionExpiredError';
  constructor(readonly executionUuid: string, readonly expiredAt: Date, message: string) {
    super('INVALID_COMMAND_EXECUTION_UUID', message);
  }
}

export class BinaryTransferError extends SilaError {
  override name = 'BinaryTransferError';
  constructor(readonly errorType: BinaryTransferErrorType, message: string) {
    super(message);
  }
}

/** The connection failed, timed out or was cancelled: no SiLA error was received. */
export class SilaConnectionError extends Error {
  override name = 'SilaConnectionError';
  constructor(message: string, readonly code: grpc.status) {
    super(message);
  }
}

let types: { silaError: protobuf.Type; binaryTransferError: protobuf.Type } | undefined;

function errorTypes() {
  if (!types) {
    const root = frameworkRoot();
    types = {
      silaError: root.lookupType('sila2.org.silastandard.SiLAError'),
      binaryTransferError: root.lookupType('sila2.org.silastandard.BinaryTransferError'),
    };
  }
  return types;
}

/** The gRPC status a server sends for a SiLA error. */
export function toGrpcStatus(error: SilaError): Partial<grpc.ServiceError> {
  const { silaError, binaryTransferError } = errorTypes();
  let bytes: Uint8Array;
  if (error instanceof BinaryTransferError) {
    bytes = binaryTransferError.encode({ errorType: BINARY_TRANSFER_ERROR_TYPES.indexOf(error.errorType), message: error.message }).finish();
  } else {
    const body =
      error instanceof ValidationError ? { validationError: { parameter: error.parameter, message: error.message } }
      : error instanceof DefinedExecutionError ? { definedExecutionError: { errorIdentifier: error.errorIdentifier, message: error.message } }
      : error instanceof FrameworkError ? { frameworkError: { errorType: FRAMEWORK_ERROR_TYPES.indexOf(error.errorType), message: error.message } }
      : { undefinedExecutionError: { message: error.message } };
    bytes = silaError.encode(body).finish();
  }
  return { code: grpc.status.ABORTED, details: Buffer.from(bytes).toString('base64'), metadata: new grpc.Metadata() };
}

/** Reads a failed call's status back into the error the server meant. */
export function fromGrpcError(error: Partial<grpc.ServiceError>, binaryTransfer = false): Error {
  if (error.code !== grpc.status.ABORTED || !error.details) {
    return new SilaConnectionError(connectionMessage(error), error.code ?? grpc.status.UNKNOWN);
  }
  const { silaError, binaryTransferError } = errorTypes();
  try {
    const bytes = Buffer.from(error.details, 'base64');
    if (binaryTransfer) {
      const decoded = binaryTransferError.decode(bytes) as unknown as { errorType: number; message: string };
      return new BinaryTransferError(BINARY_TRANSFER_ERROR_TYPES[decoded.errorType] ?? 'BINARY_UPLOAD_FAILED', decoded.message);
    }
    const decoded = silaError.decode(bytes) as unknown as Record<string, { parameter?: string; errorIdentifier?: string; errorType?: number; message?: string } | null>;
    if (decoded.validationError) return new ValidationError(decoded.validationError.parameter ?? '', decoded.validationError.message ?? '');
    if (decoded.definedExecutionError) return new DefinedExecutionError(decoded.definedExecutionError.errorIdentifier ?? '', decoded.definedExecutionError.message ?? '');
    if (decoded.frameworkError) {
      return new FrameworkError(FRAMEWORK_ERROR_TYPES[decoded.frameworkError.errorType ?? 0] ?? 'COMMAND_EXECUTION_NOT_ACCEPTED', decoded.frameworkError.message ?? '');
    }
    if (decoded.undefinedExecutionError) return new UndefinedExecutionError(decoded.undefinedExecutionError.message ?? '');
  } catch {
    // not a SiLA error body: fall through
  }
  return new UndefinedExecutionError(`the server aborted the call without a SiLA error: ${error.details}`);
}

function connectionMessage(error: Partial<grpc.ServiceError>): string {
  const details = error.details ?? error.message ?? 'unknown failure';
  switch (error.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return `the call did not complete before its deadline (${details})`;
    case grpc.status.CANCELLED:
      return `the call was cancelled (${details})`;
    case grpc.status.UNAVAILABLE:
      return `the server is not reachable (${details})`;
    case grpc.status.UNIMPLEMENTED:
      return `the server does not implement this call (${details})`;
    default:
      return `${grpc.status[error.code ?? grpc.status.UNKNOWN] ?? 'UNKNOWN'}: ${details}`;
  }
}

/** Types the SiLA client's parts share. */
import type { ValueCodec } from './codec.ts';
import type { Feature, Parameter } from './feature.ts';
import type { FeatureProto, RpcDefinition } from './proto.ts';
import type { SilaValue } from './values.ts';
import type { StreamEnd } from './client-streams.ts';
import type { Clock } from '../clock.ts';

export interface CallOptions {
  /**
   * Metadata values by metadata identifier (or fully qualified identifier). Each is sent only to the
   * calls its feature says it affects (Get_FCPAffectedByMetadata_*).
   */
  metadata?: Record<string, SilaValue>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type CommandStatus = 'waiting' | 'running' | 'finishedSuccessfully' | 'finishedWithError';

export interface ExecutionInfo {
  status: CommandStatus;
  progress?: number;
  estimatedRemainingSeconds?: number;
  updatedLifetimeSeconds?: number;
}

export type ExecutionUpdate = ({ kind: 'info' } & ExecutionInfo) | { kind: 'intermediate'; responses: Record<string, SilaValue> };

/** A feature of the server as the client knows it. */
export interface FeatureHandle {
  feature: Feature;
  proto: FeatureProto;
  codec: ValueCodec;
  /** Per RPC name: the fully qualified command or property it calls (metadata may affect it), or null. */
  members: Map<string, string | null>;
}

/** What a command execution needs of its client. */
export interface ExecutionHost {
  /** The client's clock (of execution lifetimes and stream grace). */
  readonly clock: Clock;
  follow(rpc: RpcDefinition, request: object, signal: AbortSignal | undefined, endsNormally: StreamEnd, onMessage: (message: any) => void | 'stop' | 'last'): Promise<void>;
  stream(rpc: RpcDefinition, request: object, signal: AbortSignal | undefined, endsNormally: StreamEnd, isLast?: (message: any) => boolean): AsyncGenerator<any>;
  unary(rpc: RpcDefinition, request: object, options: CallOptions, handle?: FeatureHandle): Promise<any>;
  decodeItems(handle: FeatureHandle, items: readonly Parameter[], message: Record<string, unknown>): Record<string, SilaValue> | Promise<Record<string, SilaValue>>;
}

/**
 * What a SiLA 2 feature implementation gives the server and gets from it: handlers and their call
 * contexts. Apart from server.ts so that the core features (core/) implement features without
 * importing the server that hosts them.
 */
import type { ObservableProperty } from './observable-property.ts';
import type { ExecutionControls } from './server-executions.ts';
import type { SilaValue } from './values.ts';

export interface ContinuationOption {
  identifier: string;
  /** For the operator: what to do by hand, what the device will do, what to expect. */
  description: string;
  /** A SiLA data type definition of the input data the option needs; none when omitted. */
  requiredInputData?: string;
}

export interface RecoverableErrorSpec {
  /** What kind of error: a fully qualified defined execution error identifier, or a short one of the command's feature. */
  errorIdentifier: string;
  message: string;
  options: ContinuationOption[];
  /** The preferred option (one of `options`). */
  defaultOption?: string;
  /** Seconds after which a client should pick the default option by itself; 0 or none: never. */
  automaticSelectionTimeoutSeconds?: number;
}

export interface ContinuationChoice {
  option: string;
  /** The value of the InputData the client sent (an Any); '' when it sent none (Void). */
  inputData: SilaValue;
}

export interface CallContext {
  /** Metadata the call carried, by metadata identifier. */
  metadata: Record<string, SilaValue>;
  /** Aborted when the server stops. */
  signal: AbortSignal;
}

export interface CommandContext extends CallContext {
  /** Set for observable commands. */
  executionUuid?: string;
  /** Reports progress (0..1) and, optionally, the estimated remaining time in seconds. */
  progress(fraction: number, remainingSeconds?: number): void;
  /** Sends intermediate responses to clients following the execution. */
  intermediate(responses: Record<string, SilaValue>): void;
  /** Observable commands: declares how this execution can be cancelled, paused and resumed (CancelController, PauseController). */
  controls(controls: ExecutionControls): void;
  /**
   * Observable commands: raises a recoverable error (ErrorRecoveryService) and waits for a client's
   * continuation option. Undefined when nobody will choose (no ErrorRecoveryService, handling aborted,
   * timed out or cancelled): the handler then ends with the error as usual.
   */
  recoverableError(error: RecoverableErrorSpec): Promise<ContinuationChoice | undefined>;
}

export type CommandHandler = (parameters: Record<string, any>, context: CommandContext) => Promise<Record<string, SilaValue> | void> | Record<string, SilaValue> | void;
export type PropertyGetter = (context: CallContext) => SilaValue | Promise<SilaValue>;
export type PropertyStream = (context: CallContext) => AsyncIterable<SilaValue>;

/** Decides, per call, whether metadata the feature defines is needed now and whether a value is acceptable. */
export interface MetadataRule {
  /** Whether the calls the metadata affects need it now (a lock identifier only while the server is locked). */
  needed(): boolean;
  /** Checks a received value; throws the error the call is refused with. */
  check?(value: SilaValue): void;
}

export interface FeatureImplementation {
  commands?: Record<string, CommandHandler>;
  /** Unobservable properties: a getter. Observable ones: an ObservableProperty or a function returning an async iterable. */
  properties?: Record<string, PropertyGetter | ObservableProperty<any> | PropertyStream>;
  /** For each metadata the feature defines, the fully qualified features, commands and properties that require it. */
  metadataAffects?: Record<string, string[]>;
  /** For metadata whose need changes at run time; without a rule, metadata is always needed by the calls it affects. */
  metadataRules?: Record<string, MetadataRule>;
  /**
   * For observable commands: decides, before the execution is confirmed, whether it may start at all.
   * A returned text refuses it with COMMAND_EXECUTION_NOT_ACCEPTED and that reason.
   */
  admit?: Record<string, (parameters: Record<string, any>, context: CallContext) => string | undefined>;
  /**
   * For observable commands: the client's idempotency key of a call (from its metadata), if any. A key
   * seen before returns the execution it started instead of starting another.
   */
  idempotencyKey?: (context: CallContext) => string | undefined;
}

/**
 * One interface for every module, whatever its vendor and protocol: the orchestrator drives SiLA 2 and
 * OPC UA modules through this and nothing else. Capabilities, parameters and results use the names and
 * units of the module catalogue; each protocol driver translates.
 */
import { RANDOM_IDS, type IdSource } from './ids.ts';
import { checkParameterValue, type CapabilitySpec, type ModuleKind } from '../config/catalogue.ts';
import type { ModuleState } from '../config/state-model.ts';

export type ParameterValue = string | number | boolean;
export type ResultValue = string | number | boolean;

/**
 * What identifies a command running on a device, durable across restarts of Workcell: the SiLA command
 * execution UUID or the LADS DeviceProgramRunId. Persist it before waiting; re-attach with it instead of
 * sending the command again.
 */
export interface ExecutionToken {
  module: string;
  capability: string;
  protocol: 'sila2' | 'opcua';
  id: string;
}

export interface ExecutionProgress {
  /** 0..1 */
  fraction: number;
  remainingSeconds?: number;
  step?: string;
  /**
   * Set while the command waits in a recoverable error for a continuation option (SiLA
   * ErrorRecoveryService); an update without it after one with it means the error was answered.
   */
  recoverableError?: RecoverableErrorNotice;
  /** True while the command is paused (pause()). */
  paused?: boolean;
}

/** A device's recoverable error: what went wrong, and how the command may go on. */
export interface RecoverableErrorNotice {
  message: string;
  /** The device's identifier of the kind of error (a SiLA defined execution error identifier, for one). */
  errorIdentifier: string;
  /** When the device raised it. */
  raisedAt: Date;
  /** The device's continuation options; send one with continueAfterError(). */
  options: Array<{ identifier: string; description: string }>;
  /** The option the device prefers. */
  defaultOption?: string;
  /** After this many seconds without an answer the device expects the default option to be chosen; undefined: never. */
  automaticSelectionSeconds?: number;
}

/**
 * Who holds a module's lock: the batch, and the lock identifier. The orchestrator makes the identifier
 * (newLockId) and logs it before locking, so that after a restart it locks again with the same one.
 */
export interface LockOwner {
  batchId: string;
  lockId: string;
}

/** A fresh lock identifier for a batch, to be logged before it is used. */
export function newLockId(batchId: string, ids: IdSource = RANDOM_IDS): string {
  return `${batchId}/${ids.uuid()}`;
}

export interface Execution {
  readonly token: ExecutionToken;
  /** Progress until the command finishes. */
  progress(signal?: AbortSignal): AsyncIterable<ExecutionProgress>;
  /** The results, by catalogue result name, or a ModuleError. */
  result(): Promise<Record<string, ResultValue>>;
}

export interface TelemetrySample {
  module: string;
  channel: string;
  value: number;
  unit: string;
  /** Time of the sample on the device. */
  at: Date;
}

export interface ExecuteOptions {
  /** Unique per intended command: the same key never starts a second command. */
  idempotencyKey: string;
  /** The item the command works on (the module refuses any other). */
  itemId?: string;
  /** The batch and step the command belongs to (LADS records them as supervisory job and task ids). */
  batchId?: string;
  stepId?: string;
}

export interface ModuleDriver {
  readonly id: string;
  readonly kind: ModuleKind;
  /**
   * True when the device itself starts each idempotency key at most once (Workcell's IdempotentCommands
   * SiLA feature): an initiation whose confirmation was lost may then be sent again safely.
   */
  readonly dedupesByKey?: boolean;
  capabilities(): string[];
  execute(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution>;
  reattach(token: ExecutionToken): Promise<Execution>;
  /** The device's state now, read from the device (not from a subscription), to reconcile what the orchestrator believes. */
  readState(): Promise<ModuleState>;
  /** Calls `listener` with the current state and every change, until the returned function is called. */
  watchState(listener: (state: ModuleState) => void): Promise<() => void>;
  watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void>;
  hold(): Promise<void>;
  resume(): Promise<void>;
  abort(): Promise<void>;
  /** After an abort or a fault: back to idle, ready for work (LADS Clear). */
  clear(): Promise<void>;
  close(): Promise<void>;

  // Optional capabilities: a driver without one, or whose device lacks it, says so (false / undefined).

  /**
   * Locks the device for a batch (SiLA LockController), renewed while held: other clients' calls are
   * refused until unlock(). With an identifier the device is locked with already (before a restart of
   * Workcell), the lock is taken over. False: the device cannot be locked. `onLost` is called when the
   * lock is gone for good (another client locked the device, or it could not be renewed in time).
   */
  lock?(owner: LockOwner, timeoutSeconds: number, onLost?: (error: ModuleError) => void): Promise<boolean>;
  /** Whether lock() can lock this device (known once connected); undefined: only trying tells. */
  readonly lockable?: boolean;
  /** Releases the lock taken by lock(); nothing to do when none is held. */
  unlock?(): Promise<void>;
  /** Who holds the device's lock through this driver, if anybody. */
  readonly lockedBy?: LockOwner;
  /**
   * Cancels a running command for good (SiLA CancelController, LADS Abort of the program run); it then
   * fails with a ModuleError of code 'Cancelled'. False: the device cannot cancel it.
   */
  cancel?(token: ExecutionToken): Promise<boolean>;
  /** Pauses a running command where it stands (SiLA PauseController); false: the device cannot pause it. */
  pause?(token: ExecutionToken): Promise<boolean>;
  /** Continues a command paused by pause(); false: the device cannot. */
  resumePaused?(token: ExecutionToken): Promise<boolean>;
  /** Answers a recoverable error of a running command with one of its options (ExecutionProgress.recoverableError). */
  continueAfterError?(token: ExecutionToken, option: string, inputData?: string): Promise<void>;
  /** Gives up recovering: the command then fails with the device's error. */
  abortErrorHandling?(token: ExecutionToken): Promise<void>;
  /** Whether the device only simulates (SiLA SimulationController); undefined: it does not say. */
  simulationMode?(): Promise<boolean | undefined>;
}

export type ModuleErrorKind =
  /** The device refused or failed the command with an error it defines (e.g. ModuleOccupied). */
  | 'defined'
  /** The parameters were refused. */
  | 'invalid'
  /** The device could not be reached, or the connection dropped. */
  | 'connection'
  /** Anything else the device reported. */
  | 'device';

export class ModuleError extends Error {
  override name = 'ModuleError';
  constructor(
    readonly module: string,
    readonly kind: ModuleErrorKind,
    message: string,
    /** For 'defined': the device's error identifier, e.g. 'ModuleOccupied'; 'Cancelled' for a command cancelled by cancel(). */
    readonly code?: string,
  ) {
    super(`${module}: ${message}`);
  }
}

/**
 * One execution per idempotency key: asking again returns the first one, however often the caller
 * retries. A start that failed may be tried again.
 */
export class IdempotentStarts {
  private readonly started = new Map<string, Promise<Execution>>();

  start(key: string, begin: () => Promise<Execution>): Promise<Execution> {
    const already = this.started.get(key);
    if (already) return already;
    const starting = begin();
    this.started.set(key, starting);
    starting.catch(() => this.started.delete(key));
    return starting;
  }
}

/**
 * A capability's parameters checked against the catalogue, in catalogue units, defaults filled in.
 * Parameters the catalogue gives no value for stay out.
 */
export function catalogueParameters(moduleId: string, capability: string, spec: CapabilitySpec, parameters: Record<string, ParameterValue>, options: { required: boolean }): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = {};
  for (const [name, parameter] of Object.entries(spec.parameters)) {
    const given = parameters[name] ?? parameter.default;
    if (given === undefined) {
      if (options.required) throw new ModuleError(moduleId, 'invalid', `${capability}: parameter '${name}' is missing`);
      continue;
    }
    const checked = checkParameterValue(parameter, given, { numbersInCatalogueUnit: true });
    if (!checked.ok) throw new ModuleError(moduleId, 'invalid', `${capability}: parameter '${name}': ${checked.error}`);
    values[name] = parameter.type === 'integer' ? Math.round(checked.value as number) : checked.value;
  }
  return values;
}

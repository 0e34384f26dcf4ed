/**
 * One interface for every module, whatever its vendor and protocol: the orchestrator drives SiLA 2 and
 * OPC UA modules through this and nothing else. Capabilities, parameters and results use the names and
 * units of the module catalogue; each protocol driver translates.
 */
import { checkParameterValue, type CapabilitySpec, type ModuleKind } from '../modules/catalogue.ts';
import type { ModuleState } from '../modules/state-model.ts';

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
  /** Calls `listener` with the current state and every change, until the returned function is called. */
  watchState(listener: (state: ModuleState) => void): Promise<() => void>;
  watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void>;
  hold(): Promise<void>;
  resume(): Promise<void>;
  abort(): Promise<void>;
  /** After an abort or a fault: back to idle, ready for work (LADS Clear). */
  clear(): Promise<void>;
  close(): Promise<void>;
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
    /** For 'defined': the device's error identifier, e.g. 'ModuleOccupied'. */
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

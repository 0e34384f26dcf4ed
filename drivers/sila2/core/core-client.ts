/**
 * The client's use of a server's core features besides SiLAService and LockController: cancelling and
 * pausing executions, answering recoverable errors, and the simulation mode. Each method says (false,
 * undefined) when the server does not implement the feature.
 */
import type { Feature } from '../feature.ts';
import { featureFqi, sameFqi } from '../feature.ts';
import type { CallOptions } from '../client-types.ts';
import { VOID } from '../codec.ts';
import type { SilaAny, SilaTimestamp, SilaValue } from '../values.ts';
import { CORE_FEATURES, type CoreFeatureName } from './features.ts';

export interface RecoverableErrorInfo {
  errorIdentifier: string;
  /** Fully qualified identifier of the command whose execution waits. */
  commandIdentifier: string;
  executionUuid: string;
  /** When the error happened (ISO 8601, in the server's time zone). */
  errorTime: string;
  message: string;
  options: { identifier: string; description: string; requiredInputData: string }[];
  defaultOption: string | undefined;
  /** Seconds after which a client should choose the default option by itself; 0: never. */
  automaticSelectionTimeoutSeconds: number;
}

interface CoreHost {
  readonly features: Feature[];
  call(feature: string, command: string, parameters?: Record<string, SilaValue>, options?: CallOptions): Promise<Record<string, SilaValue>>;
  get(feature: string, property: string, options?: CallOptions): Promise<SilaValue>;
  subscribe(feature: string, property: string, options?: CallOptions): AsyncIterable<SilaValue>;
}

export class CoreFeatureClient {
  constructor(private readonly client: CoreHost) {}

  has(name: CoreFeatureName): boolean {
    return this.client.features.some((f) => sameFqi(featureFqi(f), CORE_FEATURES[name]));
  }

  /** Cancels a running execution (CancelController); false when the server cannot cancel at all. */
  async cancel(executionUuid: string): Promise<boolean> {
    if (!this.has('CancelController')) return false;
    await this.client.call(CORE_FEATURES.CancelController, 'CancelCommand', { CommandExecutionUUID: executionUuid });
    return true;
  }

  async cancelAll(): Promise<boolean> {
    if (!this.has('CancelController')) return false;
    await this.client.call(CORE_FEATURES.CancelController, 'CancelAll');
    return true;
  }

  /** Pauses a running execution (PauseController); false when the server cannot pause at all. */
  async pause(executionUuid: string): Promise<boolean> {
    if (!this.has('PauseController')) return false;
    await this.client.call(CORE_FEATURES.PauseController, 'Pause', { CommandExecutionUUID: executionUuid });
    return true;
  }

  async resume(executionUuid: string): Promise<boolean> {
    if (!this.has('PauseController')) return false;
    await this.client.call(CORE_FEATURES.PauseController, 'Resume', { CommandExecutionUUID: executionUuid });
    return true;
  }

  /** The recoverable errors waiting for a decision, now and at every change (ErrorRecoveryService). */
  async *recoverableErrors(signal?: AbortSignal): AsyncGenerator<RecoverableErrorInfo[]> {
    if (!this.has('ErrorRecoveryService')) return;
    for await (const list of this.client.subscribe(CORE_FEATURES.ErrorRecoveryService, 'RecoverableErrors', { signal })) {
      yield (list as Record<string, any>[]).map(readRecoverableError);
    }
  }

  /** Answers the recoverable error of an execution with one of its continuation options; input data goes as a String, none as Void. */
  async continueWith(executionUuid: string, option: string, inputData = ''): Promise<void> {
    const InputData: SilaAny = inputData === '' ? { type: VOID, value: '' } : { type: { kind: 'basic', basic: 'String' }, value: inputData };
    await this.client.call(CORE_FEATURES.ErrorRecoveryService, 'ExecuteContinuationOption', { CommandExecutionUUID: executionUuid, ContinuationOption: option, InputData });
  }

  /** Gives up recovering: the execution ends with its error. */
  async abortErrorHandling(executionUuid: string): Promise<void> {
    await this.client.call(CORE_FEATURES.ErrorRecoveryService, 'AbortErrorHandling', { CommandExecutionUUID: executionUuid });
  }

  async setErrorHandlingTimeout(seconds: number): Promise<void> {
    await this.client.call(CORE_FEATURES.ErrorRecoveryService, 'SetErrorHandlingTimeout', { ErrorHandlingTimeout: Math.round(seconds) });
  }

  /** Whether the server simulates (SimulationController); undefined when it does not say. */
  async simulationMode(): Promise<boolean | undefined> {
    if (!this.has('SimulationController')) return undefined;
    return (await this.client.get(CORE_FEATURES.SimulationController, 'SimulationMode')) as boolean;
  }

  async startSimulationMode(): Promise<void> {
    await this.client.call(CORE_FEATURES.SimulationController, 'StartSimulationMode');
  }

  async startRealMode(): Promise<void> {
    await this.client.call(CORE_FEATURES.SimulationController, 'StartRealMode');
  }
}

function readRecoverableError(value: Record<string, any>): RecoverableErrorInfo {
  return {
    errorIdentifier: value.ErrorIdentifier,
    commandIdentifier: value.CommandIdentifier,
    executionUuid: value.CommandExecutionUUID,
    errorTime: isoTimestamp(value.ErrorTime as SilaTimestamp),
    message: value.ErrorMessage,
    options: (value.ContinuationOptions as Record<string, string>[]).map((o) => ({ identifier: o.Identifier!, description: o.Description!, requiredInputData: o.RequiredInputData ?? '' })),
    defaultOption: value.DefaultOption || undefined,
    automaticSelectionTimeoutSeconds: Number(value.AutomaticSelectionTimeout ?? 0),
  };
}

function isoTimestamp(t: SilaTimestamp): string {
  const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');
  const offset = t.timezone.hours * 60 + Math.sign(t.timezone.hours || 1) * t.timezone.minutes;
  const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${pad(t.year, 4)}-${pad(t.month)}-${pad(t.day)}T${pad(t.hour)}:${pad(t.minute)}:${pad(t.second)}.${pad(t.millisecond ?? 0, 3)}${zone}`;
}

/**
 * The module interface straight onto a simulated device, without a protocol in between: the back end
 * for property tests and capacity planning, where thousands of commands must run in seconds. The same
 * behaviours, faults and world as the SiLA 2 and OPC UA simulators; only the wire is missing.
 */
import { DefinedExecutionError } from '../../drivers/sila2/errors.ts';
import { RANDOM_IDS, type IdSource } from '../../drivers/ids.ts';
import { ModuleError, type ExecuteOptions, type Execution, type ExecutionProgress, type ExecutionToken, type LockOwner, type ModuleDriver, type ParameterValue, type RecoverableErrorNotice, type ResultValue, type TelemetrySample } from '../../drivers/module.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { CommandCancelledError, SimulatedDevice, type RunControls, type SimulatedDeviceOptions } from './simulated-device.ts';

interface Running {
  token: ExecutionToken;
  result: Promise<Record<string, ResultValue>>;
  progress: ExecutionProgress[];
  waiters: Set<() => void>;
  done: boolean;
  controls?: RunControls;
  /** The recoverable error the command waits in, and how to answer it. */
  waiting?: { notice: RecoverableErrorNotice; answer(option: string | undefined): void };
  paused: boolean;
}

export class InProcessModuleDriver implements ModuleDriver {
  readonly dedupesByKey = true;
  readonly device: SimulatedDevice;
  private readonly byKey = new Map<string, Running>();
  private readonly byId = new Map<string, Running>();
  private owner: LockOwner | undefined;

  /** `ids`: where execution tokens come from (seeded in a digital twin, for repeatable records). */
  constructor(options: SimulatedDeviceOptions, private readonly ids: IdSource = RANDOM_IDS) {
    this.device = new SimulatedDevice(options);
  }

  get id(): string {
    return this.device.options.moduleId;
  }

  get kind(): ModuleKind {
    return this.device.options.kind;
  }

  capabilities(): string[] {
    return Object.keys(this.kind.capabilities);
  }

  async execute(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution> {
    const known = this.byKey.get(options.idempotencyKey);
    if (known) return this.wrap(known);
    if (!this.kind.capabilities[capability]) throw new ModuleError(this.id, 'invalid', `a ${this.kind.kind} has no capability '${capability}'`);
    // The device refuses at once what a protocol server would refuse before confirming.
    if (this.device.state === 'running' && !this.kind.capabilities[capability]!.alongside) throw new ModuleError(this.id, 'defined', `${this.id} is busy with another command`, 'ModuleOccupied');
    const running: Running = { token: { module: this.id, capability, protocol: 'sila2', id: this.ids.uuid() }, result: Promise.resolve({}), progress: [], waiters: new Set(), done: false, paused: false };
    const notify = () => running.waiters.forEach((w) => w());
    let last: ExecutionProgress = { fraction: 0 };
    const report = (progress: ExecutionProgress) => {
      last = progress;
      running.progress.push({ ...progress, ...(running.waiting ? { recoverableError: running.waiting.notice } : {}), ...(running.paused ? { paused: true } : {}) });
      notify();
    };
    running.result = this.device
      .run(capability, parameters, options.itemId, {
        progress: (fraction, remainingSeconds) => report({ fraction, remainingSeconds: remainingSeconds / this.device.options.clock.timeScale }),
        started: (controls) => (running.controls = controls),
        recoverableError: (error) =>
          new Promise<string | undefined>((resolve) => {
            const notice: RecoverableErrorNotice = { message: error.message, errorIdentifier: error.code, raisedAt: new Date(this.device.options.clock.now()), options: error.options, defaultOption: error.defaultOption, ...(error.automaticSelectionSeconds ? { automaticSelectionSeconds: error.automaticSelectionSeconds } : {}) };
            running.waiting = {
              notice,
              answer: (option) => {
                running.waiting = undefined;
                report(last);
                resolve(option);
              },
            };
            report(last);
          }),
      })
      .catch((error: unknown) => {
        if (error instanceof CommandCancelledError) throw new ModuleError(this.id, 'device', error.message, 'Cancelled');
        throw error instanceof DefinedExecutionError ? new ModuleError(this.id, 'defined', error.message, error.identifier) : new ModuleError(this.id, 'device', (error as Error).message);
      })
      .finally(() => {
        running.done = true;
        notify();
      });
    running.result.catch(() => undefined);
    this.byKey.set(options.idempotencyKey, running);
    this.byId.set(running.token.id, running);
    return this.wrap(running);
  }

  async reattach(token: ExecutionToken): Promise<Execution> {
    const running = this.byId.get(token.id);
    if (!running) throw new ModuleError(this.id, 'invalid', `no execution ${token.id} on ${this.id}`);
    return this.wrap(running);
  }

  private wrap(running: Running): Execution {
    return {
      token: running.token,
      async *progress(signal?: AbortSignal): AsyncIterable<ExecutionProgress> {
        let seen = 0;
        while (!signal?.aborted) {
          while (seen < running.progress.length) yield running.progress[seen++]!;
          if (running.done) return;
          await new Promise<void>((resolve) => {
            const wake = () => {
              running.waiters.delete(wake);
              signal?.removeEventListener('abort', wake);
              resolve();
            };
            running.waiters.add(wake);
            signal?.addEventListener('abort', wake, { once: true });
          });
        }
      },
      result: () => running.result,
    };
  }

  // --- the core features, straight onto the device ---------------------------------------------

  /** Nobody else reaches an in-process device, so the lock only records its owner and keeps out a second one. */
  async lock(owner: LockOwner): Promise<boolean> {
    if (this.owner && this.owner.lockId !== owner.lockId) throw new ModuleError(this.id, 'defined', `${this.id} is locked for batch ${this.owner.batchId} already`, 'ServerAlreadyLocked');
    this.owner = owner;
    return true;
  }

  async unlock(): Promise<void> {
    this.owner = undefined;
  }

  get lockedBy(): LockOwner | undefined {
    return this.owner;
  }

  private live(token: ExecutionToken): Running {
    const running = this.byId.get(token.id);
    if (!running || running.done) throw new ModuleError(this.id, 'invalid', `no execution ${token.id} runs on ${this.id}`, 'InvalidCommandExecutionUUID');
    return running;
  }

  async cancel(token: ExecutionToken): Promise<boolean> {
    const running = this.live(token);
    if (!running.controls) return false;
    running.controls.cancel();
    await running.result.catch(() => undefined);
    return true;
  }

  async pause(token: ExecutionToken): Promise<boolean> {
    const running = this.live(token);
    if (!running.controls) return false;
    await this.command(() => running.controls!.pause());
    running.paused = true;
    return true;
  }

  async resumePaused(token: ExecutionToken): Promise<boolean> {
    const running = this.live(token);
    if (!running.controls) return false;
    await this.command(() => running.controls!.resume());
    running.paused = false;
    return true;
  }

  async continueAfterError(token: ExecutionToken, option: string): Promise<void> {
    const waiting = this.live(token).waiting;
    if (!waiting) throw new ModuleError(this.id, 'invalid', `execution ${token.id} waits for no continuation option`, 'InvalidCommandExecutionUUID');
    if (!waiting.notice.options.some((o) => o.identifier === option)) throw new ModuleError(this.id, 'invalid', `'${option}' is not one of ${waiting.notice.options.map((o) => o.identifier).join(', ')}`);
    waiting.answer(option);
  }

  async abortErrorHandling(token: ExecutionToken): Promise<void> {
    const waiting = this.live(token).waiting;
    if (!waiting) throw new ModuleError(this.id, 'invalid', `execution ${token.id} waits for no continuation option`, 'InvalidCommandExecutionUUID');
    waiting.answer(undefined);
  }

  async simulationMode(): Promise<boolean> {
    return true;
  }

  async readState(): Promise<ModuleState> {
    return this.device.state;
  }

  async watchState(listener: (state: ModuleState) => void): Promise<() => void> {
    listener(this.device.state);
    return this.device.onState(listener);
  }

  async watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void> {
    const units = new Map(Object.values(this.kind.capabilities).flatMap((c) => Object.entries(c.telemetry).map(([name, t]) => [name, t.unit] as const)));
    return this.device.onTelemetry((channel, value) => listener({ module: this.id, channel, value, unit: units.get(channel) ?? '1', at: new Date(this.device.options.clock.now()) }));
  }

  private command(what: () => void): Promise<void> {
    try {
      what();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(new ModuleError(this.id, 'defined', (error as Error).message, (error as DefinedExecutionError).identifier));
    }
  }

  hold(): Promise<void> {
    return this.command(() => this.device.hold());
  }

  resume(): Promise<void> {
    return this.command(() => this.device.resume());
  }

  abort(): Promise<void> {
    return this.command(() => this.device.abort());
  }

  clear(): Promise<void> {
    return this.command(() => this.device.clear());
  }

  async close(): Promise<void> {
    this.device.stop();
  }
}

/**
 * The device inside a simulator, apart from any protocol: one command at a time (unless a capability
 * runs alongside), the item check, injected faults, hold/resume/abort/clear and the normalized state.
 * The SiLA 2 simulator serves it over gRPC; the in-process back end calls it directly.
 */
import { checkParameterValue, estimateDuration, type CapabilitySpec } from '../../config/catalogue.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { DefinedExecutionError, UndefinedExecutionError } from '../../drivers/sila2/errors.ts';
import type { ResultValue } from '../../drivers/module.ts';
import type { BehaviourContext, KindBehaviour } from './behaviour/context.ts';
import { simulatedModuleParts, type SimulatedModuleOptions, type SimulatedModuleParts } from './simulated-module.ts';
import type { ExecutionFaults, RecoverableFault, RecoveryOption } from './faults.ts';

export interface SimulatedDeviceOptions extends SimulatedModuleOptions {
  /** The module's positions (where it holds items); default `<moduleId>.port`. */
  positions?: string[];
  /** Settle-plate locations this handler serves, with their cleanroom grade. */
  locationGrades?: Record<string, 'A' | 'B' | 'C' | 'D'>;
}

export interface RunCallbacks {
  progress(fraction: number, remainingSimulatedSeconds: number): void;
  /** The faults drawn for this execution, before it starts (a protocol server may act on some). */
  faults?(faults: ExecutionFaults): void;
  /** How this run is cancelled, paused and resumed, once it has started (a protocol server offers them to clients). */
  started?(controls: RunControls): void;
  /**
   * The run met a recoverable error: resolves to the continuation option chosen, or undefined when
   * nobody will choose; without this callback, or without a choice, the command fails with the error.
   */
  recoverableError?(error: DeviceRecoverableError): Promise<string | undefined>;
}

export interface RunControls {
  /** Stops the work for good; the device is idle again and the command fails with a CommandCancelledError. */
  cancel(): void;
  pause(): void;
  resume(): void;
}

export interface DeviceRecoverableError {
  code: string;
  message: string;
  options: Array<{ identifier: RecoveryOption; description: string }>;
  defaultOption: RecoveryOption;
  automaticSelectionSeconds?: number;
}

/** A command stopped by cancel(): the device stopped the work and is ready for the next command. */
export class CommandCancelledError extends UndefinedExecutionError {
  override name = 'CommandCancelledError';
}

const RECOVERY_DESCRIPTIONS: Record<RecoveryOption, string> = {
  retry: 'Repeat the failed operation on the device; the command goes on once it succeeds.',
  skip: 'Leave out the failed operation and go on with the rest of the command.',
  abort: 'Stop here: the command ends with the error.',
};

interface Run {
  abort: AbortController;
  held: boolean;
  cancelled: boolean;
  resume?: () => void;
}

interface PendingRecovery {
  fault: RecoverableFault;
  retriesFailingLeft: number;
  done: boolean;
}

export class SimulatedDevice {
  readonly parts: SimulatedModuleParts;
  private current: ModuleState = 'idle';
  private readonly stateListeners = new Set<(state: ModuleState) => void>();
  private readonly telemetryListeners = new Set<(channel: string, value: number) => void>();
  private running: Run | undefined;
  /** Every execution under way, those running alongside (an incubation of days) included: stop ends them all. */
  private readonly executing = new Set<AbortController>();
  /** Commands started on this device (a retried or re-sent command would show here). */
  executions = 0;
  /** Every recoverable error met, with the option that answered it ('abort' when nobody chose). */
  readonly recoveries: Array<{ capability: string; option: string }> = [];

  constructor(readonly options: SimulatedDeviceOptions) {
    this.parts = simulatedModuleParts(options);
  }

  get behaviour(): KindBehaviour {
    return this.parts.behaviour;
  }

  get state(): ModuleState {
    return this.current;
  }

  get positions(): string[] {
    return this.options.positions ?? [`${this.options.moduleId}.port`];
  }

  onState(listener: (state: ModuleState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Sensor values as the device reports them (drift faults included). */
  onTelemetry(listener: (channel: string, value: number) => void): () => void {
    this.telemetryListeners.add(listener);
    return () => this.telemetryListeners.delete(listener);
  }

  private setState(state: ModuleState): void {
    this.current = state;
    for (const listener of this.stateListeners) listener(state);
  }

  /**
   * Runs a capability. `given` holds parameters by catalogue name (defaults fill the rest); `itemId`
   * is the item the module must hold, unless the capability names its items itself.
   */
  async run(capability: string, given: Record<string, unknown>, itemId: string | undefined, callbacks: RunCallbacks): Promise<Record<string, ResultValue>> {
    const spec: CapabilitySpec | undefined = this.options.kind.capabilities[capability];
    const behaviour = this.behaviour[capability];
    if (!spec || !behaviour) throw new UndefinedExecutionError(`a ${this.options.kind.kind} has no capability '${capability}'`);
    if (this.running && !spec.alongside) throw new DefinedExecutionError('ModuleOccupied', `${this.options.moduleId} is busy with another command`);
    if (this.current === 'faulted' || this.current === 'aborted') throw new DefinedExecutionError('HardwareFault', `${this.options.moduleId} is ${this.current}; clear it before new work`);
    const parameters: BehaviourContext['parameters'] = {};
    for (const [name, parameter] of Object.entries(spec.parameters)) {
      const value = given[name];
      if (value !== undefined) parameters[name] = value as string | number | boolean;
      else if (parameter.default !== undefined) {
        const checked = checkParameterValue(parameter, parameter.default);
        if (checked.ok) parameters[name] = checked.value;
      }
    }
    const checkedItem = 'itemId' in spec.parameters ? undefined : itemId;
    const item = checkedItem === undefined ? undefined : this.positions.map((p) => this.options.world.itemAt(p)).find(Boolean);
    if (checkedItem !== undefined && item?.id !== checkedItem) {
      throw new DefinedExecutionError('WrongItem', item ? `${this.options.moduleId} holds ${item.id}, not ${checkedItem}` : `${this.options.moduleId} holds no item; expected ${checkedItem}`);
    }
    const faults = this.parts.faults.next(capability);
    this.executions++;
    callbacks.faults?.(faults);
    const abort = new AbortController();
    this.executing.add(abort);
    const running: Run = { abort, held: false, cancelled: false };
    if (!spec.alongside) {
      this.running = running;
      this.setState('running');
    }
    let fraction = 0;
    const recovery: PendingRecovery | undefined = faults.recoverable ? { fault: faults.recoverable, retriesFailingLeft: faults.recoverable.recurrences, done: false } : undefined;
    const recoverIfDue = async (atEnd: boolean) => {
      if (recovery && !recovery.done && (atEnd || fraction >= recovery.fault.atFraction)) await this.recover(capability, recovery, running, callbacks);
    };
    callbacks.started?.({ cancel: () => this.cancelRun(running), pause: () => this.holdRun(running), resume: () => this.resumeRun(running) });
    const context: BehaviourContext = {
      moduleId: this.options.moduleId,
      clock: this.options.clock,
      random: this.parts.random,
      world: this.options.world,
      item: checkedItem !== undefined ? this.options.world.item(checkedItem) : undefined,
      parameters,
      samplingSeconds: this.options.samplingSeconds ?? 60,
      durationSeconds: estimateDuration(spec, parameters),
      signal: abort.signal,
      whileHeld: async () => {
        if (running.held) await new Promise<void>((resolve) => (running.resume = resolve));
        await recoverIfDue(false);
      },
      progress: (reached, remaining) => {
        fraction = reached;
        callbacks.progress(reached, remaining);
      },
      telemetry: (channel, value) => {
        const reported = this.parts.reported(channel, value);
        for (const listener of this.telemetryListeners) listener(channel, reported);
      },
      gradeOf: (location) => this.options.locationGrades?.[location],
      wrongScan: faults.wrongScan,
      forcedColonies: faults.colonies,
    };
    try {
      if (faults.hang) await new Promise((_resolve, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }));
      if (faults.error) throw new DefinedExecutionError(faults.error.code, faults.error.message);
      const results = await behaviour(context);
      await recoverIfDue(true);
      if (!spec.alongside) this.setState('idle');
      return results;
    } catch (error) {
      if (running.cancelled) {
        if (!spec.alongside) this.setState('idle');
        throw new CommandCancelledError(`${capability} was cancelled at ${Math.round(fraction * 100)} %; the device stopped the work`);
      }
      if (spec.alongside) throw error;
      this.setState(abort.signal.aborted ? 'aborted' : error instanceof DefinedExecutionError && error.identifier === 'HardwareFault' ? 'faulted' : 'idle');
      if (abort.signal.aborted) throw new UndefinedExecutionError(`${capability} was aborted`);
      throw error;
    } finally {
      this.executing.delete(abort);
      if (!spec.alongside) this.running = undefined;
    }
  }

  /** Waits for a continuation option; retries that fail again (the fault's recurrences) ask again. */
  private async recover(capability: string, recovery: PendingRecovery, run: Run, callbacks: RunCallbacks): Promise<void> {
    const { fault } = recovery;
    const notice: DeviceRecoverableError = {
      code: fault.code,
      message: fault.message,
      options: fault.options.map((identifier) => ({ identifier, description: RECOVERY_DESCRIPTIONS[identifier] })),
      defaultOption: fault.defaultOption,
      automaticSelectionSeconds: fault.automaticSelectionSeconds,
    };
    const cancelled = new Promise<undefined>((resolve) => run.abort.signal.addEventListener('abort', () => resolve(undefined), { once: true }));
    while (true) {
      const main = this.running === run;
      if (main) this.setState('held');
      const choice = callbacks.recoverableError ? await Promise.race([callbacks.recoverableError(notice), cancelled]) : undefined;
      run.abort.signal.throwIfAborted();
      if (main) this.setState(run.held ? 'held' : 'running');
      this.recoveries.push({ capability, option: choice ?? 'abort' });
      if (choice === 'retry' && fault.options.includes('retry')) {
        if (recovery.retriesFailingLeft-- > 0) continue;
        recovery.done = true;
        return;
      }
      if (choice === 'skip' && fault.options.includes('skip')) {
        recovery.done = true;
        return;
      }
      throw new DefinedExecutionError(fault.code, fault.message);
    }
  }

  private holdRun(run: Run): void {
    if (run.held || run.cancelled) throw new DefinedExecutionError('NotRunning', run.held ? 'the command is held already' : 'the command is being cancelled');
    run.held = true;
    if (this.running === run) this.setState('held');
  }

  private resumeRun(run: Run): void {
    if (!run.held) throw new DefinedExecutionError('NotRunning', 'the command is not held');
    run.held = false;
    run.resume?.();
    if (this.running === run) this.setState('running');
  }

  private cancelRun(run: Run): void {
    if (run.cancelled || run.abort.signal.aborted) return;
    run.cancelled = true;
    if (this.running === run) this.setState('stopping');
    run.resume?.();
    run.abort.abort(new Error('cancelled by request'));
  }

  hold(): void {
    if (!this.running) throw new DefinedExecutionError('NotRunning', 'nothing runs that could be held');
    this.holdRun(this.running);
  }

  resume(): void {
    if (!this.running?.held) throw new DefinedExecutionError('NotRunning', 'nothing is held');
    this.resumeRun(this.running);
  }

  abort(): void {
    if (!this.running) throw new DefinedExecutionError('NotRunning', 'nothing runs that could be aborted');
    this.setState('aborting');
    this.running.abort.abort(new Error('aborted by request'));
  }

  clear(): void {
    if (this.running || (this.current !== 'aborted' && this.current !== 'faulted')) throw new DefinedExecutionError('NotRunning', `${this.options.moduleId} is ${this.current}; only an aborted or faulted module is cleared`);
    this.setState('idle');
  }

  /** Ends whatever runs, alongside or not (the simulator is going away): no sleep outlives it. */
  stop(): void {
    for (const execution of this.executing) execution.abort(new Error('the simulator is stopping'));
  }
}

/**
 * The device inside a simulator, apart from any protocol: one command at a time (unless a capability
 * runs alongside), the item check, injected faults, hold/resume/abort/clear and the normalized state.
 * The SiLA 2 simulator serves it over gRPC; the in-process back end calls it directly.
 */
import { checkParameterValue, estimateDuration, type CapabilitySpec } from '../catalogue.ts';
import type { ModuleState } from '../state-model.ts';
import { DefinedExecutionError, UndefinedExecutionError } from '../../drivers/sila2/errors.ts';
import type { ResultValue } from '../../drivers/module.ts';
import type { BehaviourContext, KindBehaviour } from './behaviour/context.ts';
import { simulatedModuleParts, type SimulatedModuleOptions, type SimulatedModuleParts } from './simulated-module.ts';
import type { ExecutionFaults } from './faults.ts';

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
}

export class SimulatedDevice {
  readonly parts: SimulatedModuleParts;
  private current: ModuleState = 'idle';
  private readonly stateListeners = new Set<(state: ModuleState) => void>();
  private readonly telemetryListeners = new Set<(channel: string, value: number) => void>();
  private running: { abort: AbortController; held: boolean; resume?: () => void } | undefined;
  /** Commands started on this device (a retried or re-sent command would show here). */
  executions = 0;

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
    const running = { abort, held: false } as NonNullable<SimulatedDevice['running']>;
    if (!spec.alongside) {
      this.running = running;
      this.setState('running');
    }
    const context: BehaviourContext = {
      moduleId: this.options.moduleId,
      clock: this.options.clock,
      random: this.parts.random,
      world: this.options.world,
      item: checkedItem !== undefined ? this.options.world.item(checkedItem) : undefined,
      parameters,
      durationSeconds: estimateDuration(spec, parameters),
      signal: abort.signal,
      whileHeld: () => (running.held ? new Promise<void>((resolve) => (running.resume = resolve)) : Promise.resolve()),
      progress: callbacks.progress,
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
      if (!spec.alongside) this.setState('idle');
      return results;
    } catch (error) {
      if (spec.alongside) throw error;
      this.setState(abort.signal.aborted ? 'aborted' : error instanceof DefinedExecutionError && error.identifier === 'HardwareFault' ? 'faulted' : 'idle');
      if (abort.signal.aborted) throw new UndefinedExecutionError(`${capability} was aborted`);
      throw error;
    } finally {
      if (!spec.alongside) this.running = undefined;
    }
  }

  hold(): void {
    if (!this.running || this.running.held) throw new DefinedExecutionError('NotRunning', 'nothing runs that could be held');
    this.running.held = true;
    this.setState('held');
  }

  resume(): void {
    if (!this.running?.held) throw new DefinedExecutionError('NotRunning', 'nothing is held');
    this.running.held = false;
    this.running.resume?.();
    this.setState('running');
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

  /** Ends whatever runs (the simulator is going away). */
  stop(): void {
    this.running?.abort.abort(new Error('the simulator is stopping'));
  }
}

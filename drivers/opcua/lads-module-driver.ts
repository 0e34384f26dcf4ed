/**
 * The module interface over OPC UA LADS: a capability is a program template of the module's functional
 * unit, its parameters are program properties (catalogue names and units), its results the values of
 * the program's result. The DeviceProgramRunId is the execution token.
 */
import { OpcUaDriver, type OpcUaConnectionOptions, type ProgramOutcome } from './client.ts';
import { silaIdentifier } from '../sila2/catalogue-features.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { connectModule, ModuleCommands } from '../module-commands.ts';
import { catalogueParameters, ModuleError, type ExecuteOptions, type Execution, type ExecutionProgress, type ExecutionToken, type ModuleDriver, type ParameterValue, type ResultValue, type TelemetrySample } from '../module.ts';

const DEFINED_ERRORS = ['ModuleOccupied', 'WrongItem', 'HardwareFault'];

/**
 * LADS devices are not locked: OPC UA DI LockingServices (InitLock, RenewLock, ExitLock) would be the
 * counterpart of a SiLA lock, and the devices Workcell drives do not offer them. The LADS functional unit
 * state machine has no pause (and no hold) either: a program run cannot be paused.
 */
export class LadsModuleDriver extends ModuleCommands implements ModuleDriver {
  private constructor(id: string, kind: ModuleKind, private readonly driver: OpcUaDriver, private readonly unit: string) {
    super(id, kind);
  }

  /** `unit` defaults to the functional unit Workcell's simulators use: DEVICE/KindInPascalCase. */
  static async connect(id: string, kind: ModuleKind, options: OpcUaConnectionOptions, unit = `${id}/${silaIdentifier(kind.kind)}`): Promise<LadsModuleDriver> {
    return new LadsModuleDriver(id, kind, await connectModule(id, () => OpcUaDriver.connect(options)), unit);
  }

  protected override async start(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution> {
    const spec = this.capabilitySpec(capability);
    const properties = Object.fromEntries(Object.entries(catalogueParameters(this.id, capability, spec, parameters, { required: true })).map(([name, value]) => [name, String(value)]));
    if (options.itemId) properties.ItemId = options.itemId;
    const run = await this.device(() => this.driver.startProgram(this.unit, { templateId: capability, properties, supervisoryJobId: options.batchId ?? options.idempotencyKey, supervisoryTaskId: options.stepId ?? capability }));
    return this.wrap(capability, run.runId, run.outcome);
  }

  async reattach(token: ExecutionToken): Promise<Execution> {
    return this.wrap(token.capability, token.id, this.driver.follow(this.unit, token.id));
  }

  private wrap(capability: string, runId: string, outcome: Promise<ProgramOutcome>): Execution {
    const spec = this.kind.capabilities[capability]!;
    const { driver, unit, id } = this;
    const cancelled = (runId: string) => this.wasCancelled(runId);
    let settled = false;
    outcome.then(
      () => (settled = true),
      () => (settled = true),
    );
    return {
      token: { module: id, capability, protocol: 'opcua', id: runId },
      async *progress(signal?: AbortSignal): AsyncIterable<ExecutionProgress> {
        while (!settled && !signal?.aborted) {
          const p = await driver.progress(unit);
          if (p.runId === runId && p.estimatedRuntimeMs > 0) yield { fraction: Math.min(1, p.currentRuntimeMs / p.estimatedRuntimeMs), remainingSeconds: Math.max(0, (p.estimatedRuntimeMs - p.currentRuntimeMs) / 1000), step: p.stepName };
          await driver.clock.sleep(250);
        }
        if (!signal?.aborted) yield { fraction: 1, remainingSeconds: 0 };
      },
      async result(): Promise<Record<string, ResultValue>> {
        const done = await outcome;
        const failed = /^[^:]+: (failed|aborted|stopped)(?:: (.*))?$/.exec(done.description);
        if (failed) {
          const reason = failed[2] ?? `the program was ${failed[1]}`;
          if (cancelled(runId)) throw new ModuleError(id, 'device', `${capability} was cancelled: ${reason}`, 'Cancelled');
          const code = /^(\w+): (.*)$/.exec(reason);
          if (code && DEFINED_ERRORS.includes(code[1]!)) throw new ModuleError(id, 'defined', code[2]!, code[1]);
          throw new ModuleError(id, 'device', `${capability} ${failed[1]}: ${reason}`);
        }
        return Object.fromEntries(Object.keys(spec.results).filter((name) => name in done.values).map((name) => [name, done.values[name]!]));
      },
    };
  }

  async readState(): Promise<ModuleState> {
    return (await this.driver.state(this.unit)).state;
  }

  async watchState(listener: (state: ModuleState) => void): Promise<() => void> {
    listener(await this.readState());
    const watch = await this.driver.watchState(this.unit, (s) => listener(s.state));
    return () => void watch.close();
  }

  async watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void> {
    const subscription = await this.driver.subscribeSensors(this.unit, (s) => listener({ module: this.id, channel: s.sensor, value: s.value, unit: s.unit, at: s.sourceTimestamp }));
    return () => void subscription.close();
  }

  hold(): Promise<void> {
    return this.refuse('a LADS functional unit cannot be held; stop or abort it');
  }

  resume(): Promise<void> {
    return this.refuse('a LADS functional unit cannot be held, so there is nothing to resume');
  }

  async abort(): Promise<void> {
    await this.driver.abort(this.unit);
  }

  /** Cancelling a program run is aborting the functional unit while that run is its active program. */
  override async cancel(token: ExecutionToken): Promise<boolean> {
    const progress = await this.driver.progress(this.unit);
    if (progress.runId !== token.id) throw new ModuleError(this.id, 'invalid', `program run ${token.id} is not running on ${this.unit} (its active run is ${progress.runId || 'none'})`, 'InvalidCommandExecutionUUID');
    return this.cancelling(token, async () => {
      await this.driver.abort(this.unit);
      return true;
    });
  }

  async clear(): Promise<void> {
    await this.device(() => this.driver.clear(this.unit));
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}

/**
 * The module interface over SiLA 2, for modules that implement Workcell's feature for their kind
 * (protos/features/). Catalogue names and units in, catalogue names and units out.
 */
import { IDEMPOTENCY_KEY_METADATA, IDEMPOTENT_COMMANDS_FEATURE, silaIdentifier, WORKCELL_CATEGORY, WORKCELL_ORIGINATOR } from './catalogue-features.ts';
import { featureFqi, sameFqi } from './feature.ts';
import { SilaClient, type CommandExecution, type SilaClientOptions } from './client.ts';
import { DefinedExecutionError, SilaConnectionError, UndefinedExecutionError, ValidationError } from './errors.ts';
import type { RecoverableErrorInfo } from './core/core-client.ts';
import { watchExecution } from './core/execution-watch.ts';
import type { SilaValue } from './values.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import { MODULE_STATES, type ModuleState } from '../../config/state-model.ts';
import { convertValue, type VendorMapping } from '../vendor-mapping.ts';
import { connectModule, ModuleCommands } from '../module-commands.ts';
import { catalogueParameters, ModuleError, type ExecuteOptions, type Execution, type ExecutionProgress, type ExecutionToken, type LockOwner, type ModuleDriver, type ParameterValue, type RecoverableErrorNotice, type ResultValue, type TelemetrySample } from '../module.ts';

export class SilaModuleDriver extends ModuleCommands implements ModuleDriver {
  private readonly feature: string;
  /** Executions this driver paused: their progress says so. */
  private readonly paused = new Set<string>();
  private owner: LockOwner | undefined;

  private constructor(id: string, kind: ModuleKind, private readonly client: SilaClient, private readonly mapping?: VendorMapping) {
    super(id, kind);
    this.feature = mapping?.feature ?? `${WORKCELL_ORIGINATOR}/${WORKCELL_CATEGORY}/${silaIdentifier(kind.kind)}/v1`;
  }

  /** `mapping` drives a vendor's own feature (from the layout); without it, Workcell's feature for the kind. */
  static async connect(id: string, kind: ModuleKind, options: SilaClientOptions, mapping?: VendorMapping): Promise<SilaModuleDriver> {
    const client = await connectModule(id, () => SilaClient.connect(options));
    const driver = new SilaModuleDriver(id, kind, client, mapping);
    try {
      client.feature(driver.feature);
    } catch {
      client.close();
      throw new ModuleError(id, 'device', `the server at ${options.host}:${options.port} does not implement ${driver.feature}`);
    }
    return driver;
  }

  /** Whether the device starts each idempotency key at most once, so a lost confirmation may be asked for again. */
  get dedupesByKey(): boolean {
    return !this.mapping && this.client.features.some((f) => sameFqi(featureFqi(f), IDEMPOTENT_COMMANDS_FEATURE));
  }

  protected override async start(capability: string, parameters: Record<string, ParameterValue>, options: ExecuteOptions): Promise<Execution> {
    const spec = this.capabilitySpec(capability);
    const call = this.mapping?.capabilities[capability];
    if (this.mapping && !call) throw new ModuleError(this.id, 'invalid', `the layout maps no command of ${this.feature} to '${capability}'`);
    const commandId = call?.command ?? silaIdentifier(capability);
    const command = this.client.feature(this.feature).commands.find((c) => c.identifier === commandId);
    if (!command) throw new ModuleError(this.id, 'device', `${this.feature} has no command ${commandId}`);
    const values: Record<string, SilaValue> = {};
    for (const [name, value] of Object.entries(catalogueParameters(this.id, capability, spec, parameters, { required: true }))) {
      const field = call?.parameters?.[name];
      if (call && !field) continue; // this vendor has no such setting
      values[field?.name ?? silaIdentifier(name)] = convertValue(value, spec.parameters[name]!.unit, field) as SilaValue;
    }
    // The item parameter: the vendor's (from the mapping) or Workcell's ItemId, unless the capability names its item itself.
    const itemParameter = call ? call.item : command.parameters.some((p) => p.identifier === 'ItemId') && !('itemId' in spec.parameters) ? 'ItemId' : undefined;
    if (itemParameter) {
      if (!options.itemId) throw new ModuleError(this.id, 'invalid', `${capability} works on an item: give its itemId`);
      values[itemParameter] = options.itemId;
    }
    // With Workcell's IdempotentCommands feature the device itself starts a key at most once.
    const metadata = this.dedupesByKey ? { [IDEMPOTENCY_KEY_METADATA]: options.idempotencyKey } : undefined;
    return this.wrap(capability, await this.device(() => this.client.start(this.feature, command.identifier, values, { metadata })));
  }

  async reattach(token: ExecutionToken): Promise<Execution> {
    return this.wrap(token.capability, this.client.attach(this.feature, this.mapping?.capabilities[token.capability]?.command ?? silaIdentifier(token.capability), token.id));
  }

  private wrap(capability: string, execution: CommandExecution): Execution {
    const spec = this.kind.capabilities[capability]!;
    const driver = this;
    return {
      token: { module: this.id, capability, protocol: 'sila2', id: execution.uuid },
      async *progress(signal?: AbortSignal): AsyncIterable<ExecutionProgress> {
        try {
          for await (const { info, recoverableError } of watchExecution(execution, driver.client.core, signal)) {
            yield {
              fraction: info.progress ?? 0,
              remainingSeconds: info.estimatedRemainingSeconds,
              ...(recoverableError ? { recoverableError: notice(recoverableError, driver.client.clock.now()) } : {}),
              ...(driver.paused.has(execution.uuid) ? { paused: true } : {}),
            };
          }
        } catch (error) {
          throw driver.moduleError(error);
        }
      },
      async result(): Promise<Record<string, ResultValue>> {
        try {
          const responses = await execution.result();
          const call = driver.mapping?.capabilities[capability];
          if (call) return Object.fromEntries(Object.entries(call.results ?? {}).map(([name, field]) => [name, convertValue(responses[field.name], spec.results[name]?.unit, field, true) as ResultValue]));
          return Object.fromEntries(Object.keys(spec.results).map((name) => [name, responses[silaIdentifier(name)] as ResultValue]));
        } catch (error) {
          if (driver.wasCancelled(execution.uuid) && error instanceof UndefinedExecutionError) throw new ModuleError(driver.id, 'device', error.message, 'Cancelled');
          throw driver.moduleError(error);
        } finally {
          driver.paused.delete(execution.uuid);
        }
      },
    };
  }

  // --- the core features: lock, cancel, pause, error recovery, simulation mode --------------------

  override get lockable(): boolean {
    return this.client.core.has('LockController');
  }

  get lockedBy(): LockOwner | undefined {
    return this.client.heldLock?.active ? this.owner : undefined;
  }

  override async lock(owner: LockOwner, timeoutSeconds: number, onLost?: (error: ModuleError) => void): Promise<boolean> {
    if (!this.client.core.has('LockController')) return false;
    const held = this.client.heldLock;
    if (held?.active) {
      if (held.lockId === owner.lockId) return true;
      throw new ModuleError(this.id, 'defined', `${this.id} is locked for batch ${this.owner?.batchId ?? '(unknown)'} already`, 'ServerAlreadyLocked');
    }
    try {
      await this.client.lock({ lockId: owner.lockId, timeoutSeconds, reclaim: true, onLost: (error) => onLost?.(this.moduleError(error)) });
    } catch (error) {
      throw this.moduleError(error);
    }
    this.owner = owner;
    return true;
  }

  override async unlock(): Promise<void> {
    const held = this.client.heldLock;
    this.owner = undefined;
    if (held) await this.device(() => held.release());
  }

  override async cancel(token: ExecutionToken): Promise<boolean> {
    return this.cancelling(token, () => this.client.core.cancel(token.id));
  }

  override async pause(token: ExecutionToken): Promise<boolean> {
    const done = await this.device(() => this.client.core.pause(token.id));
    if (done) this.paused.add(token.id);
    return done;
  }

  override async resumePaused(token: ExecutionToken): Promise<boolean> {
    const done = await this.device(() => this.client.core.resume(token.id));
    if (done) this.paused.delete(token.id);
    return done;
  }

  async continueAfterError(token: ExecutionToken, option: string, inputData = ''): Promise<void> {
    try {
      await this.client.core.continueWith(token.id, option, inputData);
    } catch (error) {
      // An option the device does not offer is a wrong answer, as it is for every other driver.
      if (error instanceof DefinedExecutionError && error.identifier === 'UnknownContinuationOption') throw new ModuleError(this.id, 'invalid', error.message, 'UnknownContinuationOption');
      throw this.moduleError(error);
    }
  }

  async abortErrorHandling(token: ExecutionToken): Promise<void> {
    await this.device(() => this.client.core.abortErrorHandling(token.id));
  }

  simulationMode(): Promise<boolean | undefined> {
    return this.device(() => this.client.core.simulationMode());
  }

  protected override moduleError(error: unknown): ModuleError {
    if (error instanceof ModuleError) return error;
    if (error instanceof DefinedExecutionError) return new ModuleError(this.id, 'defined', error.message, this.mapping?.errors?.[error.identifier] ?? error.identifier);
    if (error instanceof ValidationError) return new ModuleError(this.id, 'invalid', `${error.parameter.split('/').at(-1)}: ${error.message}`);
    if (error instanceof SilaConnectionError) return new ModuleError(this.id, 'connection', error.message);
    return new ModuleError(this.id, 'device', (error as Error).message);
  }

  async readState(): Promise<ModuleState> {
    return this.normalizedState(await this.device(() => this.client.get(this.feature, this.mapping?.state?.property ?? 'State')));
  }

  async watchState(listener: (state: ModuleState) => void): Promise<() => void> {
    return this.follow(this.mapping?.state?.property ?? 'State', (value) => listener(this.normalizedState(value)));
  }

  private normalizedState(value: SilaValue): ModuleState {
    const name = String(value);
    return this.mapping?.state?.values[name] ?? ((MODULE_STATES as readonly string[]).includes(name) ? (name as ModuleState) : 'faulted');
  }

  async watchTelemetry(listener: (sample: TelemetrySample) => void): Promise<() => void> {
    const channels = new Map<string, string>();
    for (const capability of Object.values(this.kind.capabilities)) for (const [name, channel] of Object.entries(capability.telemetry)) channels.set(name, channel.unit);
    const followed = this.mapping ? [...channels].filter(([channel]) => this.mapping!.telemetry?.[channel]) : [...channels];
    const stops = await Promise.all(
      followed.map(([channel, unit]) => {
        const field = this.mapping?.telemetry?.[channel];
        return this.follow(field?.name ?? silaIdentifier(channel), (value) => listener({ module: this.id, channel, value: Number(convertValue(Number(value), unit, field, true)), unit, at: new Date(this.client.clock.now()) }));
      }),
    );
    return () => stops.forEach((stop) => stop());
  }

  private async follow(property: string, onValue: (value: SilaValue) => void): Promise<() => void> {
    const stop = new AbortController();
    void (async () => {
      for await (const value of this.client.subscribe(this.feature, property, { signal: stop.signal })) onValue(value);
    })().catch(() => undefined);
    return () => stop.abort();
  }

  async hold(): Promise<void> {
    await this.command('hold', 'Hold');
  }

  async resume(): Promise<void> {
    await this.command('resume', 'Resume');
  }

  async abort(): Promise<void> {
    await this.command('abort', 'Abort');
  }

  async clear(): Promise<void> {
    await this.command('clear', 'Clear');
  }

  private async command(what: 'hold' | 'resume' | 'abort' | 'clear', workcellName: string): Promise<void> {
    const name = this.mapping ? this.mapping[what] : workcellName;
    if (!name) throw new ModuleError(this.id, 'device', `the layout names no ${what} command for ${this.feature}`);
    await this.device(() => this.client.call(this.feature, name));
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** `now`: when the notice was seen, the time it is dated with when the server's own time cannot be read. */
function notice(error: RecoverableErrorInfo, now: number): RecoverableErrorNotice {
  const raisedAt = new Date(error.errorTime);
  return {
    message: error.message,
    errorIdentifier: error.errorIdentifier,
    raisedAt: Number.isNaN(raisedAt.getTime()) ? new Date(now) : raisedAt,
    options: error.options.map(({ identifier, description }) => ({ identifier, description })),
    ...(error.defaultOption ? { defaultOption: error.defaultOption } : {}),
    ...(error.automaticSelectionTimeoutSeconds > 0 ? { automaticSelectionSeconds: error.automaticSelectionTimeoutSeconds } : {}),
  };
}

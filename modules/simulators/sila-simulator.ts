/**
 * A simulated module served over SiLA 2 with Workcell's feature for its kind: a real server any SiLA
 * client can drive. Behaviour per kind lives in behaviour/; the physical items live in the shared world.
 */
import { createHash } from 'node:crypto';
import type { ModuleKind } from '../../config/catalogue.ts';
import type { SilaValue } from '../../drivers/sila2/values.ts';
import { idempotentCommandsFeatureXml, moduleKindFeatureXml, silaIdentifier } from '../../drivers/sila2/catalogue-features.ts';
import { fqi } from '../../drivers/sila2/feature.ts';
import { DefinedExecutionError, UndefinedExecutionError } from '../../drivers/sila2/errors.ts';
import { parseFeature } from '../../drivers/sila2/fdl.ts';
import { ObservableProperty, SilaServer, type CommandHandler } from '../../drivers/sila2/server.ts';
import type { TlsMaterial } from '../../drivers/sila2/tls.ts';
import type { FaultPlan } from './faults.ts';
import { SimulatedDevice, type SimulatedDeviceOptions } from './simulated-device.ts';
import { Network } from './network.ts';
import { convertValue, type VendorMapping } from '../../drivers/vendor-mapping.ts';
import type { SeededRandom } from './random.ts';
import { WALL_CLOCK, type Timer } from '../../drivers/clock.ts';

export interface SilaSimulatorOptions extends SimulatedDeviceOptions {
  host?: string;
  port?: number;
  tls?: TlsMaterial;
  insecure?: boolean;
  /** Publish every telemetry channel this often (simulated ms), as instruments stream sensors; 0 = only while commands run. */
  telemetryIntervalMs?: number;
  /** Serve a vendor's own feature instead of Workcell's, translated through the layout's mapping. */
  vendor?: { featureXml: string; mapping: VendorMapping };
  /**
   * Put a TCP relay (the "network") in front of the server so that disconnect faults can drop every
   * connection while the device keeps working. On when a disconnect fault is configured.
   */
  network?: boolean;
}

export class SilaModuleSimulator {
  readonly server: SilaServer;
  readonly faults: FaultPlan;
  readonly device: SimulatedDevice;
  private readonly state = new ObservableProperty<string>('idle');
  private readonly loadedItems = new ObservableProperty<string[]>([]);
  private readonly channels = new Map<string, ObservableProperty<number>>();
  private readonly random: SeededRandom;

  constructor(readonly options: SilaSimulatorOptions) {
    this.device = new SimulatedDevice(options);
    this.random = this.device.parts.random;
    this.faults = this.device.parts.faults;
    this.device.onState((state) => this.state.set(state));
    this.device.onTelemetry((channel, value) => this.channels.get(silaIdentifier(channel))?.set(value));
    const feature = parseFeature(options.vendor?.featureXml ?? moduleKindFeatureXml(options.kind));
    this.network = options.network || options.faults?.some((f) => f.kind === 'disconnect') ? new Network(options.host ?? '127.0.0.1', options.port ?? 0) : undefined;
    this.server = new SilaServer({
      name: `${options.moduleId} (simulated ${options.kind.kind})`,
      uuid: stableUuid(`workcell-simulator:${options.moduleId}`),
      type: silaIdentifier(options.kind.kind),
      description: `Workcell simulator of ${options.kind.kind} ${options.moduleId}`,
      version: '1.0.0',
      host: this.network ? '127.0.0.1' : options.host,
      port: this.network ? 0 : options.port,
      tls: options.tls,
      insecure: options.insecure,
      // What real instruments offer besides SiLAService; a simulator cannot switch to real mode.
      coreFeatures: {
        lockController: true,
        cancelController: true,
        pauseController: true,
        errorRecoveryService: true,
        simulationController: { simulationMode: true, realModeAvailable: false },
      },
    });
    for (const capability of Object.values(options.kind.capabilities)) {
      for (const channel of Object.keys(capability.telemetry)) if (!this.channels.has(silaIdentifier(channel))) this.channels.set(silaIdentifier(channel), new ObservableProperty<number>(0));
    }
    if (options.vendor) {
      this.server.addFeature(feature, this.vendorImplementation(options.vendor.mapping));
      this.refreshItems();
      return;
    }
    const commands: Record<string, CommandHandler> = {};
    for (const [capability, spec] of Object.entries(options.kind.capabilities)) {
      commands[silaIdentifier(capability)] = (parameters, context) => this.run(capability, spec, parameters, context);
    }
    commands.Hold = () => this.hold();
    commands.Resume = () => this.resume();
    commands.Abort = () => this.abort();
    commands.Clear = () => this.clear();
    const properties: Record<string, ObservableProperty<any>> = { State: this.state, LoadedItems: this.loadedItems };
    for (const [id, property] of this.channels) properties[id] = property;
    // Capability commands take an idempotency key: a repeated initiation returns the execution already started.
    const idempotent = parseFeature(idempotentCommandsFeatureXml());
    const capabilityCommands = Object.keys(options.kind.capabilities).map((c) => fqi.command(feature, silaIdentifier(c)));
    this.server.addFeature(idempotent, { metadataAffects: { IdempotencyKey: capabilityCommands } });
    this.server.addFeature(feature, { commands, properties, idempotencyKey: (context) => context.metadata.IdempotencyKey as string | undefined });
    this.refreshItems();
  }

  /** The same module behind a vendor's names and units: what a second vendor's device looks like. */
  private vendorImplementation(mapping: VendorMapping) {
    const toVendorError = Object.fromEntries(Object.entries(mapping.errors ?? {}).map(([vendor, workcell]) => [workcell, vendor]));
    const commands: Record<string, CommandHandler> = {};
    for (const [capability, call] of Object.entries(mapping.capabilities)) {
      const spec = this.options.kind.capabilities[capability]!;
      commands[call.command] = async (vendorParameters, context) => {
        const parameters: Record<string, unknown> = {};
        for (const [name, field] of Object.entries(call.parameters ?? {})) {
          if (vendorParameters[field.name] !== undefined) parameters[silaIdentifier(name)] = convertValue(vendorParameters[field.name], spec.parameters[name]?.unit, field, true);
        }
        if (call.item) parameters.ItemId = vendorParameters[call.item];
        try {
          const results = (await this.run(capability, spec, parameters, context)) as Record<string, unknown>;
          return Object.fromEntries(Object.entries(call.results ?? {}).map(([name, field]) => [field.name, convertValue(results[silaIdentifier(name)], spec.results[name]?.unit, field)])) as Record<string, never>;
        } catch (error) {
          const vendorCode = error instanceof DefinedExecutionError ? toVendorError[error.identifier] : undefined;
          throw vendorCode ? new DefinedExecutionError(vendorCode, (error as Error).message) : error;
        }
      };
    }
    const idle = (fn: () => void) => () => {
      try {
        fn();
      } catch (error) {
        throw error instanceof DefinedExecutionError ? new DefinedExecutionError('Idle', error.message) : error;
      }
    };
    if (mapping.abort) commands[mapping.abort] = idle(() => this.abort());
    if (mapping.clear) commands[mapping.clear] = idle(() => this.clear());
    if (mapping.hold) commands[mapping.hold] = idle(() => this.hold());
    if (mapping.resume) commands[mapping.resume] = idle(() => this.resume());
    const properties: Record<string, ObservableProperty<any>> = {};
    if (mapping.state) {
      const shown = Object.fromEntries(Object.entries(mapping.state.values).map(([vendor, state]) => [state, vendor]));
      const vendorState = new ObservableProperty<string>(shown.idle ?? 'idle');
      this.state.subscribe((state) => vendorState.set(shown[state] ?? state));
      properties[mapping.state.property] = vendorState;
    }
    for (const [channel, field] of Object.entries(mapping.telemetry ?? {})) {
      const unit = Object.values(this.options.kind.capabilities).find((c) => c.telemetry[channel])?.telemetry[channel]?.unit;
      const vendorChannel = new ObservableProperty<number>(0);
      this.channels.get(silaIdentifier(channel))?.subscribe((value) => vendorChannel.set(convertValue(value, unit, field) as number));
      properties[field.name] = vendorChannel;
    }
    return { commands, properties };
  }

  private get positions(): string[] {
    return this.options.positions ?? [`${this.options.moduleId}.port`];
  }

  private readonly network: Network | undefined;
  /** Commands started on this device (a retried or re-sent command would show here). */
  get executions(): number {
    return this.device.executions;
  }

  /** Where clients connect: the network relay when there is one, else the server itself. */
  get port(): number {
    return this.network?.port ?? this.server.port;
  }

  private ticker: Timer | undefined;
  /** How late each periodic telemetry publication was, against one period after the previous one, in real ms. */
  readonly telemetryLateness: number[] = [];

  private detachWorld: (() => void) | undefined;

  async start(): Promise<this> {
    // Items a robot brings or takes show up in LoadedItems at once.
    this.detachWorld = this.options.world.onChange(() => this.refreshItems());
    await this.server.start();
    await this.network?.start(this.server.port);
    const interval = this.options.telemetryIntervalMs ?? 0;
    if (interval > 0) {
      const clock = this.options.clock;
      let last = clock.now();
      this.ticker = clock.repeat(() => {
        // Lateness of this publication against one period after the previous one, in real ms.
        const now = clock.now();
        this.telemetryLateness.push(Math.max(0, (now - last - interval) / clock.timeScale));
        last = now;
        for (const property of this.channels.values()) property.set(property.value + this.random.normal(0, 0.01));
      }, interval);
    }
    return this;
  }

  async stop(): Promise<void> {
    this.detachWorld?.();
    this.options.clock.clearTimeout(this.ticker);
    this.device.stop();
    await this.network?.stop();
    await this.server.stop(200);
  }

  private refreshItems(): void {
    const items = this.positions.flatMap((p) => this.options.world.itemsAt(p).map((i) => i.id));
    if (items.join() !== this.loadedItems.value.join()) this.loadedItems.set(items);
  }

  /** A capability over SiLA: parameters by SiLA identifier in, results by SiLA identifier out. */
  private async run(capability: string, spec: ModuleKind['capabilities'][string], silaParameters: Record<string, any>, call: Parameters<CommandHandler>[1]) {
    const given = Object.fromEntries(Object.keys(spec.parameters).map((name) => [name, silaParameters[silaIdentifier(name)]]));
    try {
      const results = await this.device.run(capability, given, silaParameters.ItemId as string | undefined, {
        progress: (fraction, remaining) => call.progress(fraction, remaining / this.options.clock.timeScale),
        started: (controls) => call.controls(controls),
        recoverableError: async (error) =>
          (await call.recoverableError({ errorIdentifier: error.code, message: error.message, options: error.options, defaultOption: error.defaultOption, automaticSelectionTimeoutSeconds: error.automaticSelectionSeconds }))?.option,
        faults: (faults) => {
          if (faults.disconnectMs === undefined) return;
          if (!this.network) throw new UndefinedExecutionError('a disconnect fault needs the simulator started with its network relay');
          const down = faults.disconnectMs;
          // The fault's downtime is wall time (faults.ts): the network relay is real.
          WALL_CLOCK.setTimeout(() => void this.network!.drop(down), 50);
        },
      });
      return Object.fromEntries(Object.entries(results).map(([name, value]) => [silaIdentifier(name), value])) as Record<string, SilaValue>;
    } finally {
      this.refreshItems();
    }
  }

  private hold(): void {
    this.device.hold();
  }

  private resume(): void {
    this.device.resume();
  }

  private abort(): void {
    this.device.abort();
  }

  private clear(): void {
    this.device.clear();
  }
}

/** A device keeps its server UUID across restarts: derived from the module id (a name-based, v5-style UUID). */
function stableUuid(name: string): string {
  const hex = createHash('sha1').update(name).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

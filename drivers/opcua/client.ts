/**
 * Workcell's OPC UA driver for LADS devices (OPC 30500) on node-opcua: secure connection with a trust
 * list (connection.ts), device and functional-unit discovery under the DI DeviceSet (lads-units.ts),
 * program runs followed to their results (program-runs.ts), sensor telemetry (subscriptions.ts), and
 * reconnection that loses no program completion and reports none twice. Namespace indexes are always
 * resolved from namespace URIs (browse.ts), so plain OPC UA servers are driven through it too.
 */
import './logging.ts';
import { DataType, resolveNodeId, Variant, VariantArrayType, type ClientSession, type DataValue, type OPCUAClient } from 'node-opcua';
import type { ModuleState } from '../../config/state-model.ts';
import { NodeBrowser } from './browse.ts';
import { applicationCertificate, openSession, trustServerCertificate, type OpcUaConnectionOptions } from './connection.ts';
import { LADS_URI, LadsUnits, normalizedState, type LadsDeviceInfo } from './lads-units.ts';
import { ProgramRuns, type ProgramOutcome, type SupervisoryIds } from './program-runs.ts';
import { monitor, type MonitoredNode } from './subscriptions.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export { parsePathElement } from './browse.ts';
export { OpcUaError, UntrustedServerError, type OpcUaConnectionOptions, type SecurityModeName, type SecurityPolicyName } from './connection.ts';
export { DI_URI, LADS_URI, normalizedState, type DeviceIdentity, type FunctionalUnitInfo, type LadsDeviceInfo } from './lads-units.ts';
export type { ProgramOutcome } from './program-runs.ts';

export interface ProgramProgress {
  runId: string;
  ladsState: string;
  currentRuntimeMs: number;
  estimatedRuntimeMs: number;
  stepName: string;
}

export interface SensorSample {
  sensor: string;
  value: number;
  unit: string;
  sourceTimestamp: Date;
}

type Subscription = { close(): Promise<void> };

export class OpcUaDriver {
  private readonly browser: NodeBrowser;
  private readonly units: LadsUnits;
  private readonly runs: ProgramRuns;

  private constructor(private readonly client: OPCUAClient, private readonly session: ClientSession, readonly options: OpcUaConnectionOptions) {
    this.browser = new NodeBrowser(session);
    this.units = new LadsUnits(this.browser, options.endpoint);
    this.runs = new ProgramRuns(this.browser, this.units, this.clock);
  }

  get clock(): Clock {
    return this.options.clock ?? WALL_CLOCK;
  }

  static async connect(options: OpcUaConnectionOptions): Promise<OpcUaDriver> {
    const { client, session } = await openSession(options);
    const driver = new OpcUaDriver(client, session, options);
    await driver.browser.readNamespaces();
    // After a reconnection the server may be a new process: namespaces, and any program completed
    // meanwhile, are looked at again.
    session.on('session_restored', () => void driver.afterReconnection());
    client.on('after_reconnection', () => void driver.afterReconnection());
    return driver;
  }

  /** The application certificate (DER) a server must trust. */
  certificate(): Buffer {
    return this.client.getCertificate() as Buffer;
  }

  /**
   * This application's certificate in `pkiFolder` (created once, then kept), so that it can be added
   * to a server's trust list before the first connection.
   */
  static applicationCertificate(pkiFolder: string, applicationName = 'Workcell'): Promise<Buffer> {
    return applicationCertificate(pkiFolder, applicationName);
  }

  /** Adds a server certificate (DER) to this application's trust list. */
  static trustServerCertificate(pkiFolder: string, certificate: Buffer): Promise<void> {
    return trustServerCertificate(pkiFolder, certificate);
  }

  async close(): Promise<void> {
    this.runs.close();
    await this.session?.close().catch(() => undefined);
    await this.client.disconnect();
  }

  private async afterReconnection(): Promise<void> {
    try {
      await this.browser.readNamespaces();
      this.units.forget();
    } catch {
      return;
    }
    await this.runs.check();
  }

  // --- LADS devices ----------------------------------------------------------------------------

  /** Every LADS device under the DI DeviceSet, with identity, health and functional units. */
  devices(): Promise<LadsDeviceInfo[]> {
    return this.units.devices();
  }

  async state(unitRef: string): Promise<{ ladsState: string; state: ModuleState }> {
    const name = await this.units.stateName((await this.units.nodes(unitRef))!);
    return { ladsState: name, state: normalizedState('LADS', name) };
  }

  async progress(unitRef: string): Promise<ProgramProgress> {
    const nodes = (await this.units.nodes(unitRef))!;
    const [runId, runtime, estimate, step] = await this.browser.readValues([nodes.activeRunId, nodes.currentRuntime, nodes.estimatedRuntime, nodes.stepName]);
    return { runId: String(runId ?? ''), ladsState: await this.units.stateName(nodes), currentRuntimeMs: Number(runtime ?? 0), estimatedRuntimeMs: Number(estimate ?? 0), stepName: String(step ?? '') };
  }

  /**
   * StartProgram with Workcell's batch and step ids as supervisory job and task ids. Returns the
   * DeviceProgramRunId and a promise of the program's outcome, settled exactly once.
   */
  async startProgram(
    unitRef: string,
    program: { templateId: string; properties?: Record<string, string>; supervisoryJobId: string; supervisoryTaskId: string },
  ): Promise<{ runId: string; outcome: Promise<ProgramOutcome> }> {
    const outputs = await this.units.call(unitRef, 'startProgram', [
      new Variant({ dataType: DataType.String, value: program.templateId }),
      await this.keyValues(program.properties ?? {}),
      new Variant({ dataType: DataType.String, value: program.supervisoryJobId }),
      new Variant({ dataType: DataType.String, value: program.supervisoryTaskId }),
      new Variant({ dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array, value: [] }),
    ]);
    const runId = String(outputs[0]?.value ?? '');
    return { runId, outcome: this.follow(unitRef, runId, { supervisoryJobId: program.supervisoryJobId, supervisoryTaskId: program.supervisoryTaskId }) };
  }

  /** The outcome of a program run started earlier (for instance before a restart of Workcell). */
  follow(unitRef: string, runId: string, supervisory: SupervisoryIds = {}): Promise<ProgramOutcome> {
    return this.runs.follow(unitRef, runId, supervisory);
  }

  /**
   * Results in the unit's ResultSet for the given runs: by DeviceProgramRunId, or, for results without
   * it, by the supervisory job and task ids the run was started with.
   */
  results(unitRef: string, runs: Array<{ runId: string } & SupervisoryIds>): Promise<ProgramOutcome[]> {
    return this.runs.results(unitRef, runs);
  }

  /** LADS Start: the unit's default operation, for devices without program templates. */
  async start(unitRef: string, properties: Record<string, string> = {}): Promise<void> {
    await this.units.call(unitRef, 'start', [await this.keyValues(properties)]);
  }

  async stop(unitRef: string): Promise<void> {
    await this.units.call(unitRef, 'stop');
  }

  async abort(unitRef: string): Promise<void> {
    await this.units.call(unitRef, 'abort');
  }

  async clear(unitRef: string): Promise<void> {
    await this.units.call(unitRef, 'clear');
  }

  /** LADS properties are an array of KeyValueType structures. */
  private async keyValues(properties: Record<string, string>): Promise<Variant> {
    const keyValueType = resolveNodeId(await this.browser.resolveDataType(LADS_URI, 'KeyValueType'));
    const values = await Promise.all(Object.entries(properties).map(([key, value]) => this.session.constructExtensionObject(keyValueType, { key, value })));
    return new Variant({ dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array, value: values });
  }

  /** Subscribes to every sensor of a functional unit; samples arrive as the values change. */
  async subscribeSensors(unitRef: string, onSample: (sample: SensorSample) => void, samplingIntervalMs = 100): Promise<Subscription> {
    const nodes = (await this.units.nodes(unitRef))!;
    const sensors = await this.units.sensors(nodes);
    const items: MonitoredNode[] = (await this.units.sensorValueNodes(nodes)).map(({ name, nodeId }) => {
      const unit = sensors.find((s) => s.name === name)?.unit ?? '';
      return { nodeId, onChange: (dataValue) => onSample({ sensor: name, value: Number(dataValue.value.value), unit, sourceTimestamp: dataValue.sourceTimestamp ?? new Date(this.clock.now()) }) };
    });
    return monitor(this.session, items, samplingIntervalMs);
  }

  /** Calls `onChange` with every state change of a functional unit. */
  async watchState(unitRef: string, onChange: (state: { ladsState: string; state: ModuleState }) => void): Promise<Subscription> {
    const nodes = (await this.units.nodes(unitRef))!;
    const changed = () => {
      void this.units.stateName(nodes).then((name) => onChange({ ladsState: name, state: normalizedState('LADS', name) }), () => undefined);
      void this.runs.check();
    };
    return monitor(this.session, [{ nodeId: nodes.state, onChange: changed }], 50);
  }

  // --- any OPC UA server: browse paths, methods and variables named in the layout -------------

  /**
   * The node at a browse path from the Objects folder. Elements are `nsu=<namespace uri>;<BrowseName>`
   * or a bare name in namespace 0.
   */
  nodeAt(path: readonly string[]): Promise<string> {
    return this.browser.nodeAt(path);
  }

  /** Calls a method of an object; a bad status becomes an error naming the node and the status. */
  callMethod(objectPath: readonly string[], method: string, inputArguments: Variant[]): Promise<unknown[]> {
    return this.browser.callMethod(objectPath, method, inputArguments);
  }

  /** Reads a variable; a bad status becomes an error naming the node and the status. */
  readVariable(path: readonly string[]): Promise<unknown> {
    return this.browser.readVariable(path);
  }

  /** Monitors variables in one subscription; `onValue` gets every change, keyed as given. */
  async monitorVariables(
    items: ReadonlyArray<{ key: string; path: readonly string[] }>,
    samplingIntervalMs: number,
    onValue: (key: string, value: unknown, sourceTimestamp: Date) => void,
  ): Promise<Subscription> {
    const nodeIds = await Promise.all(items.map((item) => this.nodeAt(item.path)));
    return monitor(
      this.session,
      items.map((item, i) => ({ nodeId: nodeIds[i]!, onChange: (dataValue: DataValue) => onValue(item.key, dataValue.value.value, dataValue.sourceTimestamp ?? new Date(this.clock.now())) })),
      samplingIntervalMs,
    );
  }
}

/**
 * Workcell's OPC UA driver for LADS devices (OPC 30500) on node-opcua: secure connection with a trust
 * list, device and functional-unit discovery under the DI DeviceSet, program runs followed to their
 * results, sensor telemetry, and reconnection that loses no program completion and reports none twice.
 * Namespace indexes are always resolved from namespace URIs.
 */
import './logging.ts';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  AttributeIds,
  BrowseDirection,
  resolveNodeId,
  ClientMonitoredItem,
  ClientSubscription,
  DataType,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  UserTokenType,
  Variant,
  VariantArrayType,
  type ClientSession,
  type DataValue,
  type NodeIdLike,
  type UserIdentityInfo,
} from 'node-opcua';
import { WALL_CLOCK, type Clock, type Timer } from '../clock.ts';
import { LADS_STATE_TO_STATE, PACKML_STATE_TO_STATE, type ModuleState } from '../../config/state-model.ts';

const HIERARCHICAL_REFERENCES = resolveNodeId('HierarchicalReferences');

export const LADS_URI = 'http://opcfoundation.org/UA/LADS/';
export const DI_URI = 'http://opcfoundation.org/UA/DI/';

export type SecurityModeName = 'None' | 'Sign' | 'SignAndEncrypt';
export type SecurityPolicyName = 'Basic256Sha256' | 'Aes128_Sha256_RsaOaep' | 'Aes256_Sha256_RsaPss';

export interface OpcUaConnectionOptions {
  endpoint: string;
  /** Default SignAndEncrypt. */
  securityMode?: SecurityModeName;
  /** Default Basic256Sha256. */
  securityPolicy?: SecurityPolicyName;
  /** Security mode None is refused unless this is set (the layout must say `mode: None` explicitly). */
  allowInsecure?: boolean;
  /** Where the application certificate and the trust list live. */
  pkiFolder: string;
  /** User name login; anonymous without it. */
  user?: { name: string; password: string };
  applicationName?: string;
  /** How long to keep trying to reconnect after a connection is lost (default: for ever). */
  reconnectForMs?: number;
  /** The clock of the driver's polls; the wall clock by default. */
  clock?: Clock;
}

export class OpcUaError extends Error {
  override name = 'OpcUaError';
}

/** The server's certificate is not in the trust list. */
export class UntrustedServerError extends OpcUaError {
  override name = 'UntrustedServerError';
}

export interface DeviceIdentity {
  manufacturer: string;
  model: string;
  serialNumber: string;
  softwareRevision: string;
}

export interface FunctionalUnitInfo {
  name: string;
  nodeId: string;
  ladsState: string;
  state: ModuleState;
  programTemplates: string[];
  sensors: Array<{ name: string; unit: string; value: number }>;
}

export interface LadsDeviceInfo {
  name: string;
  nodeId: string;
  identity: DeviceIdentity;
  /** DI DeviceHealth: NORMAL 0, FAILURE 1, CHECK_FUNCTION 2, OFF_SPEC 3, MAINTENANCE_REQUIRED 4. */
  health: number | undefined;
  functionalUnits: FunctionalUnitInfo[];
}

export interface ProgramProgress {
  runId: string;
  ladsState: string;
  currentRuntimeMs: number;
  estimatedRuntimeMs: number;
  stepName: string;
}

export interface ProgramOutcome {
  runId: string;
  /** Values of the result's VariableSet. */
  values: Record<string, number>;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  description: string;
  started: Date | undefined;
  stopped: Date | undefined;
}

export interface SensorSample {
  sensor: string;
  value: number;
  unit: string;
  sourceTimestamp: Date;
}

/** Maps a device state name onto the normalized model; unknown names are faults worth seeing. */
export function normalizedState(model: 'LADS' | 'PackML', stateName: string): ModuleState {
  const table = model === 'LADS' ? LADS_STATE_TO_STATE : PACKML_STATE_TO_STATE;
  return table[stateName] ?? 'faulted';
}

interface UnitNodes {
  unit: string;
  state: string;
  startProgram: string;
  start: string;
  stop: string;
  abort: string;
  clear: string;
  stateMachine: string;
  stateId: string | undefined;
  activeRunId: string | undefined;
  currentRuntime: string | undefined;
  estimatedRuntime: string | undefined;
  stepName: string | undefined;
  resultSet: string | undefined;
  templateSet: string | undefined;
  functionSet: string | undefined;
}

interface PendingRun {
  unitRef: string;
  /** Results that do not carry DeviceProgramRunId (it is optional in LADS) are matched on these. */
  supervisoryJobId?: string;
  supervisoryTaskId?: string;
  resolve: (outcome: ProgramOutcome) => void;
  reject: (error: Error) => void;
}

export class OpcUaDriver {
  private session!: ClientSession;
  private namespaces: string[] = [];
  private readonly unitNodes = new Map<string, UnitNodes>();
  private readonly pathCache = new Map<string, string>();
  private readonly pending = new Map<string, PendingRun>();
  private watcher: Timer | undefined;
  private closed = false;

  private constructor(private readonly client: OPCUAClient, readonly options: OpcUaConnectionOptions) {}

  get clock(): Clock {
    return this.options.clock ?? WALL_CLOCK;
  }

  static async connect(options: OpcUaConnectionOptions): Promise<OpcUaDriver> {
    const mode = options.securityMode ?? 'SignAndEncrypt';
    if (mode === 'None' && !options.allowInsecure) {
      throw new OpcUaError(`refusing security mode None for ${options.endpoint}: it neither signs nor encrypts. Set it explicitly (layout: security.mode None) only for testing`);
    }
    mkdirSync(options.pkiFolder, { recursive: true });
    const certificateManager = new OPCUACertificateManager({ rootFolder: options.pkiFolder, automaticallyAcceptUnknownCertificate: false });
    await certificateManager.initialize();
    const client = OPCUAClient.create({
      applicationName: options.applicationName ?? 'Workcell',
      applicationUri: `urn:workcell:${options.applicationName ?? 'Workcell'}`,
      securityMode: MessageSecurityMode[mode],
      securityPolicy: mode === 'None' ? SecurityPolicy.None : SecurityPolicy[options.securityPolicy ?? 'Basic256Sha256'],
      endpointMustExist: true,
      clientCertificateManager: certificateManager,
      keepSessionAlive: true,
      requestedSessionTimeout: 60_000,
      // The first connection fails fast; reconnection after a loss keeps trying (see below).
      connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
    });
    await client.createDefaultCertificate();
    const driver = new OpcUaDriver(client, options);
    try {
      await client.connect(options.endpoint);
    } catch (error) {
      throw driver.explainConnectFailure(error as Error, certificateManager);
    }
    (client as unknown as { connectionStrategy: { maxRetry: number; maxDelay: number } }).connectionStrategy = { maxRetry: options.reconnectForMs === undefined ? 1e9 : Math.ceil(options.reconnectForMs / 1000), initialDelay: 100, maxDelay: 1000 } as never;
    const identity: UserIdentityInfo = options.user ? { type: UserTokenType.UserName, userName: options.user.name, password: options.user.password } : { type: UserTokenType.Anonymous };
    try {
      driver.session = await client.createSession(identity);
    } catch (error) {
      await client.disconnect();
      const message = (error as Error).message;
      if (/BadUserAccessDenied|BadIdentityTokenRejected|BadIdentityTokenInvalid|ANONYMOUS user token policy/.test(message)) {
        throw new OpcUaError(options.user ? `the server refused user '${options.user.name}': wrong user name or password` : 'the server refuses anonymous sessions; configure a user (credentials.user with passwordEnv or passwordFile)');
      }
      throw new OpcUaError(`cannot open a session on ${options.endpoint}: ${message}`);
    }
    await driver.readNamespaces();
    // After a reconnection the server may be a new process: namespaces, and any program completed
    // meanwhile, are looked at again.
    driver.session.on('session_restored', () => void driver.afterReconnection());
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
  static async applicationCertificate(pkiFolder: string, applicationName = 'Workcell'): Promise<Buffer> {
    mkdirSync(pkiFolder, { recursive: true });
    const certificateManager = new OPCUACertificateManager({ rootFolder: pkiFolder, automaticallyAcceptUnknownCertificate: false });
    await certificateManager.initialize();
    const client = OPCUAClient.create({ applicationName, applicationUri: `urn:workcell:${applicationName}`, clientCertificateManager: certificateManager });
    await client.createDefaultCertificate();
    return client.getCertificate() as Buffer;
  }

  /** Adds a server certificate (DER) to this application's trust list. */
  static async trustServerCertificate(pkiFolder: string, certificate: Buffer): Promise<void> {
    const certificateManager = new OPCUACertificateManager({ rootFolder: pkiFolder, automaticallyAcceptUnknownCertificate: false });
    await certificateManager.initialize();
    await certificateManager.trustCertificate(certificate);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.watcher);
    for (const [runId, run] of this.pending) run.reject(new OpcUaError(`the driver closed before program run ${runId} finished`));
    this.pending.clear();
    await this.session?.close().catch(() => undefined);
    await this.client.disconnect();
  }

  private explainConnectFailure(error: Error, certificateManager: OPCUACertificateManager): Error {
    const message = error.message;
    const rejectedFolder = join(certificateManager.rootDir, 'rejected');
    const rejected = safeList(rejectedFolder);
    if (/certificate|BadCertificate|BadSecurityChecksFailed/i.test(message) && rejected.length) {
      return new UntrustedServerError(
        `the certificate of ${this.options.endpoint} is not trusted; it was stored in ${rejectedFolder}. To trust it, move it to ${join(certificateManager.rootDir, 'trusted', 'certs')} (untrusted certificates are never accepted automatically)`,
      );
    }
    if (/BadSecurityChecksFailed/.test(message)) {
      return new OpcUaError(`the server at ${this.options.endpoint} refused this client's certificate; add ${join(certificateManager.rootDir, 'own', 'certs')}'s certificate to the server's trust list`);
    }
    if (/endpoint/i.test(message) && /not|cannot|exist/i.test(message)) {
      return new OpcUaError(`the server at ${this.options.endpoint} offers no endpoint with security ${this.options.securityMode ?? 'SignAndEncrypt'}/${this.options.securityPolicy ?? 'Basic256Sha256'}`);
    }
    if (/ECONNREFUSED|connect|Connection/i.test(message)) return new OpcUaError(`cannot reach ${this.options.endpoint}: ${message}`);
    return new OpcUaError(`cannot connect to ${this.options.endpoint}: ${message}`);
  }

  private async readNamespaces(): Promise<void> {
    this.namespaces = await this.session.readNamespaceArray();
    // A restarted server may number its nodes differently: everything resolved is resolved again.
    this.unitNodes.clear();
    this.pathCache.clear();
    this.stateNames.clear();
  }

  private ns(uri: string): number {
    const index = this.namespaces.indexOf(uri);
    if (index < 0) throw new OpcUaError(`the server does not use namespace ${uri}`);
    return index;
  }

  /** Follows browse names (namespace URI, name) from `start`; undefined when the path does not exist. */
  private async resolve(start: NodeIdLike, path: Array<[string, string]>): Promise<string | undefined> {
    const result = await this.session.translateBrowsePath({
      startingNode: start,
      relativePath: {
        elements: path.map(([uri, name]) => ({
          referenceTypeId: HIERARCHICAL_REFERENCES,
          isInverse: false,
          includeSubtypes: true,
          targetName: { namespaceIndex: uri ? this.ns(uri) : 0, name },
        })),
      },
    } as never);
    if (result.statusCode !== StatusCodes.Good || !result.targets?.length) return undefined;
    return result.targets[0]!.targetId.toString();
  }

  private async children(nodeId: NodeIdLike): Promise<Array<{ name: string; nodeId: string }>> {
    const result = await this.session.browse({ nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: HIERARCHICAL_REFERENCES, includeSubtypes: true, resultMask: 63 } as never);
    return (result.references ?? []).map((r) => ({ name: r.browseName.name ?? '', nodeId: r.nodeId.toString() }));
  }

  private async readValues(nodeIds: Array<string | undefined>): Promise<unknown[]> {
    const present = nodeIds.map((id, i) => ({ id, i })).filter((x): x is { id: string; i: number } => x.id !== undefined);
    const values: unknown[] = new Array(nodeIds.length).fill(undefined);
    if (!present.length) return values;
    const read = await this.session.read(present.map((p) => ({ nodeId: p.id, attributeId: AttributeIds.Value })));
    read.forEach((dataValue, k) => {
      const raw = dataValue.value?.value;
      values[present[k]!.i] = raw && typeof raw === 'object' && 'text' in raw ? (raw as { text: string }).text : raw;
    });
    return values;
  }

  /** Every LADS device under the DI DeviceSet, with identity, health and functional units. */
  async devices(): Promise<LadsDeviceInfo[]> {
    const deviceSet = await this.resolve('ns=0;i=85', [[DI_URI, 'DeviceSet']]);
    if (!deviceSet) throw new OpcUaError('the server has no DI DeviceSet');
    const devices: LadsDeviceInfo[] = [];
    for (const child of await this.children(deviceSet)) {
      const unitSet = await this.resolve(child.nodeId, [[LADS_URI, 'FunctionalUnitSet']]);
      if (!unitSet) continue;
      const ids = await Promise.all(['Manufacturer', 'Model', 'SerialNumber', 'SoftwareRevision', 'DeviceHealth'].map((p) => this.resolve(child.nodeId, [[DI_URI, p]])));
      const [manufacturer, model, serialNumber, softwareRevision, health] = await this.readValues(ids);
      const functionalUnits: FunctionalUnitInfo[] = [];
      for (const unit of await this.children(unitSet)) {
        const nodes = await this.unitNodesFor(`${child.name}/${unit.name}`, unit.nodeId);
        if (!nodes) continue;
        const stateName = await this.stateName(nodes);
        const templates = nodes.templateSet ? (await this.children(nodes.templateSet)).map((t) => t.name).filter((n) => n !== 'NodeVersion') : [];
        functionalUnits.push({
          name: unit.name,
          nodeId: unit.nodeId,
          ladsState: String(stateName ?? ''),
          state: normalizedState('LADS', String(stateName ?? '')),
          programTemplates: templates,
          sensors: await this.sensors(nodes),
        });
      }
      devices.push({
        name: child.name,
        nodeId: child.nodeId,
        identity: { manufacturer: String(manufacturer ?? ''), model: String(model ?? ''), serialNumber: String(serialNumber ?? ''), softwareRevision: String(softwareRevision ?? '') },
        health: typeof health === 'number' ? health : undefined,
        functionalUnits,
      });
    }
    return devices;
  }

  private async sensors(nodes: UnitNodes): Promise<FunctionalUnitInfo['sensors']> {
    if (!nodes.functionSet) return [];
    const sensors: FunctionalUnitInfo['sensors'] = [];
    for (const fn of await this.children(nodes.functionSet)) {
      const valueNode = await this.resolve(fn.nodeId, [[LADS_URI, 'SensorValue']]);
      if (!valueNode) continue;
      const unitNode = await this.resolve(valueNode, [['', 'EngineeringUnits']]);
      const [value, units] = await this.readValues([valueNode, unitNode]);
      const unit = (units as { displayName?: { text?: string } } | undefined)?.displayName?.text ?? '';
      sensors.push({ name: fn.name, unit, value: Number(value) });
    }
    return sensors;
  }

  /** Node ids of a functional unit, found once per session; `unitRef` is "Device/Unit". */
  private async unitNodesFor(unitRef: string, unitNodeId?: string): Promise<UnitNodes | undefined> {
    const cached = this.unitNodes.get(unitRef);
    if (cached) return cached;
    let unit = unitNodeId;
    if (!unit) {
      const [device, name] = unitRef.split('/');
      const deviceSet = await this.resolve('ns=0;i=85', [[DI_URI, 'DeviceSet']]);
      const deviceNode = deviceSet && (await this.children(deviceSet)).find((d) => d.name === device)?.nodeId;
      const unitSet = deviceNode && (await this.resolve(deviceNode, [[LADS_URI, 'FunctionalUnitSet']]));
      unit = unitSet ? (await this.children(unitSet)).find((u) => u.name === name)?.nodeId : undefined;
      if (!unit) throw new OpcUaError(`no LADS functional unit '${unitRef}' on ${this.options.endpoint}`);
    }
    const machine = await this.resolve(unit, [[LADS_URI, 'FunctionalUnitState']]);
    if (!machine) return undefined;
    const at = (...path: Array<[string, string]>) => this.resolve(unit!, path);
    const active = (name: string) => at([LADS_URI, 'ProgramManager'], [LADS_URI, 'ActiveProgram'], [LADS_URI, name]);
    const nodes: UnitNodes = {
      unit,
      stateMachine: machine,
      state: (await this.resolve(machine, [['', 'CurrentState']]))!,
      stateId: await this.resolve(machine, [['', 'CurrentState'], ['', 'Id']]),
      startProgram: (await this.resolve(machine, [[LADS_URI, 'StartProgram']]))!,
      start: (await this.resolve(machine, [[LADS_URI, 'Start']]))!,
      stop: (await this.resolve(machine, [[LADS_URI, 'Stop']]))!,
      abort: (await this.resolve(machine, [[LADS_URI, 'Abort']]))!,
      clear: (await this.resolve(machine, [[LADS_URI, 'Clear']]))!,
      activeRunId: await active('DeviceProgramRunId'),
      currentRuntime: await active('CurrentRuntime'),
      estimatedRuntime: await active('EstimatedRuntime'),
      stepName: await active('CurrentStepName'),
      resultSet: await at([LADS_URI, 'ProgramManager'], [LADS_URI, 'ResultSet']),
      templateSet: await at([LADS_URI, 'ProgramManager'], [LADS_URI, 'ProgramTemplateSet']),
      functionSet: await at([LADS_URI, 'FunctionSet']),
    };
    this.unitNodes.set(unitRef, nodes);
    return nodes;
  }

  private async method(unitRef: string, which: 'startProgram' | 'start' | 'stop' | 'abort' | 'clear', inputArguments: Variant[] = []): Promise<Variant[]> {
    const nodes = await this.unitNodesFor(unitRef);
    if (!nodes?.[which]) throw new OpcUaError(`functional unit ${unitRef} has no ${which} method`);
    const result = await this.session.call({ objectId: nodes.stateMachine, methodId: nodes[which], inputArguments });
    if (result.statusCode !== StatusCodes.Good) {
      throw new OpcUaError(`${which} on ${unitRef} (method ${nodes[which]}) was refused: ${result.statusCode.name} (${result.statusCode.description})`);
    }
    return result.outputArguments ?? [];
  }

  async state(unitRef: string): Promise<{ ladsState: string; state: ModuleState }> {
    const name = await this.stateName((await this.unitNodesFor(unitRef))!);
    return { ladsState: name, state: normalizedState('LADS', name) };
  }

  private readonly stateNames = new Map<string, string>();

  /**
   * The current state's name: the BrowseName of the state node CurrentState/Id points to, which no
   * server localizes; the displayed text only when a server leaves Id out.
   */
  private async stateName(nodes: UnitNodes): Promise<string> {
    const [text, id] = await this.readValues([nodes.state, nodes.stateId]);
    if (!id) return String(text ?? '');
    const key = String(id);
    let name = this.stateNames.get(key);
    if (name === undefined) {
      const [browseName] = await this.session.read([{ nodeId: key, attributeId: AttributeIds.BrowseName }]);
      name = (browseName!.value.value as { name?: string } | null)?.name ?? String(text ?? '');
      this.stateNames.set(key, name);
    }
    return name;
  }

  async progress(unitRef: string): Promise<ProgramProgress> {
    const nodes = (await this.unitNodesFor(unitRef))!;
    const [runId, runtime, estimate, step] = await this.readValues([nodes.activeRunId, nodes.currentRuntime, nodes.estimatedRuntime, nodes.stepName]);
    return { runId: String(runId ?? ''), ladsState: await this.stateName(nodes), currentRuntimeMs: Number(runtime ?? 0), estimatedRuntimeMs: Number(estimate ?? 0), stepName: String(step ?? '') };
  }

  /**
   * StartProgram with Workcell's batch and step ids as supervisory job and task ids. Returns the
   * DeviceProgramRunId and a promise of the program's outcome, settled exactly once.
   */
  async startProgram(
    unitRef: string,
    program: { templateId: string; properties?: Record<string, string>; supervisoryJobId: string; supervisoryTaskId: string },
  ): Promise<{ runId: string; outcome: Promise<ProgramOutcome> }> {
    const outputs = await this.method(unitRef, 'startProgram', [
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
  follow(unitRef: string, runId: string, supervisory: { supervisoryJobId?: string; supervisoryTaskId?: string } = {}): Promise<ProgramOutcome> {
    const existing = this.pending.get(runId);
    if (existing) return new Promise((resolve, reject) => this.pending.set(runId, { ...existing, resolve: (o) => (existing.resolve(o), resolve(o)), reject: (e) => (existing.reject(e), reject(e)) }));
    const outcome = new Promise<ProgramOutcome>((resolve, reject) => this.pending.set(runId, { unitRef, ...supervisory, resolve, reject }));
    this.watch();
    void this.checkPending();
    return outcome;
  }

  /** LADS Start: the unit's default operation, for devices without program templates. */
  async start(unitRef: string, properties: Record<string, string> = {}): Promise<void> {
    await this.method(unitRef, 'start', [await this.keyValues(properties)]);
  }

  /** LADS properties are an array of KeyValueType structures. */
  private async keyValues(properties: Record<string, string>): Promise<Variant> {
    const keyValueType = resolveNodeId(await this.resolveDataType(LADS_URI, 'KeyValueType'));
    const values = await Promise.all(Object.entries(properties).map(([key, value]) => this.session.constructExtensionObject(keyValueType, { key, value })));
    return new Variant({ dataType: DataType.ExtensionObject, arrayType: VariantArrayType.Array, value: values });
  }

  async stop(unitRef: string): Promise<void> {
    await this.method(unitRef, 'stop');
  }

  async abort(unitRef: string): Promise<void> {
    await this.method(unitRef, 'abort');
  }

  async clear(unitRef: string): Promise<void> {
    await this.method(unitRef, 'clear');
  }

  /**
   * Completion is read from the ResultSet: a result whose DeviceProgramRunId is the run's. Checked on
   * every state change, after every reconnection, and once a second while runs are pending, so a
   * completion that happened while disconnected is still seen, and seen once.
   */
  private watch(): void {
    if (this.watcher) return;
    this.watcher = this.clock.poll(() => void this.checkPending(), 1000);
  }

  private checking = false;

  private async checkPending(): Promise<void> {
    if (this.checking || this.closed || !this.pending.size) {
      if (!this.pending.size && this.watcher) {
        this.clock.clearTimeout(this.watcher);
        this.watcher = undefined;
      }
      return;
    }
    this.checking = true;
    try {
      const byUnit = new Map<string, string[]>();
      for (const [runId, run] of this.pending) byUnit.set(run.unitRef, [...(byUnit.get(run.unitRef) ?? []), runId]);
      for (const [unitRef, runIds] of byUnit) {
        const outcomes = await this.results(unitRef, runIds.map((runId) => ({ runId, ...this.pending.get(runId) })));
        for (const outcome of outcomes) {
          const run = this.pending.get(outcome.runId);
          if (!run) continue;
          this.pending.delete(outcome.runId);
          run.resolve(outcome);
        }
      }
    } catch {
      // not connected right now: the next check, or the reconnection, tries again
    } finally {
      this.checking = false;
    }
  }

  /**
   * Results in the unit's ResultSet for the given runs: by DeviceProgramRunId, or, for results without
   * it, by the supervisory job and task ids the run was started with.
   */
  async results(unitRef: string, runs: Array<{ runId: string; supervisoryJobId?: string; supervisoryTaskId?: string }>): Promise<ProgramOutcome[]> {
    const nodes = (await this.unitNodesFor(unitRef))!;
    if (!nodes.resultSet) return [];
    const outcomes: ProgramOutcome[] = [];
    for (const result of await this.children(nodes.resultSet)) {
      if (result.name === 'NodeVersion') continue;
      const ids = await Promise.all(['DeviceProgramRunId', 'SupervisoryJobId', 'SupervisoryTaskId', 'Description', 'Started', 'Stopped'].map((p) => this.resolve(result.nodeId, [[LADS_URI, p]])));
      const [deviceRunId, jobId, taskId, description, started, stopped] = await this.readValues(ids);
      const run = runs.find((r) =>
        deviceRunId ? r.runId === String(deviceRunId) : r.supervisoryJobId !== undefined && r.supervisoryJobId === String(jobId ?? '') && r.supervisoryTaskId === String(taskId ?? ''),
      );
      if (!run) continue;
      const runId = run.runId;
      const variableSet = await this.resolve(result.nodeId, [[LADS_URI, 'VariableSet']]);
      const values: Record<string, number> = {};
      if (variableSet) {
        const variables = (await this.children(variableSet)).filter((v) => v.name !== 'NodeVersion');
        const read = await this.readValues(variables.map((v) => v.nodeId));
        variables.forEach((v, i) => (values[v.name] = Number(read[i])));
      }
      outcomes.push({
        runId: String(runId),
        values,
        supervisoryJobId: String(jobId ?? ''),
        supervisoryTaskId: String(taskId ?? ''),
        description: String(description ?? ''),
        started: started instanceof Date ? started : undefined,
        stopped: stopped instanceof Date ? stopped : undefined,
      });
    }
    return outcomes;
  }

  private async afterReconnection(): Promise<void> {
    try {
      await this.readNamespaces();
    } catch {
      return;
    }
    await this.checkPending();
  }

  private async resolveDataType(uri: string, name: string): Promise<string> {
    const dataTypes = await this.resolve('ns=0;i=86', [['', 'DataTypes'], ['', 'BaseDataType'], ['', 'Structure'], [uri, name]]);
    if (!dataTypes) throw new OpcUaError(`the server does not define ${name} (${uri})`);
    return dataTypes;
  }

  // --- any OPC UA server: browse paths, methods and variables named in the layout -------------

  /**
   * The node at a browse path from the Objects folder. Elements are `nsu=<namespace uri>;<BrowseName>`
   * or a bare name in namespace 0.
   */
  async nodeAt(path: readonly string[]): Promise<string> {
    const key = path.join('/');
    const cached = this.pathCache.get(key);
    if (cached) return cached;
    const found = await this.walk(path);
    this.pathCache.set(key, found);
    return found;
  }

  private async walk(path: readonly string[]): Promise<string> {
    let node = 'ns=0;i=85';
    for (let i = 0; i < path.length; i++) {
      const [uri, name] = parsePathElement(path[i]!);
      let next: string | undefined;
      try {
        next = await this.resolve(node, [[uri, name]]);
      } catch (error) {
        throw new OpcUaError(`no node at ${path.slice(0, i + 1).join('/')}: ${(error as Error).message}`);
      }
      if (!next) throw new OpcUaError(`no node at ${path.slice(0, i + 1).join('/')} (found ${['Objects', ...path.slice(0, i)].join('/')}, but it has no child ${path[i]})`);
      node = next;
    }
    return node;
  }

  /** Calls a method of an object; a bad status becomes an error naming the node and the status. */
  async callMethod(objectPath: readonly string[], method: string, inputArguments: Variant[]): Promise<unknown[]> {
    const objectId = await this.nodeAt(objectPath);
    const methodId = await this.nodeAt([...objectPath, method]);
    const result = await this.session.call({ objectId, methodId, inputArguments });
    if (result.statusCode !== StatusCodes.Good) {
      throw new OpcUaError(`calling ${[...objectPath, method].join('/')} (${methodId}) failed: ${result.statusCode.name} (${result.statusCode.description})`);
    }
    return (result.outputArguments ?? []).map((v) => v.value);
  }

  /** Reads a variable; a bad status becomes an error naming the node and the status. */
  async readVariable(path: readonly string[]): Promise<unknown> {
    const nodeId = await this.nodeAt(path);
    const [dataValue] = await this.session.read([{ nodeId, attributeId: AttributeIds.Value }]);
    if (dataValue!.statusCode.isNotGood()) throw new OpcUaError(`reading ${path.join('/')} (${nodeId}) failed: ${dataValue!.statusCode.name} (${dataValue!.statusCode.description})`);
    const raw = dataValue!.value.value;
    return raw && typeof raw === 'object' && 'text' in raw ? (raw as { text: string }).text : raw;
  }

  /** Monitors variables in one subscription; `onValue` gets every change, keyed as given. */
  async monitorVariables(
    items: ReadonlyArray<{ key: string; path: readonly string[] }>,
    samplingIntervalMs: number,
    onValue: (key: string, value: unknown, sourceTimestamp: Date) => void,
  ): Promise<{ close(): Promise<void> }> {
    const nodeIds = await Promise.all(items.map((item) => this.nodeAt(item.path)));
    return this.monitor(
      items.map((item, i) => ({ nodeId: nodeIds[i]!, onChange: (dataValue: DataValue) => onValue(item.key, dataValue.value.value, dataValue.sourceTimestamp ?? new Date(this.clock.now())) })),
      samplingIntervalMs,
    );
  }

  /** Subscribes to every sensor of a functional unit; samples arrive as the values change. */
  async subscribeSensors(unitRef: string, onSample: (sample: SensorSample) => void, samplingIntervalMs = 100): Promise<{ close(): Promise<void> }> {
    const nodes = (await this.unitNodesFor(unitRef))!;
    const sensors = await this.sensors(nodes);
    const items: Array<{ nodeId: string; onChange: (dataValue: DataValue) => void }> = [];
    for (const fn of nodes.functionSet ? await this.children(nodes.functionSet) : []) {
      const valueNode = await this.resolve(fn.nodeId, [[LADS_URI, 'SensorValue']]);
      if (!valueNode) continue;
      const unit = sensors.find((s) => s.name === fn.name)?.unit ?? '';
      items.push({ nodeId: valueNode, onChange: (dataValue) => onSample({ sensor: fn.name, value: Number(dataValue.value.value), unit, sourceTimestamp: dataValue.sourceTimestamp ?? new Date(this.clock.now()) }) });
    }
    return this.monitor(items, samplingIntervalMs);
  }

  /** Calls `onChange` with every state change of a functional unit. */
  async watchState(unitRef: string, onChange: (state: { ladsState: string; state: ModuleState }) => void): Promise<{ close(): Promise<void> }> {
    const nodes = (await this.unitNodesFor(unitRef))!;
    const changed = () => {
      void this.stateName(nodes).then((name) => onChange({ ladsState: name, state: normalizedState('LADS', name) }), () => undefined);
      void this.checkPending();
    };
    return this.monitor([{ nodeId: nodes.state, onChange: changed }], 50);
  }

  /** One subscription holding a monitored item per node; node-opcua re-creates it after a reconnection. */
  private monitor(items: Array<{ nodeId: string; onChange: (dataValue: DataValue) => void }>, samplingIntervalMs: number): { close(): Promise<void> } {
    const subscription = ClientSubscription.create(this.session, {
      requestedPublishingInterval: Math.max(samplingIntervalMs, 50),
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 10,
      maxNotificationsPerPublish: 0,
      publishingEnabled: true,
      priority: 10,
    });
    // A subscription still being created when the session closes emits 'error'; unheard, Node would end
    // the process. Reconnection re-creates live subscriptions, so nothing is lost by not rethrowing.
    subscription.on('error', () => undefined);
    for (const { nodeId, onChange } of items) {
      const item = ClientMonitoredItem.create(subscription, { nodeId, attributeId: AttributeIds.Value }, { samplingInterval: samplingIntervalMs, discardOldest: true, queueSize: 100 }, TimestampsToReturn.Both);
      item.on('changed', onChange);
      item.on('err', () => undefined);
    }
    return { close: async () => void (await subscription.terminate().catch(() => undefined)) };
  }
}

/** `nsu=urn:vendor:reactor;Reactor` -> ['urn:vendor:reactor', 'Reactor']; `Server` -> ['', 'Server']. */
export function parsePathElement(element: string): [string, string] {
  const match = /^nsu=([^;]+);(.+)$/.exec(element);
  return match ? [match[1]!, match[2]!] : ['', element];
}

function safeList(folder: string): string[] {
  try {
    return readdirSync(folder);
  } catch {
    return [];
  }
}

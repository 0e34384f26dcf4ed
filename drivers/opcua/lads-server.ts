/**
 * Simulated laboratory devices exposed through the OPC UA LADS model (OPC 30500) on node-opcua.
 *
 * The device (programs, results, sensor values) lives in a plain model; the OPC UA server is only its
 * interface. Restarting the server, as a real device's endpoint might, leaves running programs running
 * and keeps their results, so clients can be tested against restarts honestly.
 *
 * Secured by default: SignAndEncrypt (Basic256Sha256, Aes128_Sha256_RsaOaep), user-name login, no
 * anonymous access, client certificates trusted only when listed. Security None only with `allowNone`.
 */
import './logging.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import {
  DataType,
  MessageSecurityMode,
  nodesets,
  OPCUACertificateManager,
  OPCUAServer,
  promoteToStateMachine,
  SecurityPolicy,
  StatusCodes,
  Variant,
  type AddressSpace,
  type UAObject,
  type UAVariable,
} from 'node-opcua';

export const LADS_NAMESPACE = 'http://opcfoundation.org/UA/LADS/';
export const DI_NAMESPACE = 'http://opcfoundation.org/UA/DI/';
export const SIMULATION_NAMESPACE = 'urn:workcell:simulated-devices';

const NODESETS = [nodesets.standard, nodesets.di, nodesets.ia, nodesets.amb, nodesets.machinery, nodesets.lads];

export interface SensorSpec {
  name: string;
  unit: string;
  initial: number;
}

export interface ProgramContext {
  templateId: string;
  properties: Record<string, string>;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  runId: string;
  /** Aborted by Stop or Abort. */
  signal: AbortSignal;
  step(name: string, number: number): void;
  sensor(name: string, value: number): void;
}

export interface FunctionalUnitSpec {
  name: string;
  programTemplates: Array<{ id: string; description: string }>;
  sensors: SensorSpec[];
  /** Runs a program; resolves with its result values (name -> number), or rejects when stopped. */
  run(context: ProgramContext): Promise<Record<string, number>>;
  estimatedRuntimeSeconds(templateId: string, properties: Record<string, string>): number;
}

export interface DeviceSpec {
  name: string;
  manufacturer: string;
  model: string;
  serialNumber: string;
  softwareRevision: string;
  functionalUnits: FunctionalUnitSpec[];
}

export type LadsState = 'Stopped' | 'Running' | 'Stopping' | 'Aborting' | 'Aborted' | 'Clearing';

export interface ProgramResult {
  runId: string;
  templateId: string;
  supervisoryJobId: string;
  supervisoryTaskId: string;
  properties: Record<string, string>;
  started: Date;
  stopped: Date;
  values: Record<string, number>;
  /** Why the program ended: completed normally, stopped, aborted, or failed (with `error`). */
  outcome: 'completed' | 'stopped' | 'aborted' | 'failed';
  error?: string;
}

/** The live state of one functional unit, independent of any OPC UA server. */
class FunctionalUnitModel {
  state: LadsState = 'Stopped';
  activeRun: { runId: string; templateId: string; startedAt: number; estimatedSeconds: number; stepName: string; stepNumber: number; abort: AbortController; how?: 'stopped' | 'aborted' } | undefined;
  readonly results: ProgramResult[] = [];
  readonly sensors = new Map<string, number>();
  readonly changed = new Set<() => void>();

  constructor(readonly spec: FunctionalUnitSpec, private readonly clock: Clock) {
    for (const s of spec.sensors) this.sensors.set(s.name, s.initial);
  }

  notify(): void {
    for (const listener of this.changed) listener();
  }

  setState(state: LadsState): void {
    this.state = state;
    this.notify();
  }

  /** StartProgram: refuses unless Stopped; the program then runs on its own. */
  start(templateId: string, properties: Record<string, string>, supervisoryJobId: string, supervisoryTaskId: string): string {
    if (this.state !== 'Stopped') throw Object.assign(new Error(`functional unit ${this.spec.name} is ${this.state}`), { status: StatusCodes.BadInvalidState });
    if (!this.spec.programTemplates.some((t) => t.id === templateId)) throw Object.assign(new Error(`no program template '${templateId}'`), { status: StatusCodes.BadInvalidArgument });
    const runId = randomUUID();
    const abort = new AbortController();
    const run = { runId, templateId, startedAt: this.clock.now(), estimatedSeconds: this.spec.estimatedRuntimeSeconds(templateId, properties), stepName: 'starting', stepNumber: 0, abort } as NonNullable<FunctionalUnitModel['activeRun']>;
    this.activeRun = run;
    this.setState('Running');
    const context: ProgramContext = {
      templateId, properties, supervisoryJobId, supervisoryTaskId, runId, signal: abort.signal,
      step: (name, number) => {
        run.stepName = name;
        run.stepNumber = number;
        this.notify();
      },
      sensor: (name, value) => {
        this.sensors.set(name, value);
        this.notify();
      },
    };
    const finish = (values: Record<string, number>, outcome: ProgramResult['outcome'], error?: string) => {
      this.results.push({ runId, templateId, supervisoryJobId, supervisoryTaskId, properties, started: new Date(run.startedAt), stopped: new Date(this.clock.now()), values, outcome, error });
      this.activeRun = undefined;
      this.setState(outcome === 'aborted' || outcome === 'failed' ? 'Aborted' : 'Stopped');
    };
    this.spec.run(context).then(
      (values) => finish(values, run.how ?? 'completed'),
      (error: Error) => finish({}, run.how ?? 'failed', run.how ? undefined : error.message),
    );
    return runId;
  }

  stop(how: 'stopped' | 'aborted'): void {
    if (!this.activeRun) throw Object.assign(new Error(`nothing runs on ${this.spec.name}`), { status: StatusCodes.BadInvalidState });
    this.activeRun.how = how;
    this.setState(how === 'aborted' ? 'Aborting' : 'Stopping');
    this.activeRun.abort.abort();
  }

  clear(): void {
    if (this.state !== 'Aborted') throw Object.assign(new Error(`Clear applies to Aborted, not ${this.state}`), { status: StatusCodes.BadInvalidState });
    this.setState('Clearing');
    this.clock.setTimeout(() => this.setState('Stopped'), 50);
  }
}

class DeviceModel {
  readonly units: FunctionalUnitModel[];
  constructor(readonly spec: DeviceSpec, clock: Clock) {
    this.units = spec.functionalUnits.map((u) => new FunctionalUnitModel(u, clock));
  }
}

export interface LadsServerOptions {
  /** 0: a port the OS picks at the first start, kept across restarts. */
  port: number;
  /** The only address listened on (127.0.0.1 by default), as on a device with one network interface. */
  host?: string;
  /** PKI folder of the server (its certificate, trusted and rejected client certificates). */
  pkiFolder: string;
  /** User names and passwords accepted; there is no anonymous access. */
  users: Record<string, string>;
  /** Offer security mode None as well. For testing only. */
  allowNone?: boolean;
  devices: DeviceSpec[];
  /** Adds nodes that are not LADS (a plain vendor model) after the devices are built. */
  extend?: (addressSpace: AddressSpace) => void;
  /** Behave like devices that leave ResultType's optional DeviceProgramRunId out. */
  resultsWithoutRunId?: boolean;
  /** Show state names in another language in CurrentState's text, as a localized device might. */
  stateTexts?: Partial<Record<LadsState, string>>;
  /** The devices' clock (program runtimes, the 200 ms refresh of their nodes); the wall clock by default. */
  clock?: Clock;
}

export class LadsServer {
  private server: OPCUAServer | undefined;
  private certificateManager: OPCUACertificateManager | undefined;
  readonly devices: DeviceModel[];
  private readonly detach: Array<() => void> = [];
  private boundPort: number | undefined;

  constructor(readonly options: LadsServerOptions) {
    this.devices = options.devices.map((d) => new DeviceModel(d, this.clock));
  }

  private get clock(): Clock {
    return this.options.clock ?? WALL_CLOCK;
  }

  /** The port listened on: the configured one, or the one the OS picked once started. */
  get port(): number {
    return this.boundPort ?? this.options.port;
  }

  get endpointUrl(): string {
    return `opc.tcp://${this.host}:${this.port}`;
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  /** The server certificate (DER) clients must trust. */
  async certificate(): Promise<Buffer> {
    await this.ensureCertificateManager();
    return this.server ? (this.server.getCertificate() as Buffer) : Buffer.alloc(0);
  }

  private async ensureCertificateManager(): Promise<OPCUACertificateManager> {
    if (!this.certificateManager) {
      mkdirSync(this.options.pkiFolder, { recursive: true });
      this.certificateManager = new OPCUACertificateManager({ rootFolder: this.options.pkiFolder, automaticallyAcceptUnknownCertificate: false });
      await this.certificateManager.initialize();
    }
    return this.certificateManager;
  }

  /** Trusts a client application certificate (DER). */
  async trustClientCertificate(certificate: Buffer): Promise<void> {
    const manager = await this.ensureCertificateManager();
    await manager.trustCertificate(certificate);
  }

  async start(): Promise<void> {
    const certificateManager = await this.ensureCertificateManager();
    const modes = [MessageSecurityMode.SignAndEncrypt, MessageSecurityMode.Sign, ...(this.options.allowNone ? [MessageSecurityMode.None] : [])];
    const policies = [SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep, SecurityPolicy.Aes256_Sha256_RsaPss, ...(this.options.allowNone ? [SecurityPolicy.None] : [])];
    const users = this.options.users;
    const server = new OPCUAServer({
      port: this.port,
      // `host` is what the socket binds; `hostname` only names the endpoints it advertises.
      host: this.host,
      hostname: this.host,
      alternateHostname: ['127.0.0.1', 'localhost'],
      serverCertificateManager: certificateManager,
      securityModes: modes,
      securityPolicies: policies,
      allowAnonymous: false,
      userManager: { isValidUser: (user: string, password: string) => users[user] !== undefined && users[user] === password },
      nodeset_filename: NODESETS,
      buildInfo: { productName: 'Workcell simulated LADS devices', manufacturerName: 'Workcell', softwareVersion: '1.0.0' },
      // Stable for the device's certificate: its configured port, or its PKI folder when the OS picks the port.
      serverInfo: { applicationUri: `urn:workcell:lads:${this.options.port || createHash('sha256').update(this.options.pkiFolder).digest('hex').slice(0, 16)}`, productUri: 'urn:workcell:lads' },
      maxConnectionsPerEndpoint: 50,
    });
    await server.initialize();
    this.buildAddressSpace(server.engine.addressSpace!);
    this.options.extend?.(server.engine.addressSpace!);
    await server.start();
    this.boundPort = server.endpoints[0]?.port ?? this.options.port;
    this.server = server;
  }

  /** Stops the OPC UA endpoint; the devices keep running. */
  async stop(): Promise<void> {
    for (const d of this.detach.splice(0)) d();
    await this.server?.shutdown(0);
    this.server = undefined;
  }

  /** Restarts the endpoint on the same port and certificate, over the same live devices. */
  async restart(downtimeMs = 0): Promise<void> {
    await this.stop();
    if (downtimeMs) await this.clock.sleep(downtimeMs);
    await this.start();
  }

  unit(device: string, unit: string): FunctionalUnitModel {
    const found = this.devices.find((d) => d.spec.name === device)?.units.find((u) => u.spec.name === unit);
    if (!found) throw new Error(`no functional unit ${device}/${unit}`);
    return found;
  }

  private buildAddressSpace(addressSpace: AddressSpace): void {
    const lads = addressSpace.getNamespaceIndex(LADS_NAMESPACE);
    const di = addressSpace.getNamespaceIndex(DI_NAMESPACE);
    const sim = addressSpace.registerNamespace(SIMULATION_NAMESPACE);
    const deviceSet = addressSpace.rootFolder.objects.getFolderElementByName('DeviceSet', di) as UAObject;
    const deviceType = addressSpace.findObjectType('LADSDeviceType', lads)!;
    const unitType = addressSpace.findObjectType('FunctionalUnitType', lads)!;
    const sensorType = addressSpace.findObjectType('AnalogScalarSensorFunctionType', lads)!;
    const templateType = addressSpace.findObjectType('ProgramTemplateType', lads)!;
    const resultType = addressSpace.findObjectType('ResultType', lads)!;

    const set = (node: UAObject | UAVariable | null | undefined, dataType: DataType, value: unknown) => {
      (node as UAVariable | null)?.setValueFromSource(new Variant({ dataType, value }));
    };

    for (const device of this.devices) {
      const d = device.spec;
      const deviceNode = deviceType.instantiate({ browseName: { name: d.name, namespaceIndex: sim.index }, organizedBy: deviceSet, optionals: ['DeviceHealth'] }) as UAObject;
      for (const [property, value] of [['Manufacturer', d.manufacturer], ['Model', d.model], ['SerialNumber', d.serialNumber], ['SoftwareRevision', d.softwareRevision]] as const) {
        const node = deviceNode.getChildByName(property, di) as UAVariable | null;
        node?.setValueFromSource(new Variant({ dataType: node.dataTypeObj.browseName.name === 'LocalizedText' ? DataType.LocalizedText : DataType.String, value: node.dataTypeObj.browseName.name === 'LocalizedText' ? { text: value } : value }));
      }
      set(deviceNode.getComponentByName('DeviceHealth', di) as UAVariable, DataType.Int32, 0);
      const unitSet = deviceNode.getComponentByName('FunctionalUnitSet', lads) as UAObject;

      for (const unit of device.units) {
        const u = unit.spec;
        const unitNode = unitType.instantiate({
          browseName: { name: u.name, namespaceIndex: sim.index },
          componentOf: unitSet,
          optionals: [
            'FunctionSet', 'ProgramManager',
            'FunctionalUnitState.StartProgram', 'FunctionalUnitState.Start', 'FunctionalUnitState.Stop', 'FunctionalUnitState.Abort', 'FunctionalUnitState.Clear',
            'ProgramManager.ActiveProgram.CurrentRuntime', 'ProgramManager.ActiveProgram.EstimatedRuntime', 'ProgramManager.ActiveProgram.CurrentStepName',
            'ProgramManager.ActiveProgram.CurrentStepNumber', 'ProgramManager.ActiveProgram.DeviceProgramRunId',
          ],
        }) as UAObject;
        const stateNode = unitNode.getComponentByName('FunctionalUnitState', lads) as UAObject;
        const machine = promoteToStateMachine(stateNode);
        const programManager = unitNode.getComponentByName('ProgramManager', lads) as UAObject;
        const active = programManager.getComponentByName('ActiveProgram', lads) as UAObject;
        const templates = programManager.getComponentByName('ProgramTemplateSet', lads) as UAObject;
        const resultSet = programManager.getComponentByName('ResultSet', lads) as UAObject;
        const functionSet = unitNode.getComponentByName('FunctionSet', lads) as UAObject;

        for (const template of u.programTemplates) {
          const node = templateType.instantiate({ browseName: { name: template.id, namespaceIndex: sim.index }, componentOf: templates }) as UAObject;
          set(node.getChildByName('DeviceTemplateId', lads) as UAVariable, DataType.String, template.id);
          set(node.getChildByName('Description', lads) as UAVariable, DataType.LocalizedText, { text: template.description });
          set(node.getChildByName('Author', lads) as UAVariable, DataType.String, d.manufacturer);
          set(node.getChildByName('Version', lads) as UAVariable, DataType.String, '1.0');
        }

        const sensorNodes = new Map<string, UAVariable>();
        for (const sensor of u.sensors) {
          const node = sensorType.instantiate({ browseName: { name: sensor.name, namespaceIndex: sim.index }, componentOf: functionSet }) as UAObject;
          const value = node.getComponentByName('SensorValue', lads) as UAVariable;
          const units = value.getPropertyByName('EngineeringUnits') as UAVariable | null;
          units?.setValueFromSource(new Variant({ dataType: DataType.ExtensionObject, value: addressSpace.constructExtensionObject(units.dataType, { namespaceUri: 'http://www.opcfoundation.org/UA/units/un/cefact', unitId: -1, displayName: { text: sensor.unit }, description: { text: sensor.unit } }) }));
          sensorNodes.set(sensor.name, value);
        }

        const addResult = (result: ProgramResult) => {
          const withRunId = !this.options.resultsWithoutRunId;
          const node = resultType.instantiate({ browseName: { name: `Result${result.started.getTime()}`, namespaceIndex: sim.index }, componentOf: resultSet, optionals: withRunId ? ['DeviceProgramRunId'] : [] }) as UAObject;
          if (withRunId) set(node.getChildByName('DeviceProgramRunId', lads) as UAVariable, DataType.String, result.runId);
          set(node.getChildByName('SupervisoryJobId', lads) as UAVariable, DataType.String, result.supervisoryJobId);
          set(node.getChildByName('SupervisoryTaskId', lads) as UAVariable, DataType.String, result.supervisoryTaskId);
          set(node.getChildByName('Started', lads) as UAVariable, DataType.DateTime, result.started);
          set(node.getChildByName('Stopped', lads) as UAVariable, DataType.DateTime, result.stopped);
          set(node.getChildByName('Description', lads) as UAVariable, DataType.LocalizedText, { text: `${result.templateId}: ${result.outcome}${result.error ? `: ${result.error}` : ''}` });
          const variables = node.getComponentByName('VariableSet', lads) as UAObject;
          for (const [name, value] of Object.entries(result.values)) {
            addressSpace.getOwnNamespace().addVariable({ componentOf: variables, browseName: name, dataType: 'Double', value: { dataType: DataType.Double, value } });
          }
        };
        for (const result of unit.results) addResult(result);

        let published = unit.results.length;
        let shownState: LadsState | undefined;
        const refresh = () => {
          if (shownState !== unit.state) {
            machine.setState(unit.state);
            const text = this.options.stateTexts?.[unit.state];
            if (text) set(stateNode.getComponentByName('CurrentState') as UAVariable, DataType.LocalizedText, { text, locale: 'de-DE' });
            shownState = unit.state;
          }
          const run = unit.activeRun;
          set(active.getChildByName('DeviceProgramRunId', lads) as UAVariable, DataType.String, run?.runId ?? '');
          set(active.getChildByName('CurrentRuntime', lads) as UAVariable, DataType.Double, run ? this.clock.now() - run.startedAt : 0);
          set(active.getChildByName('EstimatedRuntime', lads) as UAVariable, DataType.Double, run ? run.estimatedSeconds * 1000 : 0);
          set(active.getChildByName('CurrentStepName', lads) as UAVariable, DataType.LocalizedText, { text: run?.stepName ?? '' });
          set(active.getChildByName('CurrentStepNumber', lads) as UAVariable, DataType.UInt32, run?.stepNumber ?? 0);
          for (const [name, node] of sensorNodes) set(node, DataType.Double, unit.sensors.get(name) ?? 0);
          while (published < unit.results.length) addResult(unit.results[published++]!);
        };
        unit.changed.add(refresh);
        const ticker = this.clock.poll(refresh, 200);
        this.detach.push(() => {
          unit.changed.delete(refresh);
          this.clock.clearTimeout(ticker);
        });
        refresh();

        // node-opcua recognises promise-returning handlers by their two declared parameters.
        const method = (name: string) => stateNode.getMethodByName(name, lads)!;
        const answer = (fn: () => unknown[] | void) => {
          try {
            const outputs = fn() ?? [];
            return { statusCode: StatusCodes.Good, outputArguments: outputs as Variant[] };
          } catch (error) {
            return { statusCode: (error as { status?: typeof StatusCodes.Good }).status ?? StatusCodes.BadInternalError };
          }
        };
        method('StartProgram').bindMethod(async (inputs: Variant[], _context: unknown) =>
          answer(() => {
            const properties: Record<string, string> = {};
            for (const kv of (inputs[1]?.value ?? []) as Array<{ key?: string; value?: { value?: unknown } }>) {
              if (kv?.key) properties[kv.key] = String(kv.value?.value ?? kv.value ?? '');
            }
            const runId = unit.start(String(inputs[0]?.value ?? ''), properties, String(inputs[2]?.value ?? ''), String(inputs[3]?.value ?? ''));
            return [new Variant({ dataType: DataType.String, value: runId })];
          }),
        );
        method('Start').bindMethod(async (_inputs: Variant[], _context: unknown) => answer(() => void unit.start(u.programTemplates[0]!.id, {}, '', '')));
        method('Stop').bindMethod(async (_inputs: Variant[], _context: unknown) => answer(() => unit.stop('stopped')));
        method('Abort').bindMethod(async (_inputs: Variant[], _context: unknown) => answer(() => unit.stop('aborted')));
        method('Clear').bindMethod(async (_inputs: Variant[], _context: unknown) => answer(() => unit.clear()));
      }
    }
  }
}

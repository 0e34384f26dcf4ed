/**
 * LADS devices (OPC 30500) as a client sees them: devices under the DI DeviceSet, their functional
 * units, each unit's state machine, program manager and sensors, found by browse name once per session.
 */
import { AttributeIds, StatusCodes, type Variant } from 'node-opcua';
import { LADS_STATE_TO_STATE, PACKML_STATE_TO_STATE, type ModuleState } from '../../config/state-model.ts';
import { OBJECTS_FOLDER, type NodeBrowser } from './browse.ts';
import { OpcUaError } from './connection.ts';

export const LADS_URI = 'http://opcfoundation.org/UA/LADS/';
export const DI_URI = 'http://opcfoundation.org/UA/DI/';

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

/** Maps a device state name onto the normalized model; unknown names are faults worth seeing. */
export function normalizedState(model: 'LADS' | 'PackML', stateName: string): ModuleState {
  const table = model === 'LADS' ? LADS_STATE_TO_STATE : PACKML_STATE_TO_STATE;
  return table[stateName] ?? 'faulted';
}

export type UnitMethod = 'startProgram' | 'start' | 'stop' | 'abort' | 'clear';

export interface UnitNodes extends Record<UnitMethod, string> {
  unit: string;
  state: string;
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

export class LadsUnits {
  private readonly unitNodes = new Map<string, UnitNodes>();
  private readonly stateNames = new Map<string, string>();

  constructor(private readonly browser: NodeBrowser, private readonly endpoint: string) {}

  /** A restarted server may number its nodes differently: everything found is found again. */
  forget(): void {
    this.unitNodes.clear();
    this.stateNames.clear();
  }

  /** Every LADS device under the DI DeviceSet, with identity, health and functional units. */
  async devices(): Promise<LadsDeviceInfo[]> {
    const b = this.browser;
    const deviceSet = await b.resolve(OBJECTS_FOLDER, [[DI_URI, 'DeviceSet']]);
    if (!deviceSet) throw new OpcUaError('the server has no DI DeviceSet');
    const devices: LadsDeviceInfo[] = [];
    for (const child of await b.children(deviceSet)) {
      const unitSet = await b.resolve(child.nodeId, [[LADS_URI, 'FunctionalUnitSet']]);
      if (!unitSet) continue;
      const ids = await Promise.all(['Manufacturer', 'Model', 'SerialNumber', 'SoftwareRevision', 'DeviceHealth'].map((p) => b.resolve(child.nodeId, [[DI_URI, p]])));
      const [manufacturer, model, serialNumber, softwareRevision, health] = await b.readValues(ids);
      const functionalUnits: FunctionalUnitInfo[] = [];
      for (const unit of await b.children(unitSet)) {
        const nodes = await this.nodes(`${child.name}/${unit.name}`, unit.nodeId);
        if (!nodes) continue;
        const stateName = await this.stateName(nodes);
        const templates = nodes.templateSet ? (await b.children(nodes.templateSet)).map((t) => t.name).filter((n) => n !== 'NodeVersion') : [];
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

  async sensors(nodes: UnitNodes): Promise<FunctionalUnitInfo['sensors']> {
    const sensors: FunctionalUnitInfo['sensors'] = [];
    for (const { name, nodeId } of await this.sensorValueNodes(nodes)) {
      const unitNode = await this.browser.resolve(nodeId, [['', 'EngineeringUnits']]);
      const [value, units] = await this.browser.readValues([nodeId, unitNode]);
      const unit = (units as { displayName?: { text?: string } } | undefined)?.displayName?.text ?? '';
      sensors.push({ name, unit, value: Number(value) });
    }
    return sensors;
  }

  /** The SensorValue node of each sensor in the unit's FunctionSet. */
  async sensorValueNodes(nodes: UnitNodes): Promise<Array<{ name: string; nodeId: string }>> {
    const found: Array<{ name: string; nodeId: string }> = [];
    for (const fn of nodes.functionSet ? await this.browser.children(nodes.functionSet) : []) {
      const valueNode = await this.browser.resolve(fn.nodeId, [[LADS_URI, 'SensorValue']]);
      if (valueNode) found.push({ name: fn.name, nodeId: valueNode });
    }
    return found;
  }

  /** Node ids of a functional unit, found once per session; `unitRef` is "Device/Unit". */
  async nodes(unitRef: string, unitNodeId?: string): Promise<UnitNodes | undefined> {
    const cached = this.unitNodes.get(unitRef);
    if (cached) return cached;
    const b = this.browser;
    let unit = unitNodeId;
    if (!unit) {
      const [device, name] = unitRef.split('/');
      const deviceSet = await b.resolve(OBJECTS_FOLDER, [[DI_URI, 'DeviceSet']]);
      const deviceNode = deviceSet && (await b.children(deviceSet)).find((d) => d.name === device)?.nodeId;
      const unitSet = deviceNode && (await b.resolve(deviceNode, [[LADS_URI, 'FunctionalUnitSet']]));
      unit = unitSet ? (await b.children(unitSet)).find((u) => u.name === name)?.nodeId : undefined;
      if (!unit) throw new OpcUaError(`no LADS functional unit '${unitRef}' on ${this.endpoint}`);
    }
    const machine = await b.resolve(unit, [[LADS_URI, 'FunctionalUnitState']]);
    if (!machine) return undefined;
    const at = (...path: Array<[string, string]>) => b.resolve(unit!, path);
    const active = (name: string) => at([LADS_URI, 'ProgramManager'], [LADS_URI, 'ActiveProgram'], [LADS_URI, name]);
    const nodes: UnitNodes = {
      unit,
      stateMachine: machine,
      state: (await b.resolve(machine, [['', 'CurrentState']]))!,
      stateId: await b.resolve(machine, [['', 'CurrentState'], ['', 'Id']]),
      startProgram: (await b.resolve(machine, [[LADS_URI, 'StartProgram']]))!,
      start: (await b.resolve(machine, [[LADS_URI, 'Start']]))!,
      stop: (await b.resolve(machine, [[LADS_URI, 'Stop']]))!,
      abort: (await b.resolve(machine, [[LADS_URI, 'Abort']]))!,
      clear: (await b.resolve(machine, [[LADS_URI, 'Clear']]))!,
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

  /** Calls a method of the unit's state machine; a refusal names the method and the status. */
  async call(unitRef: string, which: UnitMethod, inputArguments: Variant[] = []): Promise<Variant[]> {
    const nodes = await this.nodes(unitRef);
    if (!nodes?.[which]) throw new OpcUaError(`functional unit ${unitRef} has no ${which} method`);
    const result = await this.browser.session.call({ objectId: nodes.stateMachine, methodId: nodes[which], inputArguments });
    if (result.statusCode !== StatusCodes.Good) {
      throw new OpcUaError(`${which} on ${unitRef} (method ${nodes[which]}) was refused: ${result.statusCode.name} (${result.statusCode.description})`);
    }
    return result.outputArguments ?? [];
  }

  /**
   * The current state's name: the BrowseName of the state node CurrentState/Id points to, which no
   * server localizes; the displayed text only when a server leaves Id out.
   */
  async stateName(nodes: UnitNodes): Promise<string> {
    const [text, id] = await this.browser.readValues([nodes.state, nodes.stateId]);
    if (!id) return String(text ?? '');
    const key = String(id);
    let name = this.stateNames.get(key);
    if (name === undefined) {
      const [browseName] = await this.browser.session.read([{ nodeId: key, attributeId: AttributeIds.BrowseName }]);
      name = (browseName!.value.value as { name?: string } | null)?.name ?? String(text ?? '');
      this.stateNames.set(key, name);
    }
    return name;
  }
}

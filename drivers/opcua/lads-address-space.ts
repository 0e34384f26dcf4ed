/**
 * The LADS information model (OPC 30500) over simulated devices: each device under the DI DeviceSet
 * with its functional units, their state machines, program templates, results and sensors, kept in
 * step with the device model and answering the state machine's methods.
 */
import { DataType, promoteToStateMachine, StatusCodes, Variant, type AddressSpace, type UAObject, type UAVariable } from 'node-opcua';
import type { DeviceModel, LadsState, ProgramResult } from './lads-device-model.ts';
import { WALL_CLOCK, type Clock } from '../clock.ts';

export const LADS_NAMESPACE = 'http://opcfoundation.org/UA/LADS/';
export const DI_NAMESPACE = 'http://opcfoundation.org/UA/DI/';
export const SIMULATION_NAMESPACE = 'urn:workcell:simulated-devices';

export interface AddressSpaceOptions {
  /** Behave like devices that leave ResultType's optional DeviceProgramRunId out. */
  resultsWithoutRunId?: boolean;
  /** Show state names in another language in CurrentState's text, as a localized device might. */
  stateTexts?: Partial<Record<LadsState, string>>;
  /** The devices' clock (program runtimes, the 200 ms refresh of their nodes); the wall clock by default. */
  clock?: Clock;
}

/** Builds the devices' nodes; returns what stops keeping them in step (for when the server stops). */
export function buildLadsAddressSpace(addressSpace: AddressSpace, devices: readonly DeviceModel[], options: AddressSpaceOptions): Array<() => void> {
  const detach: Array<() => void> = [];
  const clock = options.clock ?? WALL_CLOCK;
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

  for (const device of devices) {
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
        const withRunId = !options.resultsWithoutRunId;
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
          const text = options.stateTexts?.[unit.state];
          if (text) set(stateNode.getComponentByName('CurrentState') as UAVariable, DataType.LocalizedText, { text, locale: 'de-DE' });
          shownState = unit.state;
        }
        const run = unit.activeRun;
        set(active.getChildByName('DeviceProgramRunId', lads) as UAVariable, DataType.String, run?.runId ?? '');
        set(active.getChildByName('CurrentRuntime', lads) as UAVariable, DataType.Double, run ? clock.now() - run.startedAt : 0);
        set(active.getChildByName('EstimatedRuntime', lads) as UAVariable, DataType.Double, run ? run.estimatedSeconds * 1000 : 0);
        set(active.getChildByName('CurrentStepName', lads) as UAVariable, DataType.LocalizedText, { text: run?.stepName ?? '' });
        set(active.getChildByName('CurrentStepNumber', lads) as UAVariable, DataType.UInt32, run?.stepNumber ?? 0);
        for (const [name, node] of sensorNodes) set(node, DataType.Double, unit.sensors.get(name) ?? 0);
        while (published < unit.results.length) addResult(unit.results[published++]!);
      };
      unit.changed.add(refresh);
      const ticker = clock.poll(refresh, 200);
      detach.push(() => {
        unit.changed.delete(refresh);
        clock.clearTimeout(ticker);
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
  return detach;
}

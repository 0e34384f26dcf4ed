/**
 * A simulated module served as an OPC UA LADS device: one functional unit named after the module kind,
 * a program template per capability, a sensor function per telemetry channel. Program properties carry
 * the parameters (catalogue names, catalogue units) and the ItemId; the behaviour is the same as the
 * SiLA simulator's.
 */
import { estimateDuration, checkParameterValue, type ModuleKind } from '../../config/catalogue.ts';
import { silaIdentifier } from '../../drivers/sila2/catalogue-features.ts';
import { LadsServer } from '../../drivers/opcua/lads-server.ts';
import type { FaultPlan } from './faults.ts';
import { simulatedModuleParts, type SimulatedModuleOptions } from './simulated-module.ts';
import type { BehaviourContext } from './behaviour/context.ts';

export interface LadsSimulatorOptions extends SimulatedModuleOptions {
  port: number;
  host?: string;
  pkiFolder: string;
  users: Record<string, string>;
  allowNone?: boolean;
}

/** The functional unit's name for a kind: 'rocking-bioreactor' -> 'RockingBioreactor'. */
export const functionalUnitName = (kind: ModuleKind) => silaIdentifier(kind.kind);

export function createLadsSimulator(options: LadsSimulatorOptions): { server: LadsServer; faults: FaultPlan } {
  const { behaviour, random, faults, reported } = simulatedModuleParts(options);
  const channels = new Map<string, string>();
  for (const capability of Object.values(options.kind.capabilities)) for (const [name, channel] of Object.entries(capability.telemetry)) channels.set(name, channel.unit);
  const position = `${options.moduleId}.port`;

  const parametersOf = (capability: string, properties: Record<string, string>) => {
    const spec = options.kind.capabilities[capability]!;
    const parameters: BehaviourContext['parameters'] = {};
    for (const [name, parameter] of Object.entries(spec.parameters)) {
      const text = properties[name];
      const value = text === undefined ? parameter.default : parameter.type === 'number' || parameter.type === 'integer' ? Number(text) : parameter.type === 'boolean' ? text === 'true' : text;
      if (value === undefined) continue;
      const checked = checkParameterValue(parameter, value, { numbersInCatalogueUnit: true });
      if (!checked.ok) throw new Error(`${capability}: parameter ${name}: ${checked.error}`);
      parameters[name] = checked.value;
    }
    return parameters;
  };

  const server = new LadsServer({
    port: options.port,
    host: options.host,
    pkiFolder: options.pkiFolder,
    users: options.users,
    allowNone: options.allowNone,
    devices: [
      {
        name: options.moduleId,
        manufacturer: 'Workcell simulation',
        model: `simulated ${options.kind.kind}`,
        serialNumber: `SIM-${options.moduleId}`,
        softwareRevision: '1.0.0',
        functionalUnits: [
          {
            name: functionalUnitName(options.kind),
            programTemplates: Object.entries(options.kind.capabilities).map(([id, c]) => ({ id, description: c.description })),
            sensors: [...channels].map(([name, unit]) => ({ name, unit, initial: 0 })),
            estimatedRuntimeSeconds: (templateId, properties) => estimateDuration(options.kind.capabilities[templateId]!, parametersOf(templateId, properties)) / options.clock.timeScale,
            async run(program) {
              const capability = program.templateId;
              const spec = options.kind.capabilities[capability]!;
              const parameters = parametersOf(capability, program.properties);
              const held = options.world.itemAt(position);
              const itemId = program.properties.ItemId;
              if (itemId !== undefined && held?.id !== itemId) throw new Error(held ? `WrongItem: ${options.moduleId} holds ${held.id}, not ${itemId}` : `WrongItem: ${options.moduleId} holds no item; expected ${itemId}`);
              const fault = faults.next(capability);
              if (fault.hang) await new Promise((_resolve, reject) => program.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true }));
              if (fault.error) throw new Error(`${fault.error.code}: ${fault.error.message}`);
              const results = await behaviour[capability]!({
                moduleId: options.moduleId,
                clock: options.clock,
                random,
                world: options.world,
                item: itemId !== undefined ? options.world.item(itemId) : undefined,
                parameters,
                samplingSeconds: options.samplingSeconds ?? 60,
                durationSeconds: estimateDuration(spec, parameters as Record<string, string | number | boolean>),
                signal: program.signal,
                whileHeld: () => Promise.resolve(),
                progress: (fraction) => program.step(`${capability} ${Math.round(fraction * 100)}%`, Math.round(fraction * 100)),
                telemetry: (channel, value) => program.sensor(channel, reported(channel, value)),
                gradeOf: () => undefined,
                wrongScan: fault.wrongScan,
                forcedColonies: fault.colonies,
              });
              return Object.fromEntries(Object.entries(results).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
            },
          },
        ],
      },
    ],
  });
  return { server, faults };
}

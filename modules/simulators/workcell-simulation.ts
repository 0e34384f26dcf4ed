/**
 * Starts a simulator for every module of a layout on its configured loopback endpoint (or on ports
 * from a port base), sharing one world and one clock: Workcell's digital twin of the workcell. SiLA
 * modules publish their CA where the layout's `tls.ca` expects it; OPC UA devices and Workcell's PKI
 * are made to trust each other.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseFeature } from '../../drivers/sila2/fdl.ts';
import { featureFqi, sameFqi } from '../../drivers/sila2/feature.ts';
import { dirname, join, resolve } from 'node:path';
import type { LayoutModel, ModuleConfig } from '../../config/layout.ts';
import { ScaledClock, type Clock } from '../../drivers/clock.ts';
import { seededIds } from '../../drivers/ids.ts';
import { DEFAULT_PKI_FOLDER } from '../../drivers/opcua/pki-folder.ts';
import type { FaultPlan, FaultSpec } from './faults.ts';
import { SilaModuleSimulator } from './sila-simulator.ts';
import type { SimulatedModuleOptions } from './simulated-module.ts';
import { SimulationWorld, type Item } from './world.ts';
import { clamp, SeededRandom } from './random.ts';
import { InProcessModuleDriver } from './in-process-driver.ts';
import { drawApheresisMarkers } from './behaviour/phenotype.ts';

export interface SimulationOptions {
  timeScale?: number;
  /** Workcell time (ms) the clock starts at; now by default. A resumed run continues its own time line. */
  startAt?: number;
  seed?: number;
  /**
   * The clock the simulated devices run on (a VirtualClock for the digital twin); by default a
   * ScaledClock at `timeScale` from `startAt`.
   */
  clock?: Clock;
  /** Faults per module id. */
  faults?: Record<string, FaultSpec[]>;
  /** Process seconds between sensor samples of a running command (simulated-module.ts); a minute by default. */
  samplingSeconds?: number;
  /**
   * Where the simulators listen instead of the layout's ports: module i (in layout order) on
   * portBase + i, or each on a port the OS picks when 0. The layout model given is updated to the
   * endpoints listened on, so drivers connected from it reach them. Default: WORKCELL_SIM_PORT_BASE
   * from `environment`, else the layout's own ports.
   */
  portBase?: number;
  environment?: NodeJS.ProcessEnv;
}

/** The environment variable that gives simulators a port base (see SimulationOptions.portBase). */
export const PORT_BASE_VARIABLE = 'WORKCELL_SIM_PORT_BASE';

/** The port each module's simulator is to listen on for a port base: module i on base + i, or 0 (the OS picks) for base 0. */
export function plannedPorts(layout: LayoutModel, portBase: number): Map<string, number> {
  const modules = layout.layout.modules;
  const highest = 65536 - modules.length;
  if (!Number.isInteger(portBase) || portBase < 0 || portBase > highest) {
    throw new Error(`--port-base ${portBase}: ${Number.isInteger(portBase) && portBase > highest ? `the layout has ${modules.length} modules, so the highest port base is ${highest}` : 'a port base is a whole number from 0 (ports the OS picks) to 65535'}`);
  }
  return new Map(modules.map((m, i) => [m.id, portBase === 0 ? 0 : portBase + i]));
}

function portBaseOf(options: SimulationOptions): number | undefined {
  if (options.portBase !== undefined) return options.portBase;
  const configured = (options.environment ?? process.env)[PORT_BASE_VARIABLE];
  if (configured === undefined || configured.trim() === '') return undefined;
  const value = Number(configured);
  if (!Number.isInteger(value)) throw new Error(`${PORT_BASE_VARIABLE}=${configured}: a port base is a whole number from 0 (ports the OS picks) to 65535`);
  return value;
}

export interface SimulatedModule {
  id: string;
  protocol: 'sila2' | 'opcua';
  endpoint: string;
  /** For SiLA modules: the CA file written for clients. */
  caFile?: string;
  faults: FaultPlan;
  stop(): Promise<void>;
}

export interface Simulation {
  world: SimulationWorld;
  clock: Clock;
  modules: SimulatedModule[];
  /** An operator placing a patient's starting material (apheresis bag) at a position. */
  deliver(bagId: string, position: string): void;
  /** Delivers bags to a position one after another, each as soon as the previous one has been taken away. */
  deliverInTurn(bagIds: readonly string[], position: string): void;
  /** An operator taking an item out by hand, wherever it is (quarantined material the robot could not move). */
  takeOut(itemId: string): void;
  stop(): Promise<void>;
}

/**
 * Apheresis starting material (domain brief, step 1): about 40 mL at 50-200e6 cells/mL with the
 * patient's own mix of T and NK cells, drawn from the seed and the bag id, so the same bag is the
 * same material in every run.
 */
export function startingMaterial(bagId: string, seed: number): Item['material'] {
  const random = new SeededRandom(seed).fork(`starting-material:${bagId}`);
  const volumeMl = clamp(random.normal(40, 3), 30, 50);
  const markers = drawApheresisMarkers(new SeededRandom(seed).fork(`phenotype:${bagId}`));
  return { cells: volumeMl * clamp(random.normal(1.2e8, 3e7), 5e7, 2e8), viability: clamp(random.normal(93, 2), 85, 99), volumeMl, markers };
}

export async function startSimulation(layout: LayoutModel, layoutFile: string, options: SimulationOptions = {}): Promise<Simulation> {
  const layoutDirectory = dirname(resolve(layoutFile));
  const portBase = portBaseOf(options);
  const ports = portBase === undefined ? undefined : plannedPorts(layout, portBase);
  const frame = simulationFrame(layout, options);
  const modules: SimulatedModule[] = [];
  try {
    for (const module of layout.layout.modules) {
      const common = frame.moduleOptions(module);
      const port = ports?.get(module.id);
      if (module.connection.sila2) modules.push(await startSila(module, common, layout, layoutDirectory, port));
      else if (module.connection.opcua) modules.push(await startOpcUa(module, common, layoutDirectory, options.environment ?? process.env, port));
    }
  } catch (error) {
    await Promise.all(modules.map((m) => m.stop()));
    throw error;
  }
  return {
    world: frame.world,
    clock: frame.clock,
    modules,
    deliver: frame.operator.deliver,
    deliverInTurn: frame.operator.deliverInTurn,
    takeOut: frame.operator.takeOut,
    stop: async () => {
      frame.operator.detach();
      await Promise.all(modules.map((m) => m.stop()));
    },
  };
}

/**
 * The simulators of a run in this process, for `openWorkcell` (orchestrator/session.ts), which starts
 * them with the run's clock, seed and environment once it has loaded the layout.
 */
export function simulatorsOf(options: Pick<SimulationOptions, 'faults' | 'portBase'>): (layout: LayoutModel, layoutFile: string, run: Omit<SimulationOptions, 'faults' | 'portBase'>) => Promise<Simulation> {
  return (layout, layoutFile, run) => startSimulation(layout, layoutFile, { ...run, ...options });
}

/** What every simulated workcell shares, whatever carries its devices: one world, one clock, one seed, the operator. */
function simulationFrame(layout: LayoutModel, options: Omit<SimulationOptions, 'environment'>) {
  const world = new SimulationWorld();
  const clock = options.clock ?? new ScaledClock(options.timeScale ?? 1, options.startAt);
  const seed = options.seed ?? 1;
  return {
    world,
    clock,
    operator: simulatedOperator(layout, world, seed),
    moduleOptions: (module: ModuleConfig): SimulatedModuleOptions => ({ moduleId: module.id, kind: layout.catalogue.kind(module.kind)!, world, clock, seed, faults: options.faults?.[module.id] ?? [], samplingSeconds: options.samplingSeconds }),
  };
}

/** The people around a simulated workcell: they bring starting material and take away what is output. */
function simulatedOperator(layout: LayoutModel, world: SimulationWorld, seed: number): Pick<Simulation, 'deliver' | 'deliverInTurn' | 'takeOut'> & { detach(): void } {
  const deliver = (bagId: string, position: string) => world.introduce({ id: bagId, container: 'bag', position, material: startingMaterial(bagId, seed) });
  const queues = new Map<string, string[]>();
  const outputs = (layout.layout.positions ?? []).filter((p) => p.role === 'output').map((p) => p.id);
  const detach = world.onChange(() => {
    for (const [position, queue] of queues) if (queue.length > 0 && !world.itemAt(position)) deliver(queue.shift()!, position);
    // What the robot places at an output is collected once the robot's scan at the place is done.
    for (const position of outputs) {
      const item = world.itemAt(position);
      if (item) queueMicrotask(() => world.itemAt(position)?.id === item.id && world.remove(item.id));
    }
  });
  return {
    deliver,
    deliverInTurn(bagIds, position) {
      const queue = queues.get(position) ?? [];
      queues.set(position, queue);
      queue.push(...bagIds);
      if (!world.itemAt(position)) deliver(queue.shift()!, position);
    },
    takeOut(itemId) {
      if (!world.item(itemId)) throw new Error(`no item ${itemId} in the simulated workcell`);
      world.remove(itemId);
    },
    detach,
  };
}

/** Settle-plate locations a handler serves, with the grade of their zone. */
function locationGradesOf(module: ModuleConfig, layout: LayoutModel): Record<string, 'A' | 'B' | 'C' | 'D'> {
  return Object.fromEntries((module.servesZones ?? []).flatMap((z) => (layout.zone(z)?.settlePlateLocations ?? []).map((l) => [l.id, layout.zone(z)!.grade] as const)));
}

export interface InProcessWorkcell {
  world: SimulationWorld;
  clock: Clock;
  drivers: Map<string, InProcessModuleDriver>;
  deliver(bagId: string, position: string): void;
  stop(): void;
}

/**
 * Every module of a layout as an in-process simulated device behind the module interface (no sockets).
 * `seededIds`: execution tokens drawn from the seed (per module) instead of random UUIDs, for a run whose
 * records must repeat exactly (the digital twin).
 */
export function simulateInProcess(layout: LayoutModel, options: Omit<SimulationOptions, 'environment'> & { seededIds?: boolean } = {}): InProcessWorkcell {
  const frame = simulationFrame(layout, options);
  const drivers = new Map<string, InProcessModuleDriver>();
  for (const module of layout.layout.modules) {
    const ids = options.seededIds ? seededIds(options.seed ?? 1, `execution:${module.id}`) : undefined;
    drivers.set(module.id, new InProcessModuleDriver({ ...frame.moduleOptions(module), positions: (module.positions ?? ['port']).map((p) => `${module.id}.${p}`), locationGrades: locationGradesOf(module, layout) }, ids));
  }
  return {
    world: frame.world,
    clock: frame.clock,
    drivers,
    deliver: frame.operator.deliver,
    stop() {
      frame.operator.detach();
      for (const driver of drivers.values()) driver.device.stop();
    },
  };
}

/** `port`: where to listen instead of the layout's port (0: the OS picks); the module's connection is updated to it. */
async function startSila(module: ModuleConfig, common: SimulatedModuleOptions, layout: LayoutModel, directory: string, port?: number): Promise<SimulatedModule> {
  const connection = module.connection.sila2!;
  const locationGrades = locationGradesOf(module, layout);
  const simulator = new SilaModuleSimulator({
    ...common,
    host: connection.host,
    port: port ?? connection.port,
    insecure: connection.insecure,
    positions: (module.positions ?? ['port']).map((p) => `${module.id}.${p}`),
    locationGrades,
    vendor: connection.mapping ? { featureXml: vendorFeature(connection.mapping.feature, module.id), mapping: connection.mapping } : undefined,
  });
  await simulator.start().catch((error: Error) => {
    throw new Error(`module ${module.id}: ${error.message}`);
  });
  connection.port = simulator.port;
  let caFile: string | undefined;
  if (connection.tls?.ca && simulator.server.certificatePem) {
    caFile = resolve(directory, connection.tls.ca);
    mkdirSync(dirname(caFile), { recursive: true });
    writeFileSync(caFile, simulator.server.certificatePem);
  }
  return { id: module.id, protocol: 'sila2', endpoint: `${connection.host}:${connection.port}`, caFile, faults: simulator.faults, stop: () => simulator.stop() };
}

async function startOpcUa(module: ModuleConfig, common: SimulatedModuleOptions, directory: string, environment: NodeJS.ProcessEnv, port?: number): Promise<SimulatedModule> {
  const connection = module.connection.opcua!;
  const endpoint = new URL(connection.endpoint.replace(/^opc\.tcp:/, 'http:'));
  const credentials = connection.credentials;
  const users: Record<string, string> = {};
  if (credentials?.user) {
    const password = credentials.passwordEnv ? environment[credentials.passwordEnv] : undefined;
    if (password === undefined) throw new Error(`module ${module.id}: set ${credentials.passwordEnv ?? 'the password variable'} so the simulated device and Workcell share its password`);
    users[credentials.user] = password;
  }
  // node-opcua takes seconds of CPU to load: only a layout with OPC UA modules pays for it.
  const [{ createLadsSimulator }, { OpcUaDriver }] = await Promise.all([import('./lads-simulator.ts'), import('../../drivers/opcua/client.ts')]);
  const { server, faults: plan } = createLadsSimulator({
    ...common,
    // The layout's host only: a device on the loopback is not reachable from the network.
    host: endpoint.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: port ?? Number(endpoint.port),
    pkiFolder: join(directory, '.workcell', 'sim', module.id, 'pki'),
    users,
    allowNone: connection.security.mode === 'None',
  });
  await server.start().catch((error: Error) => {
    throw new Error(`module ${module.id}: ${error.message}`);
  });
  // The simulated device and this machine's Workcell trust each other, as an engineer would set up.
  const clientPki = resolve(directory, connection.pki ?? DEFAULT_PKI_FOLDER);
  await server.trustClientCertificate(await OpcUaDriver.applicationCertificate(clientPki));
  await OpcUaDriver.trustServerCertificate(clientPki, await server.certificate());
  endpoint.port = String(server.port);
  connection.endpoint = `opc.tcp://${endpoint.host}${connection.endpoint.replace(/^opc\.tcp:\/\/[^/]*/, '')}`;
  return { id: module.id, protocol: 'opcua', endpoint: connection.endpoint, faults: plan, stop: () => server.stop() };
}

const VENDORS = fileURLToPath(new URL('./vendors/', import.meta.url));

/** The definition of a vendor feature Workcell can simulate (modules/simulators/vendors/). */
function vendorFeature(fqi: string, moduleId: string): string {
  for (const file of readdirSync(VENDORS).filter((f) => f.endsWith('.sila.xml'))) {
    const xml = readFileSync(join(VENDORS, file), 'utf8');
    if (sameFqi(featureFqi(parseFeature(xml)), fqi)) return xml;
  }
  throw new Error(`module ${moduleId}: no simulator for the vendor feature ${fqi} (modules/simulators/vendors/ has the ones Workcell can simulate)`);
}

import { relative } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { loadWorkcell } from '../config/validate.ts';
import { plannedPorts, startSimulation, type SimulatedModule } from '../modules/simulators/workcell-simulation.ts';
import { writeLayoutWithEndpoints } from '../modules/simulators/endpoint-layout.ts';
import { readFaultsFile } from '../modules/simulators/faults.ts';
import { UsageError } from './usage.ts';
import { CLI } from './run-output.ts';

/** `--port-base N`: simulator i of the layout on port N+i, 0 for ports the OS picks; undefined when not given. */
export function portBaseOption(given: string | undefined, layout: LayoutModel): number | undefined {
  if (given === undefined) return undefined;
  const base = given.trim() === '' ? Number.NaN : Number(given);
  try {
    plannedPorts(layout, base);
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^--port-base NaN/, `--port-base ${given}`));
  }
  return base;
}

/** One line per simulated module: id, protocol, endpoint, and the CA file clients trust it with. */
export function endpointLines(modules: readonly SimulatedModule[]): string[] {
  return modules.map((m) => `  ${m.id.padEnd(8)} ${m.protocol.padEnd(6)} ${m.endpoint}${m.caFile ? `  CA ${relative(process.cwd(), m.caFile)}` : ''}`);
}

export interface SimOptions {
  timeScale?: string;
  faults?: string;
  seed?: string;
  deliver?: string[];
  portBase?: string;
}

/** `workcell sim LAYOUT`: simulators until Ctrl-C or SIGTERM. */
export async function sim([layoutFile]: [string], options: SimOptions): Promise<number> {
  const timeScale = Number(options.timeScale ?? 1);
  const seed = Number(options.seed ?? 1);
  if (!(timeScale > 0)) throw new UsageError('--time-scale takes a positive number');
  if (!Number.isInteger(seed)) throw new UsageError('--seed takes a whole number');
  const { layout } = loadWorkcell(layoutFile);
  const faults = readFaultsFile(options.faults, layout.model);
  const portBase = portBaseOption(options.portBase, layout.model);
  // Starting material an operator would bring: each bag placed at its position once the previous one is taken.
  const deliveries = (options.deliver ?? []).map((value) => {
    const [bag, position] = value.split('@');
    if (!bag || !position) throw new UsageError(`--deliver ${value}: expected BAG@POSITION`);
    if (!layout.model.layout.positions?.some((p) => p.id === position)) throw new UsageError(`--deliver ${value}: the layout has no position '${position}'`);
    return { bag, position };
  });
  const simulation = await startSimulation(layout.model, layoutFile, { timeScale, seed, faults, portBase });
  for (const position of new Set(deliveries.map((d) => d.position))) simulation.deliverInTurn(deliveries.filter((d) => d.position === position).map((d) => d.bag), position);
  const lines = [`Simulating ${layout.model.id} at time scale ${timeScale}, seed ${seed}:`, ...endpointLines(simulation.modules)];
  if (portBase !== undefined) {
    // `workcell run` connects where a layout says: give it one that says where these listen.
    const copy = relative(process.cwd(), writeLayoutWithEndpoints(layoutFile, simulation.modules));
    lines.push(`Endpoints differ from the layout's; a copy naming them: ${copy}`, `  run against them with: ${CLI} run ${copy} --schedule FILE ...`);
  }
  lines.push('Ready. Ctrl-C (or SIGTERM) stops the simulators.');
  process.stdout.write(`${lines.join('\n')}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await simulation.stop();
  process.stdout.write('Simulators stopped.\n');
  return 0;
}

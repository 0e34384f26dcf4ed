/**
 * What a run needs around the orchestrator: the layout, a driver per module (over the layout's endpoints,
 * or over simulators started in this process), and a clock that stays continuous across restarts.
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { loadWorkcell } from '../config/validate.ts';
import { ScaledClock, type Clock } from '../drivers/clock.ts';
import { connectModule } from '../drivers/connect.ts';
import type { ModuleDriver } from '../drivers/module.ts';
import { startSimulation, type Simulation } from '../modules/simulators/workcell-simulation.ts';
import type { FaultSpec } from '../modules/simulators/faults.ts';
import { anchoredClock, layoutHashOf, type RunSettings } from './run-settings.ts';

export interface WorkcellSession {
  layout: LayoutModel;
  /** SHA-256 of the layout file as this session loaded it. */
  layoutHash: string;
  drivers: Map<string, ModuleDriver>;
  clock: Clock;
  simulation?: Simulation;
  /** In a simulation, runs the clock fast through idle time (only settle plates incubating); else nothing. */
  fastForward(): void;
  close(): Promise<void>;
}

/**
 * `portBase` places in-process simulators (module i on portBase + i; 0: ports the OS picks); without it,
 * the WORKCELL_SIM_PORT_BASE variable of the environment, else the layout's own ports.
 */
export async function openWorkcell(settings: RunSettings, options: { environment?: NodeJS.ProcessEnv; faults?: Record<string, FaultSpec[]>; portBase?: number } = {}): Promise<WorkcellSession> {
  const environment = { ...(options.environment ?? process.env) };
  const layoutHash = layoutHashOf(settings.layoutFile);
  const { layout } = loadWorkcell(settings.layoutFile);
  const model = layout.model;
  let simulation: Simulation | undefined;
  let clock = anchoredClock(settings);
  if (settings.sim) {
    // In-process simulated OPC UA devices and Workcell share a password made up for this run.
    for (const module of model.layout.modules) {
      const variable = module.connection.opcua?.credentials?.passwordEnv;
      if (variable && !environment[variable]) environment[variable] = randomBytes(18).toString('base64url');
    }
    simulation = await startSimulation(model, settings.layoutFile, { timeScale: settings.timeScale, startAt: clock.now(), seed: settings.seed, faults: options.faults, environment, portBase: options.portBase });
    clock = simulation.clock;
  }
  const drivers = new Map<string, ModuleDriver>();
  const directory = dirname(resolve(settings.layoutFile));
  try {
    await Promise.all(
      model.layout.modules.map(async (module) => {
        drivers.set(module.id, await connectModule(model, directory, module.id, environment));
      }),
    );
  } catch (error) {
    await Promise.all([...drivers.values()].map((d) => d.close().catch(() => undefined)));
    await simulation?.stop();
    throw error;
  }
  return {
    layout: model,
    layoutHash,
    drivers,
    clock,
    simulation,
    fastForward() {
      if (simulation && clock instanceof ScaledClock) clock.setTimeScale(Math.max(clock.timeScale, 200_000));
    },
    async close() {
      await Promise.all([...drivers.values()].map((d) => d.close().catch(() => undefined)));
      await simulation?.stop();
    },
  };
}

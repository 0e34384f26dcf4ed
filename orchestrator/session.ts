/**
 * What a run needs around the orchestrator: the layout, a driver per module (over the layout's endpoints,
 * or over simulators started in this process), and a clock that stays continuous across restarts.
 * The simulators come from the caller (`simulate`): the orchestrator never loads simulator code itself,
 * so a run against real devices carries none.
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { loadWorkcell } from '../config/validate.ts';
import { ScaledClock, type Clock } from '../drivers/clock.ts';
import { connectModule } from '../drivers/connect.ts';
import type { ModuleDriver } from '../drivers/module.ts';
import { anchoredClock, layoutHashOf, type RunSettings } from './run-settings.ts';

/** Modules simulated in this process, as far as a run needs them. */
export interface InProcessSimulation {
  /** The simulated workcell's clock, which the run then uses. */
  clock: Clock;
  /** An operator placing a patient's starting material (apheresis bag) at a position. */
  deliver(bagId: string, position: string): void;
  stop(): Promise<void>;
}

/**
 * Starts a simulator for every module of `layout` in this process, updating the layout's endpoints to
 * where they listen (modules/simulators/workcell-simulation.ts `simulatorsOf` is one).
 */
export type StartSimulation<S extends InProcessSimulation> = (layout: LayoutModel, layoutFile: string, run: { timeScale: number; startAt: number; seed: number; environment: NodeJS.ProcessEnv }) => Promise<S>;

export interface WorkcellSession<S extends InProcessSimulation = InProcessSimulation> {
  layout: LayoutModel;
  /** SHA-256 of the layout file as this session loaded it. */
  layoutHash: string;
  drivers: Map<string, ModuleDriver>;
  clock: Clock;
  simulation?: S;
  /** In a simulation, runs the clock fast through idle time (only settle plates incubating); else nothing. */
  fastForward(): void;
  close(): Promise<void>;
}

/** `simulate` is required for a run of simulated modules (`settings.sim`), and refused for any other. */
export async function openWorkcell<S extends InProcessSimulation = InProcessSimulation>(settings: RunSettings, options: { environment?: NodeJS.ProcessEnv; simulate?: StartSimulation<S> } = {}): Promise<WorkcellSession<S>> {
  if (settings.sim !== (options.simulate !== undefined)) throw new Error(settings.sim ? 'a simulated run needs its simulators (openWorkcell: simulate)' : "simulators were given for a run of the layout's own modules");
  const environment = { ...(options.environment ?? process.env) };
  const layoutHash = layoutHashOf(settings.layoutFile);
  const { layout } = loadWorkcell(settings.layoutFile);
  const model = layout.model;
  let simulation: S | undefined;
  let clock = anchoredClock(settings);
  if (options.simulate) {
    // In-process simulated OPC UA devices and Workcell share a password made up for this run.
    for (const module of model.layout.modules) {
      const variable = module.connection.opcua?.credentials?.passwordEnv;
      if (variable && !environment[variable]) environment[variable] = randomBytes(18).toString('base64url');
    }
    simulation = await options.simulate(model, settings.layoutFile, { timeScale: settings.timeScale, startAt: clock.now(), seed: settings.seed, environment });
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

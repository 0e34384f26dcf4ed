/**
 * What every simulated module has, whatever protocol serves it: its kind's behaviour, a seeded random
 * stream of its own, its fault plan, and sensors that drift when a fault says so.
 */
import type { Clock } from '../../drivers/clock.ts';
import type { ModuleKind } from '../../config/catalogue.ts';
import { FaultPlan, type FaultSpec } from './faults.ts';
import { SeededRandom } from './random.ts';
import type { SimulationWorld } from './world.ts';
import type { KindBehaviour } from './behaviour/context.ts';
import { cellSeparator } from './behaviour/cell-separator.ts';
import { electroporator } from './behaviour/electroporator.ts';
import { robotArm } from './behaviour/robot-arm.ts';
import { settlePlateHandler } from './behaviour/settle-plate-handler.ts';
import { rockingBioreactor } from './behaviour/rocking-bioreactor.ts';

/** Behaviour per module kind, independent of the protocol that serves it. */
const BEHAVIOURS: Record<string, () => KindBehaviour> = {
  'cell-separator': () => cellSeparator,
  electroporator: () => electroporator,
  'robot-arm': () => robotArm,
  'settle-plate-handler': settlePlateHandler,
  'rocking-bioreactor': () => rockingBioreactor,
};

export interface SimulatedModuleOptions {
  moduleId: string;
  kind: ModuleKind;
  world: SimulationWorld;
  clock: Clock;
  seed: number;
  faults?: FaultSpec[];
  /**
   * Process seconds between two samples of a running command's sensors (and its progress reports);
   * a minute by default. A digital twin samples sparingly (twin.ts): each sample is a log entry to compute.
   */
  samplingSeconds?: number;
}

export interface SimulatedModuleParts {
  behaviour: KindBehaviour;
  random: SeededRandom;
  faults: FaultPlan;
  /** A sensor value as the device reports it, drift faults included. */
  reported(channel: string, value: number): number;
}

export function simulatedModuleParts(options: SimulatedModuleOptions): SimulatedModuleParts {
  const behaviour = BEHAVIOURS[options.kind.kind]?.();
  if (!behaviour) throw new Error(`no simulator behaviour for module kind '${options.kind.kind}'`);
  const random = new SeededRandom(options.seed).fork(options.moduleId);
  const faults = new FaultPlan([...(options.faults ?? [])], random.fork('faults'));
  const startedAt = options.clock.now();
  return {
    behaviour,
    random,
    faults,
    reported: (channel, value) => value + faults.drift(channel, (options.clock.now() - startedAt) / 3_600_000),
  };
}

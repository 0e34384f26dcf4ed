/** What a simulated capability gets to work with, and the shared way of letting simulated time pass. */
import type { Clock } from '../../../drivers/clock.ts';
import type { SeededRandom } from '../random.ts';
import type { Item, SimulationWorld } from '../world.ts';
import type { ResultValue } from '../../../drivers/module.ts';

export type Parameters = Record<string, string | number | boolean>;

export interface BehaviourContext {
  moduleId: string;
  clock: Clock;
  random: SeededRandom;
  world: SimulationWorld;
  /** The item the command works on, already checked to be the one the module holds. */
  item: Item | undefined;
  /** Catalogue parameter names, values in catalogue units, defaults filled in. */
  parameters: Parameters;
  /** Process seconds between two sensor samples of a running command. */
  samplingSeconds: number;
  /** Expected duration in seconds (from the catalogue's duration model). */
  durationSeconds: number;
  signal: AbortSignal;
  /** Resolves at once unless the module is held; then when it is resumed. */
  whileHeld(): Promise<void>;
  progress(fraction: number, remainingSeconds: number): void;
  telemetry(channel: string, value: number): void;
  /** Cleanroom grade of a settle-plate location, for the settle-plate handler. */
  gradeOf(location: string): 'A' | 'B' | 'C' | 'D' | undefined;
  /** A fault scheduled for this execution, if any (see faults.ts). */
  wrongScan: boolean;
  forcedColonies: number | undefined;
}

export type CapabilityBehaviour = (context: BehaviourContext) => Promise<Record<string, ResultValue>>;
export type KindBehaviour = Record<string, CapabilityBehaviour>;

/**
 * Lets `seconds` of simulated time pass in steps, reporting progress and telemetry each step and
 * stopping at a hold. `sample` gives the telemetry values for a moment (0..1 through the run).
 */
export async function runFor(context: BehaviourContext, seconds: number, sample: (fraction: number) => Record<string, number> = () => ({})): Promise<void> {
  const steps = Math.max(1, Math.min(200, Math.ceil(seconds / context.samplingSeconds)));
  const stepMs = (seconds * 1000) / steps;
  for (let i = 1; i <= steps; i++) {
    await context.whileHeld();
    await context.clock.sleep(stepMs, context.signal);
    const fraction = i / steps;
    for (const [channel, value] of Object.entries(sample(fraction))) context.telemetry(channel, value);
    context.progress(fraction, seconds * (1 - fraction));
  }
}

export function requireItem(context: BehaviourContext): Item {
  if (!context.item) throw new Error(`${context.moduleId} holds no item for this command`);
  return context.item;
}

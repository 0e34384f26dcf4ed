/**
 * In-process controls and conditions: a step's results against the schedule's limits (each check
 * recorded, each failure a deviation, a failure marked `onFail: hold` holding the batch with the failed
 * values), and `when` conditions on an earlier result or the latest telemetry sample.
 */
import type { Condition, RecurringStep, ScheduleModel, Step } from '../config/schedule.ts';
import { canonicalUnit, convert } from '../config/units.ts';
import type { Catalogue } from '../config/catalogue.ts';
import type { ResultValue } from '../drivers/module.ts';
import { HoldRequired } from './command-executor.ts';
import type { BatchJournal } from './entries.ts';

export interface ControlOutcome {
  result: string;
  value: number;
  unit: string;
  min: number | null;
  max: number | null;
  pass: boolean;
}

/**
 * Checks every control of `work` against its results; `parentStep` names the step recurring work (a daily
 * sample) belongs to. Throws HoldRequired (with the failed controls) when a failure asks to hold.
 */
export function checkControls(journal: BatchJournal, schedule: ScheduleModel, work: Pick<Step, 'id' | 'capability' | 'controls'>, results: Record<string, ResultValue>, parentStep?: string): ControlOutcome[] {
  const outcomes: ControlOutcome[] = [];
  const holding: ControlOutcome[] = [];
  const messages: string[] = [];
  for (const control of work.controls ?? []) {
    const { unit, min, max } = control;
    const value = Number(results[control.result]);
    const pass = Number.isFinite(value) && (min === undefined || value >= min) && (max === undefined || value <= max);
    const outcome: ControlOutcome = { result: control.result, value, unit, min: min ?? null, max: max ?? null, pass };
    outcomes.push(outcome);
    journal.write('control.checked', { step: work.id, ...(parentStep ? { parentStep } : {}), ...outcome });
    if (pass) continue;
    const bounds = [min !== undefined ? `min ${min}` : '', max !== undefined ? `max ${max}` : ''].filter(Boolean).join(', ');
    const message = `${work.id}: ${control.result} ${round(value)} ${unit} is outside ${bounds} ${unit}`;
    journal.write('deviation', { kind: 'out-of-limit', step: work.id, ...(parentStep ? { parentStep } : {}), result: control.result, value, message });
    if (control.onFail === 'hold' || control.onFail === 'abort') {
      holding.push(outcome);
      messages.push(message);
    }
  }
  if (holding.length > 0) throw new HoldRequired('control', messages.join('; '), false, { failedControls: holding });
  return outcomes;
}

/** A `when` condition: an earlier step's result (`STEP.RESULT`) from the log, or the latest telemetry sample. */
export function conditionMet(subject: { value: number; unit: string } | undefined, condition: Condition): boolean {
  if (!subject) return false;
  const below = inUnit(condition.below, condition.unit, subject.unit);
  const above = inUnit(condition.above, condition.unit, subject.unit);
  return (below === undefined || subject.value < below) && (above === undefined || subject.value > above);
}

/** The latest value of an earlier step's (or recurring work's) result, read from the log so that it holds after a restart. */
export function resultOf(journal: BatchJournal, schedule: ScheduleModel, reference: string): { value: number; unit: string } | undefined {
  const [stepId, name = ''] = reference.split('.');
  const step = schedule.schedule.steps.flatMap((s): Array<Step | RecurringStep> => [s, ...(s.during ?? [])]).find((s) => s.id === stepId);
  if (!step) return undefined;
  const unit = schedule.catalogue.capability(step.capability)?.spec.results[name]?.unit ?? '1';
  const value = journal.state().latestResults.get(stepId!)?.get(name);
  return value === undefined ? undefined : { value, unit };
}

/** The unit of a telemetry channel of the module kind that offers `capabilityRef`. */
export function telemetryUnit(catalogue: Catalogue, capabilityRef: string, channel: string): string {
  const kind = catalogue.capability(capabilityRef)?.kind;
  return Object.values(kind?.capabilities ?? {}).map((c) => c.telemetry[channel]?.unit).find(Boolean) ?? '1';
}

export function describeCondition(condition: Condition): string {
  return `${condition.result ?? condition.telemetry} ${condition.below !== undefined ? 'below' : 'above'} ${condition.threshold}`;
}

/** A threshold, converted at load into `unit`, expressed in the unit of the value it is compared with. */
export function inUnit(value: number | undefined, unit: string, target: string): number | undefined {
  if (value === undefined || unit === target) return value;
  return convert({ value, unit: canonicalUnit(unit) ?? unit }, target);
}

function round(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 100) / 100) : String(value);
}

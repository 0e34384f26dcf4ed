/**
 * What a batch record needs to know from the schedule the batch ran on (the text recorded in its
 * `batch.started`) and the module catalogue: which step each piece of recurring work belongs to, the
 * unit of every parameter, result and telemetry channel, and the limits a channel is read against.
 */
import type { Condition, Control, RecurringStep, ScheduleModel, Step } from '../config/schedule.ts';
import { canonicalUnit, convert } from '../config/units.ts';
import { inUnit } from './controls.ts';
import type { CapabilitySpec } from '../config/catalogue.ts';
import type { BatchStarted } from './entries.ts';
import { scheduleFromText } from './orchestrator.ts';

/** A line a telemetry channel is read against, in the channel's unit. */
export interface TelemetryLimit {
  value: number;
  /** `min`/`max`: a limit; `trigger`: where recurring or conditional work starts (a feed below 2 g/L). */
  kind: 'min' | 'max' | 'trigger';
  /** Where it comes from: `catalogue range`, `control daily-sample.viability`, `glucose-feed when below 2 g/L`. */
  source: string;
}

export interface ScheduleFacts {
  /** Why the facts are missing, when the recorded schedule no longer loads (units then come from the entries only). */
  problem?: string;
  /** The step a piece of recurring work (`during`) belongs to. */
  parentOf(workId: string): string | undefined;
  /** `KIND.CAPABILITY` of a step or of recurring work. */
  capabilityOf(id: string): string | undefined;
  name(stepId: string): string | undefined;
  parameterUnits(id: string): Record<string, string>;
  resultUnits(id: string): Record<string, string>;
  /** The step's parameters as the orchestrator normalised them (catalogue units, defaults filled in). */
  parameters(stepId: string): Record<string, unknown> | undefined;
  telemetryLimits(stepId: string, channel: string, unit: string): TelemetryLimit[];
}

export function scheduleFacts(started: BatchStarted): ScheduleFacts {
  try {
    return factsOf(scheduleFromText({ file: started.schedule.file, text: started.schedule.text }));
  } catch (error) {
    return { ...factsOf(undefined), problem: (error as Error).message };
  }
}

/** The facts of a loaded schedule over its catalogue; with none, every answer is empty. */
export function factsOf(model: ScheduleModel | undefined): ScheduleFacts {
  const steps = new Map<string, Step>();
  const work = new Map<string, { parent: Step; work: RecurringStep }>();
  for (const step of model?.schedule.steps ?? []) {
    steps.set(step.id, step);
    for (const extra of step.during ?? []) work.set(extra.id, { parent: step, work: extra });
  }
  const definition = (id: string): Step | RecurringStep | undefined => steps.get(id) ?? work.get(id)?.work;
  const spec = (id: string): CapabilitySpec | undefined => {
    const capability = definition(id)?.capability;
    return capability ? model?.catalogue.capability(capability)?.spec : undefined;
  };
  return {
    parentOf: (id) => work.get(id)?.parent.id,
    capabilityOf: (id) => definition(id)?.capability,
    name: (id) => steps.get(id)?.name,
    parameterUnits: (id) => unitsOf(spec(id)?.parameters ?? {}),
    resultUnits: (id) => unitsOf(spec(id)?.results ?? {}),
    parameters(id) {
      const step = steps.get(id);
      return step && model ? model.normalizedParameters(step) : undefined;
    },
    telemetryLimits(stepId, channel, unit) {
      const step = steps.get(stepId);
      if (!step) return [];
      const limits: TelemetryLimit[] = [];
      const range = spec(stepId)?.telemetry[channel];
      for (const kind of ['min', 'max'] as const) {
        const bound = range?.[kind];
        // The range is in the catalogue's unit; the samples in the unit the device reported.
        const value = bound === undefined ? undefined : convert({ value: bound, unit: canonicalUnit(range!.unit) ?? range!.unit }, unit);
        if (value !== undefined) limits.push({ value, kind, source: 'catalogue range' });
      }
      const sources: Array<{ id: string; controls?: Control[]; when?: Condition }> = [step, ...(step.during ?? [])];
      for (const source of sources) {
        for (const control of source.controls ?? []) {
          if (control.result !== channel) continue;
          for (const kind of ['min', 'max'] as const) {
            const value = inUnit(control[kind], control.unit, unit);
            if (value !== undefined) limits.push({ value, kind, source: `control ${source.id}.${control.result}` });
          }
        }
        if (source.when?.telemetry === channel) {
          for (const bound of ['below', 'above'] as const) {
            const value = inUnit(source.when[bound], source.when.unit, unit);
            if (value !== undefined) limits.push({ value, kind: 'trigger', source: `${source.id} when ${bound} ${source.when.threshold}` });
          }
        }
      }
      return limits;
    },
  };
}

function unitsOf(specs: Record<string, { unit?: string; type?: string }>): Record<string, string> {
  const units: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.unit !== undefined) units[name] = spec.unit;
    else if (spec.type === 'number' || spec.type === 'integer') units[name] = '1';
  }
  return units;
}

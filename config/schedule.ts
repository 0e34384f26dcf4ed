/**
 * Schedules: one therapy process as ordered steps over catalogue capabilities
 * (schedules/*.yaml, schema schedules/schedule.schema.json).
 */
import { checkParameterValue, estimateDuration, type Catalogue, type CapabilitySpec } from './catalogue.ts';
import { formatDuration, parseDuration, parseQuantityIn } from './units.ts';
import { reportDuplicateIds, reportUnknownReference } from './references.ts';
import type { YamlPath, YamlSource } from './source.ts';

export type ParameterValue = string | number | boolean;

export interface Control {
  result: string;
  min?: string | number;
  max?: string | number;
  onFail?: 'deviation' | 'hold' | 'abort';
}

export interface Condition {
  result?: string;
  telemetry?: string;
  below?: string | number;
  above?: string | number;
}

export interface FailurePolicy {
  retries?: number;
  backoff?: string | number;
  alternateModule?: boolean;
  then: 'hold' | 'abort';
}

export interface RecurringStep {
  id: string;
  name?: string;
  capability: string;
  parameters?: Record<string, ParameterValue>;
  every?: string | number;
  when?: Condition;
  controls?: Control[];
}

export interface Step {
  id: string;
  name?: string;
  capability: string;
  parameters?: Record<string, ParameterValue>;
  expectedDuration?: string | number;
  controls?: Control[];
  maxHold?: string | number;
  environmentalMonitoring?: boolean;
  onFailure?: FailurePolicy;
  when?: Condition;
  during?: RecurringStep[];
}

export interface Schedule {
  schedule: { id: string; version: string; name: string; product?: string; description?: string };
  steps: Step[];
}

/** A checked schedule, with the figures later stages need already worked out. */
export class ScheduleModel {
  constructor(readonly schedule: Schedule, readonly catalogue: Catalogue) {}

  get id(): string {
    return this.schedule.schedule.id;
  }

  /** Expected duration of a step in seconds: the schedule's figure if given, else the catalogue's estimate. */
  expectedDuration(step: Step | RecurringStep): number {
    if ('expectedDuration' in step && step.expectedDuration !== undefined) {
      const parsed = parseDuration(step.expectedDuration);
      if (parsed.ok) return parsed.value;
    }
    const capability = this.catalogue.capability(step.capability);
    return capability ? estimateDuration(capability.spec, this.normalizedParameters(step)) : 0;
  }

  /** Parameters in catalogue units, defaults filled in. */
  normalizedParameters(step: Step | RecurringStep): Record<string, ParameterValue> {
    const capability = this.catalogue.capability(step.capability);
    if (!capability) return {};
    const values: Record<string, ParameterValue> = {};
    for (const [name, spec] of Object.entries(capability.spec.parameters)) {
      const given = step.parameters?.[name] ?? spec.default;
      if (given === undefined) continue;
      const checked = checkParameterValue(spec, given);
      if (checked.ok) values[name] = checked.value;
    }
    return values;
  }

  /** Maximum hold after a step, in seconds; undefined for the last step. */
  maxHold(step: Step): number | undefined {
    if (step.maxHold === undefined) return undefined;
    const parsed = parseDuration(step.maxHold);
    return parsed.ok ? parsed.value : undefined;
  }

  totalExpectedDuration(): number {
    return this.schedule.steps.reduce((sum, step) => sum + this.expectedDuration(step), 0);
  }
}

/** Semantic checks of a schema-valid schedule; findings go into `source`. */
export function checkSchedule(source: YamlSource, catalogue: Catalogue): ScheduleModel {
  const schedule = source.data as Schedule;
  const allSteps = schedule.steps.flatMap((step, i) => [
    { id: step.id, path: ['steps', i, 'id'] as YamlPath },
    ...(step.during ?? []).map((r, j) => ({ id: r.id, path: ['steps', i, 'during', j, 'id'] as YamlPath })),
  ]);
  reportDuplicateIds(source, allSteps, null, 'step');

  const model = new ScheduleModel(schedule, catalogue);
  const earlier = new Map<string, CapabilitySpec>();
  schedule.steps.forEach((step, i) => {
    const at: YamlPath = ['steps', i];
    const capability = resolveCapability(source, catalogue, step.capability, [...at, 'capability']);
    if (capability) checkParameters(source, capability.spec, step.parameters, at);
    if (step.expectedDuration !== undefined) checkDuration(source, step.expectedDuration, [...at, 'expectedDuration'], 'expected duration', false);
    if (capability) checkControls(source, capability.spec, step.controls, at);
    if (step.when) checkCondition(source, step.when, [...at, 'when'], earlier, undefined);

    const isLast = i === schedule.steps.length - 1;
    if (step.maxHold === undefined) {
      if (!isLast) source.reportAt(at, `step '${step.id}' needs maxHold: the longest the material may wait before step '${schedule.steps[i + 1]!.id}' starts`);
    } else {
      checkDuration(source, step.maxHold, [...at, 'maxHold'], 'maxHold', false);
    }
    if (step.onFailure?.backoff !== undefined) checkDuration(source, step.onFailure.backoff, [...at, 'onFailure', 'backoff'], 'backoff', false);

    (step.during ?? []).forEach((recurring, j) => {
      const rAt: YamlPath = [...at, 'during', j];
      const rCapability = resolveCapability(source, catalogue, recurring.capability, [...rAt, 'capability']);
      if (rCapability && capability && rCapability.kind.kind !== capability.kind.kind) {
        source.reportAt([...rAt, 'capability'], `'${recurring.capability}' runs on a ${rCapability.kind.kind}, but step '${step.id}' runs on a ${capability.kind.kind}; work during a step runs on the same module`);
      }
      if (rCapability) {
        checkParameters(source, rCapability.spec, recurring.parameters, rAt);
        checkControls(source, rCapability.spec, recurring.controls, rAt);
      }
      if (recurring.every === undefined && recurring.when === undefined) source.reportAt(rAt, `recurring step '${recurring.id}' needs 'every' (an interval) or 'when' (a condition)`);
      if (recurring.every !== undefined && checkDuration(source, recurring.every, [...rAt, 'every'], 'interval', true) && rCapability) {
        checkRepetitions(source, [...rAt, 'every'], { id: recurring.id, every: recurring.every, duration: model.expectedDuration(recurring) }, { id: step.id, duration: model.expectedDuration(step) });
      }
      if (recurring.when) checkCondition(source, recurring.when, [...rAt, 'when'], earlier, capability?.spec);
    });
    if (capability) earlier.set(step.id, capability.spec);
  });
  return model;
}

/** Work during a step runs between its segments; more than this many in one step is a typo, not a process. */
export const MAX_REPETITIONS = 10_000;

/**
 * Recurring work must fit: an interval no shorter than the work itself takes, and at most
 * MAX_REPETITIONS of it in the step's expected duration (`every: 1 ms` in a 9-day culture is a slip).
 */
function checkRepetitions(source: YamlSource, at: YamlPath, recurring: { id: string; every: string | number; duration: number }, step: { id: string; duration: number }): void {
  const every = parseDuration(recurring.every);
  if (!every.ok) return;
  if (every.value < recurring.duration) {
    source.reportAt(at, `recurring step '${recurring.id}' takes about ${formatDuration(recurring.duration)} itself, so it cannot start every ${String(recurring.every)}; give an interval of at least ${formatDuration(recurring.duration)}`);
    return;
  }
  const repetitions = Math.floor(step.duration / every.value);
  if (repetitions > MAX_REPETITIONS) {
    source.reportAt(at, `recurring step '${recurring.id}' every ${String(recurring.every)} would run ${repetitions} times during step '${step.id}' (about ${formatDuration(step.duration)}); at most ${MAX_REPETITIONS} repetitions per step: give an interval of at least ${formatDuration(Math.ceil(step.duration / MAX_REPETITIONS))}`);
  }
}

function resolveCapability(source: YamlSource, catalogue: Catalogue, reference: string, at: YamlPath) {
  const resolved = catalogue.capability(reference);
  if (resolved) return resolved;
  const [kindName = '', capabilityName = ''] = reference.split('.');
  const kind = catalogue.kind(kindName);
  if (!kind) reportUnknownReference(source, at, 'module kind', kindName, catalogue.kindNames());
  else source.reportAt(at, `module kind '${kindName}' offers no capability '${capabilityName}'; it offers ${Object.keys(kind.capabilities).join(', ')}`);
  return undefined;
}

function checkParameters(source: YamlSource, capability: CapabilitySpec, parameters: Record<string, ParameterValue> | undefined, at: YamlPath): void {
  const given = parameters ?? {};
  const known = Object.keys(capability.parameters);
  for (const [name, value] of Object.entries(given)) {
    const spec = capability.parameters[name];
    if (!spec) {
      reportUnknownReference(source, [...at, 'parameters', name], 'parameter', name, known);
      continue;
    }
    const checked = checkParameterValue(spec, value);
    if (!checked.ok) source.reportAt([...at, 'parameters', name], `parameter '${name}': ${checked.error}`);
  }
  const missing = known.filter((name) => capability.parameters[name]!.required && !(name in given));
  if (missing.length) source.reportAt(parameters ? [...at, 'parameters'] : at, `missing required parameter${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}`);
}

function checkControls(source: YamlSource, capability: CapabilitySpec, controls: Control[] | undefined, at: YamlPath): void {
  (controls ?? []).forEach((control, i) => {
    const cAt: YamlPath = [...at, 'controls', i];
    const result = capability.results[control.result];
    if (!result) {
      reportUnknownReference(source, [...cAt, 'result'], 'result', control.result, Object.keys(capability.results));
      return;
    }
    if (result.type !== 'number' && result.type !== 'integer') {
      source.reportAt([...cAt, 'result'], `result '${control.result}' is a ${result.type}; limits apply to numbers`);
      return;
    }
    if (control.min === undefined && control.max === undefined) source.reportAt(cAt, `control on '${control.result}' needs min, max or both`);
    const unit = result.unit ?? '1';
    const min = control.min === undefined ? undefined : limitIn(source, control.min, unit, [...cAt, 'min']);
    const max = control.max === undefined ? undefined : limitIn(source, control.max, unit, [...cAt, 'max']);
    if (min !== undefined && max !== undefined && min > max) source.reportAt([...cAt, 'min'], `min ${String(control.min)} is above max ${String(control.max)}`);
  });
}

function limitIn(source: YamlSource, value: string | number, unit: string, at: YamlPath): number | undefined {
  const parsed = parseQuantityIn(value, unit);
  if (!parsed.ok) source.reportAt(at, parsed.error);
  return parsed.ok ? parsed.value : undefined;
}

/** Reports a duration that does not parse or is out of range; returns whether it is fine. */
function checkDuration(source: YamlSource, value: unknown, at: YamlPath, what: string, mustBePositive: boolean): boolean {
  const parsed = parseDuration(value);
  if (!parsed.ok) source.reportAt(at, `${what}: ${parsed.error}`);
  else if (parsed.value < 0 || (mustBePositive && parsed.value === 0)) source.reportAt(at, `${what} must be ${mustBePositive ? 'positive' : 'zero or more'}, got '${String(value)}'`);
  else return true;
  return false;
}

/**
 * A condition compares one thing (an earlier step's result, or a telemetry channel of the module the
 * step runs on) with one threshold in a compatible unit.
 */
function checkCondition(source: YamlSource, condition: Condition, at: YamlPath, earlier: Map<string, CapabilitySpec>, parent: CapabilitySpec | undefined): void {
  const subjects = [condition.result, condition.telemetry].filter((s) => s !== undefined).length;
  const thresholds = [condition.below, condition.above].filter((s) => s !== undefined).length;
  if (subjects !== 1) source.reportAt(at, "a condition names exactly one of 'result' (STEP.RESULT) or 'telemetry' (a channel)");
  if (thresholds !== 1) source.reportAt(at, "a condition has exactly one of 'below' or 'above'");
  if (subjects !== 1 || thresholds !== 1) return;
  let unit: string | undefined;
  if (condition.result !== undefined) {
    const [stepId = '', resultName = ''] = condition.result.split('.');
    const stepCapability = earlier.get(stepId);
    if (!stepCapability) {
      reportUnknownReference(source, [...at, 'result'], 'earlier step', stepId, [...earlier.keys()]);
      return;
    }
    const result = stepCapability.results[resultName];
    if (!result) {
      reportUnknownReference(source, [...at, 'result'], `result of step '${stepId}'`, resultName, Object.keys(stepCapability.results));
      return;
    }
    unit = result.unit ?? '1';
  } else {
    if (!parent) {
      source.reportAt([...at, 'telemetry'], 'a telemetry condition belongs to work during a step (under during:), where the module is known');
      return;
    }
    const channel = parent.telemetry[condition.telemetry!];
    if (!channel) {
      reportUnknownReference(source, [...at, 'telemetry'], 'telemetry channel', condition.telemetry!, Object.keys(parent.telemetry));
      return;
    }
    unit = channel.unit;
  }
  const key = condition.below !== undefined ? 'below' : 'above';
  limitIn(source, (condition.below ?? condition.above)!, unit, [...at, key]);
}

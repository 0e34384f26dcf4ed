/**
 * Schedules: one therapy process as ordered steps over catalogue capabilities
 * (schedules/*.yaml, schema schedules/schedule.schema.json).
 */
import { checkParameterValue, estimateDuration, type Catalogue, type CapabilitySpec } from './catalogue.ts';
import { formatDuration, parseDuration, parseQuantityIn } from './units.ts';
import { CONTROL_ON_FAIL_DEFAULT, FAILURE_POLICY_DEFAULTS } from './defaults.ts';
import { reportDuplicateIds, reportUnknownReference } from './references.ts';
import type { YamlPath, YamlSource } from './source.ts';

export type ParameterValue = string | number | boolean;

// ---- what a schedule file says (schedules/schedule.schema.json) ----------------------------------

interface ControlInput {
  result: string;
  min?: string | number;
  max?: string | number;
  onFail?: Control['onFail'];
}

interface ConditionInput {
  result?: string;
  telemetry?: string;
  below?: string | number;
  above?: string | number;
}

interface RecurringStepInput {
  id: string;
  name?: string;
  capability: string;
  parameters?: Record<string, ParameterValue>;
  every?: string | number;
  when?: ConditionInput;
  controls?: ControlInput[];
}

interface StepInput {
  id: string;
  name?: string;
  capability: string;
  parameters?: Record<string, ParameterValue>;
  expectedDuration?: string | number;
  controls?: ControlInput[];
  maxHold?: string | number;
  environmentalMonitoring?: boolean;
  onFailure?: { retries?: number; backoff?: string | number; alternateModule?: boolean; then: FailurePolicy['then'] };
  when?: ConditionInput;
  during?: RecurringStepInput[];
}

// ---- the schedule as loaded: durations in ms, quantities in catalogue units, defaults filled -------

/** An in-process control: limits in the unit of the result they bound. */
export interface Control {
  result: string;
  /** The catalogue's unit of the result ('1' for a bare number). */
  unit: string;
  min?: number;
  max?: number;
  onFail: 'deviation' | 'hold' | 'abort';
}

/** One subject (an earlier step's result, or a telemetry channel) against one threshold. */
export interface Condition {
  result?: string;
  telemetry?: string;
  /** The catalogue's unit of the subject; `below`/`above` are in it. */
  unit: string;
  below?: number;
  above?: number;
  /** The threshold as the schedule wrote it ('30 %'), for messages and records. */
  threshold: string;
}

export interface FailurePolicy {
  retries: number;
  /** Wait before the first retry, doubled for each further one. */
  backoffMs: number;
  alternateModule: boolean;
  then: 'hold' | 'abort';
}

export interface RecurringStep {
  id: string;
  name?: string;
  capability: string;
  /** In catalogue units, catalogue defaults filled in. */
  parameters: Record<string, ParameterValue>;
  /** The catalogue's estimate for the work. */
  expectedDurationMs: number;
  everyMs?: number;
  when?: Condition;
  controls: Control[];
}

export interface Step {
  id: string;
  name?: string;
  capability: string;
  /** In catalogue units, catalogue defaults filled in. */
  parameters: Record<string, ParameterValue>;
  /** The schedule's figure if it gives one, else the catalogue's estimate. */
  expectedDurationMs: number;
  controls: Control[];
  /** Longest the material may wait before the next step; undefined for the last step. */
  maxHoldMs?: number;
  environmentalMonitoring: boolean;
  onFailure: FailurePolicy;
  when?: Condition;
  during: RecurringStep[];
}

export interface Schedule {
  schedule: { id: string; version: string; name: string; product?: string; description?: string };
  steps: Step[];
}

/** A checked schedule, converted: the orchestrator reads its figures and never parses a value again. */
export class ScheduleModel {
  constructor(readonly schedule: Schedule, readonly catalogue: Catalogue) {}

  get id(): string {
    return this.schedule.schedule.id;
  }

  /** Expected duration of a step in seconds: the schedule's figure if given, else the catalogue's estimate. */
  expectedDuration(step: Step | RecurringStep): number {
    return step.expectedDurationMs / 1000;
  }

  /** Parameters in catalogue units, defaults filled in. */
  normalizedParameters(step: Step | RecurringStep): Record<string, ParameterValue> {
    return step.parameters;
  }

  /** Maximum hold after a step, in seconds; undefined for the last step. */
  maxHold(step: Step): number | undefined {
    return step.maxHoldMs === undefined ? undefined : step.maxHoldMs / 1000;
  }

  totalExpectedDuration(): number {
    return this.schedule.steps.reduce((sum, step) => sum + this.expectedDuration(step), 0);
  }
}

/**
 * Semantic checks of a schema-valid schedule, converting it on the way; findings go into `source`.
 * A value that does not convert is a finding at its place (the model is then not used).
 */
export function checkSchedule(source: YamlSource, catalogue: Catalogue): ScheduleModel {
  const input = source.data as { schedule: Schedule['schedule']; steps: StepInput[] };
  const allSteps = input.steps.flatMap((step, i) => [
    { id: step.id, path: ['steps', i, 'id'] as YamlPath },
    ...(step.during ?? []).map((r, j) => ({ id: r.id, path: ['steps', i, 'during', j, 'id'] as YamlPath })),
  ]);
  reportDuplicateIds(source, allSteps, null, 'step');

  const earlier = new Map<string, CapabilitySpec>();
  const steps = input.steps.map((step, i): Step => {
    const at: YamlPath = ['steps', i];
    const capability = resolveCapability(source, catalogue, step.capability, [...at, 'capability']);
    if (capability) checkParameters(source, capability.spec, step.parameters, at);
    const parameters = normalizedParameters(capability?.spec, step.parameters);
    const given = step.expectedDuration === undefined ? undefined : durationMs(source, step.expectedDuration, [...at, 'expectedDuration'], 'expected duration', false);
    const expectedDurationMs = given ?? estimateMs(capability?.spec, parameters);
    const controls = convertControls(source, capability?.spec, step.controls, at);
    const when = step.when ? convertCondition(source, step.when, [...at, 'when'], earlier, undefined) : undefined;

    const isLast = i === input.steps.length - 1;
    if (step.maxHold === undefined && !isLast) source.reportAt(at, `step '${step.id}' needs maxHold: the longest the material may wait before step '${input.steps[i + 1]!.id}' starts`);
    const maxHoldMs = step.maxHold === undefined ? undefined : durationMs(source, step.maxHold, [...at, 'maxHold'], 'maxHold', false);
    const policy = step.onFailure;
    const backoffMs = policy?.backoff === undefined ? FAILURE_POLICY_DEFAULTS.backoffMs : (durationMs(source, policy.backoff, [...at, 'onFailure', 'backoff'], 'backoff', false) ?? 0);
    const onFailure: FailurePolicy = {
      retries: policy?.retries ?? FAILURE_POLICY_DEFAULTS.retries,
      backoffMs,
      alternateModule: policy?.alternateModule ?? FAILURE_POLICY_DEFAULTS.alternateModule,
      then: policy?.then ?? FAILURE_POLICY_DEFAULTS.then,
    };

    const during = (step.during ?? []).map((recurring, j): RecurringStep => {
      const rAt: YamlPath = [...at, 'during', j];
      const rCapability = resolveCapability(source, catalogue, recurring.capability, [...rAt, 'capability']);
      if (rCapability && capability && rCapability.kind.kind !== capability.kind.kind) {
        source.reportAt([...rAt, 'capability'], `'${recurring.capability}' runs on a ${rCapability.kind.kind}, but step '${step.id}' runs on a ${capability.kind.kind}; work during a step runs on the same module`);
      }
      if (rCapability) checkParameters(source, rCapability.spec, recurring.parameters, rAt);
      const rParameters = normalizedParameters(rCapability?.spec, recurring.parameters);
      const rDurationMs = estimateMs(rCapability?.spec, rParameters);
      const rControls = convertControls(source, rCapability?.spec, recurring.controls, rAt);
      if (recurring.every === undefined && recurring.when === undefined) source.reportAt(rAt, `recurring step '${recurring.id}' needs 'every' (an interval) or 'when' (a condition)`);
      const everyMs = recurring.every === undefined ? undefined : durationMs(source, recurring.every, [...rAt, 'every'], 'interval', true);
      if (everyMs !== undefined && rCapability) {
        checkRepetitions(source, [...rAt, 'every'], { id: recurring.id, every: recurring.every!, everyMs, durationMs: rDurationMs }, { id: step.id, durationMs: expectedDurationMs });
      }
      const rWhen = recurring.when ? convertCondition(source, recurring.when, [...rAt, 'when'], earlier, capability?.spec) : undefined;
      return { id: recurring.id, ...(recurring.name !== undefined ? { name: recurring.name } : {}), capability: recurring.capability, parameters: rParameters, expectedDurationMs: rDurationMs, everyMs, when: rWhen, controls: rControls };
    });
    if (capability) earlier.set(step.id, capability.spec);
    return {
      id: step.id,
      ...(step.name !== undefined ? { name: step.name } : {}),
      capability: step.capability,
      parameters,
      expectedDurationMs,
      controls,
      maxHoldMs,
      environmentalMonitoring: step.environmentalMonitoring ?? false,
      onFailure,
      when,
      during,
    };
  });
  return new ScheduleModel({ schedule: input.schedule, steps }, catalogue);
}

/** Parameters in catalogue units, catalogue defaults filled in (the values were checked beside). */
function normalizedParameters(capability: CapabilitySpec | undefined, given: Record<string, ParameterValue> | undefined): Record<string, ParameterValue> {
  const values: Record<string, ParameterValue> = {};
  for (const [name, spec] of Object.entries(capability?.parameters ?? {})) {
    const value = given?.[name] ?? spec.default;
    if (value === undefined) continue;
    const checked = checkParameterValue(spec, value);
    if (checked.ok) values[name] = checked.value;
  }
  return values;
}

function estimateMs(capability: CapabilitySpec | undefined, parameters: Record<string, ParameterValue>): number {
  return capability ? estimateDuration(capability, parameters) * 1000 : 0;
}

/** Work during a step runs between its segments; more than this many in one step is a typo, not a process. */
export const MAX_REPETITIONS = 10_000;

/**
 * Recurring work must fit: an interval no shorter than the work itself takes, and at most
 * MAX_REPETITIONS of it in the step's expected duration (`every: 1 ms` in a 9-day culture is a slip).
 */
function checkRepetitions(source: YamlSource, at: YamlPath, recurring: { id: string; every: string | number; everyMs: number; durationMs: number }, step: { id: string; durationMs: number }): void {
  const duration = recurring.durationMs / 1000;
  if (recurring.everyMs < recurring.durationMs) {
    source.reportAt(at, `recurring step '${recurring.id}' takes about ${formatDuration(duration)} itself, so it cannot start every ${String(recurring.every)}; give an interval of at least ${formatDuration(duration)}`);
    return;
  }
  const stepDuration = step.durationMs / 1000;
  const repetitions = Math.floor(step.durationMs / recurring.everyMs);
  if (repetitions > MAX_REPETITIONS) {
    source.reportAt(at, `recurring step '${recurring.id}' every ${String(recurring.every)} would run ${repetitions} times during step '${step.id}' (about ${formatDuration(stepDuration)}); at most ${MAX_REPETITIONS} repetitions per step: give an interval of at least ${formatDuration(Math.ceil(stepDuration / MAX_REPETITIONS))}`);
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

function convertControls(source: YamlSource, capability: CapabilitySpec | undefined, controls: ControlInput[] | undefined, at: YamlPath): Control[] {
  return (controls ?? []).flatMap((control, i): Control[] => {
    const cAt: YamlPath = [...at, 'controls', i];
    if (!capability) return [];
    const result = capability.results[control.result];
    if (!result) {
      reportUnknownReference(source, [...cAt, 'result'], 'result', control.result, Object.keys(capability.results));
      return [];
    }
    if (result.type !== 'number' && result.type !== 'integer') {
      source.reportAt([...cAt, 'result'], `result '${control.result}' is a ${result.type}; limits apply to numbers`);
      return [];
    }
    if (control.min === undefined && control.max === undefined) source.reportAt(cAt, `control on '${control.result}' needs min, max or both`);
    const unit = result.unit ?? '1';
    const min = control.min === undefined ? undefined : limitIn(source, control.min, unit, [...cAt, 'min']);
    const max = control.max === undefined ? undefined : limitIn(source, control.max, unit, [...cAt, 'max']);
    if (min !== undefined && max !== undefined && min > max) source.reportAt([...cAt, 'min'], `min ${String(control.min)} is above max ${String(control.max)}`);
    return [{ result: control.result, unit, min, max, onFail: control.onFail ?? CONTROL_ON_FAIL_DEFAULT }];
  });
}

function limitIn(source: YamlSource, value: string | number, unit: string, at: YamlPath): number | undefined {
  const parsed = parseQuantityIn(value, unit);
  if (!parsed.ok) source.reportAt(at, parsed.error);
  return parsed.ok ? parsed.value : undefined;
}

/** A duration in ms; reports one that does not parse or is out of range (then undefined). */
function durationMs(source: YamlSource, value: unknown, at: YamlPath, what: string, mustBePositive: boolean): number | undefined {
  const parsed = parseDuration(value);
  if (!parsed.ok) source.reportAt(at, `${what}: ${parsed.error}`);
  else if (parsed.value < 0 || (mustBePositive && parsed.value === 0)) source.reportAt(at, `${what} must be ${mustBePositive ? 'positive' : 'zero or more'}, got '${String(value)}'`);
  else return parsed.value * 1000;
  return undefined;
}

/**
 * A condition compares one thing (an earlier step's result, or a telemetry channel of the module the
 * step runs on) with one threshold in a compatible unit.
 */
function convertCondition(source: YamlSource, condition: ConditionInput, at: YamlPath, earlier: Map<string, CapabilitySpec>, parent: CapabilitySpec | undefined): Condition | undefined {
  const subjects = [condition.result, condition.telemetry].filter((s) => s !== undefined).length;
  const thresholds = [condition.below, condition.above].filter((s) => s !== undefined).length;
  if (subjects !== 1) source.reportAt(at, "a condition names exactly one of 'result' (STEP.RESULT) or 'telemetry' (a channel)");
  if (thresholds !== 1) source.reportAt(at, "a condition has exactly one of 'below' or 'above'");
  if (subjects !== 1 || thresholds !== 1) return undefined;
  let unit: string | undefined;
  if (condition.result !== undefined) {
    const [stepId = '', resultName = ''] = condition.result.split('.');
    const stepCapability = earlier.get(stepId);
    if (!stepCapability) {
      reportUnknownReference(source, [...at, 'result'], 'earlier step', stepId, [...earlier.keys()]);
      return undefined;
    }
    const result = stepCapability.results[resultName];
    if (!result) {
      reportUnknownReference(source, [...at, 'result'], `result of step '${stepId}'`, resultName, Object.keys(stepCapability.results));
      return undefined;
    }
    unit = result.unit ?? '1';
  } else {
    if (!parent) {
      source.reportAt([...at, 'telemetry'], 'a telemetry condition belongs to work during a step (under during:), where the module is known');
      return undefined;
    }
    const channel = parent.telemetry[condition.telemetry!];
    if (!channel) {
      reportUnknownReference(source, [...at, 'telemetry'], 'telemetry channel', condition.telemetry!, Object.keys(parent.telemetry));
      return undefined;
    }
    unit = channel.unit;
  }
  const key = condition.below !== undefined ? 'below' : 'above';
  const written = (condition.below ?? condition.above)!;
  const value = limitIn(source, written, unit, [...at, key]);
  const subject = condition.result !== undefined ? { result: condition.result } : { telemetry: condition.telemetry! };
  return { ...subject, unit, [key]: value, threshold: String(written) };
}

/**
 * What `workcell plan --json` prints, as a JSON Schema (TypeBox): scripts rely on these fields, and
 * the TypeScript types of the report come from the same definition. `workcell plan --json-schema`
 * prints it; docs/plan-report.schema.json is a copy a test keeps fresh.
 */
import { Type, type Static } from '@sinclair/typebox';

const text = (description: string) => Type.String({ description });
const count = (description: string) => Type.Integer({ description, minimum: 0 });
const hours = (description: string) => Type.Number({ description, unit: 'h' });
const minutes = (description: string) => Type.Number({ description, unit: 'min' });
const perWeek = (description: string) => Type.Number({ description, unit: 'patients/week' });
const share = (description: string) => Type.Number({ description, minimum: 0 });
const iso = (description: string) => Type.String({ description: `${description} (ISO 8601, UTC)` });
const nullable = <T extends ReturnType<typeof Type.Number>>(schema: T) => Type.Union([schema, Type.Null()], { description: schema.description });
const object = <P extends Parameters<typeof Type.Object>[0]>(description: string, properties: P) => Type.Object(properties, { description, additionalProperties: false });

/** Which run and batch a row is about. */
const inRun = { seed: Type.Integer({ description: 'The seed of the run' }), batchId: text('Batch') };

const SeedRun = object('One run of the scenario in virtual time', {
  seed: Type.Integer({ description: 'Seed of the simulated devices and starting material' }),
  digest: text('Digest of every entry of the run (type, time, data, in order): the same inputs give the same digest'),
  events: count('Entries the run wrote'),
  outcome: Type.Union([Type.Literal('finished'), Type.Literal('horizon'), Type.Literal('stalled')], { description: 'finished: every batch done; horizon: stopped at the horizon; stalled: a batch waited for an operator and nothing else could move' }),
  completed: count('Batches completed within the horizon'),
  patientsPerWeek: perWeek('Completed a week in steady state'),
  steadyState: Type.Boolean({ description: 'Measured over at least a week after the line filled; false: over the whole horizon' }),
  wallSeconds: Type.Number({ description: 'Wall time the run took, reading its log included', unit: 's' }),
  analysisSeconds: Type.Number({ description: 'Of which reading its log into these figures', unit: 's' }),
});

const Scenario = object('One layout with one schedule and one scheduler, over every seed', {
  name: text('layout × schedule × scheduler, as the comparison table shows it'),
  layout: object('The layout', {
    id: text('Layout id'),
    file: text('Layout file'),
    added: Type.Array(object('Modules added with --add', { kind: text('Module kind'), ids: Type.Array(Type.String()) })),
  }),
  schedule: object('The schedule', { id: text('Schedule id'), file: text('Schedule file') }),
  scheduler: text('The scheduler'),
  digest: text('Digest over the digests of every seed, in seed order'),
  runs: Type.Array(SeedRun),
  arrived: count('Batches that arrived (per seed)'),
  completed: count('Batches completed within the horizon, summed over the seeds'),
  patientsPerWeek: object('Completed a week in steady state, over the seeds', {
    mean: perWeek('Mean'),
    min: perWeek('Lowest seed'),
    max: perWeek('Highest seed'),
    standardDeviation: perWeek('Spread over seeds and steady-state weeks'),
  }),
  veinToVeinHours: object('Arrival of the starting material to the batch completed (formulated)', {
    p50: nullable(hours('Median; null: no batch completed')),
    p90: nullable(hours('90th percentile; null: no batch completed')),
    batches: count('Completed batches measured'),
  }),
  bound: object('The bottleneck bound: step durations and module counts, no waiting', {
    patientsPerWeek: perWeek('The most a week the tightest module kind allows, every module busy all the time: no run does better'),
    kind: text('The tightest module kind'),
    shareOfBound: share('Throughput as a share of the bound'),
    evenLanes: object('The most patients a week arriving evenly over the lanes (as the twin assigns them) the line keeps up with: a module serving some lanes only takes their share', { patientsPerWeek: perWeek('That rate'), kind: text('The module kind that limits it') }),
    byKind: Type.Array(object('Capacity of one module kind', { kind: text('Module kind'), modules: count('Modules of the kind'), effectiveModules: Type.Number({ description: 'How many of them batches spread evenly over the lanes can keep busy (a module serving some lanes only takes their share)' }), perBatchHours: hours('One batch keeps one module of the kind this long'), patientsPerWeek: perWeek('Its capacity'), evenLanesPatientsPerWeek: perWeek('Its capacity for batches arriving evenly over the lanes') })),
  }),
  modules: Type.Array(object('Use of one module, mean over the seeds', {
    id: text('Module id'),
    kind: text('Module kind'),
    utilisation: share('Share of the horizon it was unavailable to other batches: occupied or cleared (robot arms: moving)'),
    occupiedHours: hours('Held by batches'),
    processingHours: hours('Running device commands'),
    clearanceHours: hours('Line clearance'),
  })),
  bottleneck: object('The busiest module kind', { kind: text('Module kind'), module: text('Its busiest module'), utilisation: share('That module\'s utilisation') }),
  lineClearanceHours: hours('Line clearance, all modules, mean per seed'),
  transfers: object('Robot transfers, mean per seed', { count: Type.Number({ description: 'Transfers' }), hours: hours('Time the material spent being moved') }),
  waits: Type.Array(object('Waiting for a module, by cause, mean per seed', { reason: text('The cause, in words'), hours: hours('Time waited'), count: Type.Number({ description: 'Waits' }) })),
  holdSlack: Type.Array(object('Hold-time slack after one step: deadline minus when the material entered its next module', {
    step: text('The step the hold time follows'),
    maxHoldMinutes: minutes('Its hold time'),
    count: count('Hold times measured'),
    minMinutes: nullable(minutes('Least slack (negative: exceeded); null: none measured')),
    p10Minutes: nullable(minutes('10th percentile of the slack; null: none measured')),
  })),
  holdTimeDeviations: Type.Array(object('A hold time exceeded, with its cause', {
    ...inRun,
    step: text('The step the hold time follows'),
    at: iso('When it was exceeded'),
    overMinutes: minutes('How far past the deadline the material moved on'),
    cause: text('What the material waited for meanwhile'),
    message: text("The deviation's message"),
  })),
  holds: Type.Array(object('A batch held for an operator', {
    ...inRun,
    step: text('Step'),
    kind: text('Why it was held'),
    message: text('In words'),
    openedAt: iso('Opened'),
    minutes: nullable(minutes('How long it stayed open; null: not answered within the run')),
    action: Type.Union([Type.String(), Type.Null()], { description: 'The answer; null: none' }),
  })),
  deviations: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), { description: 'Deviations by kind, summed over the seeds' }),
  findings: Type.Array(object('What a planner must know about one batch', { ...inRun, message: text('What happened') })),
});

export const PlanReportSchema = Type.Object(
  {
    horizon: object('The simulated period', { startAt: iso('Start'), weeks: Type.Number({ description: 'Length', unit: 'weeks' }) }),
    arrivals: object('When patients arrive', { spec: text('As given: --patients N, a rate, or a file'), patients: count('Patients arriving within the horizon') }),
    seeds: Type.Array(Type.Integer(), { description: 'The seeds every scenario ran with' }),
    scenarios: Type.Array(Scenario),
  },
  { title: 'workcell plan --json', description: 'Capacity figures of each scenario (layout × schedule × scheduler) over K seeds, in virtual time', additionalProperties: false },
);

export type PlanReport = Static<typeof PlanReportSchema>;
export type ScenarioReport = PlanReport['scenarios'][number];
export type SeedRunReport = ScenarioReport['runs'][number];

/** The schema as a plain JSON document. */
export function planReportSchemaDocument(): Record<string, unknown> {
  return { $schema: 'https://json-schema.org/draft/2020-12/schema', ...(JSON.parse(JSON.stringify(PlanReportSchema)) as Record<string, unknown>) };
}

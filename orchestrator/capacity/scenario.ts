/** One scenario's figures over its seeds, as `workcell plan` reports them (report-schema.ts). */
import { createHash } from 'node:crypto';
import type { LayoutModel } from '../../config/layout.ts';
import type { ScheduleModel } from '../../config/schedule.ts';
import { bottleneckBound } from './bound.ts';
import type { RunMetrics } from './metrics.ts';
import type { ScenarioReport } from './report-schema.ts';
import { mean, percentile, rounded, standardDeviation } from './stats.ts';
import type { Timeline } from './timeline.ts';

export interface Scenario {
  name: string;
  layoutFile: string;
  layout: LayoutModel;
  /** Modules --add cloned into the layout. */
  added: Array<{ kind: string; ids: string[] }>;
  scheduleFile: string;
  schedule: ScheduleModel;
  scheduler: string;
}

export interface SeedOutcome {
  seed: number;
  digest: string;
  events: number;
  /** The whole run: the twin, then reading its log. */
  wallMs: number;
  /** Reading the log into its figures. */
  analysisMs: number;
  /** finished: every batch done; horizon: stopped there; stalled: a batch waited for an operator, nothing else could move. */
  outcome: 'finished' | 'horizon' | 'stalled';
  metrics: RunMetrics;
  timeline: Timeline;
}

const H = 3600_000;
const MIN = 60_000;

export function scenarioReport(scenario: Scenario, outcomes: readonly SeedOutcome[]): ScenarioReport {
  const runs = outcomes.map((o) => o.metrics);
  const seeds = outcomes.length;
  const perSeed = (value: (m: RunMetrics) => number) => mean(runs.map(value)) ?? 0;
  const throughput = runs.map((m) => m.patientsPerWeek);
  // Spread over seeds and, within each, over its steady-state weeks.
  const samples = runs.flatMap((m) => (m.weekly.length > 0 ? m.weekly : [m.patientsPerWeek]));
  const veinToVein = runs.flatMap((m) => m.veinToVeinMs);
  const bound = bottleneckBound(scenario.layout, scenario.schedule);
  const meanThroughput = mean(throughput) ?? 0;
  const modules = scenario.layout.layout.modules.map((module) => {
    const uses = runs.map((m) => m.modules.find((u) => u.id === module.id)!);
    const avg = (value: (u: (typeof uses)[number]) => number) => mean(uses.map(value)) ?? 0;
    return { id: module.id, kind: module.kind, utilisation: rounded(avg((u) => u.utilisation), 4), occupiedHours: rounded(avg((u) => u.occupiedMs) / H), processingHours: rounded(avg((u) => u.processingMs) / H), clearanceHours: rounded(avg((u) => u.clearanceMs) / H) };
  });
  const busiest = modules.filter((m) => m.kind !== 'settle-plate-handler').reduce((a, b) => (b.utilisation > a.utilisation ? b : a), modules[0]!);
  const waits = new Map<string, { ms: number; count: number }>();
  for (const piece of runs.flatMap((m) => m.waits)) {
    const w = waits.get(piece.reason) ?? waits.set(piece.reason, { ms: 0, count: 0 }).get(piece.reason)!;
    w.ms += piece.until - piece.from;
    w.count++;
  }
  const slack = new Map<string, number[]>();
  for (const m of runs) for (const [step, values] of m.holdSlackMs) slack.set(step, [...(slack.get(step) ?? []), ...values]);
  const deviations: Record<string, number> = {};
  for (const m of runs) for (const [kind, n] of m.deviationsByKind) deviations[kind] = (deviations[kind] ?? 0) + n;
  return {
    name: scenario.name,
    layout: { id: scenario.layout.id, file: scenario.layoutFile, added: scenario.added },
    schedule: { id: scenario.schedule.id, file: scenario.scheduleFile },
    scheduler: scenario.scheduler,
    digest: createHash('sha256').update(outcomes.map((o) => o.digest).join('\n')).digest('hex'),
    runs: outcomes.map((o) => ({ seed: o.seed, digest: o.digest, events: o.events, outcome: o.outcome, completed: o.metrics.completed, patientsPerWeek: rounded(o.metrics.patientsPerWeek), steadyState: o.metrics.steadyState, wallSeconds: rounded(o.wallMs / 1000), analysisSeconds: rounded(o.analysisMs / 1000) })),
    arrived: runs[0]?.arrived ?? 0,
    completed: runs.reduce((sum, m) => sum + m.completed, 0),
    patientsPerWeek: { mean: rounded(meanThroughput), min: rounded(Math.min(...throughput)), max: rounded(Math.max(...throughput)), standardDeviation: rounded(standardDeviation(samples)) },
    veinToVeinHours: { p50: nullableHours(percentile(veinToVein, 50)), p90: nullableHours(percentile(veinToVein, 90)), batches: veinToVein.length },
    bound: {
      patientsPerWeek: rounded(bound.patientsPerWeek),
      kind: bound.kind,
      shareOfBound: bound.patientsPerWeek > 0 ? rounded(meanThroughput / bound.patientsPerWeek, 4) : 0,
      evenLanes: { patientsPerWeek: rounded(bound.evenLanes.patientsPerWeek), kind: bound.evenLanes.kind },
      byKind: bound.byKind.map((k) => ({ kind: k.kind, modules: k.modules.length, effectiveModules: rounded(k.effectiveModules, 3), perBatchHours: rounded(k.perBatchMs / H, 3), patientsPerWeek: rounded(k.patientsPerWeek), evenLanesPatientsPerWeek: rounded(k.evenLanesPatientsPerWeek) })),
    },
    modules,
    bottleneck: { kind: busiest.kind, module: busiest.id, utilisation: busiest.utilisation },
    lineClearanceHours: rounded(perSeed((m) => m.lineClearanceMs) / H),
    transfers: { count: rounded(perSeed((m) => m.transfers.count), 1), hours: rounded(perSeed((m) => m.transfers.ms) / H) },
    waits: [...waits].sort((a, b) => b[1].ms - a[1].ms).map(([reason, w]) => ({ reason, hours: rounded(w.ms / seeds / H), count: rounded(w.count / seeds, 1) })),
    holdSlack: scenario.schedule.schedule.steps
      .filter((s) => s.maxHoldMs !== undefined)
      .map((s) => {
        const values = slack.get(s.id) ?? [];
        return { step: s.id, maxHoldMinutes: rounded(s.maxHoldMs! / MIN, 1), count: values.length, minMinutes: values.length > 0 ? rounded(Math.min(...values) / MIN, 1) : null, p10Minutes: values.length > 0 ? rounded(percentile(values, 10)! / MIN, 1) : null };
      }),
    holdTimeDeviations: outcomes.flatMap((o) => o.metrics.holdTimeDeviations.map((d) => ({ seed: o.seed, batchId: d.batchId, step: d.step, at: new Date(d.at).toISOString(), overMinutes: rounded(d.overMs / MIN, 1), cause: d.cause, message: d.message }))),
    holds: outcomes.flatMap((o) => o.metrics.holds.map((h) => ({ seed: o.seed, batchId: h.batchId, step: h.step, kind: h.kind, message: h.message, openedAt: new Date(h.openedAt).toISOString(), minutes: h.resolvedAt === undefined ? null : rounded((h.resolvedAt - h.openedAt) / MIN, 1), action: h.action ?? null }))),
    deviations,
    findings: outcomes.flatMap((o) => o.metrics.findings.map((f) => ({ seed: o.seed, ...f }))),
  };
}

function nullableHours(ms: number | undefined): number | null {
  return ms === undefined ? null : rounded(ms / H);
}

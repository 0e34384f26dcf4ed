/**
 * `workcell plan` on the 4-lane example: a campaign of 3 patients a week through the CAR-T
 * electroporation schedule in virtual time, read into its capacity figures. Wall time against the
 * target (<= 60 s for 26 weeks), of which reading the log; the figures a planner would act on beside.
 */
import { resolve } from 'node:path';
import { runPlan } from '../cli/plan-run.ts';
import { arrivalsFromSpec } from '../orchestrator/capacity/arrivals.ts';
import { rate, table } from './harness.ts';

const WEEK_MS = 7 * 86_400_000;
/** A Monday 08:00 UTC: the same campaign, and digest, on every run. */
const START = Date.UTC(2027, 0, 4, 8);

export async function planBenchmark(weeks = 26): Promise<string> {
  const horizonMs = weeks * WEEK_MS;
  const arrivals = arrivalsFromSpec('3/week', { startAt: START, horizonMs });
  const wallStart = performance.now();
  const { report, outcomes } = await runPlan({
    layoutFiles: [resolve('layouts/four-lane.yaml')],
    scheduleFiles: [resolve('schedules/cart-electroporation.yaml')],
    schedulers: ['deadline-first'],
    additions: [],
    arrivals,
    arrivalSpec: '3/week',
    startAt: START,
    horizonMs,
    seeds: [1],
  });
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const scenario = report.scenarios[0]!;
  const run = outcomes[0]![0]!;
  return table(
    `workcell plan: ${weeks} weeks at 3 patients a week, CAR-T electroporation on layouts/four-lane.yaml, one seed, in virtual time`,
    ['patients', 'completed', 'patients/week (bound)', 'busiest module', 'hold-time deviations', 'wall time', 'of which reading the log', 'log entries', 'entries per wall s', 'digest'],
    [[
      String(arrivals.length),
      String(scenario.completed),
      `${scenario.patientsPerWeek.mean.toFixed(2)} (${scenario.bound.patientsPerWeek.toFixed(2)}, ${scenario.bound.kind})`,
      `${scenario.bottleneck.module} ${(scenario.bottleneck.utilisation * 100).toFixed(0)}%`,
      String(scenario.holdTimeDeviations.length),
      `${wallSeconds.toFixed(1)} s (target <= 60 s)`,
      `${(run.analysisMs / 1000).toFixed(2)} s`,
      run.events.toLocaleString('en-US'),
      rate(run.events / wallSeconds),
      run.digest.slice(0, 16),
    ]],
  );
}

/**
 * The engine of `workcell plan`: the scenarios (layout × schedule × scheduler, each layout also with
 * its --add modules), each run in virtual time by the digital twin once per seed, each run's log read
 * into its capacity figures. Bad input is refused before anything runs, each with one clear message.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileErrorReason } from '../config/file-errors.ts';
import { ConfigError, loadWorkcell } from '../config/validate.ts';
import type { LayoutModel } from '../config/layout.ts';
import { formatDuration } from '../config/units.ts';
import type { FaultSpec } from '../modules/simulators/faults.ts';
import { readFaultsFile } from '../modules/simulators/faults.ts';
import { runTwin } from './twin.ts';
import { addModules, writeExtendedLayout, type Addition } from '../orchestrator/capacity/layout-additions.ts';
import { runMetrics } from '../orchestrator/capacity/metrics.ts';
import type { PlanReport } from '../orchestrator/capacity/report-schema.ts';
import { scenarioReport, type Scenario, type SeedOutcome } from '../orchestrator/capacity/scenario.ts';
import { readTimeline, timelineEntries } from '../orchestrator/capacity/timeline.ts';
import type { Arrival } from '../orchestrator/capacity/arrivals.ts';
import { DeadlineFirstScheduler, type Scheduler } from '../orchestrator/scheduler.ts';
import { UsageError } from './usage.ts';
import { wallNow } from '../drivers/clock.ts';

/** The schedulers a plan may compare, by name. */
export const SCHEDULERS: Readonly<Record<string, () => Scheduler>> = { 'deadline-first': () => new DeadlineFirstScheduler() };

export interface PlanInput {
  layoutFiles: readonly string[];
  scheduleFiles: readonly string[];
  schedulers: readonly string[];
  additions: readonly Addition[];
  arrivals: readonly Arrival[];
  arrivalSpec: string;
  startAt: number;
  horizonMs: number;
  seeds: readonly number[];
  faultsFile?: string;
  /** Keep each run's database in this directory (else they are removed once read). */
  keepDirectory?: string;
}

export interface PlannedScenario {
  scenario: Scenario;
  /** The layout file the twin runs (with --add, the extended copy). */
  layoutPath: string;
  faults?: Record<string, FaultSpec[]>;
}

export interface PlanProgress {
  /** Runs finished, of `total`. */
  done: number;
  total: number;
  scenario: string;
  seed: number;
  /** Share of the current run's horizon simulated, 0..1. */
  fraction: number;
}

export interface PlanResult {
  report: PlanReport;
  /** Per scenario, its seeds' outcomes (timelines for the Gantt chart). */
  outcomes: SeedOutcome[][];
}

/** Every scenario, checked: layouts fit schedules, --add kinds exist, faults name modules, the horizon holds a batch, arrivals' lanes exist. */
export function planScenarios(input: Omit<PlanInput, 'arrivalSpec' | 'seeds' | 'startAt' | 'keepDirectory'>): PlannedScenario[] {
  const planned: PlannedScenario[] = [];
  for (const layoutFile of input.layoutFiles) {
    const variants: Array<{ file: string; shown: string; added: Scenario['added'] }> = [{ file: resolve(layoutFile), shown: layoutFile, added: [] }];
    if (input.additions.length > 0) {
      const extended = addModules(readLayout(layoutFile), layoutFile, input.additions);
      variants.push({ file: writeExtendedLayout(layoutFile, extended.text), shown: `${layoutFile} ${input.additions.map((a) => `+${a.count} ${a.kind}`).join(' ')}`, added: extended.added });
    }
    for (const variant of variants) {
      for (const scheduleFile of input.scheduleFiles) {
        const { layout, schedule } = loaded(variant.file, scheduleFile, variant.shown);
        const oneBatchMs = schedule.totalExpectedDuration() * 1000;
        if (input.horizonMs < oneBatchMs) throw new UsageError(`--horizon ${formatDuration(input.horizonMs / 1000)} is too short for one batch of ${scheduleFile} (its steps alone take ${formatDuration(oneBatchMs / 1000)})`);
        const faults = input.faultsFile ? faultsFor(input.faultsFile, layout) : undefined;
        const strange = input.arrivals.find((a) => a.lane !== undefined && !layout.laneIds().includes(a.lane));
        if (strange) throw new UsageError(`${strange.laneGivenAt ?? strange.batchId}: layout ${variant.shown} has no lane '${strange.lane}' (lanes: ${layout.laneIds().join(', ')})`);
        for (const scheduler of input.schedulers) {
          const name = [basename(variant.shown), schedule.id, ...(input.schedulers.length > 1 ? [scheduler] : [])].join(' × ');
          planned.push({ scenario: { name, layoutFile: variant.shown, layout, added: variant.added, scheduleFile, schedule, scheduler }, layoutPath: variant.file, faults });
        }
      }
    }
  }
  return planned;
}

function readLayout(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file}: ${fileErrorReason(error as NodeJS.ErrnoException)}`);
  }
}

/** Layout and schedule, checked together: a layout that cannot run the schedule is refused with the schedule's position. */
function loaded(layoutFile: string, scheduleFile: string, shown: string) {
  try {
    const { layout, schedules } = loadWorkcell(layoutFile, [scheduleFile]);
    return { layout: layout.model, schedule: schedules[0]!.model };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`${shown} cannot run ${scheduleFile}:\n${error.message.replaceAll(layoutFile, shown)}`);
    throw error;
  }
}

function faultsFor(file: string, layout: LayoutModel): Record<string, FaultSpec[]> | undefined {
  try {
    return readFaultsFile(file, layout);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Runs every scenario once per seed in virtual time and reads each run into its figures. */
export async function runPlan(input: PlanInput, onProgress?: (progress: PlanProgress) => void): Promise<PlanResult> {
  const planned = planScenarios(input);
  if (input.keepDirectory && !existsSync(input.keepDirectory)) throw new UsageError(`--keep ${input.keepDirectory}: no such directory`);
  const total = planned.length * input.seeds.length;
  let done = 0;
  const outcomes: SeedOutcome[][] = [];
  for (const [index, { scenario, layoutPath, faults }] of planned.entries()) {
    const text = readFileSync(scenario.scheduleFile, 'utf8');
    const perSeed: SeedOutcome[] = [];
    for (const seed of input.seeds) {
      const report = (fraction: number) => onProgress?.({ done, total, scenario: scenario.name, seed, fraction });
      const directory = input.keepDirectory ?? mkdtempSync(join(tmpdir(), 'workcell-plan-run-'));
      const logFile = join(directory, `scenario-${index + 1}-seed-${seed}.db`);
      if (existsSync(logFile)) throw new UsageError(`--keep ${input.keepDirectory}: ${logFile} exists already; name an empty directory`);
      const wallStart = wallNow();
      const result = await runTwin({
        layout: scenario.layout,
        layoutFile: layoutPath,
        arrivals: input.arrivals.map((a) => ({ batchId: a.batchId, patient: a.patient, at: a.at, ...(a.lane ? { lane: a.lane } : {}), schedule: { file: resolve(scenario.scheduleFile), text } })),
        seed,
        faults,
        scheduler: SCHEDULERS[scenario.scheduler]!(),
        startAt: input.startAt,
        horizonMs: input.horizonMs,
        logFile,
        onProgress: (now) => report(Math.min(1, (now - input.startAt) / input.horizonMs)),
      });
      const analysisStart = wallNow();
      try {
        const capabilityOf = (step: string) => scenario.schedule.schedule.steps.find((s) => s.id === step)?.capability;
        const timeline = readTimeline(timelineEntries(result.log), capabilityOf);
        const metrics = runMetrics(timeline, { layout: scenario.layout, schedule: scenario.schedule, arrivals: input.arrivals, startAt: input.startAt, horizonMs: input.horizonMs });
        perSeed.push({ seed, digest: result.digest, events: result.events, wallMs: wallNow() - wallStart, analysisMs: wallNow() - analysisStart, outcome: result.outcome, metrics, timeline });
      } finally {
        result.log.close();
        if (!input.keepDirectory) rmSync(directory, { recursive: true, force: true });
      }
      done++;
      report(0);
    }
    outcomes.push(perSeed);
  }
  const report: PlanReport = {
    horizon: { startAt: new Date(input.startAt).toISOString(), weeks: Math.round((input.horizonMs / (7 * 86400_000)) * 100) / 100 },
    arrivals: { spec: input.arrivalSpec, patients: input.arrivals.length },
    seeds: [...input.seeds],
    scenarios: planned.map(({ scenario }, i) => scenarioReport(scenario, outcomes[i]!)),
  };
  return { report, outcomes };
}

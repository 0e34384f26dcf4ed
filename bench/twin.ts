/**
 * Digital-twin benchmarks: the 16-lane, 32-patient CAR-T campaign in virtual time (twice: the digest
 * must repeat) beside the same campaign at a scaled wall clock, and a 26-week campaign at 3 patients a
 * week on the 4-lane example layout.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadWorkcell } from '../config/validate.ts';
import { runTwin, type TwinArrival, type TwinResult } from '../cli/twin.ts';
import { sixteenLaneLayout, workcellBenchmark } from './orchestrator.ts';
import { rate, table } from './harness.ts';

const CART = resolve('schedules/cart-electroporation.yaml');
const DAY_MS = 86_400_000;
/** A Monday 08:00 UTC: campaigns start at the same workcell time on every run. */
const CAMPAIGN_START = Date.UTC(2027, 0, 4, 8);

interface TimedTwin {
  result: TwinResult;
  wallSeconds: number;
  cpuSeconds: number;
  holdTimeDeviations: number;
  deviations: number;
}

export async function timedTwin(layoutFile: string, arrivals: TwinArrival[], seed: number): Promise<TimedTwin> {
  const { layout } = loadWorkcell(layoutFile, [...new Set(arrivals.map((a) => a.schedule.file))]);
  const logFile = join(mkdtempSync(join(tmpdir(), 'workcell-bench-twin-')), 'records.db');
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const result = await runTwin({ layout: layout.model, layoutFile, arrivals, seed, startAt: CAMPAIGN_START, logFile });
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const deviations = result.log.ofType('deviation');
  const timed = { result, wallSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, deviations: deviations.length, holdTimeDeviations: deviations.filter((d) => d.data.kind === 'hold-time-exceeded').length };
  result.log.close();
  return timed;
}

const completed = (result: TwinResult) => `${result.batches.filter((b) => b.phase === 'completed').length}/${result.batches.length}`;

/**
 * The 16-lane CAR-T campaign's inputs: its layout (written to a new temporary directory, or to `dir`), 32
 * arrivals at once, seed 5. The layout's path is part of every batch's record, so of the digest: runs in
 * two processes give the same digest only with the same `dir`.
 */
export function sixteenLaneCampaign(dir = mkdtempSync(join(tmpdir(), 'workcell-bench-'))): { layoutFile: string; arrivals: TwinArrival[]; seed: number } {
  const layoutFile = join(dir, 'sixteen-lane.yaml');
  writeFileSync(layoutFile, sixteenLaneLayout());
  const text = readFileSync(CART, 'utf8');
  const arrivals: TwinArrival[] = Array.from({ length: 32 }, (_, i) => {
    const id = `P-${String(i + 1).padStart(3, '0')}`;
    return { batchId: id, patient: id, at: CAMPAIGN_START, lane: `lane-${(i % 16) + 1}`, schedule: { file: CART, text } };
  });
  return { layoutFile, arrivals, seed: 5 };
}

/**
 * The 16-lane CAR-T campaign (32 patients at once, seed 5, no faults) in virtual time, run twice, and
 * at a scaled wall clock (`scaledTimeScale`; 0 leaves that row out). Without faults a hold-time
 * deviation can only come from a wait: in virtual time a wait of the process, at a scaled clock also
 * the host's latency.
 */
export async function twinCampaignBenchmark(scaledTimeScale: number): Promise<string> {
  const { layoutFile, arrivals, seed } = sixteenLaneCampaign();
  const runs = [await timedTwin(layoutFile, arrivals, seed), await timedTwin(layoutFile, arrivals, seed)];
  const same = runs[0]!.result.digest === runs[1]!.result.digest;
  const rows = runs.map((run, i) => [
    `virtual, run ${i + 1}`,
    completed(run.result),
    ((run.result.endedAt - run.result.startedAt) / DAY_MS).toFixed(1),
    `${run.wallSeconds.toFixed(1)} s (target <= 5 s)`,
    `${run.cpuSeconds.toFixed(1)} s`,
    run.result.events.toLocaleString('en-US'),
    `${run.deviations} (${run.holdTimeDeviations})`,
    `${run.result.digest.slice(0, 16)}${i === 1 ? (same ? ' (same)' : ' (DIFFERENT)') : ''}`,
  ]);
  const scaled = scaledTimeScale > 0 ? await workcellBenchmark(scaledTimeScale) : undefined;
  return [
    table(
      'A 16-lane workcell, 32 patients through the CAR-T electroporation schedule, no faults: virtual time (digital twin) against the scaled wall clock below',
      ['clock', 'batches completed', 'simulated days (incl. plates)', 'wall time', 'CPU', 'log entries', 'deviations (hold time; none has a host cause in virtual time)', 'digest'],
      rows,
    ),
    scaled ?? '',
  ].join('\n');
}

/** `weeks` of 3 patients a week (one every 56 h) through the CAR-T schedule on the 4-lane example, in virtual time. */
export async function twinLongCampaignBenchmark(weeks: number): Promise<string> {
  const layoutFile = resolve('layouts/four-lane.yaml');
  const text = readFileSync(CART, 'utf8');
  const arrivals: TwinArrival[] = Array.from({ length: weeks * 3 }, (_, i) => {
    const id = `P-${String(i + 1).padStart(3, '0')}`;
    return { batchId: id, patient: id, at: CAMPAIGN_START + Math.round((i * 7 * DAY_MS) / 3), schedule: { file: CART, text } };
  });
  const run = await timedTwin(layoutFile, arrivals, 11);
  return table(
    `A ${weeks}-week campaign, 3 patients a week, CAR-T electroporation on layouts/four-lane.yaml, in virtual time`,
    ['patients', 'batches completed', 'simulated weeks', 'wall time', 'CPU', 'log entries', 'entries per wall s', 'timers fired per wall s', 'deviations (hold time)'],
    [[
      String(arrivals.length),
      completed(run.result),
      ((run.result.endedAt - run.result.startedAt) / (7 * DAY_MS)).toFixed(1),
      `${run.wallSeconds.toFixed(1)} s (target <= 60 s)`,
      `${run.cpuSeconds.toFixed(1)} s`,
      run.result.events.toLocaleString('en-US'),
      rate(run.result.events / run.wallSeconds),
      rate(run.result.timersFired / run.wallSeconds),
      `${run.deviations} (${run.holdTimeDeviations})`,
    ]],
  );
}

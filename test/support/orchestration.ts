/** Runs batches through an in-process simulated workcell, for orchestrator tests. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { freePort } from './ports.ts';
import { EventLog, type LogEntry } from '../../orchestrator/event-log.ts';
import { Orchestrator, type BatchSpec } from '../../orchestrator/orchestrator.ts';
import { openWorkcell, type WorkcellSession } from '../../orchestrator/session.ts';
import { recordRunSettings, type RunSettings } from '../../orchestrator/run-settings.ts';
import type { FaultSpec } from '../../modules/simulators/faults.ts';
import { simulatorsOf, type Simulation } from '../../modules/simulators/workcell-simulation.ts';
import type { ModuleDriver } from '../../drivers/module.ts';
import { enrolTestOperators } from './operators.ts';

export const TWO_LANE = resolve('layouts/two-lane.yaml');
/** The same workcell without its bioreactors: no OPC UA servers to start, for schedules that use none. */
export const TWO_LANE_SILA = resolve('test/fixtures/layouts/two-lane-sila.yaml');
export const SHORT_SCHEDULE = resolve('test/fixtures/schedules/short.yaml');

export interface TestRun {
  /** The layout file the run uses (a copy with free ports, unless one was given). */
  layoutFile: string;
  log: EventLog;
  orchestrator: Orchestrator;
  session: WorkcellSession<Simulation>;
  /** Waits for every batch and settle plate, skipping through incubation once the batches are done. */
  finished(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A copy of a layout in a directory of its own, every endpoint on a port free right now, so that tests
 * in parallel workers never compete for the example's fixed ports (its PKI and CA files land there too).
 */
export async function layoutWithFreePorts(file = TWO_LANE): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-layout-'));
  let text = readFileSync(file, 'utf8');
  const ports = [...new Set([...text.matchAll(/(?:port: |127\.0\.0\.1:)(\d{4,5})\b/g)].map((m) => m[1]!))];
  for (const port of ports) text = text.replaceAll(new RegExp(`(port: |127\\.0\\.0\\.1:)${port}\\b`, 'g'), `$1${await freePort()}`);
  const copy = join(dir, basename(file));
  writeFileSync(copy, text);
  return copy;
}

export async function startRun(options: {
  batches: Array<Pick<BatchSpec, 'batchId' | 'lane'>>;
  faults?: Record<string, FaultSpec[]>;
  timeScale?: number;
  schedule?: string;
  layout?: string;
  seed?: number;
  /** Workcell time at the start (ms); now by default. */
  startAt?: number;
  /** Puts something between the orchestrator and a module's driver (a lossy network, say). */
  wrapDriver?: (moduleId: string, driver: ModuleDriver) => ModuleDriver;
}): Promise<TestRun> {
  const scheduleFile = options.schedule ?? SHORT_SCHEDULE;
  const text = readFileSync(scheduleFile, 'utf8');
  // Starting two OPC UA servers costs seconds of CPU: only a schedule that uses the bioreactors gets them.
  const layoutFile = options.layout ?? (await layoutWithFreePorts(text.includes('rocking-bioreactor.') ? TWO_LANE : TWO_LANE_SILA));
  const settings: RunSettings = { layoutFile, timeScale: options.timeScale ?? 3600, seed: options.seed ?? 7, sim: true, clock: { wallAnchor: Date.now(), simAtAnchor: options.startAt ?? Date.now() } };
  // Ports the OS picks, so that tests never compete for the layout's ports or for each other's.
  const session = await openWorkcell(settings, { simulate: simulatorsOf({ faults: options.faults, portBase: 0 }) });
  if (options.wrapDriver) for (const [id, driver] of session.drivers) session.drivers.set(id, options.wrapDriver(id, driver));
  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-run-')), 'records.db'));
  recordRunSettings(log, settings, { command: 'run', layoutHash: session.layoutHash });
  enrolTestOperators(log);
  const orchestrator = new Orchestrator({ layout: session.layout, layoutFile: settings.layoutFile, layoutHash: session.layoutHash, log, drivers: session.drivers, clock: session.clock, deliver: (bag, position) => session.simulation!.deliver(bag, position), seed: settings.seed });
  await orchestrator.start();
  for (const b of options.batches) orchestrator.startBatch({ ...b, patient: b.batchId, chainOfIdentity: `COI-${b.batchId}`, bagId: `BAG-${b.batchId}` }, { file: scheduleFile, text });
  return {
    layoutFile: settings.layoutFile,
    log,
    orchestrator,
    session,
    finished: () => orchestrator.finished({ whenBatchesDone: () => session.fastForward() }),
    async stop() {
      await orchestrator.stop();
      await session.close();
      log.close();
    },
  };
}

/**
 * Resolves with the first entry of a batch matching `predicate`: one already in the log, or the moment
 * this process appends it (so that in virtual time the test acts at that instant, before time moves on).
 * Entries of other processes are looked for every 50 ms.
 */
export async function waitForEntry<E extends LogEntry>(log: EventLog, stream: string, predicate: (entry: LogEntry) => entry is E, timeoutMs?: number): Promise<E>;
export async function waitForEntry(log: EventLog, stream: string, predicate: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
export async function waitForEntry(log: EventLog, stream: string, predicate: (entry: LogEntry) => boolean, timeoutMs = 60_000): Promise<LogEntry> {
  const found = log.stream(stream).find(predicate);
  if (found) return found;
  return new Promise((resolve, reject) => {
    const done = (outcome: () => void) => {
      unsubscribe();
      clearInterval(poll);
      clearTimeout(timeout);
      outcome();
    };
    const unsubscribe = log.subscribe((entry) => {
      if (entry.stream === stream && predicate(entry)) done(() => resolve(entry));
    });
    // A log closed while this waits (a test that stopped its run) rejects the wait rather than throwing
    // from the timer, which nobody could catch.
    const poll = setInterval(() => {
      let there: LogEntry | undefined;
      try {
        there = log.stream(stream).find(predicate);
      } catch (error) {
        done(() => reject(error));
        return;
      }
      if (there) done(() => resolve(there));
    }, 50);
    const timeout = setTimeout(() => done(() => reject(new Error(`no matching entry in ${stream} after ${timeoutMs} ms; last: ${log.stream(stream).slice(-5).map((e) => e.type).join(', ')}`))), timeoutMs);
  });
}

/** Periods each batch held each module, from module.reserved to module.released. */
export function occupancy(log: EventLog): Array<{ module: string; batch: string; from: number; until: number }> {
  const open = new Map<string, { batch: string; from: number }>();
  const periods: Array<{ module: string; batch: string; from: number; until: number }> = [];
  for (const entry of log.since(0)) {
    if (entry.type !== 'module.reserved' && entry.type !== 'module.released') continue;
    const { module } = entry.data;
    if (entry.type === 'module.reserved') open.set(`${module}/${entry.stream}`, { batch: entry.stream, from: entry.seq });
    if (entry.type === 'module.released') {
      const o = open.get(`${module}/${entry.stream}`)!;
      periods.push({ module, batch: o.batch, from: o.from, until: entry.seq });
      open.delete(`${module}/${entry.stream}`);
    }
  }
  for (const [key, o] of open) periods.push({ module: key.split('/')[0]!, batch: o.batch, from: o.from, until: Number.POSITIVE_INFINITY });
  return periods;
}

/**
 * `workcell run LAYOUT --schedule FILE --sim --virtual`: the whole campaign in virtual time (the digital
 * twin, cli/twin.ts), in-process simulated devices, into a database of its own that the
 * record commands read like any other. Prints the run's digest: the same inputs give the same one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LayoutModel } from '../config/layout.ts';
import { EventLog } from '../orchestrator/event-log.ts';
import type { BatchSpec } from '../orchestrator/orchestrator.ts';
import { layoutHashOf, recordRunSettings, type RunSettings } from '../orchestrator/run-settings.ts';
import { timeOfDay, wallNow } from '../drivers/clock.ts';
import { closingLines } from './run-output.ts';
import { UsageError } from './usage.ts';

/** The options of `run` a virtual run reads, or refuses. */
export interface VirtualRunOptions {
  sim?: boolean;
  seed?: string;
  faults?: string;
  portBase?: string;
  inspect?: boolean;
  /** The workcell time the run starts at (ISO). */
  start?: string;
}

/** What the run settings say of a virtual run's database, and why. */
const DURABILITY = "commits not fsynced one by one (SQLite synchronous=OFF): a virtual run is a computation its inputs repeat, and an fsync per entry would cost more than the simulation";

const DAY_MS = 86_400_000;

export async function runVirtual(layout: LayoutModel, layoutFile: string, scheduleFile: string, batches: BatchSpec[], database: string, options: VirtualRunOptions): Promise<number> {
  if (!options.sim) throw new UsageError('--virtual needs --sim: virtual time runs the simulated devices in this process');
  if (options.portBase !== undefined) throw new UsageError('--port-base is for simulators on sockets; a virtual run has none (its devices are in this process)');
  if (options.inspect) throw new UsageError('--inspect watches a live run; a virtual run is over before anyone could watch (run it at --time-scale N without --virtual)');
  if (existsSync(database) && holdsEntries(database)) throw new UsageError(`${database} holds entries already; a virtual run writes a database of its own (give --db a new file)`);
  const startAt = startOf(options.start);
  const [{ runTwin }, { readFaultsFile }] = await Promise.all([import('./twin.ts'), import('../modules/simulators/faults.ts')]);
  const faults = readFaultsFile(options.faults, layout);
  const settings: RunSettings = { layoutFile: resolve(layoutFile), timeScale: 1, seed: seedOf(options.seed), sim: true, virtual: true, durability: DURABILITY, clock: { wallAnchor: startAt, simAtAnchor: startAt } };
  const text = readFileSync(scheduleFile, 'utf8');
  process.stdout.write(`Workcell ${layout.id}: simulated in this process in virtual time from ${new Date(startAt).toISOString()}, seed ${settings.seed}, records in ${database}\n`);
  let shownDay = 0;
  const result = await runTwin({
    layout,
    layoutFile: settings.layoutFile,
    arrivals: batches.map((b) => ({ batchId: b.batchId, patient: b.patient, lane: b.lane, at: startAt, schedule: { file: resolve(scheduleFile), text } })),
    seed: settings.seed,
    faults,
    startAt,
    logFile: database,
    prepare: (log) => recordRunSettings(log, settings, { command: 'run', layoutHash: layoutHashOf(settings.layoutFile) }),
    onProgress: (now) => {
      const day = Math.floor((now - startAt) / DAY_MS);
      if (day > shownDay) process.stdout.write(`  day ${(shownDay = day)} (${timeOfDay(now, startAt)})\n`);
    },
  });
  try {
    const days = ((result.endedAt - result.startedAt) / DAY_MS).toFixed(1);
    if (result.outcome === 'stalled') {
      const waiting = result.batches.filter((b) => b.phase !== 'completed' && b.phase !== 'quarantined');
      process.stdout.write(`Stopped after ${days} simulated days: nothing in virtual time can move any more; ${waiting.map((b) => `${b.batchId} is ${b.phase} at ${b.step}${b.note ? ` (${b.note})` : ''}`).join('; ')}. A virtual run does not wait for operators: answer holds in a run at --time-scale N.\n`);
    } else process.stdout.write(`Finished in virtual time: ${days} simulated days, ${result.events.toLocaleString('en-US')} entries.\n`);
    process.stdout.write(closingLines(result.batches, result.log));
    process.stdout.write(`digest: ${result.digest}\n`);
    return result.outcome === 'finished' && result.batches.every((b) => b.phase === 'completed') ? 0 : 1;
  } finally {
    result.log.close();
  }
}

/** `--start`: an ISO date or date-time (UTC when no zone is given); by default today 00:00 UTC. */
function startOf(given: string | undefined): number {
  if (given === undefined) return Math.floor(wallNow() / DAY_MS) * DAY_MS;
  const zoned = /^\d{4}-\d{2}-\d{2}$/.test(given) ? `${given}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(given) ? given : `${given}Z`;
  const at = Date.parse(zoned);
  if (!Number.isFinite(at)) throw new UsageError(`--start ${given}: give a date (2027-01-04) or a date and time (2027-01-04T08:00, UTC unless a zone is given)`);
  return at;
}

function holdsEntries(database: string): boolean {
  try {
    const log = new EventLog(database, { readonly: true });
    try {
      return log.count() > 0;
    } finally {
      log.close();
    }
  } catch {
    return true; // not an event log at all: not to be written over either
  }
}

function seedOf(given: string | undefined): number {
  const value = Number(given ?? 1);
  if (!Number.isInteger(value)) throw new UsageError('--seed takes a whole number');
  return value;
}

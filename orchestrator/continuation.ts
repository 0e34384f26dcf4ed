/**
 * A new run on a database that already holds batches. The log is the workcell's memory: a module that
 * owes a line clearance, material stuck in a module, an open hold, a batch a crashed orchestrator left
 * unfinished. A run that started from nothing would send a new batch into a module nobody cleared, so
 * it first picks all of that up (as `workcell resume` does) and then starts its own batches, on the
 * same layout and the same workcell time line; what it cannot continue, it refuses, saying why.
 */
import type { EventLog } from './event-log.ts';
import { anchoredClock, lastLayoutHash, lastRunSettings, type RunSettings } from './run-settings.ts';
import { wallNow } from '../drivers/clock.ts';
import { unfinishedBatches } from './batch-state.ts';

export interface Continuation {
  /** Batches of earlier runs not finished yet: resumed before the new ones start. */
  unfinished: string[];
  /** The workcell clock going on from the earlier runs' time line. */
  clock: RunSettings['clock'];
}

/** What a run on `log` carries on from earlier runs; undefined for a database that holds no batch yet. */
export function continuationOf(log: EventLog, run: { layoutFile: string; layoutHash: string; sim: boolean }): Continuation | undefined {
  const started = log.ofType('batch.started');
  const previous = lastRunSettings(log);
  if (started.length === 0 || !previous) return undefined;
  const recorded = lastLayoutHash(log);
  if (recorded !== undefined && recorded !== run.layoutHash) {
    throw new Error(
      `${log.file} holds batches that ran on another layout (sha256 ${recorded.slice(0, 12)}…; ${run.layoutFile} is ${run.layoutHash.slice(0, 12)}…). ` +
        `A run on another layout needs a database of its own (--db NEW.db); to continue those batches on a changed layout, QA accepts it: workcell resume --db ${log.file} --accept-layout-change --reason TEXT --user NAME`,
    );
  }
  const unfinished = unfinishedBatches(log);
  if (unfinished.length > 0 && previous.sim) {
    throw new Error(`${log.file} holds unfinished batches (${unfinished.join(', ')}) whose modules were simulated inside the orchestrator that ran them, so their material went with it; run on a database of its own (--db NEW.db)`);
  }
  if (unfinished.length > 0 && run.sim) {
    throw new Error(`${log.file} holds unfinished batches (${unfinished.join(', ')}) whose material is in the modules they ran on, not in simulators of this process; continue them with workcell resume --db ${log.file}, or run on a database of its own (--db NEW.db)`);
  }
  return { unfinished, clock: { wallAnchor: wallNow(), simAtAnchor: Math.max(anchoredClock(previous).now(), log.lastAt()) } };
}

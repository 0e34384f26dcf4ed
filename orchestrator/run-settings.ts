/**
 * How a run was started and what it ran on, as the log records it: the settings `workcell resume`
 * continues with, the clock every process reads the same, and the layout the batches ran on. Light
 * on purpose: the CLI's record commands read these without loading drivers or simulators.
 */
import { readFileSync } from 'node:fs';
import { ScaledClock, wallNow, type Clock } from '../drivers/clock.ts';
import { WORKCELL_STREAM, type EventLog } from './event-log.ts';
import { contentHash } from './batch-state.ts';
import { signed, type Credentials } from './signatures.ts';
import type { EntryData } from './entries.ts';

/** How a run was started; recorded in the log so that `workcell resume` continues it the same way. */
export interface RunSettings {
  layoutFile: string;
  timeScale: number;
  seed: number;
  sim: boolean;
  /** In virtual time (the digital twin, cli/twin.ts): the clock jumps from event to event. */
  virtual?: boolean;
  /** How the database commits when not every commit is fsynced (a virtual run), and why. */
  durability?: string;
  /** The clock: `simAtAnchor` (ms) was the time at wall-clock instant `wallAnchor`. */
  clock: { wallAnchor: number; simAtAnchor: number };
}

/** A clock that reads the same in every process that shares the anchor, at the given scale. */
export function anchoredClock(settings: Pick<RunSettings, 'timeScale' | 'clock'>): Clock {
  return new ScaledClock(settings.timeScale, settings.clock.simAtAnchor + (wallNow() - settings.clock.wallAnchor) * settings.timeScale);
}

/**
 * The workcell clock as another process reads it (an operator's `workcell resolve` or `workcell remove`):
 * a running orchestrator's clock, extrapolated from its status view because that clock may run scaled
 * or fast-forwarded; else the wall clock. Never before the log's last entry, so a record stays in time order.
 */
export function workcellNow(log: EventLog, wall = wallNow(), lastAt = log.lastAt()): number {
  const view = log.readStatus();
  const running = view?.value;
  const now = running && !running.final ? running.at + Math.max(0, wall - view!.updatedAt) * running.timeScale : wall;
  return Math.max(now, lastAt);
}

export function layoutHashOf(file: string): string {
  return contentHash(readFileSync(file, 'utf8'));
}

/** The layout hash the batches of this log last ran on: recorded at each start, or accepted by QA since. */
export function lastLayoutHash(log: EventLog): string | undefined {
  const marks = log.stream(WORKCELL_STREAM).flatMap((e) => (e.type === 'layout.changed' ? [e.data.to] : e.type === 'run.started' ? [e.data.layoutHash] : []));
  return marks.at(-1);
}

/**
 * Batches resume on the layout they ran on. A layout file changed since (a module moved to another
 * lane, an endpoint edited) is refused, unless QA accepts the change with a signature; the acceptance
 * is recorded with both hashes.
 */
export function checkLayoutForResume(log: EventLog, layoutFile: string, acceptance: { reason: string; signer: Credentials } | undefined, at: number): void {
  const recorded = lastLayoutHash(log);
  const current = layoutHashOf(layoutFile);
  if (recorded === undefined || recorded === current) return;
  const change = `${layoutFile} changed since its batches ran on it (sha256 ${recorded.slice(0, 12)}… now ${current.slice(0, 12)}…)`;
  if (!acceptance) throw new Error(`${change}. Restore it, or have QA accept the change: workcell resume --db ${log.file} --accept-layout-change --reason TEXT --user NAME`);
  if (!acceptance.reason.trim()) throw new Error('give a reason: accepting a changed layout is recorded with why');
  signed(log, acceptance.signer, 'accept-layout', at, (sign) => {
    const content = { layoutFile, from: recorded, to: current, reason: acceptance.reason };
    return log.append({ stream: WORKCELL_STREAM, type: 'layout.changed', at, data: { ...content, user: acceptance.signer.user, signature: sign(content) } });
  });
}

export function recordRunSettings(log: EventLog, settings: RunSettings, extra: Pick<EntryData<'run.started'>, 'command' | 'layoutHash'>): void {
  // A virtual run's time is its own from the start, anchored to no wall-clock instant.
  log.append({ stream: WORKCELL_STREAM, type: 'run.started', at: settings.virtual ? settings.clock.simAtAnchor : anchoredClock(settings).now(), data: { ...settings, ...extra, pid: process.pid } });
}

export function lastRunSettings(log: EventLog): RunSettings | undefined {
  const last = log.ofType('run.started').at(-1)?.data;
  return last && { layoutFile: last.layoutFile, timeScale: last.timeScale, seed: last.seed, sim: last.sim, ...(last.virtual ? { virtual: true } : {}), clock: last.clock };
}

/**
 * What a batch's entries say about where it stands: the schedule it recorded, its next step, the hold
 * it must still deal with. Read by the orchestrator on resume and by the CLI from any process.
 */
import { createHash } from 'node:crypto';
import type { ScheduleModel } from '../config/schedule.ts';
import { YamlSource } from '../config/source.ts';
import { validateSources } from '../config/validate.ts';
import type { LogEntry } from './event-log.ts';
import type { BatchPosition } from './batch-machine.ts';

export interface ScheduleSnapshot {
  file: string;
  text: string;
}

/** Parses a schedule from the text a batch recorded when it started. */
export function scheduleFromText(snapshot: ScheduleSnapshot): ScheduleModel {
  const result = validateSources([new YamlSource(snapshot.file, snapshot.text)]);
  const schedule = result.schedules[0];
  if (!schedule) throw new Error(`the schedule recorded for this batch (${snapshot.file}) no longer validates: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  return schedule.model;
}

export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Where a batch stands according to its log entries. */
export function positionFromLog(schedule: ScheduleModel, entries: readonly LogEntry[]): BatchPosition {
  const hold = pendingHold(entries)?.entry;
  if (hold) return { at: 'held', step: hold.data.step };
  const done = new Set(entries.flatMap((e) => (e.type === 'step.completed' || e.type === 'step.skipped' ? [e.data.step] : [])));
  const next = schedule.schedule.steps.find((s) => !done.has(s.id));
  return next ? { at: 'step', step: next.id } : { at: 'finishing' };
}

/** Entries that show the batch acted on an operator's answer. */
const ACTED = new Set(['step.started', 'step.skipped', 'batch.quarantined', 'batch.completed', 'transfer.completed', 'module.reserved']);

/**
 * The hold the batch must still deal with: open, or answered while no orchestrator was running (the
 * answer is in the log but nothing has acted on it yet).
 */
export function pendingHold(entries: readonly LogEntry[]): { entry: LogEntry<'hold.opened'>; answered: boolean } | undefined {
  let pending: { entry: LogEntry<'hold.opened'>; answered: boolean } | undefined;
  for (const e of entries) {
    if (e.type === 'hold.opened') pending = { entry: e, answered: false };
    else if (pending && e.type === 'hold.resolved') pending.answered = true;
    else if (pending?.answered && ACTED.has(e.type)) pending = undefined;
  }
  return pending;
}

/** The hold of a batch still waiting for an operator's answer, if any. */
export function openHold(entries: readonly LogEntry[]): LogEntry<'hold.opened'> | undefined {
  const pending = pendingHold(entries);
  return pending && !pending.answered ? pending.entry : undefined;
}

/** An operator's request to hold the batch that no hold has answered yet (`workcell hold`). */
export function unansweredHoldRequest(entries: readonly LogEntry[]): LogEntry<'hold.requested'> | undefined {
  let request: LogEntry<'hold.requested'> | undefined;
  for (const e of entries) {
    if (e.type === 'hold.requested') request = e;
    else if (request && e.type === 'hold.opened' && e.data.request === request.streamSeq) request = undefined;
    else if (e.type === 'batch.completed' || e.type === 'batch.quarantined') request = undefined;
  }
  return request;
}

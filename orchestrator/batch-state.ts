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
import { projectBatch, type PendingHold } from './projection.ts';

export interface ScheduleSnapshot {
  file: string;
  text: string;
}

/** Parses a schedule from the text a batch recorded when it started. */
/** Schedules validated already, by file and text: a campaign starts many batches on one schedule. */
const validated = new Map<string, ScheduleModel>();
const VALIDATED_KEPT = 32;

export function scheduleFromText(snapshot: ScheduleSnapshot): ScheduleModel {
  const key = `${snapshot.file}\u0000${snapshot.text}`;
  const known = validated.get(key);
  if (known) return known;
  const result = validateSources([new YamlSource(snapshot.file, snapshot.text)]);
  const schedule = result.schedules[0];
  if (!schedule) throw new Error(`the schedule recorded for this batch (${snapshot.file}) no longer validates: ${result.diagnostics.map((d) => d.message).join('; ')}`);
  if (validated.size >= VALIDATED_KEPT) validated.delete(validated.keys().next().value!);
  validated.set(key, schedule.model);
  return schedule.model;
}

export function contentHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Where a batch stands according to its log entries. */
export function positionFromLog(schedule: ScheduleModel, entries: readonly LogEntry[]): BatchPosition {
  const { pendingHold: hold, done } = projectBatch(entries);
  if (hold) return { at: 'held', step: hold.entry.data.step };
  const next = schedule.schedule.steps.find((s) => !done.has(s.id));
  return next ? { at: 'step', step: next.id } : { at: 'finishing' };
}

/**
 * The hold the batch must still deal with: open, or answered while no orchestrator was running (the
 * answer is in the log but nothing has acted on it yet).
 */
export function pendingHold(entries: readonly LogEntry[]): PendingHold | undefined {
  return projectBatch(entries).pendingHold;
}

/** The hold of a batch still waiting for an operator's answer, if any. */
export function openHold(entries: readonly LogEntry[]): LogEntry<'hold.opened'> | undefined {
  const pending = pendingHold(entries);
  return pending && !pending.answered ? pending.entry : undefined;
}

/** An operator's request to hold the batch that no hold has answered yet (`workcell hold`). */
export function unansweredHoldRequest(entries: readonly LogEntry[]): LogEntry<'hold.requested'> | undefined {
  return projectBatch(entries).holdRequest;
}

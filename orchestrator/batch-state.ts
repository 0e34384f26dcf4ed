/**
 * What a batch's entries say about where it stands: the schedule it recorded, its next step, the hold
 * it must still deal with. Read by the orchestrator on resume and by the CLI from any process.
 */
import { createHash } from 'node:crypto';
import type { ScheduleModel } from '../config/schedule.ts';
import { YamlSource } from '../config/source.ts';
import { validateSources } from '../config/validate.ts';
import type { EventLog, LogEntry } from './event-log.ts';
import type { BatchPosition, ResumePoint } from './batch-machine.ts';
import { projectBatch, type BatchProjection, type PendingHold } from './projection.ts';

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

/** Where a batch stands according to its projection. */
export function positionOf(schedule: ScheduleModel, { pendingHold: hold, done }: BatchProjection): BatchPosition {
  if (hold) return { at: 'held', step: hold.entry.data.step };
  const next = schedule.schedule.steps.find((s) => !done.has(s.id));
  return next ? { at: 'step', step: next.id } : { at: 'finishing' };
}

/**
 * Where in its step's machine a resumed batch enters (batch-machine.ts), when not at the top: `running`
 * when the open attempt's command was sent (it is re-attached by its logged key and token, never sent
 * again), unless an operator's hold request waits for the attempt's safe point; the hold-time window of
 * the step completed last when the restart came before that window opened.
 */
export function resumePoint(schedule: ScheduleModel, state: BatchProjection, position: BatchPosition): ResumePoint | undefined {
  if (position.at !== 'step') return undefined;
  const attempt = state.openAttempts.get(position.step);
  const last = state.lastAttempts.get(position.step);
  if (attempt !== undefined && last?.attempt === attempt && last.ran && last.module !== undefined && !state.holdRequest) return { step: position.step, resume: { state: 'running', attempt, module: last.module } };
  const steps = schedule.schedule.steps;
  const completed = state.completedLast;
  const before = steps[steps.findIndex((s) => s.id === position.step) - 1];
  if (completed && before?.id === completed.step && schedule.maxHold(before) !== undefined) return { step: before.id, resume: { state: 'holdTimeWindow', since: completed.at } };
  return undefined;
}

/** Where a batch stands according to its log entries. */
export function positionFromLog(schedule: ScheduleModel, entries: readonly LogEntry[]): BatchPosition {
  return positionOf(schedule, projectBatch(entries));
}

/** A batch's projection, folded from its stream in the log (for a process that does not run it: the CLI). */
export function batchProjection(log: EventLog, batchId: string): BatchProjection {
  return projectBatch(log.stream(batchId, { withoutTelemetry: true }));
}

/** The batches of the log that have neither completed nor been quarantined, in the order they started. */
export function unfinishedBatches(log: EventLog): string[] {
  return log.ofType('batch.started').map((e) => e.stream).filter((batchId) => !batchProjection(log, batchId).finished);
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
  return openHoldOf(projectBatch(entries));
}

/** The hold a batch's projection shows waiting for an operator's answer, if any. */
export function openHoldOf({ pendingHold: pending }: BatchProjection): LogEntry<'hold.opened'> | undefined {
  return pending && !pending.answered ? pending.entry : undefined;
}

/** An operator's request to hold the batch that no hold has answered yet (`workcell hold`). */
export function unansweredHoldRequest(entries: readonly LogEntry[]): LogEntry<'hold.requested'> | undefined {
  return projectBatch(entries).holdRequest;
}

/**
 * The typed entries of the event log: every batch's record is one ordered stream of these, like a
 * Bluesky run's documents. Each type is defined once, with its schema, in orchestrator/entries/;
 * readers switch on `type` (which tells what `data` holds); writers of a batch use `BatchJournal`.
 */
import type { EventLog } from './event-log.ts';
import type { HOLD_ACTIONS } from './entries/index.ts';
import type { EntryData, EntryType, LogEntry } from './entries/index.ts';
import { applyEntry, emptyProjection, type BatchProjection } from './projection.ts';

export * from './entries/index.ts';

/** `continue`: go on with one of the device's own continuation options (a recoverable error). */
export type HoldAction = (typeof HOLD_ACTIONS)[number];

export type BatchStarted = EntryData<'batch.started'>;

/** Appends one entry of a given type to a stream. */
export type EntryWriter = <T extends EntryType>(stream: string, type: T, data: EntryData<T>) => LogEntry<T>;

/** Writes entries of one batch only: whoever holds it cannot write into another batch's record. */
export class BatchJournal {
  private readonly projection = emptyProjection();
  private foldedUpTo = 0;
  /** The log's mark of this stream when it was last read (EventLog.streamMark). */
  private readMark: string | undefined;

  constructor(readonly batchId: string, private readonly log: EventLog, private readonly now: () => number) {}

  write<T extends EntryType>(type: T, data: EntryData<T>): LogEntry<T> {
    return this.log.append({ stream: this.batchId, type, at: this.now(), data });
  }

  /** The batch's entries except telemetry samples (which outnumber the rest by far). */
  entries(): LogEntry[] {
    return this.log.stream(this.batchId, { withoutTelemetry: true });
  }

  /**
   * Where the batch stands, as its entries say: the projection, kept up to date by folding in only the
   * entries appended since it was last asked (by this process or another: an operator's answer), so no
   * question it answers rereads the stream. The object returned is the journal's own; callers read it.
   */
  state(): BatchProjection {
    // Nothing appended since the last read, here or by another process: the projection is up to date.
    const mark = this.log.streamMark(this.batchId);
    if (mark === this.readMark) return this.projection;
    for (const entry of this.log.stream(this.batchId, { withoutTelemetry: true, afterStreamSeq: this.foldedUpTo })) {
      applyEntry(this.projection, entry);
      this.foldedUpTo = entry.streamSeq;
    }
    this.readMark = mark;
    return this.projection;
  }
}

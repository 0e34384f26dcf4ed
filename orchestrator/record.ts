/**
 * The per-batch record: one batch's entries merged into the electronic batch record a reviewer reads,
 * and QA's review of it. Building lives in record-build.ts, the terminal print in record-text.ts, the
 * printable page in record-html.ts; this module is where callers find all of them.
 */
import type { EventLog, LogEntry } from './event-log.ts';
import { isEntry } from './entries.ts';
import { unreadPlatesByBatch } from './environmental-monitoring.ts';
import { requireIndependentReviewer, signed, type Credentials } from './signatures.ts';
import { buildRecord } from './record-build.ts';

export { describeOutcome } from './record-outcome.ts';
export { buildRecord, type BatchRecord, type StepRecord, type RecurringRecord, type ControlOutcome, type TelemetrySummary } from './record-build.ts';
export { formatRecord } from './record-text.ts';

/**
 * QA's review of a finished batch's record, signed over the chain head it saw: approved for release,
 * or rejected. Once per batch; only when every settle plate exposed during the batch has been read.
 */
export function reviewRecord(log: EventLog, batchId: string, review: { decision: 'approved' | 'rejected'; reason: string }, signer: Credentials, at: number): LogEntry<'record.reviewed'> {
  if (!review.reason.trim()) throw new Error('give a reason: a review is recorded with why');
  return signed(log, signer, review.decision === 'approved' ? 'approve' : 'reject', at, (sign) => {
    const record = buildRecord(log, batchId);
    if (record.status !== 'completed' && record.status !== 'quarantined') throw new Error(`batch ${batchId} is ${record.status}: only a finished batch's record is reviewed`);
    if (record.review) throw new Error(`the record of ${batchId} was reviewed already: ${record.review.decision} by ${record.review.signature.user} at ${record.review.signature.signedAt}`);
    requireIndependentReviewer(log, batchId, signer, review.decision === 'approved' ? 'approve' : 'reject');
    if (record.status === 'quarantined' && review.decision === 'approved') throw new Error(`batch ${batchId} is quarantined: its record can be rejected, not approved for release`);
    const blockers = reviewBlockers(log, batchId, unreadPlatesByBatch(log));
    if (blockers.length > 0) throw new Error(`the record of ${batchId} is not complete: waiting for ${blockers.join(' and ')}`);
    const signature = sign({ batchId, decision: review.decision, reason: review.reason, reviewedHead: record.lastHash });
    return log.append({ stream: batchId, type: 'record.reviewed', at, data: { decision: review.decision, reason: review.reason, reviewedHead: record.lastHash, user: signature.user, signature } });
  });
}

/** Finished batches whose record QA has not reviewed yet, and what a review still waits for. */
export function awaitingReview(log: EventLog): Array<{ batchId: string; status: 'completed' | 'quarantined'; waitingFor: string[] }> {
  const reviewed = new Set(log.ofType('record.reviewed').map((e) => e.stream));
  const finished = [...log.ofType('batch.completed'), ...log.ofType('batch.quarantined')].sort((a, b) => a.seq - b.seq);
  const unread = unreadPlatesByBatch(log);
  return finished
    .filter((e) => !reviewed.has(e.stream))
    .map((e) => ({ batchId: e.stream, status: e.type === 'batch.completed' ? ('completed' as const) : ('quarantined' as const), waitingFor: reviewBlockers(log, e.stream, unread) }));
}

/** What the record of a finished batch still waits for before review: settle plates read, stuck material removed. */
function reviewBlockers(log: EventLog, batchId: string, unreadPlates: ReadonlyMap<string, string[]>): string[] {
  const entries = log.stream(batchId, { withoutTelemetry: true });
  const stuck = entries.find(isEntry('batch.quarantined', (e) => e.data.stuck));
  const unread = unreadPlates.get(batchId) ?? [];
  return [
    ...(unread.length > 0 ? [`settle plate(s) ${unread.join(', ')} exposed while it was open to be read`] : []),
    ...(stuck && !entries.some((e) => e.type === 'material.removed') ? [`its material in ${stuck.data.location} to be removed (workcell remove)`] : []),
  ];
}

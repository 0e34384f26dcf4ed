/** Batches and their records: the list, a record with its integrity, QA's signed review, the audit trail. */
import { Type } from '@sinclair/typebox';
import { checkpointSummary } from '../../orchestrator/checkpoints.ts';
import type { LogEntry } from '../../orchestrator/event-log.ts';
import type { EntryType } from '../../orchestrator/entries/index.ts';
import { buildRecord, reviewRecord } from '../../orchestrator/record.ts';
import { describeData } from '../../orchestrator/record-timeline.ts';
import { lastRunSettings } from '../../orchestrator/run-settings.ts';
import { requestBatch } from '../../orchestrator/batch-requests.ts';
import { liveStatus } from '../../orchestrator/workcell-overview.ts';
import { resolve } from 'node:path';
import type { Signature } from '../../orchestrator/signatures.ts';
import { ApiError, operation, route, type ApiRoute } from './api.ts';
import { AuditPage, BatchParams, BatchRequested, BatchSummary, Cursor, RecordResponse, Reviewed, ReviewBody, ScheduleList, SiteResponse, StartBatchBody } from './schemas.ts';
import { listSchedules, scheduleFileIn, schedulesDirectory } from './schedules.ts';
import { siteView } from './site.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/** An orchestrator wrote its live view lately and has not ended its run (as `workcell module refresh` tells). */
function orchestratorRunning(log: Parameters<typeof liveStatus>[0]): boolean {
  const { view, updatedAt } = liveStatus(log);
  return view !== null && !view.final && updatedAt !== null && Date.now() - updatedAt < 10_000;
}

/** What the audit trail lists: every signed act, every refusal, enrolments and security alarms. */
const AUDIT_TYPES = ['hold.resolved', 'hold.requested', 'module.out-of-service', 'module.in-service', 'material.removed', 'record.reviewed', 'layout.changed', 'operator.enrolled', 'operator.disabled', 'operator.password-changed', 'signature.refused', 'alarm'] as const satisfies readonly EntryType[];

function auditItem(entry: LogEntry): { seq: number; at: number; type: string; stream: string; user: string | null; summary: string; signature: Signature | null } {
  const signature = 'signature' in entry.data && entry.data.signature ? entry.data.signature : null;
  const base = { seq: entry.seq, at: entry.at, type: entry.type, stream: entry.stream, signature };
  // The operators stream's entries are summarised by hand: their data holds password hashes.
  switch (entry.type) {
    case 'operator.enrolled':
      return { ...base, user: entry.data.enrolledBy, summary: `enrolled ${entry.data.printedName} (${entry.data.user}) as ${entry.data.roles.join(', ')}` };
    case 'operator.disabled':
      return { ...base, user: entry.data.by, summary: `disabled ${entry.data.user}: ${entry.data.reason}` };
    case 'operator.password-changed':
      return { ...base, user: entry.data.user, summary: `${entry.data.user} changed their password` };
    case 'signature.refused':
      return { ...base, user: entry.data.user, summary: `refused ${entry.data.action} (${entry.data.kind}): ${entry.data.reason}` };
    default:
      return { ...base, user: signature?.user ?? ('user' in entry.data && typeof entry.data.user === 'string' ? entry.data.user : null), summary: `${entry.type}: ${describeData(entry.data)}` };
  }
}

export const batchRoutes: ApiRoute[] = [
  route({
    method: 'GET',
    path: '/api/batches',
    summary: 'Every batch of the log: patient, lane, status, review',
    access: 'session',
    response: Type.Array(BatchSummary),
    handle({ context }) {
      const { log } = context;
      const finished = new Map<string, string>([...log.ofType('batch.completed').map((e) => [e.stream, 'completed'] as const), ...log.ofType('batch.quarantined').map((e) => [e.stream, 'quarantined'] as const)]);
      const reviews = new Map(log.ofType('record.reviewed').map((e) => [e.stream, { decision: e.data.decision, user: e.data.user, at: e.data.signature.signedAt }]));
      const held = new Set(context.status.overview().holds.map((h) => h.batchId));
      return log.ofType('batch.started').map((b) => ({ batchId: b.stream, patient: b.data.patient, lane: b.data.lane, status: finished.get(b.stream) ?? (held.has(b.stream) ? 'held' : 'in progress'), started: iso(b.at), review: reviews.get(b.stream) ?? null }));
    },
  }),
  route({
    method: 'POST',
    path: '/api/batches',
    summary: 'Ask for a batch to be started (operator, signed): the running orchestrator starts it',
    description: 'Signed (role operator, password re-entered). The schedule is named by file name in the directory of schedules the server starts batches on (GET /api/schedules lists them: `workcell serve --schedules DIR`, else the `schedules` directory beside the layout the workcell last ran on); any other path (`..`, an absolute path elsewhere, a symbolic link out of it) is refused with 400 before anything is read. It is checked against the layout the workcell runs on as `workcell run` checks it (409 with FILE:LINE:COL for what is wrong). The request is recorded (batch.requested); the orchestrator running on the database starts it within a second, as `workcell run` starts its own; while none runs, the next `workcell run` (or `workcell resume` of unfinished batches) starts it. Answers 202: the batch is queued, and says whether an orchestrator runs.',
    access: ['operator'],
    body: StartBatchBody,
    response: BatchRequested,
    status: 202,
    handle({ body, signedIn, context }) {
      const { log } = context;
      const layoutFile = lastRunSettings(log)?.layoutFile;
      if (body.layout !== undefined && layoutFile !== undefined && resolve(body.layout) !== layoutFile) throw new ApiError(409, `the workcell runs on ${layoutFile}, not ${resolve(body.layout)}: a batch starts on the layout its orchestrator drives`);
      const scheduleFile = scheduleFileIn(schedulesDirectory(context.schedules, layoutFile), body.schedule);
      const request = { batchId: body.batchId, patient: body.patient, lane: body.lane, chainOfIdentity: body.chainOfIdentity, bagId: body.bagId, scheduleFile, reason: body.signature.reason };
      const entry = operation(() => requestBatch(log, request, { user: signedIn.operator.user, password: body.signature.password }, context.status.now()));
      const running = orchestratorRunning(log);
      return {
        batchId: entry.data.batchId,
        lane: entry.data.lane,
        orchestratorRunning: running,
        message: running ? `batch ${entry.data.batchId} is queued on ${entry.data.lane}: the running orchestrator starts it within a second` : `batch ${entry.data.batchId} is queued on ${entry.data.lane}, but no orchestrator runs on ${log.file} now: the next workcell run on it (or workcell resume of its unfinished batches) starts it`,
        signature: entry.data.signature,
      };
    },
  }),
  route({
    method: 'GET',
    path: '/api/schedules',
    summary: 'The schedules a batch may be started on (POST /api/batches names one by file name)',
    description: 'The schedule files (.yaml, .yml) of the directory the server starts batches from (`workcell serve --schedules DIR`, else the `schedules` directory beside the layout the workcell last ran on), each with its id, version, name and product, and whether it is valid and fits the layout the workcell runs on (else the FILE:LINE:COL findings). 409 when there is no such directory.',
    access: 'session',
    response: ScheduleList,
    handle({ context }) {
      const layoutFile = lastRunSettings(context.log)?.layoutFile;
      const directory = schedulesDirectory(context.schedules, layoutFile);
      return { directory, layout: layoutFile ?? null, schedules: listSchedules(directory, layoutFile) };
    },
  }),
  route({
    method: 'GET',
    path: '/api/batches/{id}/record',
    summary: "A batch's record as typed JSON, with the verification of its hash chain and the log's signed checkpoints",
    description: "The integrity is `workcell verify`'s, for the batch's stream: its hash chain recomputed, every entry's data against its schema, and the log's signed checkpoints (each signature, their numbering and links, and the batch's entry count and head at each checkpoint's position against what was signed). `ok` is false on any break, and when the log holds no signed checkpoint at all.",
    access: 'session',
    params: BatchParams,
    response: RecordResponse,
    handle({ params, context }) {
      const { log } = context;
      const read = log.rowsAsStored(params.id);
      if (read.rows.length === 0) throw new ApiError(404, `no batch ${params.id} in this workcell's log`);
      const record = buildRecord(log, params.id, read.rows);
      const { entries, breaks, checkpoints } = log.verify(params.id, read);
      const ok = breaks.length === 0 && checkpoints.latest !== undefined;
      const message = breaks.length > 0 ? `the record of ${params.id} is not intact: ${breaks.map((b) => b.message).join('; ')}` : `the hash chain of ${params.id} verifies: ${entries} entries, unbroken, from ${record.firstHash.slice(0, 12)}… to ${record.lastHash.slice(0, 12)}…; ${ok ? '' : 'but the log has '}${checkpointSummary(checkpoints)}`;
      return {
        record,
        integrity: { ok, entries, message, breaks: breaks.map(({ stream, streamSeq, problem, message }) => ({ stream, streamSeq, problem, message })), checkpoints: { verified: checkpoints.count, latest: checkpoints.latest ?? null, uncovered: checkpoints.uncovered, notes: checkpoints.notes } },
      };
    },
  }),
  route({
    method: 'POST',
    path: '/api/batches/{id}/review',
    summary: "QA's signed review of a finished batch's record: approve or reject",
    description: 'The same signed operation as `workcell review`: once per batch, by someone who signed nothing for the batch, only when its settle plates are read.',
    access: ['qa'],
    params: BatchParams,
    body: ReviewBody,
    response: Reviewed,
    handle({ params, body, signedIn, context }) {
      const { log } = context;
      const entry = operation(() => reviewRecord(log, params.id, { decision: body.decision === 'approve' ? 'approved' : 'rejected', reason: body.reason }, { user: signedIn.operator.user, password: body.password }, context.status.now()));
      return { batchId: params.id, decision: entry.data.decision, reviewedHead: entry.data.reviewedHead, signature: entry.data.signature };
    },
  }),
  route({
    method: 'GET',
    path: '/api/site',
    summary: 'The site: every workcell mirrored to PostgreSQL (--postgres), their batches and open holds',
    access: 'session',
    response: SiteResponse,
    async handle({ context }) {
      if (!context.postgres) throw new ApiError(404, 'this server has no site copy: start workcell serve with --postgres URL (the database workcell mirror copies to)');
      try {
        return await siteView(context.postgres);
      } catch (error) {
        throw new ApiError(502, `the site copy in PostgreSQL could not be read: ${(error as Error).message}`);
      }
    },
  }),
  route({
    method: 'GET',
    path: '/api/audit',
    summary: 'The audit trail: signed acts, refused signatures, enrolments, alarms (paged)',
    access: ['qa', 'admin'],
    query: Cursor,
    response: AuditPage,
    handle({ query, context }) {
      const limit = query.limit ?? 500;
      const found = context.log.since(query.after ?? 0, [...AUDIT_TYPES]);
      const page = found.slice(0, limit);
      return { items: page.map(auditItem), next: found.length > limit ? page.at(-1)!.seq : null };
    },
  }),
];

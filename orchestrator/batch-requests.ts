/**
 * Batches asked for from another process (the web API, an MES through it): a signed batch.requested
 * entry in the workcell stream. The running orchestrator reads it from the log, as it reads hold answers,
 * and starts the batch as `workcell run` starts its own (Orchestrator.startBatch); one asked for while no
 * orchestrator runs waits for the next one on the database.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadWorkcell } from '../config/validate.ts';
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import type { BatchSpec } from './batch-spec.ts';
import { lastRunSettings } from './run-settings.ts';
import { OPERATORS_STREAM, signed, type Credentials } from './signatures.ts';

export interface BatchRequest {
  batchId: string;
  patient: string;
  /** The lane; the one with fewest unfinished batches when not given. */
  lane?: string;
  chainOfIdentity?: string;
  bagId?: string;
  scheduleFile: string;
  reason: string;
}

const FINISHED = ['batch.completed', 'batch.quarantined'] as const;

/** Requests of batches no orchestrator has started yet. */
export function pendingBatchRequests(log: EventLog): Array<LogEntry<'batch.requested'>> {
  return log.ofType('batch.requested').filter((r) => log.stream(r.data.batchId).length === 0);
}

export function requestBatch(log: EventLog, request: BatchRequest, signer: Credentials, at: number): LogEntry<'batch.requested'> {
  const { batchId } = request;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(batchId)) throw new Error(`a batch id is letters, digits, '.', '_' and '-', not '${batchId}'`);
  if (batchId === WORKCELL_STREAM || batchId === OPERATORS_STREAM) throw new Error(`'${batchId}' names a stream of the workcell's own; give the batch another id`);
  if (!request.reason.trim()) throw new Error('give a reason: every batch started is recorded with why');
  const settings = lastRunSettings(log);
  if (!settings) throw new Error(`${log.file} records no run: there is no workcell to start a batch on (start the first with workcell run)`);
  const scheduleFile = resolve(request.scheduleFile);
  // The schedule is checked against the layout as `workcell run` checks it: file:line:col for what is wrong.
  const { layout } = loadWorkcell(settings.layoutFile, [scheduleFile]);
  const lanes = layout.model.laneIds();
  if (request.lane !== undefined && !lanes.includes(request.lane)) throw new Error(`the layout has no lane '${request.lane}' (lanes: ${lanes.join(', ')})`);
  const text = readFileSync(scheduleFile, 'utf8');
  return signed(log, signer, 'start', at, (sign) => {
    if (log.stream(batchId).length > 0 || log.ofType('batch.requested').some((r) => r.data.batchId === batchId)) throw new Error(`batch ${batchId} already exists in ${log.file}; give another id`);
    const bagId = request.bagId ?? `BAG-${batchId}`;
    const bags = [...log.ofType('batch.started').map((b) => [b.data.bagId, b.data.batchId]), ...pendingBatchRequests(log).map((r) => [r.data.bagId, r.data.batchId])];
    const owner = bags.find(([bag]) => bag === bagId);
    if (owner) throw new Error(`bag ${bagId} already belongs to batch ${owner[1]}`);
    const lane = request.lane ?? leastBusyLane(log, lanes);
    const identity = { batchId, patient: request.patient, chainOfIdentity: request.chainOfIdentity ?? `COI-${batchId}`, bagId, lane };
    const signature = sign({ ...identity, schedule: scheduleFile, scheduleText: text, reason: request.reason });
    return log.append({ stream: WORKCELL_STREAM, type: 'batch.requested', at, data: { ...identity, schedule: { file: scheduleFile, text }, reason: request.reason, user: signature.user, signature } });
  });
}

/**
 * Starts a requested batch with `start` (the orchestrator's startBatch) unless it started already (it has
 * its stream); what start refuses (a bag now in use, a lane the layout lost) is an alarm naming the request.
 */
export function startRequestedBatch(log: EventLog, request: LogEntry<'batch.requested'>, start: (spec: BatchSpec, schedule: { file: string; text: string }) => void, at: number): void {
  const { batchId, patient, chainOfIdentity, bagId, lane, schedule, user, reason, signature } = request.data;
  if (log.stream(batchId).length > 0) return;
  try {
    // The batch's own chain names the signed request (position and hash) and carries its signature, so that
    // its record shows who asked for it, and why, without the workcell stream.
    start({ batchId, patient, chainOfIdentity, bagId, lane, request: { seq: request.seq, streamSeq: request.streamSeq, hash: request.hash, at: request.at, reason, signature } }, schedule);
  } catch (error) {
    log.append({ stream: WORKCELL_STREAM, type: 'alarm', at, data: { kind: 'orchestrator', batchId, message: `batch ${batchId}, asked for by ${user}, was not started: ${(error as Error).message}` } });
  }
}

/** The lane with fewest unfinished batches (started or asked for), the first of the layout on a tie. */
function leastBusyLane(log: EventLog, lanes: readonly string[]): string {
  const finished = new Set(FINISHED.flatMap((type) => log.ofType(type).map((e) => e.stream)));
  const busy = [...log.ofType('batch.started').filter((b) => !finished.has(b.stream)).map((b) => b.data.lane), ...pendingBatchRequests(log).map((r) => r.data.lane)];
  return [...lanes].sort((a, b) => busy.filter((l) => l === a).length - busy.filter((l) => l === b).length)[0]!;
}

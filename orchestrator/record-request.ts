/**
 * The signed request a batch says it was started from (batch.started `request`), confirmed against the
 * log before a record shows its signature: the entry at that log position is a batch.requested of this
 * batch, its content still fits its hash, that hash is the one the batch named, and it carries the same
 * signature. The copy in batch.started is only a claim; a request edited or replaced afterwards (or a
 * batch.started written to name someone else's) must not show as a valid signature in the record.
 */
import { canonicalJson, entryHash, WORKCELL_STREAM, type EventLog } from './event-log.ts';
import type { BatchStarted } from './entries.ts';
import { printable } from '../config/printable.ts';

type StartRequest = NonNullable<BatchStarted['request']>;

/** What is wrong with the request `batchId` names; undefined when the log confirms it. */
export function requestProblem(log: EventLog, batchId: string, request: StartRequest): string | undefined {
  const [row] = log.rowPage(request.seq - 1, 1);
  const claimed = `the signed request it names (log position ${request.seq}, signed by ${printable(request.signature.user)})`;
  if (!row || row.seq !== request.seq) return `${claimed} is not in the log`;
  if (row.type !== 'batch.requested' || row.stream !== WORKCELL_STREAM) return `${claimed} is a ${printable(row.type)} entry of ${printable(row.stream)}, not a batch request`;
  const data = row.data as { batchId?: unknown; signature?: unknown } | null;
  if (data?.batchId !== batchId) return `${claimed} asks for another batch (${printable(String(data?.batchId))})`;
  if (row.hash !== request.hash) return `${claimed} has another hash than the batch named: it was replaced or rewritten`;
  if (entryHash(row) !== row.hash) return `${claimed} was altered: its content no longer matches its hash`;
  if (canonicalJson(data.signature) !== canonicalJson(request.signature)) return `${claimed} carries another signature than the batch copied`;
  return undefined;
}

/**
 * The digest of a run: SHA-256 over what the run did, entry by entry in log order (stream, type, workcell
 * time, data, as canonical JSON). Two digital-twin runs of the same layout, schedule, arrivals and seed
 * give the same digest; any difference in what happened, or when, gives another.
 *
 * Left out, because they record the host and not the process: when each entry was written (recordedAt,
 * wall time) and the run.started entries (process id, wall-clock anchor; the settings they carry are
 * inputs whose effects every other entry shows).
 */
import { createHash } from 'node:crypto';
import { canonicalJson, type LogEntry } from './log-entry.ts';

/** Pages of this many entries: a campaign's log is not read into memory at once. */
const PAGE = 5000;

export function logDigest(log: { page(afterSeq: number, limit: number): LogEntry[] }): string {
  const hash = createHash('sha256');
  for (let after = 0; ; ) {
    const entries = log.page(after, PAGE);
    if (entries.length === 0) break;
    for (const entry of entries) {
      if (entry.type === 'run.started') continue;
      hash.update(canonicalJson([entry.stream, entry.type, entry.at, entry.data]));
      hash.update('\n');
    }
    after = entries.at(-1)!.seq;
  }
  return hash.digest('hex');
}

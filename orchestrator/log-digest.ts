/**
 * The digest of a run: SHA-256 over what the run did, entry by entry in log order (stream, type, workcell
 * time, data, as canonical JSON). Two digital-twin runs of the same layout, schedule, arrivals and seed
 * give the same digest; any difference in what happened, or when, gives another.
 *
 * Left out, because they record the host and not the process: when each entry was written (recordedAt,
 * wall time), the run.started entries (process id, wall-clock anchor; the settings they carry are
 * inputs whose effects every other entry shows), and the directories of input files: where a layout or
 * schedule sits on this machine is no part of the run (their contents are, by their hashes and texts), so
 * the same campaign from another checkout or machine gives the same digest.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { canonicalJson, type LogEntry } from './log-entry.ts';

/** The entry's data with its input files' paths cut to their names; undefined when it names none. */
function withoutDirectories(entry: LogEntry): unknown {
  switch (entry.type) {
    case 'batch.started':
      return { ...entry.data, layout: { ...entry.data.layout, file: basename(entry.data.layout.file) }, schedule: { ...entry.data.schedule, file: basename(entry.data.schedule.file) } };
    case 'batch.requested':
      return { ...entry.data, schedule: { ...entry.data.schedule, file: basename(entry.data.schedule.file) } };
    case 'layout.changed':
      return { ...entry.data, layoutFile: basename(entry.data.layoutFile) };
    default:
      return undefined;
  }
}

/** Pages of this many entries: a campaign's log is not read into memory at once. */
const PAGE = 5000;

/** The digest of entries given one by one in log order. */
export class DigestOfEntries {
  private readonly hash = createHash('sha256');

  /** `dataJson`: the data's canonical JSON, when the caller has it (an entry just appended: EventLog.subscribe). */
  add(entry: LogEntry, dataJson = canonicalJson(entry.data)): void {
    if (entry.type === 'run.started') return;
    const local = withoutDirectories(entry);
    if (local !== undefined) dataJson = canonicalJson(local);
    // canonicalJson of [stream, type, at, data], put together from the data's canonical JSON.
    this.hash.update(`[${JSON.stringify(entry.stream)},${JSON.stringify(entry.type)},${JSON.stringify(entry.at)},${dataJson ?? 'null'}]\n`);
  }

  hex(): string {
    return this.hash.copy().digest('hex');
  }
}

/** The digest of every entry of a log. */
export function logDigest(log: { page(afterSeq: number, limit: number): LogEntry[] }): string {
  const digest = new DigestOfEntries();
  for (let after = 0; ; ) {
    const entries = log.page(after, PAGE);
    if (entries.length === 0) break;
    for (const entry of entries) digest.add(entry);
    after = entries.at(-1)!.seq;
  }
  return digest.hex();
}

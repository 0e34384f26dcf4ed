/**
 * Entries as a log (or a copy of one) stores them, read back: the hash that covers each, the chains
 * they form, and the check of each one's data against its type's schema, which a row edited by hand or
 * written by a later format fails (InvalidStoredEntry, naming the entry and the field). Apart from
 * event-log.ts so that the log and its copies (postgres-mirror.ts) check what they read the same way.
 */
import { sha256Hex } from '../drivers/sha256.ts';
import { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
import { ENTRY_FORMAT_VERSION, entryDataProblem, matchesItsSchema, type LogEntry } from './entries/index.ts';

/** The previous hash of a stream's first entry. */
export const GENESIS = '0'.repeat(64);

/** The fields an entry's hash covers, of any entry type (this version's or not). */
export type HashedEntry = Omit<StoredRow, 'seq' | 'hash'>;

/**
 * The hash of an entry: its content and its predecessor's hash, in a fixed field order, then its format
 * version. An entry written before entries carried one has none, and its hash stays what it was.
 * `dataJson`: the data's canonical JSON, when the caller has it already (the log, which stores it).
 */
export function entryHash(entry: HashedEntry, dataJson = canonicalJson(entry.data)): string {
  return hashOver(entry, dataJson);
}

function hashOver(entry: HashedEntry, dataJson: string): string {
  const fields = [entry.stream, entry.streamSeq, entry.type, entry.at, entry.recordedAt, dataJson, entry.previousHash];
  return sha256Hex(JSON.stringify(entry.formatVersion === undefined ? fields : [...fields, entry.formatVersion]));
}

/**
 * Whether an entry's content fits its hash, as entryHash(entry) === entry.hash says. `storedData`: the entry's
 * data as a SQLite log stores it (EventLog.rowsAsStored), the canonical JSON its hash was computed over when
 * written; the hash is checked over that text first, which spares canonicalising the parsed data again (most
 * of the cost of verifying a chain). A match there means the text is what was hashed, and it canonicalises to
 * itself, so entryHash would match too; text that does not match (edited by hand, even to the same data in
 * another key order) is judged by entryHash, as without it.
 */
function hashFits(entry: StoredRow, storedData?: string): boolean {
  return (storedData !== undefined && hashOver(entry, storedData) === entry.hash) || entryHash(entry) === entry.hash;
}

/**
 * A stored entry whose data its type's schema does not allow: the database was written by hand (or by
 * a tool that went around the log), or by a later format version. Its message names the entry and field.
 */
export class InvalidStoredEntry extends Error {
  constructor(readonly entry: StoredRow, readonly problem: string) {
    super(invalidEntryText(entry, problem));
    this.name = 'InvalidStoredEntry';
  }
}

function invalidEntryText(entry: StoredRow, problem: string): string {
  const written = entry.formatVersion !== undefined && entry.formatVersion > ENTRY_FORMAT_VERSION ? `; it was written in entry format ${entry.formatVersion}, this version of Workcell reads format ${ENTRY_FORMAT_VERSION} and before` : '; the database was changed outside Workcell (workcell verify names every such entry)';
  return `entry ${entry.streamSeq} of ${entry.stream} (log position ${entry.seq}, ${entry.type}) does not match its schema: its data ${problem}${written}`;
}

/**
 * An entry read back from a log (this one, or a copy of one), checked against its type's schema: a row
 * that does not match is refused (InvalidStoredEntry), never passed on as what its type says. An entry
 * of a type a later version added keeps its type unchecked; readers that list entries ask `isKnownEntryType`.
 */
export function storedEntry(entry: StoredRow): LogEntry {
  if (matchesItsSchema(entry)) return entry;
  throw new InvalidStoredEntry(entry, entryDataProblem(entry) ?? 'is invalid');
}

/** Stored entries split into those that match their schemas and those that do not: for readers that must go on. */
export function checkedEntries(rows: readonly StoredRow[]): { entries: LogEntry[]; invalid: InvalidStoredEntry[] } {
  const entries: LogEntry[] = [];
  const invalid: InvalidStoredEntry[] = [];
  for (const row of rows) {
    if (matchesItsSchema(row)) entries.push(row);
    else invalid.push(new InvalidStoredEntry(row, entryDataProblem(row) ?? 'is invalid'));
  }
  return { entries, invalid };
}

/**
 * The entries of a log (or its copy) that do not match their schemas, as breaks `verify` names: those whose
 * hash still fits their content (written so, or with every hash recomputed); one whose content no longer
 * fits its hash is named by its chain as altered, once.
 */
export function invalidEntryBreaks(rows: readonly StoredRow[]): ChainBreak[] {
  return checkedEntries(rows)
    .invalid.filter(({ entry }) => entryHash(entry) === entry.hash)
    .map(({ entry, message }) => ({ stream: entry.stream, streamSeq: entry.streamSeq, seq: entry.seq, problem: 'invalid', message }));
}

/**
 * Recomputes the hash chains of entries given in log order (of a SQLite log, or a copy of one);
 * returns the first break of each broken stream, in log order. `storedData`: each entry's data as the
 * log stores it, when read so (EventLog.rowsAsStored): the hashes are checked over it first (hashFits).
 */
export function verifyChains(entries: readonly StoredRow[], storedData?: readonly string[]): { entries: number; streams: number; breaks: ChainBreak[] } {
  const heads = new Map<string, { streamSeq: number; hash: string; broken: boolean }>();
  const breaks: ChainBreak[] = [];
  const present = new Set(entries.map((e) => `${e.stream}\u0000${e.streamSeq}`));
  for (const [index, entry] of entries.entries()) {
    const head = heads.get(entry.stream) ?? { streamSeq: 0, hash: GENESIS, broken: false };
    heads.set(entry.stream, head);
    if (head.broken) continue;
    const report = (problem: ChainBreak['problem'], message: string) => {
      head.broken = true;
      breaks.push({ stream: entry.stream, streamSeq: entry.streamSeq, seq: entry.seq, problem, message });
    };
    if (entry.streamSeq <= head.streamSeq) report('reordered', `entry ${entry.streamSeq} of ${entry.stream} (log position ${entry.seq}) comes after entry ${head.streamSeq}`);
    else if (entry.streamSeq > head.streamSeq + 1 && present.has(`${entry.stream}\u0000${head.streamSeq + 1}`)) report('reordered', `entry ${entry.streamSeq} of ${entry.stream} (log position ${entry.seq}) comes before entry ${head.streamSeq + 1}`);
    else if (entry.streamSeq > head.streamSeq + 1) report('missing', `entries ${head.streamSeq + 1}..${entry.streamSeq - 1} of ${entry.stream} are missing before log position ${entry.seq}`);
    else if (entry.previousHash !== head.hash) report('altered', head.streamSeq === 0 ? `entry 1 of ${entry.stream} (log position ${entry.seq}) does not start a chain` : `entry ${head.streamSeq} of ${entry.stream} was altered or replaced: entry ${entry.streamSeq} (log position ${entry.seq}) no longer links to it`);
    else if (!hashFits(entry, storedData?.[index])) report('altered', `entry ${entry.streamSeq} of ${entry.stream} (log position ${entry.seq}, ${entry.type}) was altered: its content no longer matches its hash`);
    head.streamSeq = entry.streamSeq;
    head.hash = entry.hash;
  }
  return { entries: entries.length, streams: heads.size, breaks };
}

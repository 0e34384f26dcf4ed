/**
 * The durable, append-only event log: the source of truth for every batch (21 CFR Part 11 audit trail).
 * One SQLite file in WAL mode with synchronous=FULL, so a committed entry survives a crash or power loss.
 * Entries form one hash chain per stream (a batch id, or `workcell` for what belongs to no batch): each
 * entry's hash covers its content and the previous entry's hash, so an altered, missing or reordered
 * entry breaks the chain at that point. Triggers refuse UPDATE and DELETE: the log is only ever appended.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { wallNow } from '../drivers/clock.ts';
import { isLiveStatus, LIVE_STATUS_KEY, liveStatusProblem, type LiveStatus } from './live-status.ts';
import { watchOtherConnections, type WatchOptions } from './log-watcher.ts';
import { CheckpointWriter, keyFileOf, keyIdOfFile, readCheckpoints, verifyCheckpoints, type CheckpointReport } from './checkpoints.ts';
import { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
import { entryHash, GENESIS, invalidEntryBreaks, storedEntry, verifyChains } from './stored-entries.ts';
import { checkEntry, ENTRY_FORMAT_VERSION, isEntryOf, type EntryData, type EntryType, type LogEntry, type NewEntry } from './entries/index.ts';

export { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
export type { LogEntry, NewEntry } from './entries/index.ts';
export { checkedEntries, entryHash, invalidEntryBreaks, InvalidStoredEntry, storedEntry, verifyChains, type HashedEntry } from './stored-entries.ts';

export const WORKCELL_STREAM = 'workcell';

/** The live status view as read: its value, or (not matching its schema) what does not match. */
export type LiveStatusRead = { value: LiveStatus; updatedAt: number; problem?: undefined } | { value: undefined; updatedAt: number; problem: string };

export interface LogVerification {
  entries: number;
  streams: number;
  breaks: ChainBreak[];
  checkpoints: CheckpointReport;
}


const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  stream TEXT NOT NULL,
  stream_seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL,
  data TEXT NOT NULL,
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  format_version INTEGER,
  UNIQUE (stream, stream_seq)
);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type);
CREATE TRIGGER IF NOT EXISTS events_are_never_updated BEFORE UPDATE ON events
  BEGIN SELECT RAISE(ABORT, 'the event log is append-only: entries cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS events_are_never_deleted BEFORE DELETE ON events
  BEGIN SELECT RAISE(ABORT, 'the event log is append-only: entries cannot be deleted'); END;
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS live_status (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
`;

interface Row {
  seq: number;
  stream: string;
  stream_seq: number;
  type: string;
  at: number;
  recorded_at: number;
  data: string;
  previous_hash: string;
  hash: string;
  /** NULL in entries written before entries carried it; no column at all in a database of then opened read-only. */
  format_version?: number | null;
}

function fromRow(row: Row): StoredRow {
  return { seq: row.seq, stream: row.stream, streamSeq: row.stream_seq, type: row.type, at: row.at, recordedAt: row.recorded_at, data: JSON.parse(row.data) as unknown, previousHash: row.previous_hash, hash: row.hash, ...(row.format_version == null ? {} : { formatVersion: row.format_version }) };
}

const entryOfRow = (row: Row): LogEntry => storedEntry(fromRow(row));

export class EventLog {
  private readonly db: Database.Database;
  private readonly lastOf: Database.Statement<[string], { stream_seq: number; hash: string }>;
  private insertStatement: Database.Statement | undefined;
  private statusStatement: Database.Statement | undefined;
  private readonly appendMany: (entries: readonly NewEntry[]) => LogEntry[];
  private readonly listeners = new Set<(entry: LogEntry) => void>();
  private writeGuard: (() => void) | undefined;
  private readonly checkpoints: CheckpointWriter | undefined;

  /**
   * `durability: 'simulation'` is for a digital-twin run only (cli/twin.ts): commits are
   * not fsynced (synchronous=OFF: a crash of the process loses nothing, a power loss may lose or damage
   * the latest commits). A twin's entries are a computation that can be run again from its inputs, not a
   * patient's record, and an fsync per commit would cost more than the whole simulation.
   */
  constructor(readonly file: string, options: { readonly?: boolean; durability?: 'records' | 'simulation' } = {}) {
    if (!options.readonly) createPrivately(file);
    this.db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    this.db.pragma('busy_timeout = 10000');
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      // better-sqlite3 defaults to NORMAL in WAL mode, which may lose the last commits on power loss.
      const simulation = options.durability === 'simulation';
      this.db.pragma(`synchronous = ${simulation ? 'OFF' : 'FULL'}`);
      if (!simulation && this.db.pragma('synchronous', { simple: true }) !== 2) throw new Error(`${file}: SQLite refused synchronous=FULL; records would not be durable`);
      this.db.exec(SCHEMA);
      // A database made before entries carried their format version gains the column; its entries keep NULL.
      const columns = this.db.prepare('SELECT name FROM pragma_table_info(\'events\')').all() as Array<{ name: string }>;
      if (!columns.some((c) => c.name === 'format_version')) this.db.exec('ALTER TABLE events ADD COLUMN format_version INTEGER');
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('id', ?)").run(randomUUID());
      this.checkpoints = new CheckpointWriter(this.db, keyFileOf(file), () => this.id);
    }
    this.lastOf = this.db.prepare('SELECT stream_seq, hash FROM events WHERE stream = ? ORDER BY stream_seq DESC LIMIT 1');
    // IMMEDIATE: another process (an operator's `workcell resolve`) may append to the same chain.
    this.appendMany = this.db.transaction((entries: readonly NewEntry[]) => {
      const heads = new Map<string, { streamSeq: number; hash: string }>();
      const written = entries.map((entry) => {
        const head = heads.get(entry.stream) ?? (() => {
          const last = this.lastOf.get(entry.stream);
          return { streamSeq: last?.stream_seq ?? 0, hash: last?.hash ?? GENESIS };
        })();
        const base = { stream: entry.stream, streamSeq: head.streamSeq + 1, type: entry.type, at: Math.round(entry.at), recordedAt: wallNow(), data: entry.data, previousHash: head.hash, formatVersion: ENTRY_FORMAT_VERSION };
        const hash = entryHash(base);
        const info = this.insert.run(base.stream, base.streamSeq, base.type, base.at, base.recordedAt, canonicalJson(base.data), base.previousHash, hash, base.formatVersion);
        heads.set(entry.stream, { streamSeq: base.streamSeq, hash });
        // Checked by appendAll (asStored) before the transaction.
        return { ...base, hash, seq: Number(info.lastInsertRowid) } as LogEntry;
      });
      if (this.checkpoints?.due) this.checkpoints.write();
      return written;
    }).immediate;
  }

  /** Prepared on the first append: a database of before opened read-only has no format_version column yet. */
  private get insert(): Database.Statement {
    this.insertStatement ??= this.db.prepare('INSERT INTO events (stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    return this.insertStatement;
  }

  get synchronous(): string {
    return ['OFF', 'NORMAL', 'FULL', 'EXTRA'][this.db.pragma('synchronous', { simple: true }) as number] ?? 'unknown';
  }

  get journalMode(): string {
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  /** Appends an entry; its data is checked against its type's schema first (an invalid entry is refused, never written). */
  append<T extends EntryType>(entry: { stream: string; type: T; at: number; data: EntryData<T> }): LogEntry<T> {
    // TypeScript cannot see that an entry of type T is one of the union's members, nor that what is
    // written back is the same entry: both hold by construction (appendAll checks the data at run time).
    const [written] = this.appendAll([entry as NewEntry]);
    return written as LogEntry<T>;
  }

  /** Appends entries in one transaction: all of them are durable, or none (nor any, if one is invalid). */
  appendAll(entries: readonly NewEntry[]): LogEntry[] {
    if (entries.length === 0) return [];
    const stored = entries.map(asStored);
    this.writeGuard?.();
    const written = this.appendMany(stored);
    for (const entry of written) for (const listener of this.listeners) listener(entry);
    return written;
  }

  /**
   * Runs `decide` (reads, then appends) as one IMMEDIATE transaction: no other process appends in
   * between, so a check (is the hold still open?) and the entry it allows cannot be split. Listeners
   * hear of an append at once, so the append comes last: nothing after it may throw.
   */
  atomically<T>(decide: () => T): T {
    return this.db.transaction(decide).immediate();
  }

  /**
   * A check before every append of this process (an orchestrator's: that it still holds the database's
   * lease); it throws to refuse the append. Signed operations from other processes are not guarded.
   */
  guardWrites(check: (() => void) | undefined): void {
    this.writeGuard = check;
  }

  /** Called for every entry this process appends, after it is committed. */
  subscribe(listener: (entry: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Called with the entries other processes append (log-watcher.ts: SQLite's data_version, looked at on
   * the clock's poll), each once; entries of this process go to subscribe() only. Returns a stop function.
   */
  watchOthers(listener: (entries: LogEntry[]) => void, options: WatchOptions): () => void {
    return watchOtherConnections(this, listener, options);
  }

  /** SQLite's data_version of this connection: it changes when another connection commits. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  /** Entries with after < seq <= upTo, of the given types (all when undefined), in log order. */
  between(after: number, upTo: number, types?: readonly string[]): LogEntry[] {
    const ofTypes = types ? ` AND type IN (${types.map(() => '?').join(',')})` : '';
    return (this.db.prepare(`SELECT * FROM events WHERE seq > ? AND seq <= ?${ofTypes} ORDER BY seq`).all(after, upTo, ...(types ?? [])) as Row[]).map(entryOfRow);
  }

  /** A stream's entries in order; `afterStreamSeq`: only those after that position. */
  stream(stream: string, options: { withoutTelemetry?: boolean; afterStreamSeq?: number } = {}): LogEntry[] {
    const sql = `SELECT * FROM events WHERE stream = ? AND stream_seq > ?${options.withoutTelemetry ? " AND type <> 'telemetry'" : ''} ORDER BY stream_seq`;
    return (this.db.prepare(sql).all(stream, options.afterStreamSeq ?? 0) as Row[]).map(entryOfRow);
  }

  /** Entries appended after `seq` (by any process), in order. */
  since(seq: number): LogEntry[];
  since<T extends EntryType>(seq: number, types: readonly T[]): Array<LogEntry<T>>;
  since(seq: number, types?: readonly EntryType[]): LogEntry[] {
    if (!types) return (this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq').all(seq) as Row[]).map(entryOfRow);
    const rows = this.db.prepare(`SELECT * FROM events WHERE seq > ? AND type IN (${types.map(() => '?').join(',')}) ORDER BY seq`).all(seq, ...types) as Row[];
    return rows.map(entryOfRow).filter(isEntryOf(types));
  }

  ofType<T extends EntryType>(type: T): Array<LogEntry<T>> {
    return (this.db.prepare('SELECT * FROM events WHERE type = ? ORDER BY seq').all(type) as Row[]).map(entryOfRow).filter(isEntryOf([type]));
  }

  streams(): string[] {
    return (this.db.prepare('SELECT stream FROM events GROUP BY stream ORDER BY MIN(seq)').all() as Array<{ stream: string }>).map((r) => r.stream);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  /** The latest workcell time any entry carries (0 for an empty log). */
  lastAt(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(at), 0) AS n FROM events').get() as { n: number }).n;
  }

  /** Entries at log positions up to `seq`. */
  countUpTo(seq: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM events WHERE seq <= ?').get(seq) as { n: number }).n;
  }

  lastSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM events').get() as { n: number }).n;
  }

  /**
   * Live status for `workcell status`: a view rewritten as things change, not part of the record. Checked
   * against its schema (live-status.ts) as JSON stores it: a status that does not match is refused.
   */
  writeStatus(key: typeof LIVE_STATUS_KEY, value: LiveStatus): void {
    const text = JSON.stringify(value);
    const problem = liveStatusProblem(JSON.parse(text));
    if (problem !== undefined) throw new Error(`refused a live status: it ${problem}`);
    this.statusStatement ??= this.db.prepare('INSERT INTO live_status (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    this.statusStatement.run(key, text, wallNow());
  }

  /**
   * The status view, checked against its schema: `value` when it matches, else undefined and `problem`
   * saying which field does not (a view written by hand, or by another version of Workcell). Undefined
   * when no orchestrator has written one.
   */
  readStatus(): LiveStatusRead | undefined {
    const row = this.db.prepare('SELECT value, updated_at FROM live_status WHERE key = ?').get(LIVE_STATUS_KEY) as { value: string; updated_at: number } | undefined;
    if (!row) return undefined;
    const value: unknown = JSON.parse(row.value);
    if (isLiveStatus(value)) return { value, updatedAt: row.updated_at };
    return { value: undefined, updatedAt: row.updated_at, problem: `the live status written at ${new Date(row.updated_at).toISOString()} does not match its schema: it ${liveStatusProblem(value) ?? 'is invalid'}` };
  }

  /**
   * Recomputes every chain and checks the log against its signed checkpoints; returns the first break
   * of each broken stream (in log order), then what the checkpoints show. `stream`: that stream's chain
   * only (a batch's record), against what the checkpoints signed of it; `read`: its rows, if read already
   * (rowsAsStored: with their data as stored, over which the hashes are checked first).
   */
  verify(stream?: string, read: { rows: readonly StoredRow[]; storedData?: readonly string[] } = this.rowsAsStored(stream)): LogVerification {
    const { rows, storedData } = read;
    const chains = verifyChains(rows, storedData);
    // A stream's rows come in its own order; the checkpoints are replayed in log order.
    const inLogOrder = stream === undefined ? rows : [...rows].sort((a, b) => a.seq - b.seq);
    const anchored = verifyCheckpoints(this.id, inLogOrder, readCheckpoints(this.db), keyIdOfFile(keyFileOf(this.file)), stream);
    return { ...chains, breaks: [...chains.breaks, ...invalidEntryBreaks(rows), ...anchored.breaks], checkpoints: anchored.report };
  }

  /** The checkpoint keys and signed checkpoints the log holds (for copying them with the entries). */
  checkpointRecords(): ReturnType<typeof readCheckpoints> {
    return readCheckpoints(this.db);
  }

  /**
   * Every entry as stored (or a stream's), in order, its data not checked against its schema: for what must
   * read a tampered log to the end (verify, the comparison with a copy, a record); checkedEntries() sorts them.
   */
  rows(stream?: string): StoredRow[] {
    return this.rowsAsStored(stream).rows;
  }

  /**
   * rows(), and each one's data as the database holds it: the canonical JSON its hash was computed over when
   * written, over which verifyChains checks the hash first (cheaper than canonicalising the data again).
   */
  rowsAsStored(stream?: string): { rows: StoredRow[]; storedData: string[] } {
    const read = (stream === undefined ? this.db.prepare('SELECT * FROM events ORDER BY seq').all() : this.db.prepare('SELECT * FROM events WHERE stream = ? ORDER BY stream_seq').all(stream)) as Row[];
    return { rows: read.map(fromRow), storedData: read.map((row) => row.data) };
  }

  /** Entries after `seq` in log order, at most `limit` of them: for publishing the log page by page. */
  page(afterSeq: number, limit: number): LogEntry[] {
    return this.rowPage(afterSeq, limit).map(storedEntry);
  }

  /** Like page(), as stored: for copying the log elsewhere, which checks each entry's hash before its data. */
  rowPage(afterSeq: number, limit: number): StoredRow[] {
    return (this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(fromRow);
  }

  /** This log's identity, made once when the file is created: it names the log wherever it is copied. */
  get id(): string {
    const hasMeta = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    // A log written before logs had ids, opened read-only, has none yet: '' (the next read-write open gives it one).
    return hasMeta ? ((this.db.prepare("SELECT value FROM meta WHERE key = 'id'").get() as { value: string } | undefined)?.value ?? '') : '';
  }

  /** Closes the database; a read-write log first signs what it holds beyond its latest checkpoint. */
  close(): void {
    try {
      if (this.checkpoints && this.db.open) this.db.transaction(() => this.checkpoints!.write()).immediate();
    } finally {
      this.db.close();
    }
  }
}

/**
 * Creates an empty file readable and writable by its owner only, unless it exists. SQLite gives the WAL
 * and shared-memory files it makes beside a database the database's own permissions, so patient records
 * and password hashes stay private in all three.
 */
export function createPrivately(file: string): void {
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? `no directory ${dirname(file)}` : (error as Error).message}`);
  }
}

/**
 * The entry as the log keeps it, checked against its schema. What is checked is what is kept: data
 * that fails as given is taken as JSON stores it (a device's NaN is null, an undefined field absent)
 * and checked again, so a value JSON cannot hold never turns a device's answer into a refusal.
 */
function asStored(entry: NewEntry): NewEntry {
  try {
    checkEntry(entry);
    return entry;
  } catch {
    const stored = { ...entry, data: JSON.parse(JSON.stringify(entry.data)) } as NewEntry;
    checkEntry(stored);
    return stored;
  }
}

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
import { CheckpointWriter, compareWithCheckpoints, keyFileOf, readCheckpoints, type CheckpointReport } from './checkpoints.ts';
import { CheckpointVerdicts } from './checkpoint-verdicts.ts';
import { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
import { entryHash, GENESIS, invalidEntryBreaks, verifyChains } from './stored-entries.ts';
import { LogReads } from './log-reads.ts';
import { checkEntry, ENTRY_FORMAT_VERSION, type EntryData, type EntryType, type LogEntry, type NewEntry } from './entries/index.ts';

export { canonicalJson, type ChainBreak, type StoredRow } from './log-entry.ts';
export type { LogEntry, NewEntry } from './entries/index.ts';
export { checkedEntries, entryHash, invalidEntryBreaks, InvalidStoredEntry, storedEntry, verifyChains, type HashedEntry } from './stored-entries.ts';

export const WORKCELL_STREAM = 'workcell';

/** Hears of an entry appended: the entry, and its data's canonical JSON as stored (for what hashes it again). */
export type EntryListener = (entry: LogEntry, dataJson: string) => void;

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

export class EventLog extends LogReads {
  private readonly lastOf: Database.Statement<[string], { stream_seq: number; hash: string }>;
  /** Appends in one transaction; gives back each entry written and its data's canonical JSON, as stored. */
  private readonly appendMany: (entries: readonly NewEntry[]) => Array<{ entry: LogEntry; dataJson: string }>;
  private readonly listeners = new Set<EntryListener>();
  private writeGuard: (() => void) | undefined;
  /**
   * What this connection knows of the database as of data_version `seenVersion` (no other connection has
   * committed since): each stream's head, as last read or written here, and whether the write guard passed.
   */
  private seenVersion: number | undefined;
  private readonly heads = new Map<string, { streamSeq: number; hash: string }>();
  private guardPassed = false;
  /** Per stream, the entries other than telemetry this connection appended (see streamMark). */
  private readonly ownWrites = new Map<string, number>();
  private readonly checkpoints: CheckpointWriter | undefined;
  /** The checkpoints' own check, kept between verifications while they are unchanged (a server verifies a record per request). */
  readonly checkpointVerdicts: CheckpointVerdicts;

  /**
   * `durability: 'simulation'` is for a digital-twin run only (cli/twin.ts): commits are
   * not fsynced (synchronous=OFF: a crash of the process loses nothing, a power loss may lose or damage
   * the latest commits). A twin's entries are a computation that can be run again from its inputs, not a
   * patient's record, and an fsync per commit would cost more than the whole simulation.
   */
  constructor(readonly file: string, options: { readonly?: boolean; durability?: 'records' | 'simulation' } = {}) {
    super(openLog(file, options.readonly ?? false));
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
    this.checkpointVerdicts = new CheckpointVerdicts(this.db, keyFileOf(file), () => this.id);
    this.lastOf = this.db.prepare('SELECT stream_seq, hash FROM events WHERE stream = ? ORDER BY stream_seq DESC LIMIT 1');
    // IMMEDIATE: another process (an operator's `workcell resolve`) may append to the same chain.
    this.appendMany = this.db.transaction((entries: readonly NewEntry[]) => {
      // Inside the transaction: no other connection commits between this look and the inserts.
      const version = this.dataVersion();
      if (version !== this.seenVersion) {
        this.seenVersion = version;
        this.heads.clear();
        this.guardPassed = false;
      }
      if (this.writeGuard && !this.guardPassed) {
        this.writeGuard();
        this.guardPassed = true;
      }
      const written = entries.map((entry) => {
        const head = this.heads.get(entry.stream) ?? (() => {
          const last = this.lastOf.get(entry.stream);
          return { streamSeq: last?.stream_seq ?? 0, hash: last?.hash ?? GENESIS };
        })();
        const base = { stream: entry.stream, streamSeq: head.streamSeq + 1, type: entry.type, at: Math.round(entry.at), recordedAt: wallNow(), data: entry.data, previousHash: head.hash, formatVersion: ENTRY_FORMAT_VERSION };
        const dataJson = canonicalJson(base.data);
        const hash = entryHash(base, dataJson);
        const info = this.insert.run(base.stream, base.streamSeq, base.type, base.at, base.recordedAt, dataJson, base.previousHash, hash, base.formatVersion);
        this.heads.set(entry.stream, { streamSeq: base.streamSeq, hash });
        // Checked by appendAll (asStored) before the transaction.
        return { entry: { ...base, hash, seq: Number(info.lastInsertRowid) } as LogEntry, dataJson };
      });
      if (this.checkpoints?.due) this.checkpoints.write();
      return written;
    }).immediate;
  }

  /** Prepared on the first append: a database of before opened read-only has no format_version column yet. */
  private get insert(): Database.Statement {
    return this.prepared('INSERT INTO events (stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
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
    const written = this.rollingBack(() => this.appendMany(stored));
    for (const { entry } of written) if (entry.type !== 'telemetry') this.ownWrites.set(entry.stream, (this.ownWrites.get(entry.stream) ?? 0) + 1);
    for (const { entry, dataJson } of written) for (const listener of this.listeners) listener(entry, dataJson);
    return written.map(({ entry }) => entry);
  }

  /**
   * Runs `decide` (reads, then appends) as one IMMEDIATE transaction: no other process appends in
   * between, so a check (is the hold still open?) and the entry it allows cannot be split. Listeners
   * hear of an append at once, so the append comes last: nothing after it may throw.
   */
  atomically<T>(decide: () => T): T {
    return this.rollingBack(() => this.db.transaction(decide).immediate());
  }

  /** Runs a transaction; if it fails, what it wrote is rolled back, and the stream heads it set are forgotten. */
  private rollingBack<T>(transaction: () => T): T {
    try {
      return transaction();
    } catch (error) {
      this.heads.clear();
      throw error;
    }
  }

  /**
   * A check before every append of this process (an orchestrator's: that it still holds the database's
   * lease), inside the append's transaction; it throws to refuse the append. Signed operations from other
   * processes are not guarded. The check must answer from what the database holds (the lease row): it
   * runs again once another connection has committed since it last passed (SQLite's data_version). Until
   * then the database holds what it held when the check passed, so the answer is the same, and a run
   * does not read the lease before each of its thousands of appends.
   */
  guardWrites(check: (() => void) | undefined): void {
    this.writeGuard = check;
    this.guardPassed = false;
  }

  /** Called for every entry this process appends, after it is committed, with its data's canonical JSON as stored. */
  subscribe(listener: EntryListener): () => void {
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


  /**
   * A value that changes whenever `stream` may have gained an entry other than telemetry: this connection
   * appended one, or another connection committed anything (data_version). Taken before a read of the
   * stream, it tells a reader whether reading again could find anything new (BatchJournal.state).
   */
  streamMark(stream: string): string {
    return `${this.dataVersion()}:${this.ownWrites.get(stream) ?? 0}`;
  }


  /**
   * Live status for `workcell status`: a view rewritten as things change, not part of the record. Checked
   * against its schema (live-status.ts) as JSON stores it: a status that does not match is refused.
   */
  writeStatus(key: typeof LIVE_STATUS_KEY, value: LiveStatus): void {
    const text = JSON.stringify(value);
    const problem = liveStatusProblem(JSON.parse(text));
    if (problem !== undefined) throw new Error(`refused a live status: it ${problem}`);
    this.prepared('INSERT INTO live_status (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at').run(key, text, wallNow());
  }

  /**
   * The status view, checked against its schema: `value` when it matches, else undefined and `problem`
   * saying which field does not (a view written by hand, or by another version of Workcell). Undefined
   * when no orchestrator has written one.
   */
  readStatus(): LiveStatusRead | undefined {
    const row = this.prepared('SELECT value, updated_at FROM live_status WHERE key = ?').get(LIVE_STATUS_KEY) as { value: string; updated_at: number } | undefined;
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
    const anchored = compareWithCheckpoints(inLogOrder, this.checkpointVerdicts.current(), stream);
    return { ...chains, breaks: [...chains.breaks, ...invalidEntryBreaks(rows), ...anchored.breaks], checkpoints: anchored.report };
  }

  /** The checkpoint keys and signed checkpoints the log holds (for copying them with the entries). */
  checkpointRecords(): ReturnType<typeof readCheckpoints> {
    return readCheckpoints(this.db);
  }


  /** This log's identity, made once when the file is created: it names the log wherever it is copied. */
  get id(): string {
    const hasMeta = this.prepared("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get() !== undefined;
    // A log written before logs had ids, opened read-only, has none yet: '' (the next read-write open gives it one).
    return hasMeta ? ((this.prepared("SELECT value FROM meta WHERE key = 'id'").get() as { value: string } | undefined)?.value ?? '') : '';
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

/** The database of a log: created first (privately) unless opened read-only. */
function openLog(file: string, readonly: boolean): Database.Database {
  if (!readonly) createPrivately(file);
  return new Database(file, { readonly, fileMustExist: readonly });
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

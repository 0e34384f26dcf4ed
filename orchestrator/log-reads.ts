/**
 * Reading the event log (event-log.ts): the queries of one connection, each statement prepared once, and
 * SQLite's data_version, by which the connection knows whether another one has committed. Entries read
 * back are checked against their schemas (stored-entries.ts); rows() and rowPage() give them as stored.
 */
import type Database from 'better-sqlite3';
import type { StoredRow } from './log-entry.ts';
import { storedEntry } from './stored-entries.ts';
import { isEntryOf, type EntryType, type LogEntry } from './entries/index.ts';

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

export class LogReads {
  private readonly statements = new Map<string, Database.Statement>();

  constructor(protected readonly db: Database.Database) {}

  /**
   * The statement of `sql`, prepared once for this connection: preparing costs more than running most of
   * these (a journal asks for its batch's new entries thousands of times in a run).
   */
  protected prepared(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** SQLite's data_version of this connection: it changes when another connection commits. */
  dataVersion(): number {
    return this.prepared('PRAGMA data_version').pluck().get() as number;
  }

  /** Entries with after < seq <= upTo, of the given types (all when undefined), in log order. */
  between(after: number, upTo: number, types?: readonly string[]): LogEntry[] {
    const ofTypes = types ? ` AND type IN (${types.map(() => '?').join(',')})` : '';
    return (this.prepared(`SELECT * FROM events WHERE seq > ? AND seq <= ?${ofTypes} ORDER BY seq`).all(after, upTo, ...(types ?? [])) as Row[]).map(entryOfRow);
  }

  /** A stream's entries in order; `afterStreamSeq`: only those after that position. */
  stream(stream: string, options: { withoutTelemetry?: boolean; afterStreamSeq?: number } = {}): LogEntry[] {
    const sql = `SELECT * FROM events WHERE stream = ? AND stream_seq > ?${options.withoutTelemetry ? " AND type <> 'telemetry'" : ''} ORDER BY stream_seq`;
    return (this.prepared(sql).all(stream, options.afterStreamSeq ?? 0) as Row[]).map(entryOfRow);
  }

  /** Entries appended after `seq` (by any process), in order. */
  since(seq: number): LogEntry[];
  since<T extends EntryType>(seq: number, types: readonly T[]): Array<LogEntry<T>>;
  since(seq: number, types?: readonly EntryType[]): LogEntry[] {
    if (!types) return (this.prepared('SELECT * FROM events WHERE seq > ? ORDER BY seq').all(seq) as Row[]).map(entryOfRow);
    const rows = this.prepared(`SELECT * FROM events WHERE seq > ? AND type IN (${types.map(() => '?').join(',')}) ORDER BY seq`).all(seq, ...types) as Row[];
    return rows.map(entryOfRow).filter(isEntryOf(types));
  }

  ofType<T extends EntryType>(type: T): Array<LogEntry<T>> {
    return (this.prepared('SELECT * FROM events WHERE type = ? ORDER BY seq').all(type) as Row[]).map(entryOfRow).filter(isEntryOf([type]));
  }

  streams(): string[] {
    return (this.prepared('SELECT stream FROM events GROUP BY stream ORDER BY MIN(seq)').all() as Array<{ stream: string }>).map((r) => r.stream);
  }

  count(): number {
    return (this.prepared('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  /** The latest workcell time any entry carries (0 for an empty log). */
  lastAt(): number {
    return (this.prepared('SELECT COALESCE(MAX(at), 0) AS n FROM events').get() as { n: number }).n;
  }

  /** Entries at log positions up to `seq`. */
  countUpTo(seq: number): number {
    return (this.prepared('SELECT COUNT(*) AS n FROM events WHERE seq <= ?').get(seq) as { n: number }).n;
  }

  lastSeq(): number {
    return (this.prepared('SELECT COALESCE(MAX(seq), 0) AS n FROM events').get() as { n: number }).n;
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
    const read = (stream === undefined ? this.prepared('SELECT * FROM events ORDER BY seq').all() : this.prepared('SELECT * FROM events WHERE stream = ? ORDER BY stream_seq').all(stream)) as Row[];
    return { rows: read.map(fromRow), storedData: read.map((row) => row.data) };
  }

  /** Entries after `seq` in log order, at most `limit` of them: for publishing the log page by page. */
  page(afterSeq: number, limit: number): LogEntry[] {
    return this.rowPage(afterSeq, limit).map(storedEntry);
  }

  /** Like page(), as stored: for copying the log elsewhere, which checks each entry's hash before its data. */
  rowPage(afterSeq: number, limit: number): StoredRow[] {
    return (this.prepared('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Row[]).map(fromRow);
  }
}

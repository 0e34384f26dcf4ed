/**
 * A copy of workcell event logs in a site's PostgreSQL, for retention, backup and queries across
 * workcells (Part 11: records kept and retrievable for as long as they must be). The orchestrator keeps
 * writing its local SQLite log, which works when the network does not; the mirror ships entries that
 * are committed there, page by page, each page in one PostgreSQL transaction. It never changes what it
 * copies: every entry must continue its stream's chain as already mirrored and match its own hash, or
 * the page is refused, so a log altered after shipping cannot overwrite or extend the copy silently.
 * PostgreSQL triggers refuse UPDATE and DELETE, as SQLite's do.
 */
import pg from 'pg';
import { canonicalJson, entryHash, verifyChains, type ChainBreak, type EventLog, type LogEntry } from './event-log.ts';

const GENESIS = '0'.repeat(64);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS workcell_logs (
  source TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  first_mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS workcell_events (
  source TEXT NOT NULL REFERENCES workcell_logs (source),
  seq BIGINT NOT NULL,
  stream TEXT NOT NULL,
  stream_seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  at BIGINT NOT NULL,
  recorded_at BIGINT NOT NULL,
  data TEXT NOT NULL,
  data_json JSONB GENERATED ALWAYS AS (data::jsonb) STORED,
  previous_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (source, seq),
  UNIQUE (source, stream, stream_seq)
);
CREATE INDEX IF NOT EXISTS workcell_events_by_stream ON workcell_events (stream, type);
CREATE OR REPLACE FUNCTION workcell_events_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the mirrored event log is append-only: entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'workcell_events_are_append_only') THEN
    CREATE TRIGGER workcell_events_are_append_only BEFORE UPDATE OR DELETE ON workcell_events
      FOR EACH ROW EXECUTE FUNCTION workcell_events_append_only();
  END IF;
END $$;
`;

/** The connection string with its tables looked up in `schema` (one site database, several copies). */
export function inSchema(connectionString: string, schema: string): string {
  return `${connectionString}${connectionString.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** A log that cannot be mirrored as it is: it no longer continues what was already copied. */
export class MirrorRefused extends Error {}

export interface MirrorProgress {
  source: string;
  copied: number;
  /** The highest log position now in PostgreSQL. */
  mirroredSeq: number;
  /** Entries of the local log still to copy after this call (0 when caught up). */
  behind: number;
}

interface Row {
  seq: string;
  stream: string;
  stream_seq: number;
  type: string;
  at: string;
  recorded_at: string;
  data: string;
  previous_hash: string;
  hash: string;
}

export class PostgresMirror {
  private readonly pool: pg.Pool;
  private schemaReady?: Promise<void>;

  constructor(connectionString: string, readonly pageSize = 500) {
    this.pool = new pg.Pool({ connectionString, max: 2 });
  }

  private ensureSchema(): Promise<void> {
    this.schemaReady ??= (async () => {
      const client = await this.pool.connect();
      try {
        // Two mirrors starting at once must not race on CREATE ... IF NOT EXISTS.
        await client.query('BEGIN');
        await client.query("SELECT pg_advisory_xact_lock(hashtext('workcell_events schema'))");
        await client.query(SCHEMA);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    })();
    return this.schemaReady;
  }

  /** Copies every committed entry of `log` not yet in PostgreSQL, `pageSize` per transaction. */
  async ship(log: EventLog): Promise<MirrorProgress> {
    await this.ensureSchema();
    const source = log.id;
    let copied = 0;
    let mirroredSeq = 0;
    for (;;) {
      const page = await this.shipPage(log, source);
      copied += page.copied;
      mirroredSeq = page.mirroredSeq;
      if (page.copied === 0) break;
    }
    return { source, copied, mirroredSeq, behind: Math.max(0, log.lastSeq() - mirroredSeq) };
  }

  private async shipPage(log: EventLog, source: string): Promise<{ copied: number; mirroredSeq: number }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // One shipper per log at a time; a second waits rather than copying the same page twice.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [source]);
      await client.query('INSERT INTO workcell_logs (source, file) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING', [source, log.file]);
      const done = Number((await client.query<{ seq: string | null }>('SELECT MAX(seq) AS seq FROM workcell_events WHERE source = $1', [source])).rows[0]!.seq ?? 0);
      const entries = log.page(done, this.pageSize);
      if (entries.length === 0) {
        await client.query('COMMIT');
        return { copied: 0, mirroredSeq: done };
      }
      const streams = [...new Set(entries.map((e) => e.stream))];
      const heads = new Map<string, { streamSeq: number; hash: string }>();
      const found = await client.query<{ stream: string; stream_seq: number; hash: string }>(
        'SELECT DISTINCT ON (stream) stream, stream_seq, hash FROM workcell_events WHERE source = $1 AND stream = ANY($2) ORDER BY stream, stream_seq DESC',
        [source, streams],
      );
      for (const row of found.rows) heads.set(row.stream, { streamSeq: row.stream_seq, hash: row.hash });
      for (const entry of entries) {
        const head = heads.get(entry.stream) ?? { streamSeq: 0, hash: GENESIS };
        if (entry.streamSeq !== head.streamSeq + 1 || entry.previousHash !== head.hash || entryHash(entry) !== entry.hash) {
          throw new MirrorRefused(`${log.file}: entry ${entry.streamSeq} of ${entry.stream} (log position ${entry.seq}) does not continue the mirrored chain (mirrored up to entry ${head.streamSeq}); the local log was altered or is not the log mirrored as ${source}; nothing of this page was copied`);
        }
        heads.set(entry.stream, { streamSeq: entry.streamSeq, hash: entry.hash });
      }
      const columns = 10;
      const placeholders = entries.map((_, i) => `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`).join(', ');
      const values = entries.flatMap((e) => [source, e.seq, e.stream, e.streamSeq, e.type, Math.round(e.at), e.recordedAt, canonicalJson(e.data), e.previousHash, e.hash]);
      await client.query(`INSERT INTO workcell_events (source, seq, stream, stream_seq, type, at, recorded_at, data, previous_hash, hash) VALUES ${placeholders}`, values);
      await client.query('COMMIT');
      return { copied: entries.length, mirroredSeq: entries.at(-1)!.seq };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /** The mirrored logs: their identity, file they came from, and how many entries are copied. */
  async logs(): Promise<Array<{ source: string; file: string; entries: number; lastSeq: number }>> {
    await this.ensureSchema();
    const result = await this.pool.query<{ source: string; file: string; entries: string; last_seq: string | null }>(
      'SELECT l.source, l.file, COUNT(e.seq) AS entries, MAX(e.seq) AS last_seq FROM workcell_logs l LEFT JOIN workcell_events e USING (source) GROUP BY l.source, l.file ORDER BY l.first_mirrored_at',
    );
    return result.rows.map((r) => ({ source: r.source, file: r.file, entries: Number(r.entries), lastSeq: Number(r.last_seq ?? 0) }));
  }

  /** Recomputes the chains of one mirrored log from what PostgreSQL holds. */
  async verify(source: string): Promise<{ entries: number; streams: number; breaks: ChainBreak[] }> {
    await this.ensureSchema();
    const result = await this.pool.query<Row>('SELECT seq, stream, stream_seq, type, at, recorded_at, data, previous_hash, hash FROM workcell_events WHERE source = $1 ORDER BY seq', [source]);
    return verifyChains(result.rows.map(fromRow));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

function fromRow(row: Row): LogEntry {
  return { seq: Number(row.seq), stream: row.stream, streamSeq: row.stream_seq, type: row.type, at: Number(row.at), recordedAt: Number(row.recorded_at), data: JSON.parse(row.data) as Record<string, unknown>, previousHash: row.previous_hash, hash: row.hash };
}

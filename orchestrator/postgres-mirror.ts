/**
 * A copy of workcell event logs in a site's PostgreSQL, for retention, backup and queries across
 * workcells (Part 11: records kept and retrievable for as long as they must be). The orchestrator keeps
 * writing its local SQLite log, which works when the network does not; the mirror ships entries that
 * are committed there, page by page, each page in one PostgreSQL transaction, then the log's signed
 * checkpoints. It never changes what it copies: every entry must continue its stream's chain as already
 * mirrored and match its own hash, every checkpoint must verify and follow the last one copied, or
 * nothing of the page goes; a local log that holds less than its copy (truncated, rolled back) is
 * refused, saying so. PostgreSQL triggers, in each schema that holds a copy, refuse UPDATE, DELETE
 * and TRUNCATE, as SQLite's do; `verify` checks that they are there.
 */
import { userInfo } from 'node:os';
import pg from 'pg';
import { canonicalJson, checkedEntries, entryHash, invalidEntryBreaks, storedEntry, verifyChains, type ChainBreak, type EventLog, type LogEntry, type LogVerification, type StoredRow } from './event-log.ts';
import { checkpointHash, keyFromRow, signatureValid, verifyCheckpoints, type Checkpoint, type CheckpointKey } from './checkpoints.ts';
import { compareWithCopy } from './mirror-compare.ts';

const GENESIS = '0'.repeat(64);

/** The copy's tables; each has its own append-only triggers. */
const TABLES = ['workcell_events', 'workcell_checkpoint_keys', 'workcell_checkpoints'] as const;

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
-- The entry format version (NULL in entries written before entries carried it); a copy made before gains the column.
ALTER TABLE workcell_events ADD COLUMN IF NOT EXISTS format_version INTEGER;
CREATE INDEX IF NOT EXISTS workcell_events_by_stream ON workcell_events (stream, type);
CREATE TABLE IF NOT EXISTS workcell_checkpoint_keys (
  source TEXT NOT NULL REFERENCES workcell_logs (source),
  key_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  public_key TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  replaces TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (source, key_id)
);
CREATE TABLE IF NOT EXISTS workcell_checkpoints (
  source TEXT NOT NULL REFERENCES workcell_logs (source),
  number INTEGER NOT NULL,
  data TEXT NOT NULL,
  mirrored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (source, number)
);
CREATE OR REPLACE FUNCTION workcell_events_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'the mirrored event log is append-only: entries cannot be changed or deleted';
END;
$$ LANGUAGE plpgsql;
DO $$
DECLARE t text;
BEGIN
  -- Per schema: another schema's copy (in the same database) having its triggers does not protect this one.
  FOREACH t IN ARRAY ARRAY['${TABLES.join("','")}'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_are_append_only' AND tgrelid = to_regclass(format('%I.%I', current_schema(), t))) THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I.%I FOR EACH ROW EXECUTE FUNCTION %I.workcell_events_append_only()', t || '_are_append_only', current_schema(), t, current_schema());
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = t || '_are_never_truncated' AND tgrelid = to_regclass(format('%I.%I', current_schema(), t))) THEN
      EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %I.workcell_events_append_only()', t || '_are_never_truncated', current_schema(), t, current_schema());
    END IF;
  END LOOP;
END $$;
`;

/** The connection string with its tables looked up in `schema` (one site database, several copies). */
export function inSchema(connectionString: string, schema: string): string {
  return `${connectionString}${connectionString.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/**
 * The connection string with libpq's default user where it names none: PGUSER, else the operating
 * system's user name (as psql does). Host, port, password (PGPASSWORD, ~/.pgpass) and the rest follow
 * the usual PG* variables through the driver.
 */
export function withLibpqDefaults(connectionString: string, env: NodeJS.ProcessEnv = process.env): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new Error('the PostgreSQL URL is not valid; write it as postgres://[USER@]HOST[:PORT]/DATABASE');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error(`a PostgreSQL URL starts with postgres://, not ${url.protocol}//`);
  if (url.username || url.searchParams.has('user')) return connectionString;
  const user = env.PGUSER || userInfo().username;
  return `${connectionString}${connectionString.includes('?') ? '&' : '?'}user=${encodeURIComponent(user)}`;
}

/** A schema name as PostgreSQL takes it unquoted. */
export function checkSchemaName(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) throw new Error(`--schema takes a PostgreSQL name (letters, digits and '_', not starting with a digit), not '${schema}'`);
  return schema.toLowerCase();
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
  /** Signed checkpoints copied by this call. */
  checkpoints: number;
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
  format_version: number | null;
}

export class PostgresMirror {
  private readonly pool: pg.Pool;
  private schemaReady?: Promise<void>;
  readonly schema: string | undefined;

  constructor(connectionString: string, readonly pageSize = 500, options: { schema?: string } = {}) {
    this.schema = options.schema === undefined ? undefined : checkSchemaName(options.schema);
    const url = withLibpqDefaults(connectionString);
    this.pool = new pg.Pool({ connectionString: this.schema ? inSchema(url, this.schema) : url, max: 2 });
  }

  private ensureSchema(): Promise<void> {
    this.schemaReady ??= this.transaction(async (client) => {
      // Two mirrors starting at once must not race on CREATE ... IF NOT EXISTS.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('workcell_events schema'))");
      if (this.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(SCHEMA);
    });
    return this.schemaReady;
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Copies every committed entry of `log` not yet in PostgreSQL, `pageSize` per transaction (each page
   * reported to `onPage`), then its new checkpoints. Refuses a local log that holds less than its copy.
   */
  async ship(log: EventLog, options: { onPage?: (progress: Omit<MirrorProgress, 'behind' | 'checkpoints'>) => void } = {}): Promise<MirrorProgress> {
    await this.ensureSchema();
    const source = log.id;
    let copied = 0;
    let mirroredSeq = 0;
    for (let first = true; ; first = false) {
      const page = await this.shipPage(log, source, first);
      copied += page.copied;
      mirroredSeq = page.mirroredSeq;
      if (page.copied === 0) break;
      options.onPage?.({ source, copied, mirroredSeq });
    }
    const checkpoints = await this.shipCheckpoints(log, source, mirroredSeq);
    return { source, copied, mirroredSeq, behind: Math.max(0, log.lastSeq() - mirroredSeq), checkpoints };
  }

  private async shipPage(log: EventLog, source: string, first: boolean): Promise<{ copied: number; mirroredSeq: number }> {
    return this.transaction(async (client) => {
      // One shipper per log at a time; a second waits rather than copying the same page twice.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [source]);
      await client.query('INSERT INTO workcell_logs (source, file) VALUES ($1, $2) ON CONFLICT (source) DO NOTHING', [source, log.file]);
      const mirrored = (await client.query<{ seq: string | null; n: string }>('SELECT MAX(seq) AS seq, COUNT(*) AS n FROM workcell_events WHERE source = $1', [source])).rows[0]!;
      const done = Number(mirrored.seq ?? 0);
      if (first) refuseIfBehind(log, source, done, Number(mirrored.n));
      const entries = log.rowPage(done, this.pageSize);
      if (entries.length === 0) return { copied: 0, mirroredSeq: done };
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
      const [invalid] = checkedEntries(entries).invalid;
      if (invalid) throw new MirrorRefused(`${log.file}: ${invalid.message}; nothing of this page was copied`);
      const columns = 11;
      const placeholders = entries.map((_, i) => `(${Array.from({ length: columns }, (_, c) => `$${i * columns + c + 1}`).join(', ')})`).join(', ');
      const values = entries.flatMap((e) => [source, e.seq, e.stream, e.streamSeq, e.type, Math.round(e.at), e.recordedAt, canonicalJson(e.data), e.previousHash, e.hash, e.formatVersion ?? null]);
      await client.query(`INSERT INTO workcell_events (source, seq, stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version) VALUES ${placeholders}`, values);
      return { copied: entries.length, mirroredSeq: entries.at(-1)!.seq };
    });
  }

  /** Copies the keys and the checkpoints (over entries already copied) that the copy lacks, each verified. */
  private async shipCheckpoints(log: EventLog, source: string, mirroredSeq: number): Promise<number> {
    const local = log.checkpointRecords();
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [source]);
      const copy = await this.recordsOf(source, client);
      const last = copy.checkpoints.at(-1);
      const localLast = local.checkpoints.at(-1);
      if (last && (!localLast || localLast.number < last.number)) {
        throw new MirrorRefused(`${log.file}: the local log holds ${local.checkpoints.length} signed checkpoints, its copy ${copy.checkpoints.length}: its checkpoints after ${localLast?.number ?? 0} were removed (rolled back); workcell verify ${log.file} --postgres URL names what differs`);
      }
      if (last && local.checkpoints.find((c) => c.number === last.number) && checkpointHash(local.checkpoints.find((c) => c.number === last.number)!) !== checkpointHash(last)) {
        throw new MirrorRefused(`${log.file}: checkpoint ${last.number} differs from the one copied: the local checkpoints were replaced`);
      }
      for (const key of local.keys.filter((k) => !copy.keys.some((c) => c.keyId === k.keyId))) {
        await client.query('INSERT INTO workcell_checkpoint_keys (source, key_id, algorithm, public_key, recorded_at, replaces, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)', [source, key.keyId, key.algorithm, key.publicKey, key.recordedAt, key.replaces, key.reason]);
      }
      const keys = new Map([...copy.keys, ...local.keys].map((k) => [k.keyId, k]));
      let previous = last;
      let shipped = 0;
      for (const checkpoint of local.checkpoints.filter((c) => c.number > (last?.number ?? 0) && c.upToSeq <= mirroredSeq)) {
        const key = keys.get(checkpoint.keyId);
        const follows = checkpoint.number === (previous?.number ?? 0) + 1 && checkpoint.previous === (previous ? checkpointHash(previous) : null);
        if (!key || !signatureValid(source, checkpoint, key) || !follows) throw new MirrorRefused(`${log.file}: checkpoint ${checkpoint.number} ${!follows ? 'does not follow the last one copied' : 'does not verify'}; nothing of it was copied (workcell verify ${log.file} says more)`);
        await client.query('INSERT INTO workcell_checkpoints (source, number, data) VALUES ($1, $2, $3)', [source, checkpoint.number, JSON.stringify(checkpoint)]);
        previous = checkpoint;
        shipped++;
      }
      return shipped;
    });
  }

  private async recordsOf(source: string, client: pg.Pool | pg.PoolClient = this.pool): Promise<{ keys: CheckpointKey[]; checkpoints: Checkpoint[] }> {
    // A copy made before checkpoints were mirrored has no such tables until the next `workcell mirror`.
    const tables = await client.query<{ table: string | null }>("SELECT to_regclass(format('%I.%I', current_schema(), 'workcell_checkpoints'))::text AS table");
    if (tables.rows[0]?.table === null) return { keys: [], checkpoints: [] };
    const keys = await client.query<Record<string, string | null>>('SELECT key_id, algorithm, public_key, recorded_at, replaces, reason FROM workcell_checkpoint_keys WHERE source = $1 ORDER BY recorded_at, key_id', [source]);
    const checkpoints = await client.query<{ data: string }>('SELECT data FROM workcell_checkpoints WHERE source = $1 ORDER BY number', [source]);
    return { keys: keys.rows.map(keyFromRow), checkpoints: checkpoints.rows.map((r) => JSON.parse(r.data) as Checkpoint) };
  }

  /** Whether this database (schema) holds a copy at all; reading never creates one. */
  private async exists(): Promise<boolean> {
    const found = await this.pool.query<{ table: string | null }>("SELECT to_regclass(format('%I.%I', current_schema(), 'workcell_logs'))::text AS table");
    return found.rows[0]?.table !== null;
  }

  /** The mirrored logs: their identity, file they came from, and how many entries are copied. */
  async logs(): Promise<Array<{ source: string; file: string; entries: number; lastSeq: number }>> {
    if (!(await this.exists())) return [];
    const result = await this.pool.query<{ source: string; file: string; entries: string; last_seq: string | null }>(
      'SELECT l.source, l.file, COUNT(e.seq) AS entries, MAX(e.seq) AS last_seq FROM workcell_logs l LEFT JOIN workcell_events e USING (source) GROUP BY l.source, l.file ORDER BY l.first_mirrored_at',
    );
    return result.rows.map((r) => ({ source: r.source, file: r.file, entries: Number(r.entries), lastSeq: Number(r.last_seq ?? 0) }));
  }

  /** Entries of these types of every mirrored log, each log's in its order: what a site view across workcells reads. */
  async entriesOfTypes(types: readonly string[]): Promise<Array<{ source: string; entry: LogEntry }>> {
    if (!(await this.exists())) return [];
    const result = await this.pool.query<Row & { source: string }>('SELECT source, seq, stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version FROM workcell_events WHERE type = ANY($1::text[]) ORDER BY source, seq', [types]);
    return result.rows.map((row) => ({ source: row.source, entry: storedEntry(fromRow(row)) }));
  }

  /** The copied entries of a log, as stored: their data is checked where they are read (verify names what fails). */
  private async entriesOf(source: string): Promise<StoredRow[]> {
    const result = await this.pool.query<Row>('SELECT seq, stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version FROM workcell_events WHERE source = $1 ORDER BY seq', [source]);
    return result.rows.map(fromRow);
  }

  /** The copy's tables whose append-only triggers are missing or disabled in this schema. */
  async unguardedTables(): Promise<string[]> {
    const result = await this.pool.query<{ table: string; guarded: boolean }>(
      `SELECT t AS table, (SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = to_regclass(format('%I.%I', current_schema(), t)) AND tgname IN (t || '_are_append_only', t || '_are_never_truncated') AND tgenabled <> 'D') = 2 AS guarded
       FROM unnest($1::text[]) AS t`,
      [TABLES],
    );
    return result.rows.filter((r) => !r.guarded).map((r) => r.table);
  }

  /** Recomputes the chains of one mirrored log from what PostgreSQL holds, and checks them against its checkpoints and triggers. */
  async verify(source: string): Promise<LogVerification> {
    const entries = await this.entriesOf(source);
    const chains = verifyChains(entries);
    const anchored = verifyCheckpoints(source, entries, await this.recordsOf(source));
    const unguarded: ChainBreak[] = (await this.unguardedTables()).map((table) => ({ stream: table, streamSeq: 0, problem: 'unguarded', message: `the copy's table ${table} has no enabled append-only triggers (${table}_are_append_only, ${table}_are_never_truncated) in this schema: its rows could be changed or deleted` }));
    return { ...chains, breaks: [...unguarded, ...chains.breaks, ...invalidEntryBreaks(entries), ...anchored.breaks], checkpoints: anchored.report };
  }

  /** What of the local `log` differs from its copy: entries and checkpoints missing locally, entries changed. */
  async compare(log: EventLog): Promise<ChainBreak[]> {
    if (!(await this.exists())) return [];
    const source = log.id;
    return compareWithCopy(log, await this.entriesOf(source), await this.recordsOf(source));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A local log with fewer entries than its copy lost some: shipping on would hide that. */
function refuseIfBehind(log: EventLog, source: string, mirroredSeq: number, mirroredCount: number): void {
  const localLast = log.lastSeq();
  const localCount = log.countUpTo(mirroredSeq);
  if (localLast >= mirroredSeq && localCount >= mirroredCount) return;
  const missing = mirroredCount - localCount;
  throw new MirrorRefused(`${log.file}: the local log is behind its copy (${source}): the copy holds ${mirroredCount} entries up to log position ${mirroredSeq}, the local log ${localCount}${localLast < mirroredSeq ? ` ending at ${localLast}` : ''}; ${missing} ${missing === 1 ? 'entry was' : 'entries were'} removed locally. Nothing was copied; workcell verify ${log.file} --postgres URL names them`);
}

function fromRow(row: Row): StoredRow {
  return { seq: Number(row.seq), stream: row.stream, streamSeq: row.stream_seq, type: row.type, at: Number(row.at), recordedAt: Number(row.recorded_at), data: JSON.parse(row.data) as unknown, previousHash: row.previous_hash, hash: row.hash, ...(row.format_version == null ? {} : { formatVersion: row.format_version }) };
}

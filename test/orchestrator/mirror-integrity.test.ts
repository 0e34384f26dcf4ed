/**
 * The PostgreSQL copy as the anchor a local forger cannot reach: it holds the signed checkpoints, it is
 * append-only in every schema that holds one, and it names what a local log lost or changed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { entryHash, EventLog, type LogEntry } from '../../orchestrator/event-log.ts';
import { PostgresMirror, withLibpqDefaults } from '../../orchestrator/postgres-mirror.ts';
import { startCli } from '../support/background-cli.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { editData, forge, recordedBatches } from '../support/forger.ts';
import { POSTGRES_URL, postgresSchema } from '../support/services.ts';
import { sample } from '../support/entries.ts';

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

async function mirrored(url: string): Promise<{ file: string; source: string }> {
  const file = recordedBatches();
  const mirror = new PostgresMirror(url);
  const log = new EventLog(file, { readonly: true });
  try {
    const shipped = await mirror.ship(log);
    expect(shipped.checkpoints).toBeGreaterThan(0);
    return { file, source: log.id };
  } finally {
    log.close();
    await mirror.close();
  }
}

/** Rolls the local log back by `count` entries, its checkpoints over them too: locally it then looks complete. */
function rollBack(file: string, count: number): void {
  forge(file, (db) => {
    const keep = (db.prepare('SELECT MAX(seq) - ? AS seq FROM events').get(count) as { seq: number }).seq;
    db.prepare('DELETE FROM events WHERE seq > ?').run(keep);
    for (const row of db.prepare('SELECT number, data FROM checkpoints').all() as Array<{ number: number; data: string }>) {
      if (JSON.parse(row.data).upToSeq > keep) db.prepare('DELETE FROM checkpoints WHERE number = ?').run(row.number);
    }
  }, { rechain: false });
}

describe('the PostgreSQL copy against tampering', () => {
  it('keeps each schema append-only with triggers of its own, another schema having them already', async (ctx) => {
    const first = await postgresSchema(ctx);
    const second = await postgresSchema(ctx);
    try {
      await mirrored(first.url);
      const { source } = await mirrored(second.url);
      await withClient(second.url, async (client) => {
        await expect(client.query("UPDATE workcell_events SET data = '{}' WHERE source = $1", [source])).rejects.toThrow('append-only');
        await expect(client.query('DELETE FROM workcell_events WHERE source = $1', [source])).rejects.toThrow('append-only');
        await expect(client.query('TRUNCATE workcell_events CASCADE')).rejects.toThrow('append-only');
        await expect(client.query('DELETE FROM workcell_checkpoints WHERE source = $1', [source])).rejects.toThrow('append-only');
        await expect(client.query("UPDATE workcell_checkpoint_keys SET public_key = 'x' WHERE source = $1", [source])).rejects.toThrow('append-only');
      });
      const intact = await runCli(['verify', '--postgres', second.url]);
      expect(intact.status).toBe(0);
      expect(intact.stdout).toMatch(/all intact; signed checkpoint \d+ of .* covers every entry\./);
    } finally {
      await first.drop();
      await second.drop();
    }
  }, 60_000);

  it('verify --postgres refuses to call a copy intact whose append-only trigger is gone or disabled', async (ctx) => {
    const db = await postgresSchema(ctx);
    try {
      await mirrored(db.url);
      await withClient(db.url, (c) => c.query('DROP TRIGGER workcell_events_are_append_only ON workcell_events'));
      const dropped = await runCli(['verify', '--postgres', db.url]);
      expect(dropped.status).toBe(1);
      expect(dropped.stdout).toContain("unguarded: the copy's table workcell_events has no enabled append-only triggers");
      await withClient(db.url, (c) => c.query('ALTER TABLE workcell_checkpoints DISABLE TRIGGER workcell_checkpoints_are_append_only'));
      const disabled = await runCli(['verify', '--postgres', db.url]);
      expect(disabled.stdout).toContain("the copy's table workcell_checkpoints has no enabled append-only triggers");
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('names a local rollback that local checkpoints cannot show, and mirror refuses to go on from it', async (ctx) => {
    const db = await postgresSchema(ctx);
    try {
      const { file } = await mirrored(db.url);
      rollBack(file, 4);
      // Locally the rolled-back log is consistent: this is what only the copy can show.
      expect((await runCli(['verify', file])).status).toBe(0);
      const against = await runCli(['verify', file, '--postgres', db.url]);
      expect(against.status).toBe(1);
      expect(against.stdout).toContain('P-001: 3 entries the copy in PostgreSQL holds are missing locally (entries 5..7)');
      expect(against.stdout).toContain('P-002: 1 entry the copy in PostgreSQL holds is missing locally (entry 4)');
      expect(against.stdout).toMatch(/signed checkpoints? [\d.]+ the copy in PostgreSQL holds (is|are) missing locally: the log was rolled back/);
      const shipped = await runCli(['mirror', '--postgres', db.url, '--db', file]);
      expect(shipped.status).toBe(1);
      expect(shipped.stdout).not.toContain('entries copied');
      expect(shipped.stderr).toMatch(/the local log is behind its copy .*: the copy holds \d+ entries up to log position \d+, the local log \d+ ending at \d+; 4 entries were removed locally/);
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('names a local chain recomputed after it was copied', async (ctx) => {
    const db = await postgresSchema(ctx);
    try {
      const { file } = await mirrored(db.url);
      forge(file, (raw) => editData(raw, (raw.prepare("SELECT seq FROM events WHERE stream = 'P-002' AND type = 'step.completed'").get() as { seq: number }).seq, (d) => (d.results.viability = 99.9)));
      const against = await runCli(['verify', file, '--postgres', db.url]);
      expect(against.status).toBe(1);
      expect(against.stdout).toMatch(/P-002: entry 3 \(log position \d+\) differs from its copy in PostgreSQL/);
      expect(against.stdout).toContain('P-002: head differs from the signed checkpoint');
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('verify --postgres names a chain recomputed inside the copy, and a copied tail deleted there', async (ctx) => {
    const db = await postgresSchema(ctx);
    try {
      const { source } = await mirrored(db.url);
      await withClient(db.url, async (client) => {
        await client.query('ALTER TABLE workcell_events DISABLE TRIGGER workcell_events_are_append_only');
        const rows = (await client.query("SELECT * FROM workcell_events WHERE source = $1 AND stream = 'P-002' ORDER BY stream_seq", [source])).rows;
        let previous = '0'.repeat(64);
        for (const row of rows) {
          const data = JSON.parse(row.data);
          if (row.type === 'step.completed') data.results.viability = 99.9;
          const entry: Omit<LogEntry, 'hash' | 'seq'> = { stream: row.stream, streamSeq: row.stream_seq, type: row.type, at: Number(row.at), recordedAt: Number(row.recorded_at), data, previousHash: previous };
          previous = entryHash(entry);
          await client.query('UPDATE workcell_events SET data = $1, previous_hash = $2, hash = $3 WHERE source = $4 AND seq = $5', [JSON.stringify(data), entry.previousHash, previous, source, row.seq]);
        }
        await client.query("DELETE FROM workcell_events WHERE source = $1 AND seq = (SELECT MAX(seq) FROM workcell_events WHERE source = $1 AND stream = 'P-001')", [source]);
        await client.query('ALTER TABLE workcell_events ENABLE TRIGGER workcell_events_are_append_only');
      });
      const result = await runCli(['verify', '--postgres', db.url]);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain('P-002: head differs from the signed checkpoint');
      expect(result.stdout).toContain('P-001: 1 entry missing since checkpoint');
    } finally {
      await db.drop();
    }
  }, 60_000);

  it('follows libpq: the user from PGUSER or else the operating system, and --schema NAME', async (ctx) => {
    expect(withLibpqDefaults('postgres://127.0.0.1:5432/records', { PGUSER: 'mirror' })).toBe('postgres://127.0.0.1:5432/records?user=mirror');
    expect(withLibpqDefaults('postgres://127.0.0.1:5432/records?sslmode=require', {})).toBe(`postgres://127.0.0.1:5432/records?sslmode=require&user=${encodeURIComponent(userInfo().username)}`);
    expect(withLibpqDefaults('postgres://site@127.0.0.1/records', { PGUSER: 'mirror' })).toBe('postgres://site@127.0.0.1/records');
    expect(() => withLibpqDefaults('http://127.0.0.1/records')).toThrow('starts with postgres://');

    const probe = await postgresSchema(ctx); // skips the test without PostgreSQL
    await probe.drop();
    const schema = `workcell_test_${randomBytes(6).toString('hex')}`;
    const anonymous = new URL(POSTGRES_URL);
    const testUser = decodeURIComponent(anonymous.username);
    anonymous.username = '';
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-libpq-')), 'records.db'));
    log.append({ stream: 'P-001', type: 'batch.started', at: 1, data: sample('batch.started') });
    log.close();
    try {
      const osUser = userInfo().username;
      const osRole = await withClient(POSTGRES_URL, async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [osUser])).rowCount === 1);
      const noUser = await runCli(['mirror', '--postgres', anonymous.toString(), '--schema', schema, '--db', log.file], { env: { USER: '', PGUSER: '', LOGNAME: '' } });
      expect(noUser.stderr).not.toContain('no PostgreSQL user name specified');
      if (osRole) expect(noUser.status).toBe(0);
      else expect(noUser.stderr).toContain(`role "${osUser}" does not exist`);

      const copied = await runCli(['mirror', '--postgres', anonymous.toString(), '--schema', schema, '--db', log.file], { env: { PGUSER: testUser } });
      expect(copied.stderr).toBe('');
      const verified = await runCli(['verify', '--postgres', anonymous.toString(), '--schema', schema], { env: { PGUSER: testUser } });
      expect(verified.status).toBe(0);
      expect(verified.stdout).toContain('1 entries in 1 chains, all intact');
      const bad = await runCli(['mirror', '--postgres', anonymous.toString(), '--schema', 'x; DROP TABLE y', '--db', log.file], { env: { PGUSER: testUser } });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain('--schema takes a PostgreSQL name');
    } finally {
      await withClient(POSTGRES_URL, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    }
  }, 60_000);

  it('mirror --follow prints each page it copies', async (ctx) => {
    const db = await postgresSchema(ctx);
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-follow-')), 'records.db'));
    try {
      log.appendAll(Array.from({ length: 1200 }, (_, i) => ({ stream: `P-${i % 3}`, type: 'telemetry', at: i, data: sample('telemetry', { value: i }) })));
      const follower = await startCli(['mirror', '--postgres', db.url, '--db', log.file, '--follow', '--interval', '0.2'], { cwd: REPO_ROOT, readyWhen: /1200 entries copied/ });
      follower.child.kill('SIGTERM');
      expect(await follower.exited).toBe(0);
      expect(follower.output()).toMatch(/: 500 entries copied, mirrored up to log position \d+\.\n.*: 1000 entries copied, .*\n.*: 1200 entries copied/);
    } finally {
      log.close();
      await db.drop();
    }
  }, 60_000);
});


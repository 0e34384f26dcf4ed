import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { MirrorRefused, PostgresMirror } from '../../orchestrator/postgres-mirror.ts';
import { startCli } from '../support/background-cli.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { postgresSchema } from '../support/services.ts';
import { sample } from '../support/entries.ts';
import { ENTRY_FORMAT_VERSION } from '../../orchestrator/entries.ts';

function freshLog(): EventLog {
  return new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-mirror-')), 'records.db'));
}

function appendSteps(log: EventLog, from: number, to: number): void {
  for (let i = from; i <= to; i++) {
    log.append({ stream: 'P-001', type: 'step.completed', at: 1000 * i, data: sample('step.completed', { step: `s${i}`, results: { viability: 90 - i / 10, note: 'ünïcode ✓' } }) });
    if (i % 3 === 0) log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: 1000 * i + 1, data: sample('alarm', { kind: 'communication', message: `alarm ${i}` }) });
  }
}

describe('the PostgreSQL mirror of event logs', () => {
  it('copies committed entries page by page, each once, and the copy verifies and refuses changes', async (ctx) => {
    const db = await postgresSchema(ctx);
    const mirror = new PostgresMirror(db.url, 7);
    const log = freshLog();
    const other = freshLog();
    try {
      appendSteps(log, 1, 20);
      appendSteps(other, 1, 2);
      const first = await mirror.ship(log);
      expect(first).toMatchObject({ source: log.id, copied: log.count(), mirroredSeq: log.lastSeq(), behind: 0 });
      expect((await mirror.ship(log)).copied).toBe(0);
      appendSteps(log, 21, 25);
      expect((await mirror.ship(log)).copied).toBe(log.count() - first.copied);
      await mirror.ship(other);

      expect(await mirror.logs()).toEqual([
        { source: log.id, file: log.file, entries: log.count(), lastSeq: log.lastSeq() },
        { source: other.id, file: other.file, entries: other.count(), lastSeq: other.lastSeq() },
      ]);
      expect(await mirror.verify(log.id)).toEqual(log.verify());
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const rows = await client.query<{ hash: string; step: string; format_version: number }>("SELECT hash, data_json->>'step' AS step, format_version FROM workcell_events WHERE source = $1 AND stream = 'P-001' ORDER BY stream_seq", [log.id]);
        expect(rows.rows.map((r) => r.hash)).toEqual(log.stream('P-001').map((e) => e.hash));
        expect(new Set(rows.rows.map((r) => r.format_version))).toEqual(new Set([ENTRY_FORMAT_VERSION]));
        expect(rows.rows[0]!.step).toBe('s1');
        await expect(client.query("UPDATE workcell_events SET data = '{}' WHERE source = $1 AND seq = 1", [log.id])).rejects.toThrow('append-only');
        await expect(client.query('DELETE FROM workcell_events WHERE source = $1', [log.id])).rejects.toThrow('append-only');
      } finally {
        await client.end();
      }
    } finally {
      log.close();
      other.close();
      await mirror.close();
      await db.drop();
    }
  });

  it('refuses a page whose entries no longer match their hashes, copying none of it, and keeps the original of a later-altered entry', async (ctx) => {
    const db = await postgresSchema(ctx);
    const mirror = new PostgresMirror(db.url, 100);
    const log = freshLog();
    try {
      appendSteps(log, 1, 5);
      const shipped = await mirror.ship(log);
      appendSteps(log, 6, 8);
      const tamper = (sql: string) => {
        const raw = new Database(log.file);
        raw.exec('DROP TRIGGER IF EXISTS events_are_never_updated');
        raw.exec(sql);
        raw.close();
      };
      // Entry 7 of P-001 is changed before it was shipped: nothing of the page goes.
      tamper(`UPDATE events SET data = '{"step":"s7","results":{"viability":99}}' WHERE stream = 'P-001' AND stream_seq = 7`);
      await expect(mirror.ship(log)).rejects.toThrow(MirrorRefused);
      await expect(mirror.ship(log)).rejects.toThrow('entry 7 of P-001');
      expect((await mirror.logs())[0]!.lastSeq).toBe(shipped.mirroredSeq);
      // Entry 2 is changed after it was shipped: the local log fails verification, the copy still holds the original.
      tamper(`UPDATE events SET data = '{"step":"s2","results":{"viability":99}}' WHERE stream = 'P-001' AND stream_seq = 2`);
      expect(log.verify().breaks.map((b) => b.streamSeq)).toEqual([2]);
      expect((await mirror.verify(log.id)).breaks).toEqual([]);
    } finally {
      log.close();
      await mirror.close();
      await db.drop();
    }
  });

  it('workcell mirror copies a database; workcell verify --postgres checks every mirrored log and names a break', async (ctx) => {
    const db = await postgresSchema(ctx);
    const log = freshLog();
    try {
      appendSteps(log, 1, 4);
      const copied = await runCli(['mirror', '--postgres', db.url, '--db', log.file]);
      expect(copied.stderr).toBe('');
      expect(copied.stdout).toContain(`${log.file} (${log.id}): ${log.count()} entries copied, mirrored up to log position ${log.lastSeq()}.`);
      const intact = await runCli(['verify', '--postgres', db.url]);
      expect(intact.status).toBe(0);
      expect(intact.stdout).toContain(`${log.id} (from ${log.file}): ${log.count()} entries in 2 chains, all intact; signed checkpoint 1 of `);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('ALTER TABLE workcell_events DISABLE TRIGGER workcell_events_are_append_only');
      await client.query(`UPDATE workcell_events SET data = '{"step":"s3"}' WHERE stream = 'P-001' AND stream_seq = 3`);
      await client.end();
      const broken = await runCli(['verify', '--postgres', db.url]);
      expect(broken.status).toBe(1);
      expect(broken.stdout).toContain('altered: entry 3 of P-001');
    } finally {
      log.close();
      await db.drop();
    }
  }, 60_000);

  it('workcell mirror --follow keeps copying what is appended, and stops cleanly on SIGTERM', async (ctx) => {
    const db = await postgresSchema(ctx);
    const log = freshLog();
    const mirror = new PostgresMirror(db.url);
    try {
      appendSteps(log, 1, 3);
      const follower = await startCli(['mirror', '--postgres', db.url, '--db', log.file, '--follow', '--interval', '0.2'], { cwd: REPO_ROOT, readyWhen: /entries copied/ });
      appendSteps(log, 4, 9);
      const deadline = Date.now() + 20_000;
      while ((await mirror.logs())[0]?.lastSeq !== log.lastSeq()) {
        if (Date.now() > deadline) throw new Error(`the follower did not catch up:\n${follower.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      follower.child.kill('SIGTERM');
      expect(await follower.exited).toBe(0);
      expect((await mirror.verify(log.id)).breaks).toEqual([]);
    } finally {
      log.close();
      await mirror.close();
      await db.drop();
    }
  }, 60_000);
});

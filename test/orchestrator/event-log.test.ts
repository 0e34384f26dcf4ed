import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { runCli } from '../support/cli.ts';
import { sample } from '../support/entries.ts';

function freshLog(): EventLog {
  return new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-log-')), 'records.db'));
}

function fill(log: EventLog): void {
  for (let i = 1; i <= 5; i++) {
    log.append({ stream: 'P-001', type: 'step.completed', at: 1000 * i, data: sample('step.completed', { step: `s${i}`, results: { viability: 90 - i } }) });
    log.append({ stream: 'P-002', type: 'step.completed', at: 1000 * i + 1, data: sample('step.completed', { step: `s${i}` }) });
  }
  log.append({ stream: WORKCELL_STREAM, type: 'em.plate.placed', at: 9000, data: sample('em.plate.placed', { plateId: 'SP-1' }) });
}

/** Tampering as someone with file access would: drop the guards, then edit rows. */
function tamper(file: string, sql: string): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER events_are_never_updated; DROP TRIGGER events_are_never_deleted;');
  db.exec(sql);
  db.close();
}

describe('the event log', () => {
  it('is a WAL database with synchronous=FULL, so committed entries survive a crash', () => {
    const log = freshLog();
    expect(log.journalMode).toBe('wal');
    expect(log.synchronous).toBe('FULL');
    log.close();
  });

  it('creates the database, its WAL and its shared memory readable by their owner only (0600), whatever the umask', () => {
    const previous = process.umask(0o022);
    try {
      const log = freshLog();
      fill(log);
      for (const file of [log.file, `${log.file}-wal`, `${log.file}-shm`]) expect((statSync(file).mode & 0o777).toString(8)).toBe('600');
      log.close();
    } finally {
      process.umask(previous);
    }
  });

  it('chains each stream: entries link to their predecessor, numbered without gaps', () => {
    const log = freshLog();
    fill(log);
    const p1 = log.stream('P-001');
    expect(p1.map((e) => e.streamSeq)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < p1.length; i++) expect(p1[i]!.previousHash).toBe(p1[i - 1]!.hash);
    expect(log.streams()).toEqual(['P-001', 'P-002', WORKCELL_STREAM]);
    expect(log.verify()).toMatchObject({ entries: 11, streams: 3, breaks: [] });
    log.close();
  });

  it('refuses to change or delete an entry', () => {
    const log = freshLog();
    fill(log);
    const db = new Database(log.file);
    expect(() => db.prepare("UPDATE events SET data = '{}' WHERE seq = 1").run()).toThrow(/append-only: entries cannot be changed/);
    expect(() => db.prepare('DELETE FROM events WHERE seq = 1').run()).toThrow(/append-only: entries cannot be deleted/);
    db.close();
    log.close();
  });

  it('keeps one chain when two processes append to the same batch', () => {
    const log = freshLog();
    fill(log);
    const other = new EventLog(log.file);
    other.append({ stream: 'P-001', type: 'hold.resolved', at: 7000, data: sample('hold.resolved', { action: 'retry' }) });
    log.append({ stream: 'P-001', type: 'step.started', at: 7001, data: sample('step.started', { step: 's6' }) });
    expect(log.stream('P-001').map((e) => e.streamSeq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(log.verify().breaks).toEqual([]);
    other.close();
    log.close();
  });

  it('holds the write lock from a check to the entry it allows, and keeps neither when the check throws', () => {
    const log = freshLog();
    fill(log);
    const other = new Database(log.file, { timeout: 0 });
    const written = log.atomically(() => {
      log.stream('P-001');
      // Another process (a second operator's `workcell resolve`) cannot write in between.
      expect(() => other.exec('BEGIN IMMEDIATE')).toThrow(/locked|busy/);
      return log.append({ stream: 'P-001', type: 'hold.resolved', at: 7000, data: sample('hold.resolved', { action: 'retry' }) });
    });
    expect(written.streamSeq).toBe(6);
    expect(() =>
      log.atomically(() => {
        log.append({ stream: 'P-001', type: 'hold.resolved', at: 7001, data: sample('hold.resolved', { action: 'skip' }) });
        throw new Error('refused after all');
      }),
    ).toThrow('refused after all');
    expect(log.stream('P-001')).toHaveLength(6);
    expect(log.verify().breaks).toEqual([]);
    other.close();
    log.close();
  });

  it('names the first altered, missing or reordered entry', () => {
    const altered = freshLog();
    fill(altered);
    altered.close();
    tamper(altered.file, `UPDATE events SET data = '{"results":{"viability":99},"step":"s3"}' WHERE stream = 'P-001' AND stream_seq = 3`);
    expect(new EventLog(altered.file).verify().breaks).toEqual([
      expect.objectContaining({ stream: 'P-001', streamSeq: 3, problem: 'altered', message: expect.stringContaining('entry 3 of P-001') }),
    ]);

    const missing = freshLog();
    fill(missing);
    missing.close();
    tamper(missing.file, `DELETE FROM events WHERE stream = 'P-002' AND stream_seq = 2`);
    expect(new EventLog(missing.file).verify().breaks).toEqual([
      expect.objectContaining({ stream: 'P-002', streamSeq: 3, problem: 'missing', message: expect.stringContaining('entries 2..2 of P-002 are missing') }),
      // The checkpoint signed at close counts the entries too.
      expect.objectContaining({ stream: 'P-002', problem: 'truncated', message: expect.stringMatching(/^P-002: 1 entry missing since checkpoint 2 at /) }),
    ]);

    const reordered = freshLog();
    fill(reordered);
    reordered.close();
    // Swap the log positions of entries 2 and 4 of P-001 (log positions 3 and 7).
    tamper(reordered.file, 'UPDATE events SET seq = -1 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 7; UPDATE events SET seq = 7 WHERE seq = -1;');
    expect(new EventLog(reordered.file).verify().breaks).toEqual([
      expect.objectContaining({ stream: 'P-001', streamSeq: 4, problem: 'reordered', message: 'entry 4 of P-001 (log position 3) comes before entry 2' }),
    ]);
  });

  it('judges an entry by its data, not by how its row spells it: the same data in another key order verifies, a changed value does not', () => {
    const storedData = (file: string) => {
      const db = new Database(file, { readonly: true });
      const text = db.prepare("SELECT data FROM events WHERE stream = 'P-001' AND stream_seq = 3").pluck().get() as string;
      db.close();
      return text;
    };
    const respell = (file: string, data: Record<string, unknown>) => {
      // Keys in reverse order, spaced: not the canonical text the entry was hashed over.
      const text = JSON.stringify(Object.fromEntries(Object.entries(data).reverse()), null, 1);
      tamper(file, '');
      const db = new Database(file);
      db.prepare("UPDATE events SET data = ? WHERE stream = 'P-001' AND stream_seq = 3").run(text);
      db.close();
      return text;
    };
    const same = freshLog();
    fill(same);
    same.close();
    const canonical = storedData(same.file);
    const data = JSON.parse(canonical) as Record<string, unknown>;
    expect(respell(same.file, data)).not.toBe(canonical);
    expect(new EventLog(same.file).verify().breaks).toEqual([]);

    const changed = freshLog();
    fill(changed);
    changed.close();
    respell(changed.file, { ...data, results: { viability: 99 } });
    expect(new EventLog(changed.file).verify().breaks).toEqual([expect.objectContaining({ stream: 'P-001', streamSeq: 3, problem: 'altered', message: expect.stringContaining('its content no longer matches its hash') })]);
  });

  it('workcell verify exits 0 when intact and 1 naming the first break', async () => {
    const log = freshLog();
    fill(log);
    log.close();
    const intact = await runCli(['verify', log.file]);
    expect(intact.stdout).toContain('11 entries in 3 chains, all intact');
    expect(intact.status).toBe(0);
    tamper(log.file, `UPDATE events SET at = 1 WHERE stream = 'P-002' AND stream_seq = 4`);
    const broken = await runCli(['verify', log.file]);
    expect(broken.status).toBe(1);
    expect(broken.stdout).toMatch(/altered: entry 4 of P-002 \(log position \d+, step.completed\) was altered/);
    const none = await runCli(['verify', join(tmpdir(), 'no-such-records.db')]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no database');
  });
});

/** `workcell record --out` never destroys a database or an existing file. */
import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { runCli } from '../support/cli.ts';
import { sample } from '../support/entries.ts';

function databaseWithBatch(): { dir: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-out-'));
  const db = join(dir, 'run.db');
  const log = new EventLog(db);
  log.append({ stream: 'P-002', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-002', patient: 'P-002', chainOfIdentity: 'COI-P-002', bagId: 'BAG-P-002', lane: 'lane-1', layout: { id: 'l', file: 'l.yaml' }, schedule: { id: 's', version: '1', contentHash: 'x', file: 's.yaml', text: '' } }) });
  log.close();
  return { dir, db };
}

const sqliteHeader = (file: string) => readFileSync(file).subarray(0, 16).toString('latin1');

describe('workcell record --out', () => {
  it('refuses to write over the database it reads, even with --force, and leaves it intact', async () => {
    const { dir, db } = databaseWithBatch();
    for (const force of [[], ['--force']]) {
      const result = await runCli(['record', 'P-002', '--db', db, '--html', '--out', db, ...force], { cwd: dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(db);
      expect(result.stderr).toMatch(/is a SQLite database/);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(result.stdout).not.toContain('is in');
    }
    expect(sqliteHeader(db)).toBe('SQLite format 3\u0000');
    const log = new EventLog(db, { readonly: true });
    expect(log.verify().breaks).toEqual([]);
    expect(log.stream('P-002')).toHaveLength(1);
    log.close();
  });

  it('refuses another database and a symbolic link to one, even with --force', async () => {
    const { dir, db } = databaseWithBatch();
    const other = databaseWithBatch().db;
    const link = join(dir, 'link.html');
    symlinkSync(db, link);
    for (const target of [other, link]) {
      const result = await runCli(['record', 'P-002', '--db', db, '--out', target, '--force'], { cwd: dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(target);
      expect(result.stderr).toMatch(/SQLite database/);
    }
    expect(sqliteHeader(other)).toBe('SQLite format 3\u0000');
    expect(sqliteHeader(db)).toBe('SQLite format 3\u0000');
  });

  it('refuses the files SQLite keeps beside the database (its WAL, shared memory and key)', async () => {
    const { dir, db } = databaseWithBatch();
    for (const suffix of ['-wal', '-shm', '.key']) {
      const result = await runCli(['record', 'P-002', '--db', db, '--out', `${db}${suffix}`, '--force'], { cwd: dir });
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`${db}${suffix}`);
      expect(result.stderr).toMatch(/belongs to the database/);
    }
  });

  it('refuses an existing file unless --force, then replaces it whole; a new file is written', async () => {
    const { dir, db } = databaseWithBatch();
    const existing = join(dir, 'notes.txt');
    writeFileSync(existing, 'keep me\n');
    const refused = await runCli(['record', 'P-002', '--db', db, '--out', existing], { cwd: dir });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`${existing} exists`);
    expect(refused.stderr).toContain('--force');
    expect(readFileSync(existing, 'utf8')).toBe('keep me\n');

    const forced = await runCli(['record', 'P-002', '--db', db, '--json', '--out', existing, '--force'], { cwd: dir });
    expect(forced.stderr).toBe('');
    expect(forced.status).toBe(0);
    expect(JSON.parse(readFileSync(existing, 'utf8'))).toMatchObject({ batchId: 'P-002' });

    const fresh = join(dir, 'P-002.html');
    const written = await runCli(['record', 'P-002', '--db', db, '--html', '--out', fresh], { cwd: dir });
    expect(written.status).toBe(0);
    expect(written.stdout).toContain(`The record of P-002 is in ${fresh}`);
    expect(readFileSync(fresh, 'utf8')).toMatch(/^<!DOCTYPE html>/i);
    expect(statSync(fresh).mode & 0o077).toBe(0); // a patient record is not for every user of the machine
    // Written through a temporary file and renamed: nothing else is left behind.
    expect(readdirSync(dir).filter((f) => !f.startsWith('run.db')).sort()).toEqual(['P-002.html', 'notes.txt']);
  });

  it('names a missing directory without writing anything', async () => {
    const { dir, db } = databaseWithBatch();
    const result = await runCli(['record', 'P-002', '--db', db, '--out', join(dir, 'no', 'such', 'x.txt')], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(join(dir, 'no', 'such'));
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * Tamper evidence against someone who can write the database but not read its checkpoint key: edits with
 * every hash recomputed, and truncated tails, are named by `workcell verify`.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { keyFileOf } from '../../orchestrator/checkpoints.ts';
import { OPERATORS_STREAM } from '../../orchestrator/signatures.ts';
import { runCli } from '../support/cli.ts';
import { editData, forge, recordedBatches } from '../support/forger.ts';
import { sample } from '../support/entries.ts';

const seqOf = (file: string, sql: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { seq: number }).seq;
  } finally {
    db.close();
  }
};

async function verify(file: string): Promise<{ status: number | null; stdout: string }> {
  const result = await runCli(['verify', file]);
  expect(result.stderr).toBe('');
  return result;
}

describe('tamper evidence', () => {
  it('signs checkpoints with a key kept beside the database, 0600, whose public key the log records', async () => {
    const file = recordedBatches();
    expect(existsSync(keyFileOf(file))).toBe(true);
    expect((statSync(keyFileOf(file)).mode & 0o777).toString(8)).toBe('600');
    const log = new EventLog(file, { readonly: true });
    const result = log.verify();
    log.close();
    expect(result.breaks).toEqual([]);
    expect(result.checkpoints).toMatchObject({ count: expect.any(Number), uncovered: 0 });
    const intact = await verify(file);
    expect(intact.status).toBe(0);
    expect(intact.stdout).toMatch(/entries in 4 chains, all intact; signed checkpoint \d+ of \d{4}-.*Z \(key [0-9a-f]{16}\) covers every entry\./);
    // The private key is never inside the database.
    const raw = new Database(file, { readonly: true });
    expect(JSON.stringify(raw.prepare('SELECT * FROM checkpoint_keys').all())).not.toContain('PRIVATE');
    raw.close();
  });

  it.each([
    ['a forged signer', (db: Database.Database, file: string) => editData(db, seqOf(file, "SELECT seq FROM events WHERE type = 'hold.resolved'"), (d) => Object.assign(d.signature, { user: 'root', printedName: 'Someone Else' })), 'P-001: head differs from the signed checkpoint'],
    ['a viability changed to 99.9', (db: Database.Database, file: string) => editData(db, seqOf(file, "SELECT seq FROM events WHERE stream = 'P-002' AND type = 'step.completed'"), (d) => (d.results.viability = 99.9)), 'P-002: head differs from the signed checkpoint'],
    ['deleted deviations', (db: Database.Database) => db.exec("DELETE FROM events WHERE type = 'deviation'"), 'P-001: 1 entry missing since checkpoint'],
  ])('names %s, every hash recomputed', async (_what, edit, expected) => {
    const file = recordedBatches();
    forge(file, (db) => edit(db, file));
    const log = new EventLog(file, { readonly: true });
    const chains = log.verify().breaks.filter((b) => ['altered', 'missing', 'reordered'].includes(b.problem));
    log.close();
    expect(chains).toEqual([]); // the recomputed chains verify: only the checkpoint shows the forgery
    const result = await verify(file);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain(expected);
    expect(result.stdout).toMatch(/checkpoint \d+ at \d{4}-\d\d-\d\dT/);
  });

  it.each([
    ['the last entry of a batch', "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE stream = 'P-002')", ['P-002: 1 entry missing since checkpoint']],
    ['the last ten entries', 'DELETE FROM events WHERE seq > (SELECT MAX(seq) - 10 FROM events)', ['P-001: ', 'P-002: ', 'entries missing since checkpoint']],
    ['a whole batch', "DELETE FROM events WHERE stream = 'P-002'", ['P-002: all 4 entries missing since checkpoint']],
    ['the last operators entry', `DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE stream = '${OPERATORS_STREAM}')`, ['operators: 1 entry missing since checkpoint']],
  ])('names a truncated tail: %s', async (_what, sql, expected) => {
    const file = recordedBatches();
    forge(file, (db) => db.exec(sql), { rechain: false });
    const result = await verify(file);
    expect(result.status).toBe(1);
    for (const text of expected) expect(result.stdout).toContain(text);
  });

  it('names a checkpoint whose content was changed to fit a forgery: its signature no longer verifies', async () => {
    const file = recordedBatches();
    forge(file, (db) => {
      db.exec("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE stream = 'P-002')");
      for (const row of db.prepare('SELECT number, data FROM checkpoints').all() as Array<{ number: number; data: string }>) {
        const checkpoint = JSON.parse(row.data);
        if (checkpoint.streams['P-002']?.entries === 4) checkpoint.streams['P-002'].entries = 3;
        db.prepare('UPDATE checkpoints SET data = ? WHERE number = ?').run(JSON.stringify(checkpoint), row.number);
      }
    });
    const result = await verify(file);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/checkpoint \d+: its signature does not verify/);
  });

  it('names checkpoints that were removed, and refuses to call a log without any intact', async () => {
    const file = recordedBatches();
    forge(file, (db) => db.exec("DELETE FROM events WHERE stream = 'P-002'; DELETE FROM checkpoints"));
    const noCheckpoints = await verify(file);
    expect(noCheckpoints.status).toBe(1);
    expect(noCheckpoints.stdout).toContain('records a checkpoint key but no checkpoint: its checkpoints were removed');

    forge(file, (db) => db.exec('DELETE FROM checkpoint_keys'));
    const noKeys = await verify(file);
    expect(noKeys.status).toBe(1);
    expect(noKeys.stdout).toMatch(/the key file beside the log \(key [0-9a-f]{16}\) signed no checkpoint recorded in it: its checkpoints were removed/);

    rmSync(keyFileOf(file));
    const unanchored = await verify(file);
    expect(unanchored.status).toBe(1);
    expect(unanchored.stdout).toContain('no signed checkpoint: a truncated tail or a recomputed chain would not show');
  });

  it('signs no checkpoint over a log whose checkpoints were removed: the next command that writes leaves the forgery named', async () => {
    const file = recordedBatches();
    forge(file, (db) => {
      editData(db, seqOf(file, "SELECT seq FROM events WHERE stream = 'P-002' AND type = 'step.completed'"), (d) => (d.results.viability = 99.9));
      db.exec('DELETE FROM checkpoints');
    });
    const log = new EventLog(file);
    log.append({ stream: 'P-003', type: 'batch.started', at: 3000, data: sample('batch.started', { batchId: 'P-003' }) });
    log.close();
    const result = await verify(file);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('the log records a checkpoint key but no checkpoint: its checkpoints were removed');
  });

  it('goes on with a new key when the key file is missing, and says so', async () => {
    const file = recordedBatches();
    rmSync(keyFileOf(file));
    const log = new EventLog(file);
    log.append({ stream: 'P-003', type: 'batch.started', at: 3000, data: sample('batch.started', { batchId: 'P-003' }) });
    log.close();
    const result = await verify(file);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/note: key [0-9a-f]{16} replaced key [0-9a-f]{16} at .*: the key file .* was missing/);
  });
});

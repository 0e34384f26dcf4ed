/**
 * The integrity the record API gives is `workcell verify`'s for the batch: its hash chain and the log's
 * signed checkpoints. A forgery with every hash recomputed, a truncated tail or an altered checkpoint is
 * named through the API, as the CLI names it.
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { editData, forge, recordedBatches } from '../support/forger.ts';
import { OPERATOR } from '../support/operators.ts';
import { startTestServer } from '../support/hmi.ts';

const seqOf = (file: string, sql: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { seq: number }).seq;
  } finally {
    db.close();
  }
};

/** The record API's integrity of each batch named. */
async function integrityOf(file: string, batches: string[]): Promise<Record<string, any>> {
  const test = await startTestServer(file);
  try {
    const client = test.client();
    expect((await client.logIn(OPERATOR)).status).toBe(200);
    const found: Record<string, any> = {};
    for (const batchId of batches) {
      const answer = await client.get(`/api/batches/${batchId}/record`);
      expect(answer.status, answer.text).toBe(200);
      found[batchId] = answer.json.integrity;
    }
    return found;
  } finally {
    await test.close();
  }
}

describe("the record API's integrity", () => {
  it('verifies the hash chain and the signed checkpoints: which verified, the latest, what they cover', async () => {
    const { 'P-001': integrity } = await integrityOf(recordedBatches(), ['P-001']);
    expect(integrity).toMatchObject({ ok: true, entries: 7, breaks: [], checkpoints: { verified: expect.any(Number), uncovered: 0, notes: [] } });
    expect(integrity.checkpoints.verified).toBeGreaterThan(0);
    expect(integrity.checkpoints.latest).toEqual({ number: integrity.checkpoints.verified, signedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), upToSeq: expect.any(Number), keyId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(integrity.message).toMatch(/^the hash chain of P-001 verifies: 7 entries, unbroken, from [0-9a-f]{12}… to [0-9a-f]{12}…; signed checkpoint \d+ of .*Z \(key [0-9a-f]{16}\) covers every entry$/);
  });

  it('names an entry changed after a checkpoint signed it, every hash recomputed, in that batch only', async () => {
    const file = recordedBatches();
    forge(file, (db) => editData(db, seqOf(file, "SELECT seq FROM events WHERE stream = 'P-002' AND type = 'step.completed'"), (d) => (d.results.viability = 99.9)));
    const found = await integrityOf(file, ['P-001', 'P-002']);
    // The recomputed chain verifies by itself: only the checkpoint shows the forgery.
    expect(found['P-002']).toMatchObject({ ok: false, breaks: [{ stream: 'P-002', problem: 'rewritten', message: expect.stringMatching(/^P-002: head differs from the signed checkpoint \d+ at .*: the chain was rewritten$/) }] });
    expect(found['P-002'].message).toMatch(/^the record of P-002 is not intact: P-002: head differs from the signed checkpoint/);
    expect(found['P-001']).toMatchObject({ ok: true, breaks: [] });
    expect((await runCli(['verify', file])).stdout).toContain(found['P-002'].breaks[0].message);
  });

  it('names entries deleted from the end of a batch', async () => {
    const file = recordedBatches();
    forge(file, (db) => db.exec("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE stream = 'P-002')"), { rechain: false });
    const { 'P-002': integrity } = await integrityOf(file, ['P-002']);
    expect(integrity).toMatchObject({ ok: false, entries: 3, breaks: [{ stream: 'P-002', problem: 'truncated', message: expect.stringMatching(/^P-002: 1 entry missing since checkpoint \d+/) }] });
  });

  it('names a checkpoint altered to fit a forgery: its signature fails, in every batch the log holds', async () => {
    const file = recordedBatches();
    forge(file, (db) => {
      db.exec("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events WHERE stream = 'P-002')");
      for (const row of db.prepare('SELECT number, data FROM checkpoints').all() as Array<{ number: number; data: string }>) {
        const checkpoint = JSON.parse(row.data);
        if (checkpoint.streams['P-002']?.entries === 4) checkpoint.streams['P-002'].entries = 3;
        db.prepare('UPDATE checkpoints SET data = ? WHERE number = ?').run(JSON.stringify(checkpoint), row.number);
      }
    });
    const found = await integrityOf(file, ['P-001', 'P-002']);
    for (const integrity of Object.values(found)) {
      expect(integrity.ok).toBe(false);
      expect(integrity.breaks).toContainEqual({ stream: 'checkpoints', streamSeq: 0, problem: 'checkpoint', message: expect.stringMatching(/^checkpoint \d+: its signature does not verify \(altered, forged, or moved from another log\)$/) });
    }
  });

  it('checks the checkpoints once for many record requests, and again on the next request after one is altered or removed', async () => {
    const file = recordedBatches();
    const test = await startTestServer(file);
    try {
      const client = test.client();
      expect((await client.logIn(OPERATOR)).status).toBe(200);
      const integrity = async (batchId: string) => (await client.get(`/api/batches/${batchId}/record`)).json.integrity;
      const checks = () => test.server.log.checkpointVerdicts.fullChecks;
      expect((await integrity('P-001')).ok).toBe(true);
      const afterFirst = checks();
      // No checkpoint changed: the next requests, of either batch, verify no checkpoint signature again.
      expect((await integrity('P-001')).ok).toBe(true);
      expect((await integrity('P-002')).ok).toBe(true);
      expect(checks()).toBe(afterFirst);

      // An older checkpoint altered (not the latest): the good verdict kept is not used again.
      forge(file, (db) => {
        const row = db.prepare('SELECT number, data FROM checkpoints ORDER BY number LIMIT 1').get() as { number: number; data: string };
        const checkpoint = JSON.parse(row.data);
        checkpoint.entries += 1;
        db.prepare('UPDATE checkpoints SET data = ? WHERE number = ?').run(JSON.stringify(checkpoint), row.number);
      }, { rechain: false });
      const altered = await integrity('P-001');
      expect(altered.ok).toBe(false);
      expect(altered.breaks).toContainEqual(expect.objectContaining({ problem: 'checkpoint', message: expect.stringMatching(/^checkpoint 1: its signature does not verify/) }));
      expect(checks()).toBe(afterFirst + 1);

      // The latest removed: named on the next request.
      forge(file, (db) => db.exec('DELETE FROM checkpoints WHERE number = (SELECT max(number) FROM checkpoints)'), { rechain: false });
      const removed = await integrity('P-002');
      expect(removed.ok).toBe(false);
      expect(removed.checkpoints.verified).toBe(altered.checkpoints.verified - 1);
    } finally {
      await test.close();
    }
  });

  it('is not intact when the log holds no checkpoint at all: a truncated tail would not show', async () => {
    const file = recordedBatches();
    forge(file, (db) => db.exec('DELETE FROM checkpoints'));
    const { 'P-001': integrity } = await integrityOf(file, ['P-001']);
    expect(integrity).toMatchObject({ ok: false, checkpoints: { verified: 0, latest: null } });
    expect(integrity.breaks).toContainEqual(expect.objectContaining({ problem: 'checkpoint', message: 'the log records a checkpoint key but no checkpoint: its checkpoints were removed' }));
  });
});

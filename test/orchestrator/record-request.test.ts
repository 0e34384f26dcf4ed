import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { startRequestedBatch } from '../../orchestrator/batch-requests.ts';
import { buildRecord, formatRecord } from '../../orchestrator/record.ts';
import { signed } from '../../orchestrator/signatures.ts';
import { editData, forge } from '../support/forger.ts';
import { enrolTestOperators, OPERATOR } from '../support/operators.ts';
import { sample } from '../support/entries.ts';

/** P-001 asked for by a.jansen (signed) and started from that request, as the orchestrator starts one; returns the log file and the request's position. */
function requestedBatch(): { file: string; requestSeq: number } {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-request-')), 'records.db');
  const log = new EventLog(file);
  enrolTestOperators(log);
  const identity = { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1' };
  const request = signed(log, OPERATOR, 'start', 900, (sign) => {
    const signature = sign({ ...identity, reason: 'MES order 77' });
    return log.append({ stream: WORKCELL_STREAM, type: 'batch.requested', at: 900, data: { ...identity, schedule: { file: 's.yaml', text: '' }, reason: 'MES order 77', user: signature.user, signature } });
  });
  if (request.type !== 'batch.requested') throw new Error('expected the request');
  startRequestedBatch(log, request, (spec) => log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { ...identity, request: spec.request }) }), 1000);
  log.close();
  return { file, requestSeq: request.seq };
}

function recordOf(file: string): ReturnType<typeof buildRecord> {
  const log = new EventLog(file, { readonly: true });
  try {
    return buildRecord(log, 'P-001');
  } finally {
    log.close();
  }
}

describe('the signed request a batch was started from, in its record', () => {
  it('shows the request and its signature when the log confirms it', () => {
    const record = recordOf(requestedBatch().file);
    expect(record.invalid).toEqual([]);
    expect(record.identity.request?.signature.user).toBe('a.jansen');
    expect(record.operatorActions.map((a) => [a.action, a.signature?.user])).toEqual([['asked for the batch to be started', 'a.jansen']]);
  });

  it.each([
    ['rewritten with every hash recomputed', true, /has another hash than the batch named/],
    ['edited in place', false, /was altered: its content no longer matches its hash/],
  ])('flags a request entry %s, and shows no signature for it', (_how, rechain, problem) => {
    const { file, requestSeq } = requestedBatch();
    forge(file, (db) => editData(db, requestSeq, (data) => (data.reason = 'someone else asked')), { rechain });
    const record = recordOf(file);
    expect(record.invalid).toEqual([expect.objectContaining({ type: 'batch.started', streamSeq: 1, problem: expect.stringMatching(problem) })]);
    expect(record.invalid[0]!.problem).toContain(`log position ${requestSeq}, signed by a.jansen`);
    expect(record.identity.request).toBeUndefined();
    expect(record.operatorActions).toEqual([]);
    expect(record.timeline.find((t) => t.type === 'batch.started')?.summary).not.toContain('asked');
    const text = formatRecord(record);
    expect(text).not.toContain('Asked for by');
    expect(text).toMatch(/INVALID.*batch\.started.*signed request/);
  });

  it('flags a batch.started that names a request of another batch, or an entry that is no request', () => {
    const { file, requestSeq } = requestedBatch();
    forge(file, (db) => editData(db, requestSeq, (data) => (data.batchId = 'P-999')), { rechain: true });
    expect(recordOf(file).invalid.map((i) => i.problem)).toEqual([expect.stringMatching(/asks for another batch \(P-999\)/)]);
    forge(file, (db) => db.prepare("UPDATE events SET type = 'alarm' WHERE seq = ?").run(requestSeq), { rechain: true });
    expect(recordOf(file).invalid.map((i) => i.problem)).toEqual([expect.stringMatching(/is a alarm entry of workcell, not a batch request/)]);
  });
});

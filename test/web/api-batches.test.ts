/**
 * Starting a batch over the API: signed by an operator, queued in the log, started by the running
 * orchestrator; the batch's record names the signed request and counts its signature.
 */
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEntry } from '../../orchestrator/entries/index.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { buildRecord, formatRecord } from '../../orchestrator/record.ts';
import { recordHtml } from '../../orchestrator/record-html.ts';
import { enrolOperator, partsInBatch } from '../../orchestrator/signatures.ts';
import { SHORT_SCHEDULE, startRun, waitForEntry, type TestRun } from '../support/orchestration.ts';
import { ADMIN, OPERATOR, QA } from '../support/operators.ts';
import { databaseWithOperators, startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';

describe('POST /api/batches', () => {
  let run: TestRun;
  let test: TestServer;
  let operator: HmiClient;

  beforeAll(async () => {
    // Slow enough that P-001 still runs when P-002 is asked for.
    run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], timeScale: 600 });
    test = await startTestServer(run.log.file, { schedules: dirname(SHORT_SCHEDULE) });
    operator = test.client();
    expect((await operator.logIn(OPERATOR)).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await test?.close();
    await run?.stop();
  });

  it('queues a signed request that the running orchestrator starts, as workcell run starts its own', async () => {
    const body = { batchId: 'P-002', patient: 'PAT-7', schedule: basename(SHORT_SCHEDULE), signature: { reason: 'MES order 4711', password: OPERATOR.password } };
    const wrong = await operator.post('/api/batches', { ...body, signature: { reason: 'MES order 4711', password: 'not-my-password' } });
    expect(wrong.status).toBe(403);
    const noFile = await operator.post('/api/batches', { ...body, schedule: '/nonexistent/schedule.yaml' });
    expect(noFile.status).toBe(400);
    expect(noFile.json.error).toMatch(/is not a schedule of .*fixtures\/schedules/);
    const noLane = await operator.post('/api/batches', { ...body, lane: 'lane-9' });
    expect(noLane.status).toBe(409);
    expect(noLane.json.error).toMatch(/no lane 'lane-9' \(lanes: lane-1, lane-2\)/);
    const taken = await operator.post('/api/batches', { ...body, batchId: 'P-001' });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toMatch(/batch P-001 already exists/);
    const qa = test.client();
    await qa.logIn(QA);
    expect((await qa.post('/api/batches', { ...body, signature: { reason: 'x', password: QA.password } })).status).toBe(403);

    const accepted = await operator.post('/api/batches', body);
    expect(accepted.status, accepted.text).toBe(202);
    // Lane-1 is busy with P-001: the request goes to the lane with fewest unfinished batches.
    expect(accepted.json).toMatchObject({ batchId: 'P-002', lane: 'lane-2', orchestratorRunning: true, signature: { user: 'a.jansen', meaning: 'responsibility for starting the batch' } });
    expect(accepted.json.message).toMatch(/queued on lane-2: the running orchestrator starts it/);
    const started = await waitForEntry(run.log, 'P-002', isEntry('batch.started'));
    expect(started.data).toMatchObject({ batchId: 'P-002', patient: 'PAT-7', lane: 'lane-2', chainOfIdentity: 'COI-P-002', bagId: 'BAG-P-002', schedule: { file: realpathSync(SHORT_SCHEDULE) } });
    // The batch's own chain names the signed request: its position, hash and signature.
    const [request] = run.log.ofType('batch.requested');
    expect(started.data.request).toEqual({ seq: request!.seq, streamSeq: request!.streamSeq, hash: request!.hash, at: request!.at, reason: 'MES order 4711', signature: request!.data.signature });
    expect((await operator.post('/api/batches', body)).json.error).toMatch(/batch P-002 already exists/);
    await run.finished();
    expect(run.log.stream('P-002').some((e) => e.type === 'batch.completed')).toBe(true);
    expect(run.log.ofType('batch.requested').map((e) => [e.data.batchId, e.data.user, e.data.reason])).toEqual([['P-002', 'a.jansen', 'MES order 4711']]);
    expect((await operator.get('/api/batches')).json.map((b: { batchId: string; status: string }) => [b.batchId, b.status])).toEqual([['P-001', 'completed'], ['P-002', 'completed']]);

    // The record shows who asked for it, when, why, signed; and counts the signature among the batch's.
    const { record } = (await operator.get('/api/batches/P-002/record')).json;
    expect(record.identity.request).toMatchObject({ seq: request!.seq, hash: request!.hash, reason: 'MES order 4711', signature: { user: 'a.jansen', printedName: 'Anna Jansen', meaning: 'responsibility for starting the batch' } });
    expect(record.operatorActions).toEqual([{ at: new Date(request!.at).toISOString(), action: 'asked for the batch to be started', step: '', reason: 'MES order 4711', user: 'a.jansen', signature: request!.data.signature }]);
    const text = formatRecord(buildRecord(run.log, 'P-002'));
    expect(text).toMatch(new RegExp(`Asked for by Anna Jansen \\(a\\.jansen\\) at [0-9:]+ UTC: MES order 4711; signed request at log position ${request!.seq} \\(sha256 ${request!.hash.slice(0, 16)}…\\)`));
    expect(text).toMatch(/Review by exception: \d+ deviation\(s\), \d+ alarm\(s\), 1 operator action\(s\)/);
    expect(text).toMatch(/OPERATOR +[0-9:]+ UTC a\.jansen: asked for the batch to be started: MES order 4711\n +signed by Anna Jansen \(a\.jansen\) at .*, meaning responsibility for starting the batch/);
    const page = recordHtml(buildRecord(run.log, 'P-002'));
    expect(page).toContain('<td>asked for by</td><td><span class="signature">Signed by <b>Anna Jansen</b> (a.jansen)');
    expect(page).toContain(`the signed request at log position ${request!.seq} <span class="hash">sha256 ${request!.hash}</span>`);
    expect(partsInBatch(run.log, 'P-002', 'a.jansen').map((p) => [p.entry.type, p.signature.meaning])).toEqual([['batch.started', 'responsibility for starting the batch']]);
    expect(partsInBatch(run.log, 'P-001', 'a.jansen')).toEqual([]);
  }, 180_000);

  it('keeps a batch asked for while no orchestrator runs, and the next one on the database starts it; its requester may not review it', async () => {
    await run.orchestrator.stop();
    // Someone who may both start batches and review records: asking for a batch is a part in it.
    const both = { user: 'm.both', password: 'both-roles-password-1' };
    enrolOperator(run.log, { ...both, printedName: 'Mo Both', roles: ['operator', 'qa'] }, ADMIN, 0);
    const requester = test.client();
    expect((await requester.logIn(both)).status).toBe(200);
    const queued = await requester.post('/api/batches', { batchId: 'P-003', patient: 'PAT-8', lane: 'lane-1', schedule: SHORT_SCHEDULE, signature: { reason: 'MES order 4712', password: both.password } });
    expect(queued.status, queued.text).toBe(202);
    expect(queued.json).toMatchObject({ batchId: 'P-003', lane: 'lane-1', orchestratorRunning: false });
    expect(queued.json.message).toMatch(/no orchestrator runs on .*: the next workcell run on it/);
    expect(run.log.stream('P-003')).toEqual([]);
    const next = new Orchestrator({ layout: run.session.layout, layoutFile: run.layoutFile, layoutHash: run.session.layoutHash, log: run.log, drivers: run.session.drivers, clock: run.session.clock, deliver: (bag, position) => run.session.simulation!.deliver(bag, position) });
    await next.start();
    try {
      const started = await waitForEntry(run.log, 'P-003', isEntry('batch.started'));
      expect(started.data).toMatchObject({ patient: 'PAT-8', lane: 'lane-1' });
      await next.finished({ whenBatchesDone: () => run.session.fastForward() });
      expect(run.log.stream('P-003').some((e) => e.type === 'batch.completed')).toBe(true);
      // Started once: the requests already started (P-002) are not started again.
      expect(run.log.ofType('batch.started').map((e) => e.stream)).toEqual(['P-001', 'P-002', 'P-003']);
      const review = await requester.post('/api/batches/P-003/review', { decision: 'approve', reason: 'record complete', password: both.password });
      expect(review.status).toBe(403);
      expect(review.json.error).toMatch(/^signature refused: m\.both may not review the record of P-003: m\.both signed responsibility for starting the batch in it at .*; the review needs someone who had no part in the batch$/);
      expect(run.log.ofType('record.reviewed')).toEqual([]);
    } finally {
      await next.stop();
    }
  }, 180_000);

  it('refuses a batch on a database without a run: there is no workcell to start it on', async () => {
    const empty = await startTestServer(databaseWithOperators());
    try {
      const client = empty.client();
      await client.logIn(OPERATOR);
      const answer = await client.post('/api/batches', { batchId: 'P-001', patient: 'P-001', schedule: SHORT_SCHEDULE, signature: { reason: 'first', password: OPERATOR.password } });
      expect(answer.status).toBe(409);
      expect(answer.json.error).toMatch(/records no run: there is no workcell to start a batch on/);
    } finally {
      await empty.close();
    }
  });
});

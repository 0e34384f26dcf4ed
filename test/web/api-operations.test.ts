/**
 * The HMI API acting on a running workcell, over real HTTPS: a hold answered over the API resumes the
 * batch through the same signed operation as the CLI, QA's review is signed and in the record, and the
 * entry stream pages by its cursor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEntry } from '../../orchestrator/entries/index.ts';
import { OPERATORS_STREAM } from '../../orchestrator/signatures.ts';
import { PostgresMirror } from '../../orchestrator/postgres-mirror.ts';
import { postgresSchema } from '../support/services.ts';
import { startRun, waitForEntry, type TestRun } from '../support/orchestration.ts';
import { OPERATOR, QA } from '../support/operators.ts';
import { startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';

describe('the HMI API on a running workcell', () => {
  let run: TestRun;
  let test: TestServer;
  let operator: HmiClient;
  let qa: HmiClient;

  beforeAll(async () => {
    run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'ep-1': [{ kind: 'recoverable', capability: 'electroporate', on: 1, message: 'cuvette not seated' }] } });
    test = await startTestServer(run.log.file);
    operator = test.client();
    qa = test.client();
    expect((await operator.logIn(OPERATOR)).status).toBe(200);
    expect((await qa.logIn(QA)).status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await test?.close();
    await run?.stop();
  });

  it('answers a hold from its typed menu, signed with the password re-entered, and the batch goes on', async () => {
    await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
    const holds = await operator.get('/api/holds');
    expect(holds.status).toBe(200);
    const hold = holds.json.find((h: { batchId: string }) => h.batchId === 'P-001');
    expect(hold).toMatchObject({ step: 'electroporate', kind: 'device-recovery' });
    expect(hold.message).toContain('cuvette not seated');
    const options = hold.menu.map((m: { option: string }) => m.option);
    expect(options).toEqual(expect.arrayContaining(['retry', 'skip', 'abort', 'continue:retry']));
    expect(hold.menu.find((m: { option: string }) => m.option === 'skip')).toMatchObject({ action: 'skip', roles: ['qa'], meaning: 'approval to skip the step' });
    expect(hold.menu.find((m: { option: string }) => m.option === 'continue:retry')).toMatchObject({ action: 'continue', deviceOption: 'retry', roles: ['operator', 'qa'] });
    // The live stream shows the hold as the orchestrator's view catches up: batch held, module held, the hold on top.
    const heldInView = (data: any) => data.status?.batches.some((b: { batchId: string; phase: string }) => b.batchId === 'P-001' && b.phase === 'held');
    const events = await operator.events('/api/events', (seen) => seen.some((e) => e.event === 'status' && heldInView(e.data)));
    const status = events.find((e) => e.event === 'status' && heldInView(e.data))!.data;
    expect(status.holds.map((h: { batchId: string }) => h.batchId)).toContain('P-001');
    expect(status.status.batches).toContainEqual(expect.objectContaining({ batchId: 'P-001', phase: 'held', step: 'electroporate' }));
    expect(status.status.modules).toContainEqual(expect.objectContaining({ id: 'ep-1', occupant: 'P-001', lanes: ['lane-1', 'lane-2'] }));
    expect((await operator.get('/api/status')).json.holds.map((h: { batchId: string }) => h.batchId)).toContain('P-001');

    const path = '/api/holds/P-001/answer';
    const heldAt = (await operator.get('/api/holds')).json.find((h: { batchId: string }) => h.batchId === 'P-001').hold;
    // An answer names the hold its signer read: one to another (an earlier, answered) hold is refused.
    const stale = await operator.post(path, { option: 'continue:retry', hold: heldAt - 1, reason: 'cuvette reseated', password: OPERATOR.password });
    expect(stale.status).toBe(409);
    expect(stale.json.error).toMatch(/the open hold of P-001 is another one than the hold answered/);
    // The signature's own checks: the role for the answer chosen, and the password entered now.
    const skip = await operator.post(path, { option: 'skip', hold: heldAt, reason: 'not needed', password: OPERATOR.password });
    expect(skip.status).toBe(403);
    expect(skip.json.error).toMatch(/a.jansen \(operator\) may not sign approval to skip the step; that needs the role qa/);
    const wrong = await operator.post(path, { option: 'continue:retry', hold: heldAt, reason: 'cuvette reseated', password: 'not-my-password' });
    expect(wrong.status).toBe(403);
    expect(wrong.json.error).toMatch(/wrong password/);
    const unknown = await operator.post(path, { option: 'reboot', hold: heldAt, reason: 'cuvette reseated', password: OPERATOR.password });
    expect(unknown.status).toBe(409);
    expect(unknown.json.error).toMatch(/offers retry, skip, abort, continue:retry.*not 'reboot'/);
    const noReason = await operator.post(path, { option: 'continue:retry', hold: heldAt, reason: '', password: OPERATOR.password });
    expect(noReason.status).toBe(400);
    expect(run.log.stream('P-001').filter((e) => e.type === 'hold.resolved')).toEqual([]);

    const answer = await operator.post(path, { option: 'continue:retry', hold: heldAt, reason: 'cuvette reseated', password: OPERATOR.password });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({ batchId: 'P-001', step: 'electroporate', action: 'continue', option: 'retry', signature: { user: 'a.jansen', printedName: 'Anna Jansen', meaning: "approval of the device's continuation option" } });
    const again = await operator.post(path, { option: 'continue:retry', hold: heldAt, reason: 'twice', password: OPERATOR.password });
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/no open hold/);

    await run.finished();
    const entries = run.log.stream('P-001');
    expect(entries.find((e) => e.type === 'hold.resolved')?.data).toMatchObject({ action: 'continue', option: 'retry', user: 'a.jansen', reason: 'cuvette reseated' });
    expect(entries.find((e) => e.type === 'command.continued')?.data).toMatchObject({ module: 'ep-1', option: 'retry', by: 'a.jansen' });
    expect(entries.find(isEntry('step.completed', (e) => e.data.step === 'electroporate'))).toBeDefined();
    expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
    expect((await operator.get('/api/holds')).json).toEqual([]);
  }, 180_000);

  it('gives the record as typed JSON with its integrity, and QA reviews it, signed, into the record', async () => {
    const before = await qa.get('/api/batches/P-001/record');
    expect(before.status).toBe(200);
    expect(before.json.record).toMatchObject({ batchId: 'P-001', status: 'completed', review: null });
    expect(before.json.record.operatorActions.map((a: { action: string; signature: { user: string } }) => [a.action, a.signature.user])).toContainEqual(["continue with the device's option retry", 'a.jansen']);
    expect(before.json.record.alarms.some((a: { kind: string }) => a.kind === 'device-recoverable-error')).toBe(true);
    expect(before.json.record.steps.find((s: { step: string }) => s.step === 'electroporate')).toMatchObject({ outcome: 'completed', module: 'ep-1' });
    expect(before.json.integrity).toMatchObject({ ok: true, entries: run.log.stream('P-001').length });
    expect((await qa.get('/api/batches')).json).toContainEqual(expect.objectContaining({ batchId: 'P-001', lane: 'lane-1', status: 'completed', review: null }));
    expect((await qa.get('/api/batches/P-404/record')).status).toBe(404);

    // The operator who answered the hold may not review; nor may anyone without qa (the route refuses first).
    expect((await operator.post('/api/batches/P-001/review', { decision: 'approve', reason: 'fine', password: OPERATOR.password })).status).toBe(403);
    const wrong = await qa.post('/api/batches/P-001/review', { decision: 'approve', reason: 'record complete', password: 'not-the-password' });
    expect(wrong.status).toBe(403);
    const review = await qa.post('/api/batches/P-001/review', { decision: 'approve', reason: 'record complete, deviations none', password: QA.password });
    expect(review.status).toBe(200);
    expect(review.json).toMatchObject({ batchId: 'P-001', decision: 'approved', signature: { user: 'qa.lee', meaning: 'approval of the batch record after review' } });
    const reviewed = run.log.stream('P-001').find(isEntry('record.reviewed'));
    expect(reviewed?.data).toMatchObject({ decision: 'approved', reason: 'record complete, deviations none', user: 'qa.lee' });
    const after = await qa.get('/api/batches/P-001/record');
    expect(after.json.record.review).toMatchObject({ decision: 'approved', signature: { user: 'qa.lee', printedName: 'Li Lee' } });
    expect((await qa.get('/api/batches')).json.find((b: { batchId: string }) => b.batchId === 'P-001').review).toMatchObject({ decision: 'approved', user: 'qa.lee' });
    const twice = await qa.post('/api/batches/P-001/review', { decision: 'reject', reason: 'again', password: QA.password });
    expect(twice.status).toBe(409);
    expect(twice.json.error).toMatch(/reviewed already/);
  });

  it('pages the entry stream by its cursor: every entry once, in order, none of the operators stream', async () => {
    const seen: Array<{ seq: number; stream: string; type: string; hash: string }> = [];
    let after = 0;
    for (;;) {
      const page = await operator.get(`/api/entries?after=${after}&limit=37`);
      expect(page.status).toBe(200);
      seen.push(...page.json.entries);
      if (page.json.next === after) break;
      expect(page.json.next).toBeGreaterThan(after);
      after = page.json.next;
    }
    const expected = run.log.page(0, 1_000_000).filter((e) => e.stream !== OPERATORS_STREAM);
    expect(seen.map((e) => e.seq)).toEqual(expected.map((e) => e.seq));
    expect(seen.map((e) => e.hash)).toEqual(expected.map((e) => e.hash));
    expect(seen.length).toBeGreaterThan(37 * 3);
    expect(JSON.stringify(seen)).not.toContain('passwordHash');
    expect((await operator.get('/api/entries?after=-1')).status).toBe(400);
    expect((await operator.get('/api/entries?limit=100000')).status).toBe(400);
  });

  it('gives the Gantt of the run: a bar per step on its module', async () => {
    const timeline = await operator.get('/api/timeline');
    expect(timeline.status).toBe(200);
    expect(timeline.json.modules).toContain('ep-1');
    const electroporation = timeline.json.bars.find((b: { step: string; batch: string }) => b.step === 'electroporate' && b.batch === 'P-001');
    expect(electroporation).toMatchObject({ module: 'ep-1', kind: 'step' });
    expect(electroporation.end).toBeGreaterThan(electroporation.start);
  });

  it('keeps the audit trail for QA: the signed answer and review, and the refused signatures', async () => {
    const audit = await qa.get('/api/audit');
    expect(audit.status).toBe(200);
    const summaries = audit.json.items.map((i: { type: string; user: string | null }) => `${i.type} ${i.user}`);
    expect(summaries).toEqual(expect.arrayContaining(['hold.resolved a.jansen', 'record.reviewed qa.lee', 'signature.refused a.jansen', 'signature.refused qa.lee', 'operator.enrolled it.admin']));
    expect(JSON.stringify(audit.json)).not.toContain('scrypt$');
    expect(audit.json.next).toBeNull();
    const paged: number[] = [];
    for (let after = 0; ; ) {
      const page = await qa.get(`/api/audit?after=${after}&limit=2`);
      paged.push(...page.json.items.map((i: { seq: number }) => i.seq));
      if (page.json.next === null) break;
      expect(page.json.items).toHaveLength(2);
      after = page.json.next;
    }
    expect(paged).toEqual(audit.json.items.map((i: { seq: number }) => i.seq));
  });

  it('shows the site from the PostgreSQL copy: the workcell, its batches and open holds', async (ctx) => {
    expect((await operator.get('/api/site')).json.error).toMatch(/--postgres URL/);
    const db = await postgresSchema(ctx);
    const mirror = new PostgresMirror(db.url);
    const site = await startTestServer(run.log.file, { postgres: db.url });
    try {
      await mirror.ship(run.log);
      const client = site.client();
      await client.logIn(OPERATOR);
      const answer = await client.get('/api/site');
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json.workcells).toEqual([expect.objectContaining({ workcell: run.log.id, file: run.log.file, entries: run.log.count() })]);
      expect(answer.json.batches).toEqual([{ workcell: run.log.id, batchId: 'P-001', patient: 'P-001', status: 'completed', step: expect.any(String) }]);
      expect(answer.json.holds).toEqual([]);
    } finally {
      await site.close();
      await mirror.close();
      await db.drop();
    }
  });
});

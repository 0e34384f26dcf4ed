import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecord, formatRecord, reviewRecord } from '../../orchestrator/record.ts';
import { WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { resolveHold } from '../../orchestrator/orchestrator.ts';
import { runCli } from '../support/cli.ts';
import { enrolReviewer, OPERATOR, QA, REVIEWER, signingAs } from '../support/operators.ts';
import { layoutWithFreePorts, occupancy, SHORT_SCHEDULE, startRun, TWO_LANE_SILA, waitForEntry } from '../support/orchestration.ts';
import { isEntry } from '../../orchestrator/entries.ts';
import { startVirtualRun } from '../support/virtual-run.ts';

// Over SiLA 2 on loopback, with CLI processes acting on the run; the tests of orchestration alone (a
// second failure after a retry, a backoff, a condition) run in virtual time: no wait, no host latency.
describe('the orchestrator on a simulated two-lane workcell', () => {
  it('runs three patients in parallel without ever mixing them, and records each batch completely', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }, { batchId: 'P-002', lane: 'lane-2' }, { batchId: 'P-003', lane: 'lane-1' }] });
    const notes = new Set<string>();
    const watch = setInterval(() => run.orchestrator.status().batches.forEach((b) => b.note && notes.add(`${b.batchId} ${b.note}`)), 10);
    try {
      await run.finished();
      clearInterval(watch);
      const { log } = run;
      expect(log.verify().breaks).toEqual([]);
      // A batch that must wait is told why, by whom and until when.
      expect([...notes].some((n) => /^P-003 waiting for cell-separator sep-1: busy with P-001( until \d\d:\d\d UTC)?/.test(n))).toBe(true);

      for (const batchId of ['P-001', 'P-002', 'P-003']) {
        const record = buildRecord(log, batchId);
        expect(record.status).toBe('completed');
        expect(record.identity.schedule).toMatchObject({ id: 'short', version: '1.0.0', contentHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
        expect(record.identity.layout.contentHash).toBe(run.session.layoutHash);
        expect(record.steps.map((s) => [s.step, s.outcome])).toEqual([['wash', 'completed'], ['electroporate', 'completed'], ['concentrate', 'completed']]);
        // Material only entered modules of its lane; every hand-off scanned the batch's own bag.
        const lane = record.identity.lane;
        expect(record.steps.map((s) => s.module)).toEqual(lane === 'lane-1' ? ['sep-1', 'ep-1', 'sep-1'] : ['sep-2', 'ep-1', 'sep-2']);
        expect(record.transfers.map((t) => t.to).filter((to) => !to.startsWith('hotel'))).toEqual([lane === 'lane-1' ? 'sep-1.port' : 'sep-2.port', 'ep-1.port', lane === 'lane-1' ? 'sep-1.port' : 'sep-2.port', 'outbound']);
        for (const t of record.transfers) expect([t.scannedAtPick, t.scannedAtPlace]).toEqual([`BAG-${batchId}`, `BAG-${batchId}`]);
        // The deliberately impossible control is a deviation; the batch goes on.
        expect(record.deviations).toEqual([expect.objectContaining({ kind: 'out-of-limit', message: expect.stringContaining('electroporate: totalCells') })]);
        expect(record.steps[1]!.controls.map((c) => c.pass)).toEqual([true, false]);
        // Telemetry of the module the batch occupied, summarised per step.
        expect(record.steps[0]!.telemetry.map((t) => t.channel)).toContain('chamberTemperature');
        // Settle plates of the isolator zone were read and belong to every batch open there.
        expect(record.environmentalMonitoring.length).toBeGreaterThan(0);
        for (const em of record.environmentalMonitoring) expect(em).toMatchObject({ zone: 'isolator-line', grade: 'A', limit: 0 });
      }

      // One batch per module at a time.
      const periods = occupancy(log);
      for (const a of periods) for (const b of periods) if (a !== b && a.module === b.module && a.batch !== b.batch) expect(a.until < b.from || b.until < a.from).toBe(true);
      // The shared electroporator was cleared between different batches, and each batch's record says so.
      const clearances = log.since(0).filter((e) => e.type === 'line-clearance.verified');
      expect(clearances.length).toBeGreaterThanOrEqual(2);
      for (const c of clearances) expect(c.data.previousBatch).not.toBe(c.stream);
      // Every device command was sent once: one issue and one acceptance per idempotency key.
      const issued = log.since(0).filter((e) => e.type === 'command.issued').map((e) => e.data.key);
      expect(new Set(issued).size).toBe(issued.length);
      // Telemetry landed only in the record of the batch inside the module at that moment.
      for (const entry of log.since(0).filter((e) => e.type === 'telemetry')) {
        const holder = periods.find((p) => p.module === entry.data.module && p.from < entry.seq && entry.seq < p.until);
        expect(holder?.batch).toBe(entry.stream);
      }
      expect(log.stream(WORKCELL_STREAM).filter((e) => e.type === 'em.plate.read').length).toBeGreaterThan(0);
    } finally {
      clearInterval(watch);
      await run.stop();
    }
  }, 180_000);

  it('holds a batch whose robot scan reads another ID, with a deviation; the operator answers from the CLI', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'arm-1': [{ kind: 'wrong-scan', capability: 'transfer', on: 2 }] } });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'scan-mismatch', actions: ['retry', 'skip', 'abort'] });
      const holds = await runCli(['holds', '--db', run.log.file]);
      expect(holds.stdout).toContain('P-001 at electroporate (scan-mismatch)');
      const missingReason = await runCli(['resolve', 'P-001', '--action', 'retry', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(missingReason.status).toBe(2);
      expect(missingReason.stderr).toContain('--reason TEXT is required');
      const answer = await runCli(['resolve', 'P-001', '--action', 'retry', '--reason', 'bag relabelled after scanner check', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(answer.stderr).toBe('');
      expect(answer.status).toBe(0);
      await run.finished();
      const record = buildRecord(run.log, 'P-001');
      expect(record.status).toBe('completed');
      expect(record.deviations.map((d) => d.kind)).toContain('scan-mismatch');
      expect(record.operatorActions).toEqual([expect.objectContaining({ action: 'retry', step: 'electroporate', user: 'a.jansen', reason: 'bag relabelled after scanner check' })]);
      expect(record.operatorActions[0]!.signature).toMatchObject({ user: 'a.jansen', printedName: 'Anna Jansen', meaning: 'approval to retry the step' });
      expect(formatRecord(record)).toContain('signed by Anna Jansen (a.jansen) at ');
      // Stamped on the run's (scaled) workcell clock, not the CLI's wall clock: the record stays in time order.
      const entries = run.log.stream('P-001', { withoutTelemetry: true });
      const resolved = entries.find((e) => e.type === 'hold.resolved')!;
      expect(resolved.at).toBeGreaterThanOrEqual(hold.at);
      expect(resolved.at).toBeLessThanOrEqual(entries.find((e) => e.type === 'batch.completed')!.at);
      const again = await runCli(['resolve', 'P-001', '--action', 'retry', '--reason', 'twice', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('batch P-001 has no open hold');
      const review = await runCli(['review', 'P-001', '--decision', 'approve', '--reason', 'scan deviation assessed: relabelled bag, identity confirmed', '--user', 'qa.lee', '--db', run.log.file], { env: signingAs(QA) });
      expect(review.stderr).toBe('');
      expect(review.stdout).toContain('Signed by Li Lee (qa.lee) at ');
      expect(buildRecord(run.log, 'P-001').review).toMatchObject({ decision: 'approved', signature: { meaning: 'approval of the batch record after review' } });
      const page = join(mkdtempSync(join(tmpdir(), 'workcell-html-')), 'P-001.html');
      const html = await runCli(['record', 'P-001', '--db', run.log.file, '--html', '--out', page]);
      expect(html.stdout).toContain(`The record of P-001 is in ${page}.`);
      const text = readFileSync(page, 'utf8');
      expect(text).toContain('<b class="pass">APPROVED</b>');
      expect(text).toContain('Signed by <b>Anna Jansen</b> (a.jansen)');
      expect(text).toContain('scan-mismatch');
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('opens a new hold when a retried move fails again, instead of acting on the old answer twice', async () => {
    // Transfers 4 and 5 are the move out to the output position and its first retry.
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'arm-1': [{ kind: 'wrong-scan', capability: 'transfer', on: 4 }, { kind: 'wrong-scan', capability: 'transfer', on: 5 }] } });
    try {
      const answerNext = async (after: number) => {
        const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened' && e.seq > after);
        expect(hold.data).toMatchObject({ step: 'finish', kind: 'scan-mismatch', actions: ['retry', 'abort'] });
        resolveHold(run.log, 'P-001', { action: 'retry', reason: 'label checked' }, OPERATOR, run.clock.now());
        return hold.seq;
      };
      await answerNext(await answerNext(0));
      await run.finished();
      const record = buildRecord(run.log, 'P-001');
      expect(record.status).toBe('completed');
      expect(record.operatorActions.map((a) => [a.step, a.action])).toEqual([['finish', 'retry'], ['finish', 'retry']]);
      expect(record.deviations.filter((d) => d.kind === 'scan-mismatch')).toHaveLength(2);
      // Each try moved with a key of its own, issued once.
      const moves = run.log.stream('P-001').filter(isEntry('command.issued', (e) => String(e.data.key).includes(':finish:'))).map((e) => e.data.key);
      expect(moves).toEqual(['P-001:finish:1:out', 'P-001:finish:2:out', 'P-001:finish:3:out']);
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('keeps a module closed while quarantined material is stuck in it, until an operator records its removal by hand', async () => {
    // The electroporation fails, the operator aborts, and every robot try to move the bag out misreads.
    const misreads = [3, 4, 5].map((on) => ({ kind: 'wrong-scan' as const, capability: 'transfer', on }));
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'ep-1': [{ kind: 'error', error: 'HardwareFault', capability: 'electroporate', on: 1 }], 'arm-1': misreads } });
    const remove = () => runCli(['remove', 'P-001', '--reason', 'bag taken out through the isolator glove port', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
    try {
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      const early = await remove();
      expect(() => reviewRecord(run.log, 'P-001', { decision: 'rejected', reason: 'x' }, QA, run.session.clock.now())).toThrow('batch P-001 is held: only a finished batch');
      expect(early.status).toBe(1);
      expect(early.stderr).toContain('batch P-001 is not quarantined');
      resolveHold(run.log, 'P-001', { action: 'abort', reason: 'electroporator fault' }, QA, run.session.clock.now());
      const quarantined = await waitForEntry(run.log, 'P-001', (e) => e.type === 'batch.quarantined');
      expect(quarantined.data).toMatchObject({ location: 'ep-1.port', stuck: true });
      expect(run.log.stream('P-001').some(isEntry('alarm', (e) => String(e.data.message).includes('workcell remove P-001')))).toBe(true);

      // Another lane's batch needs the electroporator and waits for the stuck material to go.
      run.orchestrator.startBatch({ batchId: 'P-002', patient: 'P-002', chainOfIdentity: 'COI-P-002', bagId: 'BAG-P-002', lane: 'lane-2' }, { file: SHORT_SCHEDULE, text: readFileSync(SHORT_SCHEDULE, 'utf8') });
      await waitForEntry(run.log, 'P-002', (e) => e.type === 'step.completed' && e.data.step === 'wash');
      await new Promise((r) => setTimeout(r, 500));
      expect(run.orchestrator.status().batches.find((b) => b.batchId === 'P-002')).toMatchObject({ step: 'electroporate', phase: 'waiting', note: expect.stringContaining('electroporator ep-1: busy with P-001') });

      // qa.lee signed the abort, so another QA reviews (nobody reviews their own batch).
      enrolReviewer(run.log);
      expect(() => reviewRecord(run.log, 'P-001', { decision: 'rejected', reason: 'x' }, REVIEWER, run.session.clock.now())).toThrow('its material in ep-1.port to be removed (workcell remove)');
      const status = await runCli(['status', '--db', run.log.file]);
      expect(status.stdout).toMatch(/Awaiting QA review \(workcell review\):\n {2}P-001 quarantined, waiting for .*its material in ep-1\.port to be removed/);
      run.session.simulation!.takeOut('BAG-P-001');
      const removed = await remove();
      expect(removed.stderr).toBe('');
      expect(removed.stdout).toContain("P-001's material (BAG-P-001) removed from ep-1.port by hand");
      expect(removed.stdout).toContain('Signed by Anna Jansen (a.jansen) at ');
      await run.finished();
      const next = buildRecord(run.log, 'P-002');
      expect(next.status).toBe('completed');
      expect(next.lineClearances).toContainEqual(expect.objectContaining({ module: 'ep-1', previousBatch: 'P-001' }));
      const record = buildRecord(run.log, 'P-001');
      expect(record.removals).toEqual([expect.objectContaining({ from: 'ep-1.port', user: 'a.jansen', reason: 'bag taken out through the isolator glove port' })]);
      expect(formatRecord(record)).toContain('a.jansen: removed the material from ep-1.port by hand');
      expect(() => reviewRecord(run.log, 'P-001', { decision: 'approved', reason: 'x' }, REVIEWER, run.session.clock.now())).toThrow('batch P-001 is quarantined: its record can be rejected, not approved');
      expect(reviewRecord(run.log, 'P-001', { decision: 'rejected', reason: 'electroporation failed; material destroyed' }, REVIEWER, run.session.clock.now()).data.decision).toBe('rejected');
      const again = await remove();
      expect(again.status).toBe(1);
      expect(again.stderr).toContain("batch P-001's material was already removed from ep-1.port by a.jansen");
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('clears a lane-dedicated module after stuck material was taken out of it by hand, before the lane uses it again', async () => {
    // sep-1 serves lane-1 only, so no clearance is owed between lane-1's batches, except after a removal by hand.
    const misreads = [4, 5, 6].map((on) => ({ kind: 'wrong-scan' as const, capability: 'transfer', on }));
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'sep-1': [{ kind: 'error', error: 'HardwareFault', capability: 'harvest', on: 1 }], 'arm-1': misreads } });
    try {
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened' && e.data.step === 'concentrate');
      resolveHold(run.log, 'P-001', { action: 'abort', reason: 'separator fault' }, QA, run.session.clock.now());
      const quarantined = await waitForEntry(run.log, 'P-001', (e) => e.type === 'batch.quarantined');
      expect(quarantined.data).toMatchObject({ location: 'sep-1.port', stuck: true });
      run.session.simulation!.takeOut('BAG-P-001');
      expect((await runCli(['remove', 'P-001', '--reason', 'bag cut free of the separator', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) })).status).toBe(0);

      run.orchestrator.startBatch({ batchId: 'P-002', patient: 'P-002', chainOfIdentity: 'COI-P-002', bagId: 'BAG-P-002', lane: 'lane-1' }, { file: SHORT_SCHEDULE, text: readFileSync(SHORT_SCHEDULE, 'utf8') });
      await run.finished();
      expect(buildRecord(run.log, 'P-002').status).toBe('completed');
      const cleared = run.log.stream(WORKCELL_STREAM).find(isEntry('line-clearance.completed', (e) => e.data.module === 'sep-1'));
      expect(cleared?.data).toMatchObject({ after: 'P-001' });
      const entered = run.log.stream('P-002').find(isEntry('transfer.completed', (e) => e.data.to === 'sep-1.port'))!;
      expect(cleared!.seq).toBeLessThan(entered.seq);
      expect(buildRecord(run.log, 'P-002').lineClearances).toContainEqual(expect.objectContaining({ module: 'sep-1', previousBatch: 'P-001' }));
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('retries a failed command with backoff as the failure policy says, and records both attempts', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'sep-1': [{ kind: 'error', error: 'HardwareFault', capability: 'wash', on: 1 }] } });
    try {
      await run.finished();
      const record = buildRecord(run.log, 'P-001');
      expect(record.status).toBe('completed');
      expect(record.steps[0]).toMatchObject({ step: 'wash', attempts: 2, outcome: 'completed' });
      const failed = run.log.stream('P-001').find((e) => e.type === 'step.failed')!;
      const restarted = run.log.stream('P-001').find(isEntry('step.started', (e) => e.data.attempt === 2))!;
      expect(restarted.at - failed.at).toBeGreaterThanOrEqual(60_000); // the 1 min backoff, in workcell time
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('escalates a hung command to a hold through the watchdog; aborting quarantines the batch and frees the module', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }, { batchId: 'P-002', lane: 'lane-2' }], faults: { 'ep-1': [{ kind: 'hang', capability: 'electroporate', on: 1 }] } });
    try {
      // Whichever batch reached the electroporator first is the one whose command hangs.
      // One look at both batches (not a waiter per batch: the loser's would go on polling the closed log).
      const firstHold = () => ['P-001', 'P-002'].map((b) => run.log.stream(b).find(isEntry('hold.opened'))).find((h) => h !== undefined);
      const deadline = Date.now() + 60_000;
      let hold = firstHold();
      for (; !hold; hold = firstHold()) {
        if (Date.now() > deadline) throw new Error('neither batch was held within 60 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      const hung = hold.stream;
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'watchdog' });
      expect(run.log.stream(hung).some(isEntry('alarm', (e) => e.data.kind === 'watchdog'))).toBe(true);
      const answer = await runCli(['resolve', hung, '--action', 'abort', '--reason', 'electroporator unresponsive; material to quarantine', '--user', 'qa.lee', '--db', run.log.file], { env: signingAs(QA) });
      expect(answer.status).toBe(0);
      const other = hung === 'P-001' ? 'P-002' : 'P-001';
      // The other batch waits for the electroporator meanwhile. When the answer above comes late (a slow
      // machine: the CLI takes wall seconds, hours of this clock), its own wait watchdog holds it too, as it
      // should: an operator then lets it go on.
      let finished = false;
      const done = run.finished().then(() => (finished = true));
      for (let answered = 0; !finished; await new Promise((r) => setTimeout(r, 100))) {
        const holds = run.log.stream(other).filter(isEntry('hold.opened'));
        if (holds.length === answered) continue;
        // Only that wait can hold it, once: anything else is a fault of the run.
        expect(holds.map((h) => [h.data.step, h.data.kind])).toEqual([['electroporate', 'watchdog']]);
        answered = holds.length;
        const retry = await runCli(['resolve', other, '--action', 'retry', '--reason', 'electroporator free again', '--user', 'qa.lee', '--db', run.log.file], { env: signingAs(QA) });
        expect(retry.status).toBe(0);
      }
      await done;
      expect(buildRecord(run.log, hung).status).toBe('quarantined');
      expect(buildRecord(run.log, other).status).toBe('completed');
      // The other batch waited for the hung electroporator past its 2 h hold after wash: first an alarm
      // before the deadline, then a deviation once it passed, both naming the same deadline.
      const entries = run.log.stream(other);
      const started = entries.find(isEntry('hold-time.started', (e) => e.data.step === 'wash'))!;
      const alarm = entries.find(isEntry('alarm', (e) => e.data.kind === 'hold-time'))!;
      const deviation = entries.find(isEntry('deviation', (e) => e.data.kind === 'hold-time-exceeded'))!;
      expect(alarm.data).toMatchObject({ holdOf: 'wash', deadlineMs: started.data.deadlineMs });
      expect(deviation.data).toMatchObject({ holdOf: 'wash', deadlineMs: started.data.deadlineMs, message: expect.stringMatching(/^hold time after wash \(2 h\) exceeded at (\d\d-\d\d )?\d\d:\d\d UTC$/) });
      expect(alarm.at).toBeLessThan(Number(started.data.deadlineMs));
      expect(deviation.at).toBeGreaterThanOrEqual(Number(started.data.deadlineMs));
      expect(buildRecord(run.log, other).deviations.map((d) => d.kind)).toContain('hold-time-exceeded');
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('never allocates a module whose qualification expires during the run, and does not start a batch that would need it', async () => {
    // ep-1's qualification ends tomorrow (valid when the layout is loaded); the workcell clock starts the day after.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const layout = await layoutWithFreePorts(TWO_LANE_SILA);
    writeFileSync(layout, readFileSync(layout, 'utf8').replace('validUntil: 2028-08-31, reference: OQ-EP-2026-002', `validUntil: ${day(1)}, reference: OQ-EP-2026-002`));
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], layout, startAt: Date.parse(`${day(2)}T08:00:00Z`) });
    try {
      let note: string | undefined;
      for (let i = 0; i < 200 && !note?.startsWith('not starting'); i++) {
        await new Promise((r) => setTimeout(r, 50));
        note = run.orchestrator.status().batches[0]!.note;
      }
      expect(note).toBe(`not starting wash: no electroporator could serve electroporate within the hold times (ep-1 may not be used: qualification expired on ${day(1)})`);
      await new Promise((r) => setTimeout(r, 500)); // several simulated hours
      expect(run.log.stream('P-001').filter((e) => e.type === 'module.reserved')).toEqual([]);
      expect(run.orchestrator.status().batches[0]).toMatchObject({ step: 'wash', phase: 'waiting' });
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('runs or skips a conditional step on an earlier step\'s result, and records why it skipped', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], schedule: resolve('test/fixtures/schedules/conditional.yaml') });
    try {
      await run.finished();
      const record = buildRecord(run.log, 'P-001');
      expect(record.status).toBe('completed');
      expect(record.steps.map((s) => [s.step, s.outcome])).toEqual([['wash', 'completed'], ['electroporate', 'skipped'], ['concentrate', 'completed']]);
      const skipped = run.log.stream('P-001').find((e) => e.type === 'step.skipped')!;
      expect(skipped.data).toEqual({ step: 'electroporate', reason: 'condition not met: wash.viability below 50 %' });
      // The skipped step never touched the electroporator.
      expect(run.log.stream('P-001').some(isEntry('module.reserved', (e) => e.data.module === 'ep-1'))).toBe(false);
    } finally {
      await run.stop();
    }
  }, 120_000);
});

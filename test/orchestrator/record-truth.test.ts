import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { resolveHold } from '../../orchestrator/operator-actions.ts';
import type { ModuleState } from '../../config/state-model.ts';
import { runCli } from '../support/cli.ts';
import { lossy } from '../support/lossy-driver.ts';
import { OPERATOR, QA, signingAs } from '../support/operators.ts';
import { SHORT_SCHEDULE, startRun, waitForEntry } from '../support/orchestration.ts';
import { startVirtualRun } from '../support/virtual-run.ts';
import { isEntry } from '../../orchestrator/entries.ts';
import { ScaledClock } from '../../drivers/clock.ts';

const CONTROL_HOLD = resolve('test/fixtures/schedules/control-hold.yaml');

describe('record truth: hold times, skips and device faults', () => {
  it('keeps the hold-time clock running while a batch is held: the alarm before it expires, the deviation when it does; a device fault is a deviation', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'ep-1': [{ kind: 'error', error: 'HardwareFault', message: 'electrode fault', capability: 'electroporate', on: 1 }] } });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', module: 'ep-1', holdTime: { after: 'wash' } });
      // The electroporation never happened: the material waits on the deadline the wash set.
      const started = run.log.stream('P-001').filter(isEntry('hold-time.started', (e) => e.data.step === 'wash'));
      expect(started.map((e) => e.data.reopened ?? false)).toEqual([false, true]);
      expect(started[1]!.data.deadlineMs).toBe(started[0]!.data.deadlineMs);
      // wash has a 2 h hold time; the batch stays held (nobody answers) until it runs out.
      const deviation = await waitForEntry(run.log, 'P-001', (e) => e.type === 'deviation' && e.data.kind === 'hold-time-exceeded', 20_000);
      expect(deviation.at).toBeGreaterThanOrEqual(Number(started[0]!.data.deadlineMs));
      const alarm = run.log.stream('P-001').find(isEntry('alarm', (e) => e.data.kind === 'hold-time'));
      expect(alarm!.at).toBeLessThan(Number(started[0]!.data.deadlineMs));
      const fault = run.log.stream('P-001').find(isEntry('deviation', (e) => e.data.kind === 'device-fault'));
      expect(fault?.data).toMatchObject({ module: 'ep-1', step: 'electroporate', code: 'HardwareFault', message: expect.stringContaining('electrode fault') });
      // `workcell holds` says how much of the hold time is left (here: none, it was exceeded).
      const holds = await runCli(['holds', '--db', run.log.file]);
      expect(holds.stdout).toMatch(/hold time after wash exceeded/);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('records a step that ran and failed its controls, then was skipped by QA, as run: parameters, results, the failed control and who approved going on', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], schedule: CONTROL_HOLD });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'wash', kind: 'control', failedControls: [{ result: 'viability', unit: '%', min: 99.9, max: null, pass: false }] });
      const answer = resolveHold(run.log, 'P-001', { action: 'skip', reason: 'viability accepted by QA deviation DEV-17' }, QA, run.clock.now());
      const viability = (hold.data.failedControls as Array<{ value: number }>)[0]!.value;
      // What the signer approved is named, with the value, in the signed content and the entry.
      expect(answer.data.approves).toBe(`continuing without meeting viability ${viability} % (min 99.9 %) at wash`);
      const skipped = await waitForEntry(run.log, 'P-001', (e) => e.type === 'step.skipped');
      expect(skipped.data).toMatchObject({
        step: 'wash',
        ran: true,
        reason: 'ran, failed controls, continued without meeting them',
        module: 'sep-1',
        parameters: { inputVolume: 10, targetVolume: 5, cycles: 1 },
        results: { viability },
        failedControls: [{ result: 'viability', value: viability, min: 99.9 }],
        approvedBy: { user: 'qa.lee', printedName: 'Li Lee' },
      });
      await run.finished();
      expect(run.log.stream('P-001').some((e) => e.type === 'batch.completed')).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);
});

describe('record truth: no batch waits silently', () => {
  it('corrects a module state whose change notification was lost, recording it, and the waiting batch goes on', async () => {
    let ranOnce = false;
    const dropFirstIdleAfterRunning = (state: ModuleState) => {
      if (state === 'running') ranOnce = true;
      if (state === 'idle' && ranOnce && !dropped) return (dropped = true);
      return false;
    };
    let dropped = false;
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }, { batchId: 'P-002', lane: 'lane-2' }], wrapDriver: (id, driver) => (id === 'ep-1' ? lossy(driver, { dropState: dropFirstIdleAfterRunning }) : driver) });
    try {
      await run.finished();
      expect(dropped).toBe(true);
      const reconciled = run.log.stream(WORKCELL_STREAM).filter(isEntry('module.reconciled', (e) => e.data.module === 'ep-1'));
      expect(reconciled[0]?.data).toMatchObject({ believed: 'running', actual: 'idle', action: 'state corrected' });
      for (const batchId of ['P-001', 'P-002']) expect(run.log.stream(batchId).some((e) => e.type === 'batch.completed')).toBe(true);
      // The batch that waited for the electroporator has the correction in its record too.
      const concerned = ['P-001', 'P-002'].filter((batchId) => run.log.stream(batchId).some(isEntry('module.reconciled', (e) => e.data.module === 'ep-1')));
      expect(concerned.length).toBeGreaterThan(0);
    } finally {
      await run.stop();
    }
  }, 60_000);

  // These two stay on a scaled clock: in virtual time a device is read only once an hour while a
  // command runs (in process no result is ever lost: command-executor.ts), after the watchdog of a
  // command has held it, so a lost result would always look like a hung command there.
  it('fetches the result of a command by its token when the device finished it but the result never arrived', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], wrapDriver: (id, driver) => (id === 'ep-1' ? lossy(driver, { loseResultOf: 'electroporate' }) : driver) });
    try {
      await run.finished();
      const entries = run.log.stream('P-001');
      const reconciled = entries.find(isEntry('module.reconciled', (e) => e.data.action === 'result fetched by token'));
      expect(reconciled?.data).toMatchObject({ module: 'ep-1', believed: 'running' });
      expect(entries.find(isEntry('step.completed', (e) => e.data.step === 'electroporate'))?.data.results).toMatchObject({ viability: expect.any(Number) });
      // Fetched, not sent again.
      expect(entries.filter(isEntry('command.issued', (e) => e.data.capability === 'electroporate'))).toHaveLength(1);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('holds with the outcome unknown when the device finished, lost the result, and no longer knows the command', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], wrapDriver: (id, driver) => (id === 'ep-1' ? lossy(driver, { loseResultOf: 'electroporate', forgetExecutions: true }) : driver) });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'outcome-unknown', message: expect.stringContaining('never reported an outcome and the device does not give it') });
      expect(run.log.stream('P-001').find(isEntry('module.reconciled', (e) => e.data.action === 'escalated'))?.data).toMatchObject({ module: 'ep-1', believed: 'running', actual: 'idle' });
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('holds with the outcome unknown when the connection drops while a command runs, and re-attaches to it on retry instead of sending it again', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], wrapDriver: (id, driver) => (id === 'ep-1' ? lossy(driver, { dropConnectionDuring: 'electroporate' }) : driver) });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'outcome-unknown', reattach: { module: 'ep-1' } });
      // The command stays open: no failure is recorded for it, and its hold time is not reopened (the device works on).
      expect(run.log.stream('P-001').filter((e) => e.type === 'command.failed')).toEqual([]);
      expect(run.log.stream('P-001').filter(isEntry('hold-time.started', (e) => e.data.reopened === true))).toEqual([]);
      resolveHold(run.log, 'P-001', { action: 'retry', reason: 'network restored' }, OPERATOR, run.clock.now());
      await run.finished();
      const entries = run.log.stream('P-001');
      expect(entries.filter(isEntry('command.issued', (e) => e.data.capability === 'electroporate'))).toHaveLength(1);
      expect(entries.find(isEntry('step.completed', (e) => e.data.step === 'electroporate'))).toBeDefined();
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('escalates a robot transfer that does not finish to a hold through the watchdog', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'arm-1': [{ kind: 'hang', capability: 'transfer', on: 2 }] } });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened', 60_000);
      expect(hold.data).toMatchObject({ kind: 'watchdog', message: expect.stringContaining('transfer on arm-1 appears hung') });
      expect(run.log.stream('P-001').some(isEntry('alarm', (e) => e.data.kind === 'watchdog' && e.data.module === 'arm-1'))).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('reports a module busy with work that is not ours, and holds the batch waiting for it with the reason', async () => {
    const run = await startVirtualRun({ batches: [], faults: { 'ep-1': [{ kind: 'hang', capability: 'electroporate', on: 1 }] } });
    try {
      // Someone else's bag, run on the shared electroporator by another client: it hangs there. The
      // in-process device, like a SiLA server, knows a client only by its command's idempotency key.
      run.world.introduce({ id: 'BAG-OTHER', container: 'bag', position: 'ep-1.port', material: { cells: 1e8, viability: 90, volumeMl: 1 } });
      await run.drivers.get('ep-1')!.execute('electroporate', { voltage: 400, cellDensity: 2e7, volume: 1, payload: 'mRNA', payloadAmount: 20 }, { idempotencyKey: 'someone-else-1', itemId: 'BAG-OTHER' });
      run.orchestrator.startBatch({ batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1' }, { file: 'short.yaml', text: readFileSync(SHORT_SCHEDULE, 'utf8') });
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'watchdog', message: expect.stringMatching(/electroporate has waited \d+ min for a module, well past when it was expected to start: waiting for electroporator ep-1 is running/) });
      const watchdog = run.log.stream(WORKCELL_STREAM).find(isEntry('module.watchdog', (e) => e.data.module === 'ep-1'));
      expect(watchdog?.data.message).toMatch(/ep-1 has been running for \d+ min with no command of Workcell's/);
      // Its material waited in the separator inside the hold time after the wash: a deviation.
      expect(run.log.stream('P-001').find(isEntry('deviation', (e) => e.data.kind === 'watchdog'))?.data.message).toMatch(/meanwhile its hold time (ran out|runs out at)/);
    } finally {
      await run.stop();
    }
  }, 60_000);
});

describe('record truth: a device that stops answering', () => {
  it('is shown offline, not as whatever it last said, and the change is recorded', async () => {
    const run = await startRun({ batches: [] });
    try {
      const sep2 = run.session.simulation!.modules.find((m) => m.id === 'sep-2')!;
      const deadline = Date.now() + 20_000;
      while (run.orchestrator.status().modules.find((m) => m.id === 'sep-2')?.state !== 'idle') {
        if (Date.now() > deadline) throw new Error('sep-2 never idle');
        await new Promise((r) => setTimeout(r, 50));
      }
      await sep2.stop();
      while (run.orchestrator.status().modules.find((m) => m.id === 'sep-2')?.state !== 'offline') {
        if (Date.now() > deadline) throw new Error(`sep-2 still ${run.orchestrator.status().modules.find((m) => m.id === 'sep-2')?.state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const reconciled = run.log.stream(WORKCELL_STREAM).find(isEntry('module.reconciled', (e) => e.data.module === 'sep-2'));
      expect(reconciled?.data).toMatchObject({ believed: 'idle', actual: 'offline', message: expect.stringContaining('the device does not answer') });
    } finally {
      await run.stop();
    }
  }, 60_000);
});

describe('record truth: operators act on a running workcell', () => {
  it('holds a batch at its next safe point on `workcell hold`, signed; retried, it goes on', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }] });
    try {
      // The wash's completion is seen as it is appended, in this process, before the batch moves on.
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'step.completed' && e.data.step === 'wash');
      // At 3600x the batch would be loaded into the electroporator within a second of the wash, and on a
      // loaded machine a CLI process takes seconds to start: slower while operators act, so that the
      // request reaches the batch between the steps, within the hold time after the wash.
      const clock = run.session.clock;
      if (!(clock instanceof ScaledClock)) throw new Error('this test runs on a scaled clock');
      clock.setTimeScale(5);
      const asked = await runCli(['hold', 'P-001', '--reason', 'isolator glove breach suspected', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(asked.stderr).toBe('');
      expect(asked.stdout).toContain('Signed by Anna Jansen (a.jansen)');
      // The request is in the log: the orchestrator sees it within a poll (100 ms), long before the batch's
      // next safe point (after the transfer into the electroporator, minutes of workcell time away), and
      // at 30x the two hours of the hold time leave minutes for the CLI processes below.
      clock.setTimeScale(30);
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ kind: 'operator', message: 'held by a.jansen: isolator glove breach suspected', actions: ['retry', 'skip', 'abort'] });
      // The menu says how much of the hold time after the wash is left while the batch is held.
      const menu = await runCli(['holds', '--db', run.log.file]);
      expect(menu.stdout).toMatch(/hold time after wash: (\d+ h )?\d+ min left \(until (\d\d-\d\d )?\d\d:\d\d UTC\)/);
      const twice = await runCli(['hold', 'P-001', '--reason', 'again', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(twice.status).toBe(1);
      expect(twice.stderr).toContain('is held already');
      clock.setTimeScale(3600);
      resolveHold(run.log, 'P-001', { action: 'retry', reason: 'glove tested intact' }, OPERATOR, run.session.clock.now());
      await run.finished();
      const entries = run.log.stream('P-001');
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
      // The hold interrupted no attempt: none failed.
      expect(entries.filter((e) => e.type === 'step.failed')).toEqual([]);
      const finished = await runCli(['hold', 'P-001', '--reason', 'late', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(finished.stderr).toContain('batch P-001 is finished (completed): there is nothing to hold');
    } finally {
      await run.stop();
    }
  }, 120_000);

  it('allocates no batch to a module out of service, says so while the batch waits, and goes on once it is back', async () => {
    const run = await startRun({ batches: [] });
    // At 3600x a CLI process that takes 6 s to start on a loaded machine lets the batch wait 6 h, and
    // the watchdog of waits rightly holds it: 10x while operators act (its margin is then 90 s).
    const clock = run.session.clock;
    if (!(clock instanceof ScaledClock)) throw new Error('this test runs on a scaled clock');
    clock.setTimeScale(10);
    try {
      const out = await runCli(['module', 'sep-2', 'out-of-service', '--reason', 'rotor vibration', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain('sep-2 is out of service');
      const unknown = await runCli(['module', 'sep-9', 'out-of-service', '--reason', 'x', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(unknown.stderr).toContain("no module 'sep-9'");
      run.orchestrator.startBatch({ batchId: 'P-002', patient: 'P-002', chainOfIdentity: 'COI-P-002', bagId: 'BAG-P-002', lane: 'lane-2' }, { file: 'short.yaml', text: readFileSync('test/fixtures/schedules/short.yaml', 'utf8') });
      const deadline = Date.now() + 20_000;
      while (!/sep-2 may not be used: out of service since .* \(a\.jansen: rotor vibration\)/.test(run.orchestrator.status().batches[0]?.note ?? '')) {
        if (Date.now() > deadline) throw new Error(`no out-of-service wait: ${run.orchestrator.status().batches[0]?.note}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(run.log.stream('P-002').some((e) => e.type === 'module.reserved')).toBe(false);
      const status = await runCli(['status', '--db', run.log.file]);
      expect(status.stdout).toMatch(/Out of service \(npx workcell module MODULE in-service returns one\):\n {2}sep-2 +since .* \(a\.jansen: rotor vibration\)/);
      const back = await runCli(['module', 'sep-2', 'in-service', '--reason', 'rotor balanced, OQ repeated', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(back.status).toBe(0);
      clock.setTimeScale(3600);
      await run.finished();
      expect(run.log.stream('P-002').find(isEntry('step.completed', (e) => e.data.step === 'wash'))?.data.module).toBe('sep-2');
    } finally {
      await run.stop();
    }
  }, 120_000);

  it('re-reads a module on `workcell module M refresh`', async () => {
    const run = await startRun({ batches: [] });
    try {
      const refreshed = await runCli(['module', 'ep-1', 'refresh', '--db', run.log.file]);
      expect(refreshed.stderr).toBe('');
      expect(refreshed.stdout).toBe('ep-1 is idle, as the orchestrator believed.\n');
      expect(run.log.stream(WORKCELL_STREAM).some(isEntry('module.refresh-requested', (e) => e.data.module === 'ep-1'))).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it("writes into each unfinished batch's record that the orchestrator stopped, and that the next one resumed it after a clean stop", async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }] });
    try {
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'step.completed' && e.data.step === 'wash');
      await run.orchestrator.stop();
      // The next orchestrator takes over the same devices, clock and log, as `workcell resume` would.
      const next = new Orchestrator({ layout: run.layout, layoutFile: run.layoutFile, log: run.log, drivers: run.drivers, clock: run.clock });
      await next.start();
      expect(next.resumeAll()).toEqual(['P-001']);
      await next.finished();
      await next.stop();
      const entries = run.log.stream('P-001');
      expect(entries.find((e) => e.type === 'batch.interrupted')?.data.message).toMatch(/^the orchestrator stopped while P-001 was/);
      expect(entries.find((e) => e.type === 'batch.resumed')?.data).toMatchObject({ afterCrash: false });
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);
});

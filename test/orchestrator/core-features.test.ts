/**
 * The SiLA 2 core features as the orchestrator uses them on the simulated workcell (every simulator
 * serves LockController, CancelController, PauseController, ErrorRecoveryService, SimulationController).
 */
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectModule } from '../../drivers/connect.ts';
import { ModuleError, type ModuleDriver } from '../../drivers/module.ts';
import { Orchestrator } from '../../orchestrator/orchestrator.ts';
import { buildRecord, formatRecord } from '../../orchestrator/record.ts';
import { resolveHold } from '../../orchestrator/operator-actions.ts';
import { runCli } from '../support/cli.ts';
import { OPERATOR, QA, signingAs } from '../support/operators.ts';
import { startRun, waitForEntry, type TestRun } from '../support/orchestration.ts';
import { isEntry } from '../../orchestrator/entries.ts';
import { ScaledClock } from '../../drivers/clock.ts';

/** The run's clock, to slow it only while something must happen within a step. */
function scaledClockOf(run: TestRun): ScaledClock {
  if (!(run.session.clock instanceof ScaledClock)) throw new Error('this test runs on a scaled clock');
  return run.session.clock;
}

describe('the SiLA 2 core features in a batch run', () => {
  it("holds the device's lock while a batch occupies a module: other clients are refused with the standard's error; released when the batch leaves", async () => {
    // Slow enough that the wash takes seconds: another client tries the separator meanwhile.
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], timeScale: 300 });
    const other = await connectModule(run.session.layout, dirname(run.layoutFile), 'sep-1');
    try {
      const locked = await waitForEntry(run.log, 'P-001', isEntry('module.locked', (e) => e.data.module === 'sep-1'));
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'transfer.completed' && e.data.to === 'sep-1.port');
      // The lock was logged before the material entered.
      const entered = run.log.stream('P-001').find(isEntry('transfer.completed', (e) => e.data.to === 'sep-1.port'))!;
      expect(locked.seq).toBeLessThan(entered.seq);
      const refused = await other.execute('wash', { inputVolume: 10, targetVolume: 5, cycles: 1 }, { idempotencyKey: 'someone-else', itemId: 'BAG-P-001' }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(ModuleError);
      // Without the lock identifier the call is refused as the standard says: its LockIdentifier metadata is required.
      expect((refused as Error).message).toContain('org.silastandard/core/LockController/v1/Metadata/LockIdentifier');
      // The other client has been refused: the rest of the batch at the tests' usual pace.
      scaledClockOf(run).setTimeScale(3600);
      await run.finished();
      const entries = run.log.stream('P-001');
      const unlocked = entries.find(isEntry('module.unlocked', (e) => e.data.module === 'sep-1'));
      expect(unlocked?.data.reason).toBe('the material left the module');
      // Every lock taken was released by the end, and the shared electroporator was locked too.
      const lockedModules = entries.filter((e) => e.type === 'module.locked').map((e) => e.data.module);
      expect(lockedModules).toEqual(expect.arrayContaining(['sep-1', 'ep-1']));
      expect(entries.filter((e) => e.type === 'module.unlocked').length).toBe(lockedModules.length);
      // Once released, anyone may use it again.
      expect(await other.readState()).toBe('idle');
      // The record says the modules were simulators.
      expect(entries.find(isEntry('batch.started'))!.data.simulatedModules).toEqual(expect.arrayContaining(['sep-1', 'ep-1', 'arm-1']));
    } finally {
      await other.close();
      await run.stop();
    }
  }, 120_000);

  it('takes the same lock over after a restart: new connections, the logged lock identifier, no second lock', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], timeScale: 300 });
    const fresh = new Map<string, ModuleDriver>();
    try {
      const locked = await waitForEntry(run.log, 'P-001', isEntry('module.locked', (e) => e.data.module === 'sep-1'));
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'command.accepted' && e.data.module === 'sep-1');
      // The orchestrator goes away without unlocking (as a crashed one would); the device stays locked.
      await run.orchestrator.stop();
      for (const module of run.session.layout.layout.modules) if (module.connection.sila2) fresh.set(module.id, await connectModule(run.session.layout, dirname(run.layoutFile), module.id));
      const drivers = new Map([...run.session.drivers].map(([id, driver]) => [id, fresh.get(id) ?? driver]));
      const next = new Orchestrator({ layout: run.session.layout, layoutFile: run.layoutFile, log: run.log, drivers, clock: run.session.clock, deliver: (bag, position) => run.session.simulation!.deliver(bag, position) });
      await next.start();
      next.resumeAll();
      // The lock is taken over as the batches resume: the rest of the run at the tests' usual pace.
      scaledClockOf(run).setTimeScale(3600);
      await next.finished({ whenBatchesDone: () => run.session.fastForward() });
      await next.stop();
      const entries = run.log.stream('P-001');
      // Until the wash's material left sep-1 it stayed under the lock logged before the restart (the concentrate locks it anew later).
      const firstUnlock = entries.find(isEntry('module.unlocked', (e) => e.data.module === 'sep-1'))!;
      expect(entries.filter(isEntry('module.locked', (e) => e.data.module === 'sep-1' && e.seq < firstUnlock.seq)).map((e) => e.data.lockId)).toEqual([locked.data.lockId]);
      expect(fresh.get('sep-1')!.lockedBy).toBeUndefined();
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
      expect(entries.filter(isEntry('deviation', (e) => e.data.kind === 'lock-lost'))).toEqual([]);
    } finally {
      for (const driver of fresh.values()) await driver.close();
      await run.stop();
    }
  }, 120_000);

  it('holds a batch on a recoverable device error with the device\'s options in the menu; the signed choice goes back to the device', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'ep-1': [{ kind: 'recoverable', capability: 'electroporate', on: 1, message: 'cuvette not seated' }] } });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ step: 'electroporate', kind: 'device-recovery', actions: ['continue', 'retry', 'skip', 'abort'], deviceOptions: expect.arrayContaining([expect.objectContaining({ identifier: 'retry' })]) });
      expect(String(hold.data.message)).toContain('cuvette not seated');
      const menu = await runCli(['holds', '--db', run.log.file]);
      expect(menu.stdout).toMatch(/continue --option retry: .*\(the device's option\)/);
      expect(() => resolveHold(run.log, 'P-001', { action: 'continue', reason: 'x', option: 'reboot' }, OPERATOR, run.session.clock.now())).toThrow(/the device offers .*not 'reboot'/);
      const answer = await runCli(['resolve', 'P-001', '--action', 'continue', '--option', 'retry', '--reason', 'cuvette reseated', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(answer.stderr).toBe('');
      expect(answer.stdout).toContain("answered with continue with the device's option retry");
      await run.finished();
      const entries = run.log.stream('P-001');
      expect(entries.find((e) => e.type === 'command.continued')?.data).toMatchObject({ module: 'ep-1', option: 'retry', by: 'a.jansen' });
      expect(entries.find(isEntry('step.completed', (e) => e.data.step === 'electroporate'))).toBeDefined();
      // Continued on the device: the same command, not a second one.
      expect(entries.filter(isEntry('command.issued', (e) => e.data.capability === 'electroporate'))).toHaveLength(1);
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
      // The record shows both: the device's error and the option chosen, and every entry is one it knows.
      const record = buildRecord(run.log, 'P-001');
      expect(record.unrecognised).toEqual([]);
      expect(record.alarms.some((a) => a.kind === 'device-recoverable-error' && a.message.includes('cuvette not seated'))).toBe(true);
      expect(record.operatorActions.map((a) => a.action)).toContain("continue with the device's option retry");
      expect(formatRecord(record)).toMatch(/SIMULATED modules \(they reported simulation mode\): .*ep-1/);
    } finally {
      await run.stop();
    }
  }, 120_000);

  it("pauses a running command for an operator's hold, and resumes it when the hold is answered with retry", async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], timeScale: 120 });
    try {
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'command.accepted' && e.data.module === 'sep-1' && String(e.data.key).includes(':wash:'));
      const asked = await runCli(['hold', 'P-001', '--reason', 'isolator alarm', '--user', 'a.jansen', '--db', run.log.file], { env: signingAs(OPERATOR) });
      expect(asked.status).toBe(0);
      const paused = await waitForEntry(run.log, 'P-001', (e) => e.type === 'command.paused');
      expect(paused.data).toMatchObject({ module: 'sep-1' });
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened');
      expect(hold.data).toMatchObject({ kind: 'operator', paused: { module: 'sep-1' } });
      // Slow only while the CLI process asks for the hold within the wash.
      scaledClockOf(run).setTimeScale(3600);
      resolveHold(run.log, 'P-001', { action: 'retry', reason: 'alarm cleared' }, OPERATOR, run.session.clock.now());
      await run.finished();
      const entries = run.log.stream('P-001');
      expect(entries.find((e) => e.type === 'command.resumed')?.data).toMatchObject({ module: 'sep-1', resumed: true });
      expect(entries.filter(isEntry('command.issued', (e) => String(e.data.key).includes(':wash:') && e.data.capability === 'wash'))).toHaveLength(1);
      expect(entries.some((e) => e.type === 'batch.completed')).toBe(true);
    } finally {
      await run.stop();
    }
  }, 180_000);

  it('cancels the command a batch left running when it is aborted to quarantine', async () => {
    const run = await startRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], faults: { 'ep-1': [{ kind: 'hang', capability: 'electroporate', on: 1 }] } });
    try {
      const hold = await waitForEntry(run.log, 'P-001', (e) => e.type === 'hold.opened', 90_000);
      expect(hold.data.kind).toBe('watchdog');
      resolveHold(run.log, 'P-001', { action: 'abort', reason: 'electroporator unresponsive' }, QA, run.session.clock.now());
      await waitForEntry(run.log, 'P-001', (e) => e.type === 'batch.quarantined');
      const cancelled = run.log.stream('P-001').find((e) => e.type === 'command.cancelled');
      expect(cancelled?.data).toMatchObject({ module: 'ep-1', reason: 'P-001 was aborted to quarantine' });
      const deadline = Date.now() + 10_000;
      while (run.orchestrator.status().modules.find((m) => m.id === 'ep-1')?.state !== 'idle') {
        if (Date.now() > deadline) throw new Error(`ep-1 is ${run.orchestrator.status().modules.find((m) => m.id === 'ep-1')?.state} after the cancel`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await run.stop();
    }
  }, 120_000);
});

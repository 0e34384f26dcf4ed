/**
 * The standard's core features on every SiLA simulator, as a standard client and the module driver use
 * them: LockController, CancelController, PauseController, ErrorRecoveryService, SimulationController.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ScaledClock } from '../../drivers/clock.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { SilaModuleSimulator, type SilaSimulatorOptions } from '../../modules/simulators/sila-simulator.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';
import { SilaModuleDriver } from '../../drivers/sila2/module-driver.ts';
import { ModuleError, newLockId, type ExecutionProgress } from '../../drivers/module.ts';
import { SilaClient } from '../../drivers/sila2/client.ts';
import { CORE_FEATURES } from '../../drivers/sila2/core/features.ts';
import { DefinedExecutionError, FrameworkError } from '../../drivers/sila2/errors.ts';

const catalogue = loadCatalogue();
const SEPARATOR = 'dev.workcell/modules/CellSeparator/v1';
const LOCK = CORE_FEATURES.LockController;
const cleanup: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const bag = (id: string, position: string) => ({ id, container: 'bag', position, material: { cells: 4e9, viability: 92, volumeMl: 40 } });

async function separator(extra: Partial<SilaSimulatorOptions> = {}, timeScale = 1200) {
  const world = new SimulationWorld();
  world.introduce(bag('BAG', 'sep-1.port'));
  const simulator = await new SilaModuleSimulator({ moduleId: 'sep-1', kind: catalogue.kind('cell-separator')!, world, clock: new ScaledClock(timeScale), seed: 42, ...extra }).start();
  cleanup.push(() => simulator.stop());
  const connection = { host: '127.0.0.1', port: simulator.port, ca: simulator.server.certificatePem };
  const driver = async () => {
    const d = await SilaModuleDriver.connect('sep-1', catalogue.kind('cell-separator')!, connection);
    cleanup.push(() => d.close());
    return d;
  };
  const client = async () => {
    const c = await SilaClient.connect(connection);
    cleanup.push(() => c.close());
    return c;
  };
  return { simulator, world, driver, client };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Progress updates until `until` says stop (or the command ends). */
async function followUntil(progress: AsyncIterable<ExecutionProgress>, until: (p: ExecutionProgress) => boolean): Promise<ExecutionProgress | undefined> {
  for await (const p of progress) if (until(p)) return p;
  return undefined;
}

describe('LockController on a simulator', () => {
  it('holds the lock for one client: others are refused with the standard errors, may still watch, and get in after unlock', async () => {
    const { driver, client } = await separator({}, 3600);
    const holder = await driver();
    const owner = { batchId: 'P-001', lockId: newLockId('P-001') };
    expect(await holder.lock(owner, 60)).toBe(true);
    expect(holder.lockedBy).toEqual(owner);

    const other = await client();
    expect(await other.get(LOCK, 'IsLocked')).toBe(true);
    expect(await other.affectedCalls(LOCK, 'LockIdentifier')).toEqual(expect.arrayContaining([`${SEPARATOR}/Command/Wash`, CORE_FEATURES.CancelController, CORE_FEATURES.PauseController]));
    const missing = await other.call(SEPARATOR, 'Hold').catch((e) => e);
    expect(missing).toBeInstanceOf(FrameworkError);
    expect(missing.errorType).toBe('INVALID_METADATA');
    const wrong = await other.call(SEPARATOR, 'Hold', {}, { metadata: { LockIdentifier: 'somebody-else' } }).catch((e) => e);
    expect(wrong).toBeInstanceOf(DefinedExecutionError);
    expect(wrong.errorIdentifier).toBe(`${LOCK}/DefinedExecutionError/InvalidLockIdentifier`);
    const second = await other.call(LOCK, 'LockServer', { LockIdentifier: 'mine', Timeout: 10 }).catch((e) => e);
    expect(second.errorIdentifier).toBe(`${LOCK}/DefinedExecutionError/ServerAlreadyLocked`);
    expect(await other.get(SEPARATOR, 'State')).toBe('idle');

    // the holder's commands go through: the driver sends the lock identifier itself
    const wash = await holder.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'k1', itemId: 'BAG' });
    expect(await wash.result()).toHaveProperty('recovery');

    await holder.unlock();
    expect(holder.lockedBy).toBeUndefined();
    expect(await other.get(LOCK, 'IsLocked')).toBe(false);
    const notRunning = await other.call(SEPARATOR, 'Hold').catch((e) => e);
    expect(notRunning.errorIdentifier).toBe(`${SEPARATOR}/DefinedExecutionError/NotRunning`);
  });

  it('expires after its timeout without a call that carries it, and a holder keeps it alive while idle', async () => {
    const { client } = await separator();
    const raw = await client();
    await raw.call(LOCK, 'LockServer', { LockIdentifier: 'forgotten', Timeout: 1 });
    expect(await raw.get(LOCK, 'IsLocked')).toBe(true);
    await sleep(1300);
    expect(await raw.get(LOCK, 'IsLocked')).toBe(false);

    const holder = await client();
    const lock = await holder.lock({ timeoutSeconds: 1 });
    await sleep(2600);
    expect(await raw.get(LOCK, 'IsLocked')).toBe(true);
    expect((await raw.call(SEPARATOR, 'Hold').catch((e) => e)).errorType).toBe('INVALID_METADATA');
    await lock.release();
    expect(await raw.get(LOCK, 'IsLocked')).toBe(false);
    const unlockAgain = await raw.call(LOCK, 'UnlockServer', { LockIdentifier: lock.lockId }).catch((e) => e);
    expect(unlockAgain.errorIdentifier).toBe(`${LOCK}/DefinedExecutionError/ServerNotLocked`);
  });

  it('is taken over with the same (logged) identifier after a restart of the client, and by nobody else', async () => {
    const { driver } = await separator();
    const owner = { batchId: 'P-002', lockId: newLockId('P-002') };
    const before = await driver();
    await before.lock(owner, 60);
    await before.close(); // the orchestrator crashed: the lock stays with the device

    const stranger = await driver();
    const refused = await stranger.lock({ batchId: 'P-009', lockId: newLockId('P-009') }, 60).catch((e) => e);
    expect(refused).toBeInstanceOf(ModuleError);
    expect(refused).toMatchObject({ kind: 'defined', code: 'ServerAlreadyLocked' });

    const after = await driver();
    expect(await after.lock(owner, 60)).toBe(true);
    const wash = await after.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'after-restart', itemId: 'BAG' });
    expect(await wash.result()).toHaveProperty('outputVolume', 20);
    await after.unlock();
  });
});

describe('CancelController and PauseController on a simulator', () => {
  it('cancels a running command: the device stops the work, leaves the material as it was and is idle again', async () => {
    const { driver, simulator, world, client } = await separator();
    const d = await driver();
    const wash = await d.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'cancel-me', itemId: 'BAG' });
    await followUntil(wash.progress(), (p) => p.fraction > 0.2);
    expect(simulator.device.state).toBe('running');
    expect(await d.cancel(wash.token)).toBe(true);
    const outcome = await wash.result().catch((e) => e);
    expect(outcome).toBeInstanceOf(ModuleError);
    expect(outcome).toMatchObject({ kind: 'device', code: 'Cancelled' });
    expect(outcome.message).toMatch(/Wash was cancelled/);
    expect(simulator.device.state).toBe('idle');
    expect(world.item('BAG')!.material).toMatchObject({ cells: 4e9, volumeMl: 40 });
    const raw = await client();
    const infos = [];
    for await (const info of raw.attach(SEPARATOR, 'Wash', wash.token.id).info()) infos.push(info);
    expect(infos.at(-1)!.status).toBe('finishedWithError');
    expect(infos.at(-1)!.progress).toBeLessThan(1);
    // an execution that is over cannot be cancelled again
    const again = await raw.call(CORE_FEATURES.CancelController, 'CancelCommand', { CommandExecutionUUID: wash.token.id }).catch((e) => e);
    expect(again.errorIdentifier).toBe(`${CORE_FEATURES.CancelController}/DefinedExecutionError/InvalidCommandExecutionUUID`);
    // and the device takes the next command
    expect(await (await d.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'next', itemId: 'BAG' })).result()).toHaveProperty('recovery');
  });

  it('pauses a running command where it stands and resumes it to the end', async () => {
    const { driver, simulator, client } = await separator();
    const d = await driver();
    const raw = await client();
    const wash = await d.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'pause-me', itemId: 'BAG' });
    const progress: ExecutionProgress[] = [];
    const following = (async () => {
      for await (const p of wash.progress()) progress.push(p);
    })();
    while (!progress.some((p) => p.fraction > 0.2)) await sleep(20);
    expect(await d.pause(wash.token)).toBe(true);
    expect(simulator.device.state).toBe('held');
    expect(await raw.get(CORE_FEATURES.PauseController, 'Paused')).toBe(true);
    const pausedAt = progress.at(-1)!.fraction;
    await sleep(600);
    expect(progress.at(-1)!.fraction).toBeLessThanOrEqual(pausedAt + 0.03);
    const twice = await d.pause(wash.token).catch((e) => e);
    expect(twice).toMatchObject({ kind: 'defined', code: 'InvalidCommandState' });
    expect(await d.resumePaused(wash.token)).toBe(true);
    expect(simulator.device.state).toBe('running');
    expect(await wash.result()).toHaveProperty('outputVolume', 20);
    await following;
    expect(progress.at(-1)!.fraction).toBe(1);
    expect(await raw.get(CORE_FEATURES.PauseController, 'Paused')).toBe(false);
  });
});

describe('ErrorRecoveryService on a simulator', () => {
  const recoverable = (extra: object = {}) => ({ faults: [{ kind: 'recoverable' as const, capability: 'wash', message: 'air detected in the inlet line', ...extra }] });

  it('lists a recoverable error with its options, default and command; retry repeats until the device succeeds', async () => {
    const { driver, client, simulator } = await separator(recoverable({ recurrences: 1, automaticSelectionSeconds: 300 }));
    const d = await driver();
    const raw = await client();
    const wash = await d.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'recover', itemId: 'BAG' });
    const progress = wash.progress()[Symbol.asyncIterator]();
    const next = async () => {
      for (let p = await progress.next(); !p.done; p = await progress.next()) if (p.value.recoverableError) return p.value;
      throw new Error('the command ended without a recoverable error');
    };
    const first = await next();
    expect(first.recoverableError).toMatchObject({
      message: 'air detected in the inlet line',
      errorIdentifier: `${SEPARATOR}/DefinedExecutionError/HardwareFault`,
      defaultOption: 'retry',
      automaticSelectionSeconds: 300,
      options: [{ identifier: 'retry' }, { identifier: 'skip' }, { identifier: 'abort' }],
    });
    expect(first.fraction).toBeGreaterThanOrEqual(0.5);
    expect(simulator.device.state).toBe('held');
    const listed = (await raw.get(CORE_FEATURES.ErrorRecoveryService, 'RecoverableErrors')) as Array<Record<string, unknown>>;
    expect(listed).toEqual([expect.objectContaining({ CommandExecutionUUID: wash.token.id, CommandIdentifier: `${SEPARATOR}/Command/Wash`, DefaultOption: 'retry', AutomaticSelectionTimeout: 300 })]);

    const unknown = await d.continueAfterError(wash.token, 'pray').catch((e) => e);
    expect(unknown).toMatchObject({ kind: 'invalid' });
    await d.continueAfterError(wash.token, 'retry');
    // the first retry fails again (one recurrence), the second succeeds
    expect((await next()).recoverableError?.message).toBe('air detected in the inlet line');
    await d.continueAfterError(wash.token, 'retry');
    expect(await wash.result()).toHaveProperty('outputVolume', 20);
    expect(simulator.device.recoveries).toEqual([{ capability: 'wash', option: 'retry' }, { capability: 'wash', option: 'retry' }]);
    expect(await raw.get(CORE_FEATURES.ErrorRecoveryService, 'RecoverableErrors')).toEqual([]);
    const late = await raw.call(CORE_FEATURES.ErrorRecoveryService, 'ExecuteContinuationOption', { CommandExecutionUUID: wash.token.id, ContinuationOption: 'retry', InputData: { type: '<DataType><Basic>String</Basic></DataType>', value: '' } as never }).catch((e) => e);
    expect(late.errorIdentifier).toBe(`${CORE_FEATURES.ErrorRecoveryService}/DefinedExecutionError/InvalidCommandExecutionUUID`);
  });

  it.each([
    ['skip', (result: Promise<unknown>) => expect(result).resolves.toHaveProperty('outputVolume', 20)],
    ['abort', (result: Promise<unknown>) => expect(result).rejects.toMatchObject({ kind: 'defined', code: 'HardwareFault', message: 'sep-1: air detected in the inlet line' })],
  ])('finishes the command as the option %s says', async (option, check) => {
    const { driver, simulator } = await separator(recoverable());
    const d = await driver();
    const wash = await d.execute('wash', { inputVolume: 40 }, { idempotencyKey: option, itemId: 'BAG' });
    await followUntil(wash.progress(), (p) => p.recoverableError !== undefined);
    await d.continueAfterError(wash.token, option);
    await check(wash.result());
    expect(simulator.device.recoveries).toEqual([{ capability: 'wash', option }]);
  });

  it('ends the command with the error when a client gives up error handling', async () => {
    const { driver } = await separator(recoverable({ error: 'WrongItem', message: 'the bag label is unreadable' }));
    const d = await driver();
    const wash = await d.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'give-up', itemId: 'BAG' });
    await followUntil(wash.progress(), (p) => p.recoverableError !== undefined);
    await d.abortErrorHandling(wash.token);
    await expect(wash.result()).rejects.toMatchObject({ kind: 'defined', code: 'WrongItem', message: 'sep-1: the bag label is unreadable' });
  });
});

describe('SimulationController on a simulator', () => {
  it('reports simulation mode and refuses to switch to real mode', async () => {
    const { driver, client } = await separator();
    expect(await (await driver()).simulationMode()).toBe(true);
    const raw = await client();
    const refused = await raw.call(CORE_FEATURES.SimulationController, 'StartRealMode').catch((e) => e);
    expect(refused).toBeInstanceOf(DefinedExecutionError);
    expect(refused.errorIdentifier).toBe(`${CORE_FEATURES.SimulationController}/DefinedExecutionError/StartRealModeFailed`);
    expect(refused.message).toMatch(/simulator/);
    await raw.call(CORE_FEATURES.SimulationController, 'StartSimulationMode');
    expect(await raw.get(CORE_FEATURES.SimulationController, 'SimulationMode')).toBe(true);
    expect(raw.identity.implementedFeatures).toEqual(expect.arrayContaining(Object.values(CORE_FEATURES).slice(0, 6)));
  });
});

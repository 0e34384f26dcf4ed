/** The in-process back end offers what the SiLA simulators offer: cancel, pause, recoverable errors, a lock, simulation mode. */
import { describe, expect, it } from 'vitest';
import { ScaledClock } from '../../drivers/clock.ts';
import { loadCatalogue } from '../../config/catalogue.ts';
import { InProcessModuleDriver } from '../../modules/simulators/in-process-driver.ts';
import { SimulationWorld } from '../../modules/simulators/world.ts';
import type { FaultSpec } from '../../modules/simulators/faults.ts';
import { ModuleError, newLockId, type ExecutionProgress } from '../../drivers/module.ts';

const catalogue = loadCatalogue();

function separator(faults: FaultSpec[] = []) {
  const world = new SimulationWorld();
  world.introduce({ id: 'BAG', container: 'bag', position: 'sep-1.port', material: { cells: 4e9, viability: 92, volumeMl: 40 } });
  const driver = new InProcessModuleDriver({ moduleId: 'sep-1', kind: catalogue.kind('cell-separator')!, world, clock: new ScaledClock(1200), seed: 3, faults });
  return { driver, world };
}

async function until(progress: AsyncIterable<ExecutionProgress>, done: (p: ExecutionProgress) => boolean): Promise<ExecutionProgress> {
  for await (const p of progress) if (done(p)) return p;
  throw new Error('the command ended first');
}

describe('the in-process module driver', () => {
  it('cancels a running command: the device stops, the material is untouched, the module is idle', async () => {
    const { driver, world } = separator();
    const wash = await driver.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'c', itemId: 'BAG' });
    await until(wash.progress(), (p) => p.fraction > 0.2);
    expect(await driver.cancel(wash.token)).toBe(true);
    await expect(wash.result()).rejects.toMatchObject({ kind: 'device', code: 'Cancelled' });
    expect(driver.device.state).toBe('idle');
    expect(world.item('BAG')!.material.cells).toBe(4e9);
    await expect(driver.cancel(wash.token)).rejects.toBeInstanceOf(ModuleError);
  });

  it('pauses and resumes a running command', async () => {
    const { driver } = separator();
    const wash = await driver.execute('wash', { inputVolume: 100 }, { idempotencyKey: 'p', itemId: 'BAG' });
    await until(wash.progress(), (p) => p.fraction > 0.1);
    expect(await driver.pause(wash.token)).toBe(true);
    expect(driver.device.state).toBe('held');
    await expect(driver.pause(wash.token)).rejects.toMatchObject({ kind: 'defined', code: 'NotRunning' });
    expect(await driver.resumePaused(wash.token)).toBe(true);
    expect(await wash.result()).toHaveProperty('outputVolume', 20);
  });

  it('reports a recoverable error in progress and goes on with the chosen option', async () => {
    const { driver } = separator([{ kind: 'recoverable', capability: 'wash', message: 'air in the line', options: ['retry', 'abort'], defaultOption: 'abort' }]);
    const wash = await driver.execute('wash', { inputVolume: 40 }, { idempotencyKey: 'r', itemId: 'BAG' });
    const waiting = await until(wash.progress(), (p) => p.recoverableError !== undefined);
    expect(waiting.recoverableError).toMatchObject({ message: 'air in the line', errorIdentifier: 'HardwareFault', defaultOption: 'abort', options: [{ identifier: 'retry' }, { identifier: 'abort' }] });
    await expect(driver.continueAfterError(wash.token, 'skip')).rejects.toMatchObject({ kind: 'invalid' });
    await driver.continueAfterError(wash.token, 'retry');
    expect(await wash.result()).toHaveProperty('outputVolume', 20);
    expect(driver.device.recoveries).toEqual([{ capability: 'wash', option: 'retry' }]);
  });

  it('keeps a second owner out of its lock and says it simulates', async () => {
    const { driver } = separator();
    const owner = { batchId: 'P-1', lockId: newLockId('P-1') };
    expect(await driver.lock(owner)).toBe(true);
    expect(await driver.lock(owner)).toBe(true);
    await expect(driver.lock({ batchId: 'P-2', lockId: newLockId('P-2') })).rejects.toMatchObject({ kind: 'defined', code: 'ServerAlreadyLocked' });
    await driver.unlock();
    expect(driver.lockedBy).toBeUndefined();
    expect(await driver.simulationMode()).toBe(true);
  });
});

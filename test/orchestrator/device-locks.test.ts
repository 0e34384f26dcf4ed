/** Device locks after a restart: taken over with the logged identifier, and given back where the batch had left. */
import { describe, expect, it } from 'vitest';
import { DeviceLocks } from '../../orchestrator/device-locks.ts';
import type { LockOwner, ModuleDriver } from '../../drivers/module.ts';
import type { LogEntry } from '../../orchestrator/event-log.ts';

/** A device's LockController: one owner at a time; every call answers a moment later, as over the network. */
function lockableDevice(id: string, calls: string[]): ModuleDriver {
  let owner: LockOwner | undefined;
  const later = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    id,
    lockable: true,
    get lockedBy() {
      return owner;
    },
    async lock(by: LockOwner) {
      await later();
      if (owner && owner.lockId !== by.lockId) throw new Error(`${id} is locked by ${owner.batchId}`);
      owner = by;
      calls.push(`lock ${by.batchId}`);
      return true;
    },
    async unlock() {
      await later();
      calls.push(`unlock ${owner?.batchId}`);
      owner = undefined;
    },
  } as unknown as ModuleDriver;
}

describe('device locks after a restart', () => {
  it('gives back the lock of a batch that had left the module before the next batch locks it, however soon that comes', async () => {
    const calls: string[] = [];
    const written: string[] = [];
    // As in the gate, what the locks write comes back to them as entries of the log.
    const locks: DeviceLocks = new DeviceLocks(new Map([['ep-1', lockableDevice('ep-1', calls)]]), (stream, type, data) => {
      written.push(`${stream} ${type} ${JSON.stringify(data)}`);
      const entry = { type, stream, data } as LogEntry<typeof type>;
      locks.apply(entry);
      return entry;
    });
    // The log before the crash: P-002 locked ep-1, moved on, and the crash came before it unlocked.
    locks.apply({ type: 'module.locked', stream: 'P-002', data: { module: 'ep-1', lockId: 'P-002/a', timeoutSeconds: 300 } } as LogEntry);
    locks.relockAll(() => false);
    // P-003 resumes at once and is given ep-1 in the same turn.
    await locks.lockFor('P-003', 'ep-1');
    expect(calls).toEqual(['lock P-002', 'unlock P-002', 'lock P-003']);
    expect(written.filter((w) => w.includes('deviation'))).toEqual([]);
    expect(written.map((w) => w.split(' ').slice(0, 2).join(' '))).toEqual(['P-002 module.unlocked', 'P-003 module.locked']);
  });
});

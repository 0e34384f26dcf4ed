/**
 * Device locks (SiLA LockController): while a batch occupies a module, the orchestrator holds the
 * device's lock, so that no other client (another orchestrator, someone's script) can run the device
 * with this patient's material inside. The lock identifier is logged before the lock is taken, so a
 * restarted orchestrator takes the same lock over; it is released when the batch leaves the module.
 * Devices without a lock (OPC UA LADS, plain OPC UA) are left as they are.
 */
import { ModuleError, newLockId, type ModuleDriver } from '../drivers/module.ts';
import type { IdSource } from '../drivers/ids.ts';
import type { LogEntry } from './event-log.ts';
import type { EntryWriter } from './entries.ts';

/** How long a lock outlives a silent orchestrator (s): renewed long before; after a crash, others wait this long. */
export const LOCK_TIMEOUT_SECONDS = 300;

export class DeviceLocks {
  /** The lock each module holds for a batch, as the log says. */
  private readonly locks = new Map<string, { batchId: string; lockId: string }>();
  /** Modules whose device offers no lock. */
  private readonly unlockable = new Set<string>();
  /** Lock work per module, one after another (an unlock of one batch before the lock of the next). */
  private readonly queues = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly drivers: ReadonlyMap<string, ModuleDriver>,
    private readonly write: EntryWriter,
    private readonly ids?: IdSource,
  ) {}

  apply(entry: LogEntry): void {
    if (entry.type === 'module.locked') this.locks.set(entry.data.module, { batchId: entry.stream, lockId: entry.data.lockId });
    if (entry.type === 'module.unlocked' && this.locks.get(entry.data.module)?.batchId === entry.stream) this.locks.delete(entry.data.module);
  }

  /** Locks a module for the batch (again with the logged identifier, after a restart) before its material enters. */
  lockFor(batchId: string, moduleId: string): Promise<void> {
    return this.queued(moduleId, async () => {
      const driver = this.drivers.get(moduleId);
      if (!driver?.lock || driver.lockable === false || this.unlockable.has(moduleId)) return;
      const logged = this.locks.get(moduleId);
      if (logged && logged.batchId !== batchId) throw new ModuleError(moduleId, 'defined', `${moduleId} is locked for ${logged.batchId}`, 'ServerAlreadyLocked');
      if (logged && driver.lockedBy?.lockId === logged.lockId) return;
      const lockId = logged?.lockId ?? newLockId(batchId, this.ids);
      if (!logged) this.write(batchId, 'module.locked', { module: moduleId, lockId, timeoutSeconds: LOCK_TIMEOUT_SECONDS });
      const locked = await driver.lock({ batchId, lockId }, LOCK_TIMEOUT_SECONDS, (error) => this.lost(batchId, moduleId, error));
      if (!locked) {
        this.unlockable.add(moduleId);
        this.write(batchId, 'module.unlocked', { module: moduleId, reason: 'the device offers no lock (no LockController)' });
      }
    });
  }

  /** Releases the batch's lock on a module once its material has left. */
  release(batchId: string, moduleId: string): Promise<void> {
    return this.queued(moduleId, async () => {
      if (this.locks.get(moduleId)?.batchId !== batchId) return;
      const driver = this.drivers.get(moduleId);
      try {
        await driver?.unlock?.();
        this.write(batchId, 'module.unlocked', { module: moduleId, reason: 'the material left the module' });
      } catch (error) {
        // The device will let the lock expire; the next lock of this module waits for that.
        this.write(batchId, 'alarm', { kind: 'lock', module: moduleId, message: `${moduleId} could not be unlocked after ${batchId} left: ${(error as Error).message}; the lock expires after ${LOCK_TIMEOUT_SECONDS} s` });
        this.locks.delete(moduleId);
      }
    });
  }

  /**
   * After a restart: every lock the log says is held is taken over with its identifier, and given back
   * at once where the batch had left the module before the crash (`holds` says who still holds what).
   */
  relockAll(holds: (batchId: string, moduleId: string) => boolean): void {
    for (const [moduleId, { batchId }] of this.locks) {
      const relocked = this.lockFor(batchId, moduleId);
      // The release is queued now, right behind the take-over: a batch resumed at once that locks this
      // module next must find it given back, not still locked for the batch that left it.
      const handled = holds(batchId, moduleId) ? relocked : Promise.all([relocked, this.release(batchId, moduleId)]);
      void handled.catch((error: Error) => this.lost(batchId, moduleId, error));
    }
  }

  /** The orchestrator stops: lock work still queued is dropped (the devices let our locks expire, or the next orchestrator takes them over). */
  close(): void {
    this.closed = true;
  }

  private lost(batchId: string, moduleId: string, error: Error): void {
    if (this.closed) return;
    this.write(batchId, 'deviation', { kind: 'lock-lost', module: moduleId, message: `the lock on ${moduleId} held for ${batchId} was lost (${error.message}): another client may reach the device while the batch occupies it` });
  }

  private queued(moduleId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(moduleId) ?? Promise.resolve();
    const guarded = () => (this.closed ? Promise.resolve() : work());
    const next = previous.then(guarded, guarded);
    this.queues.set(moduleId, next.catch(() => undefined));
    return next;
  }
}

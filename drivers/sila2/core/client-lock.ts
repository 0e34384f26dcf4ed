/**
 * A LockController lock held by a client: the lock identifier goes with every call the server names
 * as protected (Get_FCPAffectedByMetadata_LockIdentifier), and the lock is renewed before its timeout
 * runs out while the client is idle.
 */
import { DefinedExecutionError, SilaConnectionError } from '../errors.ts';
import { featureFqi, fqi, sameFqi, type Feature } from '../feature.ts';
import type { SilaValue } from '../values.ts';
import { CORE_FEATURES } from './features.ts';
import type { Clock, Timer } from '../../clock.ts';

export interface LockOptions {
  /** The identifier to lock with; log it before locking, so that it can be reclaimed after a restart. Default: a fresh UUID. */
  lockId?: string;
  /** Seconds without a call carrying the lock after which the server unlocks itself; 0: never. */
  timeoutSeconds: number;
  /** When the server is locked under `lockId` already (by this client before a restart), take the lock over instead of failing. */
  reclaim?: boolean;
  /** The lock is gone for good: another client locked the server, or it can no longer be renewed. */
  onLost?(error: Error): void;
  /** The lock had timed out on the server (the connection was down too long, say) and was taken again. */
  onLapse?(message: string): void;
}

/** What a lock needs of its client. */
export interface LockHost {
  /** The client's clock, of idleness and renewals. */
  readonly clock: Clock;
  readonly features: Feature[];
  call(feature: string, command: string, parameters: Record<string, SilaValue>): Promise<Record<string, SilaValue>>;
  get(feature: string, property: string): Promise<SilaValue>;
  affectedCalls(feature: string, metadata: string): Promise<string[]>;
  lockEnded(lock: HeldLock): void;
}

const LOCK = CORE_FEATURES.LockController;
/** After a failed renewal (connection trouble), try again this soon. */
const RETRY_MS = 1000;

const isError = (error: unknown, identifier: string) => error instanceof DefinedExecutionError && error.identifier === identifier;

export class HeldLock {
  private readonly coverage = new Map<string, boolean>();
  private lastUse: number;
  private timer: Timer | undefined;
  private ended = false;

  private constructor(
    private readonly host: LockHost,
    readonly lockId: string,
    readonly timeoutSeconds: number,
    /** The features, commands and properties the server protects with the lock. */
    readonly protectedCalls: readonly string[],
    private readonly options: LockOptions,
  ) {
    this.lastUse = host.clock.now();
    this.schedule();
  }

  /** Locks the server (reclaiming a lock under the same identifier when asked to). */
  static async acquire(host: LockHost, lockId: string, options: LockOptions): Promise<HeldLock> {
    const lock = () => host.call(LOCK, 'LockServer', { LockIdentifier: lockId, Timeout: options.timeoutSeconds });
    try {
      await lock();
    } catch (error) {
      if (!options.reclaim || !isError(error, 'ServerAlreadyLocked')) throw error;
      // Ours from before a restart if it unlocks with our identifier; anybody else's otherwise.
      try {
        await host.call(LOCK, 'UnlockServer', { LockIdentifier: lockId });
      } catch (unlockError) {
        if (isError(unlockError, 'InvalidLockIdentifier')) throw new DefinedExecutionError((error as DefinedExecutionError).errorIdentifier, `the server is locked by another client (not under lock identifier ${lockId})`);
        if (!isError(unlockError, 'ServerNotLocked')) throw unlockError;
      }
      await lock();
    }
    return new HeldLock(host, lockId, options.timeoutSeconds, await host.affectedCalls(LOCK, 'LockIdentifier'), options);
  }

  get active(): boolean {
    return !this.ended;
  }

  /** Whether a call needs the lock identifier (asked on every call, so remembered). */
  covers(feature: Feature, member: string): boolean {
    let answer = this.coverage.get(member);
    if (answer === undefined) {
      const id = featureFqi(feature);
      answer = this.protectedCalls.some((p) => sameFqi(p, id) || sameFqi(p, member));
      this.coverage.set(member, answer);
    }
    return answer;
  }

  /** A call went out with the lock identifier: the server's timeout starts again. */
  used(): void {
    this.lastUse = this.host.clock.now();
  }

  /** Unlocks the server. A lock that timed out meanwhile is simply gone. */
  async release(): Promise<void> {
    if (this.ended) return;
    this.end();
    try {
      await this.host.call(LOCK, 'UnlockServer', { LockIdentifier: this.lockId });
    } catch (error) {
      if (!isError(error, 'ServerNotLocked')) throw error;
    }
  }

  /** Stops renewing without unlocking (the client closes): the lock times out on the server unless reclaimed. */
  abandon(): void {
    if (!this.ended) this.end();
  }

  /** The server refused the lock identifier on a call: another client holds the server now. */
  refused(error: Error): void {
    if (this.ended) return;
    this.end();
    this.options.onLost?.(error);
  }

  private end(): void {
    this.ended = true;
    this.host.clock.clearTimeout(this.timer);
    this.host.lockEnded(this);
  }

  private schedule(delayMs = (this.timeoutSeconds * 1000) / 2): void {
    if (this.ended || this.timeoutSeconds <= 0) return;
    this.timer = this.host.clock.setTimeout(() => void this.renewIfIdle(), Math.max(100, delayMs), { background: true });
  }

  private async renewIfIdle(): Promise<void> {
    const idleMs = this.host.clock.now() - this.lastUse;
    const halfMs = (this.timeoutSeconds * 1000) / 2;
    if (idleMs < halfMs) return this.schedule(halfMs - idleMs);
    try {
      await this.renew();
      this.lastUse = this.host.clock.now();
      this.schedule();
    } catch (error) {
      if (this.ended) return;
      if (error instanceof SilaConnectionError && this.host.clock.now() - this.lastUse < this.timeoutSeconds * 1000) return this.schedule(RETRY_MS);
      this.refused(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Renews by a harmless protected read when the server protects one (then checks the lock is still
   * on), else by unlocking and locking again at once. A lock found timed out is taken again.
   */
  private async renew(): Promise<void> {
    const read = this.harmlessRead();
    if (read) {
      await this.host.get(read.feature, read.property);
      if (await this.host.get(LOCK, 'IsLocked')) return;
    } else {
      try {
        await this.host.call(LOCK, 'UnlockServer', { LockIdentifier: this.lockId });
      } catch (error) {
        if (!isError(error, 'ServerNotLocked')) throw error;
        this.options.onLapse?.(`the lock ${this.lockId} had timed out on the server; locked again`);
      }
    }
    if (this.ended) return;
    await this.host.call(LOCK, 'LockServer', { LockIdentifier: this.lockId, Timeout: this.timeoutSeconds });
    if (read) this.options.onLapse?.(`the lock ${this.lockId} had timed out on the server; locked again`);
  }

  private harmlessRead(): { feature: string; property: string } | undefined {
    for (const feature of this.host.features) {
      const id = featureFqi(feature);
      if (sameFqi(id, LOCK) || sameFqi(id, CORE_FEATURES.SiLAService)) continue;
      const property = feature.properties.find((p) => !p.observable && this.covers(feature, fqi.property(feature, p.identifier)));
      if (property) return { feature: id, property: property.identifier };
    }
    return undefined;
  }
}

/**
 * LockController on the server: one lock identifier at a time; while locked, every protected call must
 * carry it as metadata (missing: INVALID_METADATA; another one: InvalidLockIdentifier). The lock ends
 * at UnlockServer, or `Timeout` seconds after the last call that carried it.
 */
import { DefinedExecutionError, ValidationError } from '../errors.ts';
import { featureFqi, fqi, sameFqi, type Feature } from '../feature.ts';
import type { FeatureImplementation } from '../server-types.ts';
import type { SilaValue } from '../values.ts';
import { CORE_FEATURES } from './features.ts';
import type { Clock } from '../../clock.ts';

export interface LockControllerOptions {
  /**
   * Fully qualified identifiers of the features, commands and properties the lock protects. Default:
   * every command of every other feature, and CancelController and PauseController as a whole (so a
   * lock holder has a harmless protected read, PauseController's Paused, to keep its lock alive).
   */
  protects?: string[];
}

export class ServerLock {
  constructor(private readonly clock: Clock) {}

  private lockIdentifier: string | undefined;
  private timeoutMs = 0;
  private expiresAt = Infinity;

  get locked(): boolean {
    if (this.lockIdentifier !== undefined && this.clock.now() > this.expiresAt) this.lockIdentifier = undefined;
    return this.lockIdentifier !== undefined;
  }

  lock(identifier: string, timeoutSeconds: number): void {
    if (this.locked) throw new DefinedExecutionError('ServerAlreadyLocked', 'the server is locked already; it can be locked again once its holder unlocks it or the lock times out');
    this.lockIdentifier = identifier;
    this.timeoutMs = timeoutSeconds * 1000;
    this.refresh();
  }

  unlock(identifier: string): void {
    if (!this.locked) throw new DefinedExecutionError('ServerNotLocked', 'the server is not locked');
    if (identifier !== this.lockIdentifier) throw new DefinedExecutionError('InvalidLockIdentifier', 'the server is locked with another lock identifier');
    this.lockIdentifier = undefined;
  }

  /** A protected call carried `identifier`: refused unless it is the lock's; otherwise the timeout starts again. */
  use(identifier: string, invalid: (message: string) => Error): void {
    if (!this.locked) return;
    if (identifier !== this.lockIdentifier) throw invalid('the server is locked with another lock identifier');
    this.refresh();
  }

  private refresh(): void {
    this.expiresAt = this.timeoutMs > 0 ? this.clock.now() + this.timeoutMs : Infinity;
  }
}

/** The calls a lock protects by default on a server with these features. */
export function defaultProtectedCalls(features: Feature[]): string[] {
  const protectedWhole = [CORE_FEATURES.CancelController, CORE_FEATURES.PauseController];
  const unprotected = [CORE_FEATURES.SiLAService, CORE_FEATURES.LockController];
  return features.flatMap((feature) => {
    const id = featureFqi(feature);
    if (unprotected.some((u) => sameFqi(u, id))) return [];
    if (protectedWhole.some((p) => sameFqi(p, id))) return [id];
    return feature.commands.map((c) => fqi.command(feature, c.identifier));
  });
}

export function lockControllerImplementation(lock: ServerLock, lockFeature: Feature, protectedCalls: () => string[]): FeatureImplementation {
  const invalidLockIdentifier = (message: string) => new DefinedExecutionError(fqi.error(lockFeature, 'InvalidLockIdentifier'), message);
  let affected: string[] | undefined;
  return {
    commands: {
      LockServer: ({ LockIdentifier, Timeout }) => {
        if (Number(Timeout) < 0) throw new ValidationError(fqi.parameter(lockFeature, 'LockServer', 'Timeout'), 'parameter Timeout: a timeout is zero (none) or a number of seconds');
        lock.lock(LockIdentifier, Number(Timeout));
      },
      UnlockServer: ({ LockIdentifier }) => lock.unlock(LockIdentifier),
    },
    properties: { IsLocked: () => lock.locked },
    // The server's features are complete once it serves calls, so the list is worked out at the first need.
    get metadataAffects() {
      affected ??= protectedCalls();
      return { LockIdentifier: affected };
    },
    metadataRules: {
      LockIdentifier: {
        needed: () => lock.locked,
        check: (value: SilaValue) => lock.use(value as string, invalidLockIdentifier),
      },
    },
  };
}

/**
 * Login attempts per client address within a sliding window. The lockout of signatures.ts protects a
 * user id; this protects the server: without it one address could keep scrypt busy and write a refusal
 * for each of endless made-up user ids. An attempt over the limit is refused before any password is
 * compared, and is not counted, so that the address may try again once its oldest attempt leaves the window.
 */
import { wallNow } from '../../drivers/clock.ts';

export interface AttemptLimit {
  attempts: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: AttemptLimit = { attempts: 10, windowMs: 60_000 };

export class AttemptWindow {
  /** Per address, the times of its attempts within the window, oldest first. */
  private readonly recent = new Map<string, number[]>();
  private sweptAt = 0;

  constructor(readonly limit: AttemptLimit = DEFAULT_LOGIN_LIMIT) {}

  /** Counts an attempt from `address`; when it is one too many, how long (ms) until one is allowed again. */
  take(address: string, now = wallNow()): { retryInMs: number } | undefined {
    this.sweep(now);
    const times = (this.recent.get(address) ?? []).filter((t) => now - t < this.limit.windowMs);
    if (times.length >= this.limit.attempts) {
      this.recent.set(address, times);
      return { retryInMs: times[0]! + this.limit.windowMs - now };
    }
    times.push(now);
    this.recent.set(address, times);
    return undefined;
  }

  /** Forgets, once a window, the addresses whose attempts all left it: the map does not grow with every visitor. */
  private sweep(now: number): void {
    if (now - this.sweptAt < this.limit.windowMs) return;
    this.sweptAt = now;
    for (const [address, times] of this.recent) if (now - times[times.length - 1]! >= this.limit.windowMs) this.recent.delete(address);
  }
}

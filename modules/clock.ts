/**
 * One clock for a whole simulation, shared by simulators and the orchestrator: real time, or scaled
 * (a time scale of 3600 runs an hour per second), so a 12-day process runs in seconds in tests.
 */
export interface Clock {
  readonly timeScale: number;
  /** This clock's time in ms since the epoch. */
  now(): number;
  /** Waits `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export class ScaledClock implements Clock {
  private readonly realStart = performance.now();

  constructor(readonly timeScale = 1, private readonly start = Date.now()) {
    if (!(timeScale > 0)) throw new Error(`a time scale must be positive, got ${timeScale}`);
  }

  now(): number {
    return this.start + (performance.now() - this.realStart) * this.timeScale;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms / this.timeScale));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export const REAL_TIME: Clock = new ScaledClock(1);

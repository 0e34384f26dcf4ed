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
  private realStart = performance.now();
  private scale: number;
  private readonly sleeping = new Set<{ due: number; timer: NodeJS.Timeout; fire: () => void }>();

  constructor(timeScale = 1, private start = Date.now()) {
    if (!(timeScale > 0)) throw new Error(`a time scale must be positive, got ${timeScale}`);
    this.scale = timeScale;
  }

  get timeScale(): number {
    return this.scale;
  }

  now(): number {
    return this.start + (performance.now() - this.realStart) * this.scale;
  }

  /**
   * Runs the clock at another speed from now on; every pending sleep ends at the same clock time as
   * before. A simulation uses this to skip through idle time (days of settle-plate incubation).
   */
  setTimeScale(timeScale: number): void {
    if (!(timeScale > 0)) throw new Error(`a time scale must be positive, got ${timeScale}`);
    this.start = this.now();
    this.realStart = performance.now();
    this.scale = timeScale;
    for (const sleeper of this.sleeping) {
      clearTimeout(sleeper.timer);
      sleeper.timer = setTimeout(sleeper.fire, Math.max(0, (sleeper.due - this.now()) / this.scale));
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper = {
        due: this.now() + ms,
        timer: undefined as unknown as NodeJS.Timeout,
        fire: () => {
          this.sleeping.delete(sleeper);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        clearTimeout(sleeper.timer);
        this.sleeping.delete(sleeper);
        reject(signal!.reason);
      };
      sleeper.timer = setTimeout(sleeper.fire, Math.max(0, ms / this.scale));
      this.sleeping.add(sleeper);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

export const REAL_TIME: Clock = new ScaledClock(1);

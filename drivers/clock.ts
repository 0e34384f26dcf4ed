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

/**
 * "10:42 UTC"; with `today` (ms) given, "11-30 10:42 UTC" when `ms` falls on another day and
 * "2027-01-02 10:42 UTC" in another year. The one way Workcell prints a time for people to read.
 */
export function timeOfDay(ms: number, today?: number): string {
  const iso = new Date(ms).toISOString();
  const reference = today === undefined ? iso : new Date(today).toISOString();
  const date = iso.slice(0, 4) !== reference.slice(0, 4) ? iso.slice(0, 10) : iso.slice(0, 10) !== reference.slice(0, 10) ? iso.slice(5, 10) : '';
  return `${date ? `${date} ` : ''}${iso.slice(11, 16)} UTC`;
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
          // Node's timers run on a coarser clock than performance.now() and may fire a little early:
          // a sleep never ends before its due time (a hold-time deviation must not predate its deadline).
          const left = sleeper.due - this.now();
          if (left > 0) {
            sleeper.timer = setTimeout(sleeper.fire, Math.max(1, left / this.scale));
            return;
          }
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

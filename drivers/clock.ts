/**
 * One clock for a whole simulation, shared by simulators and the orchestrator: real time, or scaled
 * (a time scale of 3600 runs an hour per second), so a 12-day process runs in seconds in tests.
 * Every timer and every "now" in drivers/, modules/ and orchestrator/ goes through a Clock, so a clock
 * that does not follow real time at all (a discrete-event clock that jumps to the next due timer once
 * nothing else is pending) can run them too. Protocol timeouts that must be real time (a gRPC deadline,
 * a socket timeout) and cross-process times (a lease's heartbeat, when an entry was recorded) say so by
 * using WALL_CLOCK or wallNow() by name.
 */
export interface Clock {
  readonly timeScale: number;
  /**
   * True for a clock whose time jumps from event to event (virtual-clock.ts): no wire can lose a
   * notification and no host is waited for, so what allows for those may be sparing.
   */
  readonly virtual?: boolean;
  /** This clock's time in ms since the epoch. */
  now(): number;
  /** Waits `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Calls `fn` once `ms` of this clock's time have passed, never earlier. With clearTimeout this is
   * the shape XState takes as an actor's `clock` option, so machines' delays run on this clock.
   */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): Timer;
  /** Calls `fn` every `ms` of this clock's time (a sensor's sampling period) until cleared. */
  repeat(fn: () => void, ms: number, options?: TimerOptions): Timer;
  /**
   * Calls `fn` every `realMs` of real time until cleared: housekeeping that waits on the world outside
   * the workcell's time (another process's writes, a buffer to flush, a status view for people), so it
   * keeps the computer's pace whatever this clock's speed. A clock whose time jumps calls it at each jump.
   */
  poll(fn: () => void, realMs: number, options?: TimerOptions): Timer;
  /** Cancels a timer of setTimeout, repeat or poll; one that fired, or undefined, is ignored. */
  clearTimeout(timer: Timer | undefined): void;
}

export interface TimerOptions {
  /** The timer does not keep the process running (a heartbeat, a sweep of expired calls). */
  background?: boolean;
}

declare const timerOfAClock: unique symbol;

/** A pending timer of a clock: an opaque handle for clearTimeout. */
export interface Timer {
  readonly [timerOfAClock]?: true;
}

/** Wall time in ms since the epoch: for what is wall time by definition (when an entry was recorded, a lease's heartbeat). */
export function wallNow(): number {
  return Date.now();
}

/**
 * "10:42 UTC"; with `today` (ms) given, "11-30 10:42 UTC" when `ms` falls on another day and
 * "2027-01-02 10:42 UTC" in another year. The one way Workcell prints a time for people to read.
 */
export function timeOfDay(ms: number, today?: number): string {
  const iso = new Date(ms).toISOString();
  const time = `${iso.slice(11, 16)} UTC`;
  // The same UTC day needs no date, and no second date to compare (scheduling rounds print many times).
  if (today === undefined || Math.floor(ms / DAY_MS) === Math.floor(today / DAY_MS)) return time;
  const reference = new Date(today).toISOString();
  return `${iso.slice(0, 4) !== reference.slice(0, 4) ? iso.slice(0, 10) : iso.slice(5, 10)} ${time}`;
}

const DAY_MS = 86_400_000;

/** A clock's sleep, made of its setTimeout and clearTimeout. */
export function sleepOn(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** How many virtual clocks (virtual-clock.ts) are running in this process right now. */
let runningVirtualClocks = 0;

/**
 * Marks this process as running in virtual time until the returned function is called: meanwhile a
 * timer of real or scaled time (a sleep, a timeout, a repeat not in the background) is refused, since
 * in virtual time it would be a wait the discrete-event clock cannot see, and a host-made delay.
 */
export function enterVirtualTime(): () => void {
  runningVirtualClocks++;
  let left = false;
  return () => {
    if (!left) runningVirtualClocks--;
    left = true;
  };
}

function refuseInVirtualTime(what: string, options: TimerOptions): void {
  if (runningVirtualClocks > 0 && !options.background) {
    throw new Error(`a ${what} of real time was set while a virtual clock runs in this process: in virtual time every wait must be on the run's clock (pass it the VirtualClock), or the run would wait on the host`);
  }
}

interface NodeTimer extends Timer {
  /** This clock's time it is due at. */
  due: number;
  /** For a repeat, its period in this clock's ms. */
  readonly period?: number;
  readonly fn: () => void;
  readonly background?: boolean;
  node: NodeJS.Timeout | undefined;
}

/** Timers on Node's own, converted from clock time to real time by the clock's scale. */
abstract class NodeTimerClock implements Clock {
  /** Clock-time timers, re-armed when the scale changes. */
  private readonly pending = new Set<NodeTimer>();

  abstract readonly timeScale: number;
  abstract now(): number;

  setTimeout(fn: () => void, ms: number, options: TimerOptions = {}): Timer {
    refuseInVirtualTime('timeout', options);
    return this.track({ due: this.now() + Math.max(0, ms), fn, background: options.background, node: undefined });
  }

  repeat(fn: () => void, ms: number, options: TimerOptions = {}): Timer {
    if (!(ms > 0)) throw new Error(`a repeat needs a positive period, got ${ms}`);
    refuseInVirtualTime('repeat', options);
    return this.track({ due: this.now() + ms, period: ms, fn, background: options.background, node: undefined });
  }

  poll(fn: () => void, realMs: number, options: TimerOptions = {}): Timer {
    const node = setInterval(fn, realMs);
    if (options.background) node.unref();
    const timer: NodeTimer = { due: this.now(), period: realMs, fn, node };
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (!timer) return;
    clearTimeout((timer as NodeTimer).node);
    this.pending.delete(timer as NodeTimer);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Every pending timer again, from now: after a change of scale each still ends at its clock time. */
  protected rearm(): void {
    for (const timer of this.pending) {
      clearTimeout(timer.node);
      this.arm(timer, 0);
    }
  }

  private track(timer: NodeTimer): Timer {
    this.pending.add(timer);
    this.arm(timer, 0);
    return timer;
  }

  private arm(timer: NodeTimer, atLeastMs: number): void {
    timer.node = setTimeout(() => this.fire(timer), Math.max(atLeastMs, (timer.due - this.now()) / this.timeScale));
    if (timer.background) timer.node.unref();
  }

  private fire(timer: NodeTimer): void {
    // Node's timers run on a coarser clock than performance.now() and may fire a little early:
    // a timer never fires before its due time (a hold-time deviation must not predate its deadline).
    if (timer.due - this.now() > 0) return this.arm(timer, 1);
    if (timer.period === undefined) this.pending.delete(timer);
    else {
      timer.due = Math.max(timer.due + timer.period, this.now());
      this.arm(timer, 0);
    }
    timer.fn();
  }
}

export class ScaledClock extends NodeTimerClock {
  private realStart = performance.now();
  private scale: number;

  constructor(timeScale = 1, private start = wallNow()) {
    super();
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
   * Runs the clock at another speed from now on; every pending sleep and timer ends at the same clock
   * time as before. A simulation uses this to skip through idle time (days of settle-plate incubation).
   */
  setTimeScale(timeScale: number): void {
    if (!(timeScale > 0)) throw new Error(`a time scale must be positive, got ${timeScale}`);
    this.start = this.now();
    this.realStart = performance.now();
    this.scale = timeScale;
    this.rearm();
  }
}

/** The host's clock, unscaled: for a driver or tool used on its own, and for timeouts that must be real time. */
export class WallClock extends NodeTimerClock {
  readonly timeScale = 1;

  now(): number {
    return wallNow();
  }
}

export const WALL_CLOCK: Clock = new WallClock();

/** The wall clock under its earlier name. */
export const REAL_TIME: Clock = WALL_CLOCK;

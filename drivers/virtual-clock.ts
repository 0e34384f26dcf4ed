/**
 * Discrete-event time for the digital twin: the workcell's own code (orchestrator, XState actors,
 * in-process simulators) runs unchanged on it, and whenever nothing in the process has work pending the
 * clock jumps to the next due timer. Thirteen days of a campaign take as long as its computation, and no
 * host latency ever becomes workcell time (at a scaled clock one ms of the host is many seconds of
 * process), so a hold-time deviation or an alarm in virtual time always has a cause in the process.
 *
 * The contract, for everything that runs on a VirtualClock:
 * - All work is in this process and made of microtasks and this clock's timers: in-process drivers,
 *   synchronous SQLite (better-sqlite3). "Nothing pending" is tested by letting the event loop turn
 *   (setImmediate) until a turn passes in which no timer of this clock was set, cleared or fired and
 *   no other immediate or file system request is queued or in flight.
 * - No real sockets, no file or network I/O awaited, no timer of real time: their waits are invisible
 *   here, and the clock would jump past them. A timeout, repeat or sleep of WALL_CLOCK or a ScaledClock
 *   while a virtual clock runs is refused with an error (clock.ts, enterVirtualTime); a poll is not, as it
 *   is by definition housekeeping at the computer's pace.
 * - `poll` timers of this clock run once the process is quiet at the end of an instant in which anything
 *   happened, before time jumps (or the clock goes idle): housekeeping (the orchestrator's scheduling
 *   tick, the log watcher) gets its look at every such instant, as a real tick would in between.
 * - Timers fire one at a time in order of (due time, order set), each followed by quiet: the same
 *   program on the same inputs runs the same way every time.
 */
import { enterVirtualTime, sleepOn, type Clock, type Timer, type TimerOptions } from './clock.ts';

interface VirtualTimer extends Timer {
  due: number;
  /** The order timers were set in: it breaks ties between timers due at the same time. */
  order: number;
  readonly period?: number;
  readonly fn: () => void;
  readonly background: boolean;
  /** Cleared, or fired once and for all. */
  cancelled: boolean;
}

/** Turns of the event loop without any clock activity that count as quiet. */
const QUIET_TURNS = 1;

export class VirtualClock implements Clock {
  /** Host latency costs no workcell time here: margins that allow for it are those of real time. */
  readonly timeScale = 1;
  readonly virtual = true;
  /** Timers fired, and jumps of time, since the clock was made (for benchmarks). */
  fired = 0;
  jumps = 0;
  private time: number;
  private readonly queue = new TimerQueue();
  private readonly polls = new Map<Timer, () => void>();
  private foreground = 0;
  private orders = 0;
  /** Counts every setting, clearing and firing of a timer: unchanged over a turn means the process is quiet. */
  private activity = 0;
  private seenActivity = -1;
  private polledAtActivity = -1;
  private quietTurns = 0;
  private scheduled = false;
  private leave: (() => void) | undefined;
  private stopped = false;
  private readonly idleListeners = new Set<() => void>();

  constructor(start: number) {
    if (!Number.isFinite(start)) throw new Error(`a virtual clock starts at a time, got ${start}`);
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number, options?: TimerOptions): Timer {
    return this.add(this.time + Math.max(0, Number.isFinite(ms) ? ms : 0), fn, options?.background === true, undefined);
  }

  repeat(fn: () => void, ms: number, options?: TimerOptions): Timer {
    if (!(ms > 0)) throw new Error(`a repeat needs a positive period, got ${ms}`);
    return this.add(this.time + ms, fn, options?.background === true, ms);
  }

  /** Runs `fn` whenever the process is quiet after something happened, before time moves on. */
  poll(fn: () => void, _realMs: number): Timer {
    const timer: Timer = {};
    this.polls.set(timer, fn);
    return timer;
  }

  clearTimeout(timer: Timer | undefined): void {
    if (!timer || this.polls.delete(timer)) return;
    const pending = timer as VirtualTimer;
    if (pending.cancelled || pending.order === undefined) return;
    pending.cancelled = true;
    if (!pending.background) this.foreground--;
    this.activity++;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Timers waiting to fire that keep the run going (not those in the background). */
  get pending(): number {
    return this.foreground;
  }

  /**
   * Called each time the clock runs out of work: no timer but background ones is left and the process
   * is quiet. A run still waiting for something then waits for what virtual time cannot bring (an
   * operator, real I/O): the caller says so rather than hang.
   */
  onIdle(listener: () => void): () => void {
    this.idleListeners.add(listener);
    return () => this.idleListeners.delete(listener);
  }

  /** Drops every timer and poll: the run is over, nothing more fires. */
  stop(): void {
    this.stopped = true;
    this.queue.clear();
    this.polls.clear();
    this.foreground = 0;
    this.leaveVirtualTime();
  }

  private add(due: number, fn: () => void, background: boolean, period: number | undefined): Timer {
    if (this.stopped) throw new Error('this virtual clock was stopped: its run is over, and nothing set on it would fire');
    // Every timer of one shape, made in one go: a run sets tens of thousands.
    const timer: VirtualTimer = { due, order: this.orders++, period, fn, background, cancelled: false };
    this.queue.push(timer);
    if (!timer.background) this.foreground++;
    this.activity++;
    this.schedule();
    return timer;
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.leave ??= enterVirtualTime();
    queuedTurns++;
    setImmediate(() => {
      queuedTurns--;
      this.turn();
    });
  }

  /** One turn of the event loop: wait for quiet, give housekeeping its look, then fire the next timer. */
  private turn(): void {
    this.scheduled = false;
    if (this.stopped) return;
    if (this.activity !== this.seenActivity || workInFlight()) {
      this.seenActivity = this.activity;
      this.quietTurns = 0;
      return this.schedule();
    }
    if (++this.quietTurns < QUIET_TURNS) return this.schedule();
    const next = this.foreground > 0 ? this.queue.peek() : undefined;
    // Housekeeping looks once the instant is over: before time jumps, or before the clock goes idle.
    if ((next === undefined || next.due > this.time) && this.polledAtActivity !== this.activity && this.polls.size > 0) {
      this.polledAtActivity = this.activity;
      // What the polls start settles (a turn that sees it) before time moves on.
      for (const fn of [...this.polls.values()]) fn();
      return this.schedule();
    }
    if (!next) return this.idle();
    this.queue.pop();
    this.activity++;
    if (next.due > this.time) {
      this.time = next.due;
      this.jumps++;
    }
    if (next.period !== undefined) {
      next.due += next.period;
      next.order = this.orders++;
      this.queue.push(next);
    } else {
      next.cancelled = true;
      if (!next.background) this.foreground--;
    }
    this.fired++;
    this.schedule();
    next.fn();
  }

  private idle(): void {
    this.leaveVirtualTime();
    for (const listener of [...this.idleListeners]) listener();
  }

  private leaveVirtualTime(): void {
    this.leave?.();
    this.leave = undefined;
  }
}

/** Pending timers as a binary heap by (due, order); cancelled ones are dropped as they come up. */
class TimerQueue {
  private readonly heap: VirtualTimer[] = [];

  push(timer: VirtualTimer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** The earliest timer not cancelled (cancelled ones before it are dropped). */
  peek(): VirtualTimer | undefined {
    while (this.heap[0]?.cancelled) this.take();
    return this.heap[0];
  }

  /** Takes the earliest timer not cancelled off the queue. */
  pop(): VirtualTimer | undefined {
    this.peek();
    return this.take();
  }

  clear(): void {
    this.heap.length = 0;
  }

  private take(): VirtualTimer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length === 0 || !last) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
      if (least === i) return top;
      [heap[i], heap[least]] = [heap[least]!, heap[i]!];
      i = least;
    }
  }
}

/**
 * Whether the process has other work queued or in flight: an immediate (a chain of them, however long),
 * or a file system request. The clock waits for it: a jump now would leave it behind in time.
 */
function workInFlight(): boolean {
  let immediates = 0;
  for (const resource of process.getActiveResourcesInfo()) {
    if (resource.startsWith('FSReq')) return true;
    if (resource === 'Immediate') immediates++;
  }
  // The turns of virtual clocks (another run in this process) are not work this clock waits for.
  return immediates > queuedTurns;
}

/** Turns of virtual clocks queued as immediates right now, in this process. */
let queuedTurns = 0;

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.order < b.order);
}

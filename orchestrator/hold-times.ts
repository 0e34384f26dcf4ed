/**
 * Hold times: after a step, the next must start within the schedule's `maxHold`, or the material is out
 * of its process window. The clock runs whatever the batch does meanwhile, waiting for a module or held
 * for an operator: a hold does not stop the biology. An alarm comes before the deadline, a deviation at
 * it. The window closes when the material enters the next step's module, and opens again, with the
 * deadline it had, when that step's device work fails before anything was processed.
 */
import { timeOfDay, type Clock } from '../drivers/clock.ts';
import { durationText } from './quantity-format.ts';
import type { LogEntry } from './event-log.ts';
import type { BatchJournal } from './entries.ts';
import { projectBatch, type HoldTimeWindow } from './projection.ts';

/** The hold time a batch is in, as its entries say. */
export type RunningHoldTime = HoldTimeWindow;

/** The hold time running for a batch according to its entries (the latest window not closed). */
export function runningHoldTime(entries: readonly LogEntry[]): RunningHoldTime | undefined {
  return projectBatch(entries).holdTime;
}

/** The window closed last, if the batch has no window running. */
function lastClosed(entries: readonly LogEntry[]): RunningHoldTime | undefined {
  const { holdTime, lastHoldTime } = projectBatch(entries);
  return holdTime ? undefined : lastHoldTime;
}

export class HoldTimes {
  private readonly timers = new Map<string, AbortController>();
  private readonly running = new Map<string, RunningHoldTime>();

  constructor(private readonly clock: Clock) {}

  /** The hold time after `step` begins now. */
  start(journal: BatchJournal, step: string, maxHoldSeconds: number): void {
    const deadline = this.clock.now() + maxHoldSeconds * 1000;
    journal.write('hold-time.started', { step, maxHoldSeconds, deadline: new Date(deadline).toISOString(), deadlineMs: deadline });
    this.arm(journal, { step, deadlineMs: deadline, maxHoldSeconds });
  }

  /** The material entered the next step's module (or left the workcell). */
  end(journal: BatchJournal): void {
    const timer = this.timers.get(journal.batchId);
    if (!timer) return;
    timer.abort();
    this.timers.delete(journal.batchId);
    const running = this.running.get(journal.batchId);
    this.running.delete(journal.batchId);
    journal.write('hold-time.ended', running ? { step: running.step, deadlineMs: running.deadlineMs, maxHoldSeconds: running.maxHoldSeconds, withinHoldTime: this.clock.now() <= running.deadlineMs } : {});
  }

  /**
   * The next step's device work failed before it processed anything: the material waits again, on the
   * deadline it had (a retry later does not earn it a new window).
   */
  reopen(journal: BatchJournal, why: string): void {
    const closed = lastClosed(journal.entries());
    if (!closed || this.timers.has(journal.batchId)) return;
    journal.write('hold-time.started', { step: closed.step, maxHoldSeconds: closed.maxHoldSeconds, deadline: new Date(closed.deadlineMs).toISOString(), deadlineMs: closed.deadlineMs, reopened: true, reason: why });
    this.arm(journal, closed);
  }

  /** After a restart: the hold time still running is re-armed at its original deadline. */
  rearm(journal: BatchJournal, entries: readonly LogEntry[]): void {
    const running = runningHoldTime(entries);
    if (running) this.arm(journal, running);
  }

  /** The hold time running for a batch this process runs. */
  current(batchId: string): RunningHoldTime | undefined {
    return this.running.get(batchId);
  }

  private arm(journal: BatchJournal, hold: RunningHoldTime): void {
    this.timers.get(journal.batchId)?.abort();
    const cancel = new AbortController();
    this.timers.set(journal.batchId, cancel);
    this.running.set(journal.batchId, hold);
    const { step, deadlineMs: deadline } = hold;
    const maxHoldMs = hold.maxHoldSeconds * 1000;
    const alarmAt = deadline - Math.min(5 * 60_000, maxHoldMs * 0.25);
    const already = (type: 'alarm' | 'deviation') => journal.entries().some((e) => (e.type === 'alarm' || e.type === 'deviation') && e.type === type && e.data.holdOf === step && e.data.deadlineMs === deadline);
    void (async () => {
      await this.clock.sleep(Math.max(0, alarmAt - this.clock.now()), cancel.signal);
      // An alarm that would come at or after the deadline (a restart, a slow host) would announce the past: the deviation says it.
      if (!already('alarm') && this.clock.now() < deadline) journal.write('alarm', { kind: 'hold-time', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} expires at ${timeOfDay(deadline, this.clock.now())} (${durationText(Math.round((deadline - this.clock.now()) / 1000))} left)` });
      await this.clock.sleep(Math.max(0, deadline - this.clock.now()), cancel.signal);
      if (!already('deviation')) journal.write('deviation', { kind: 'hold-time-exceeded', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} (${durationText(maxHoldMs / 1000)}) exceeded at ${timeOfDay(deadline, this.clock.now())}` });
    })().catch(() => undefined);
  }

  stop(): void {
    for (const timer of this.timers.values()) timer.abort();
    this.timers.clear();
    this.running.clear();
  }
}

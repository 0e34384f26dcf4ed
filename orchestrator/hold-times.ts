/**
 * Hold times: after a step, the next must start within the schedule's `maxHold`, or the material is out
 * of its process window. The clock runs whatever the batch does meanwhile, waiting for a module or held
 * for an operator: a hold does not stop the biology. An alarm comes before the deadline, a deviation at
 * it. The window closes when the material enters the next step's module, and opens again, with the
 * deadline it had, when that step's device work fails before anything was processed.
 */
import { timeOfDay, type Clock } from '../drivers/clock.ts';
import { durationText } from './quantity-format.ts';
import type { BatchJournal } from './entries.ts';
import { holdTimeAlert, type HoldTimeWindow } from './projection.ts';

/** Ends a hold time's timers: a reason given, so that no DOMException (and its stack) is made for each window. */
const DISARMED = new Error('the hold time was disarmed');

/** The hold time a batch is in, as its entries say. */
export type RunningHoldTime = HoldTimeWindow;

/**
 * The timers of the hold times of the batches this process runs. Which window runs, its deadline and
 * the alarms raised for it are the batch's projection (projection.ts); only the armed timers are kept here.
 */
export class HoldTimes {
  private readonly timers = new Map<string, AbortController>();
  /** Once this process stopped, the material it no longer follows closes no window. */
  private stopped = false;

  constructor(private readonly clock: Clock) {}

  /** The hold time after `step` begins now, or (resumed after a restart) began when the step completed. */
  start(journal: BatchJournal, step: string, maxHoldSeconds: number, since = this.clock.now()): void {
    const deadline = since + maxHoldSeconds * 1000;
    journal.write('hold-time.started', { step, maxHoldSeconds, deadline: new Date(deadline).toISOString(), deadlineMs: deadline });
    this.arm(journal, { step, deadlineMs: deadline, maxHoldSeconds });
  }

  /** The material entered the next step's module (or left the workcell). */
  end(journal: BatchJournal): void {
    const running = journal.state().holdTime;
    if (!running || this.stopped) return;
    this.disarm(journal.batchId);
    journal.write('hold-time.ended', { step: running.step, deadlineMs: running.deadlineMs, maxHoldSeconds: running.maxHoldSeconds, withinHoldTime: this.clock.now() <= running.deadlineMs });
  }

  /**
   * The next step's device work failed before it processed anything: the material waits again, on the
   * deadline it had (a retry later does not earn it a new window).
   */
  reopen(journal: BatchJournal, why: string): void {
    const { holdTime, lastHoldTime: closed } = journal.state();
    if (!closed || holdTime) return;
    journal.write('hold-time.started', { step: closed.step, maxHoldSeconds: closed.maxHoldSeconds, deadline: new Date(closed.deadlineMs).toISOString(), deadlineMs: closed.deadlineMs, reopened: true, reason: why });
    this.arm(journal, closed);
  }

  /** After a restart: the hold time still running is re-armed at its original deadline. */
  rearm(journal: BatchJournal): void {
    const running = journal.state().holdTime;
    if (running) this.arm(journal, running);
  }

  private disarm(batchId: string): void {
    this.timers.get(batchId)?.abort(DISARMED);
    this.timers.delete(batchId);
  }

  private arm(journal: BatchJournal, hold: RunningHoldTime): void {
    this.disarm(journal.batchId);
    const cancel = new AbortController();
    this.timers.set(journal.batchId, cancel);
    const { step, deadlineMs: deadline } = hold;
    const maxHoldMs = hold.maxHoldSeconds * 1000;
    const alarmAt = deadline - Math.min(5 * 60_000, maxHoldMs * 0.25);
    const already = (type: 'alarm' | 'deviation') => journal.state().holdTimeAlerts.has(holdTimeAlert(type, step, deadline));
    void (async () => {
      await this.clock.sleep(Math.max(0, alarmAt - this.clock.now()), cancel.signal);
      // An alarm that would come at or after the deadline (a restart, a slow host) would announce the past: the deviation says it.
      if (!already('alarm') && this.clock.now() < deadline) journal.write('alarm', { kind: 'hold-time', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} expires at ${timeOfDay(deadline, this.clock.now())} (${durationText(Math.round((deadline - this.clock.now()) / 1000))} left)` });
      await this.clock.sleep(Math.max(0, deadline - this.clock.now()), cancel.signal);
      if (!already('deviation')) journal.write('deviation', { kind: 'hold-time-exceeded', holdOf: step, deadlineMs: deadline, message: `hold time after ${step} (${durationText(maxHoldMs / 1000)}) exceeded at ${timeOfDay(deadline, this.clock.now())}` });
    })().catch(() => undefined);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) timer.abort(DISARMED);
    this.timers.clear();
  }
}

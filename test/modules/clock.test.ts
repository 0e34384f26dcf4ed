import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { ScaledClock, timeOfDay, WALL_CLOCK } from '../../drivers/clock.ts';

describe('the scaled clock', () => {
  it('never ends a sleep before its due time, however fast it runs', async () => {
    const clock = new ScaledClock(3600);
    const early: number[] = [];
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const due = clock.now() + (i % 17) * 1000 + 500;
        await clock.sleep(due - clock.now());
        if (clock.now() < due) early.push(due - clock.now());
      }),
    );
    expect(early).toEqual([]);
  });

  it('keeps pending sleeps at their clock time when its speed changes', async () => {
    const clock = new ScaledClock(1000);
    const due = clock.now() + 60_000;
    const slept = clock.sleep(60_000);
    clock.setTimeScale(100_000);
    await slept;
    expect(clock.now()).toBeGreaterThanOrEqual(due);
  });

  it('fires a timer at its clock time, never earlier, also when its speed changes; a cleared one never', async () => {
    const clock = new ScaledClock(1000);
    const due = clock.now() + 50_000;
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 50_000);
    const cleared = clock.setTimeout(() => fired.push(-1), 10_000);
    clock.clearTimeout(cleared);
    clock.clearTimeout(undefined);
    clock.setTimeScale(10_000);
    // Well after the timer: at 10,000x a re-armed early fire (1 ms of real time) is 10 s of this clock.
    await clock.sleep(200_000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toBeGreaterThanOrEqual(due);
  });

  it('repeats at its period of clock time until cleared', async () => {
    const clock = new ScaledClock(200);
    const start = clock.now();
    const times: number[] = [];
    const timer = clock.repeat(() => times.push(clock.now() - start), 10_000);
    await clock.sleep(45_000);
    clock.clearTimeout(timer);
    const counted = times.length;
    await clock.sleep(30_000);
    expect(counted).toBe(4);
    expect(times).toHaveLength(4);
    times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual((i + 1) * 10_000));
  });

  it('polls at real time whatever its speed', async () => {
    const clock = new ScaledClock(100_000);
    let polls = 0;
    const timer = clock.poll(() => polls++, 20);
    await WALL_CLOCK.sleep(200);
    clock.clearTimeout(timer);
    // An hour of clock time went by every 36 ms: a poll at clock speed would have run thousands of times.
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(polls).toBeLessThanOrEqual(10);
  });

  it("runs an XState machine's delays on its time, as the actor's clock", async () => {
    const clock = new ScaledClock(3600);
    const machine = createMachine({ initial: 'incubating', states: { incubating: { after: { 3_600_000: 'done' } }, done: { type: 'final' } } });
    const started = clock.now();
    const actor = createActor(machine, { clock });
    const done = new Promise<void>((resolve) => actor.subscribe({ complete: () => resolve() }));
    actor.start();
    await done;
    // An hour of the workcell's time, a second of real time.
    expect(clock.now() - started).toBeGreaterThanOrEqual(3_600_000);
  });

  it('names a time of day, with the date when it falls on another day', () => {
    const today = Date.parse('2026-11-22T08:00:00Z');
    expect(timeOfDay(Date.parse('2026-11-22T10:42:30Z'), today)).toBe('10:42 UTC');
    expect(timeOfDay(Date.parse('2026-11-30T16:42:30Z'), today)).toBe('11-30 16:42 UTC');
    expect(timeOfDay(Date.parse('2026-11-30T16:42:30Z'))).toBe('16:42 UTC');
  });
});

import { describe, expect, it } from 'vitest';
import { ScaledClock, timeOfDay } from '../../drivers/clock.ts';

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

  it('names a time of day, with the date when it falls on another day', () => {
    const today = Date.parse('2026-11-22T08:00:00Z');
    expect(timeOfDay(Date.parse('2026-11-22T10:42:30Z'), today)).toBe('10:42 UTC');
    expect(timeOfDay(Date.parse('2026-11-30T16:42:30Z'), today)).toBe('11-30 16:42 UTC');
    expect(timeOfDay(Date.parse('2026-11-30T16:42:30Z'))).toBe('16:42 UTC');
  });
});

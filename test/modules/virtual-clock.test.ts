import { readFile } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { ScaledClock, WALL_CLOCK } from '../../drivers/clock.ts';
import { VirtualClock } from '../../drivers/virtual-clock.ts';
import { seededIds } from '../../drivers/ids.ts';

const START = Date.UTC(2027, 0, 4, 8);

/** Resolves once the clock has run out of work. */
function idle(clock: VirtualClock): Promise<void> {
  return new Promise((resolve) => {
    const stop = clock.onIdle(() => {
      stop();
      resolve();
    });
  });
}

describe('the virtual clock', () => {
  it('jumps from timer to timer, firing them by due time and then in the order they were set', async () => {
    const clock = new VirtualClock(START);
    const fired: string[] = [];
    const note = (label: string) => () => fired.push(`${label}@${clock.now() - START}`);
    clock.setTimeout(note('c'), 3_600_000);
    clock.setTimeout(note('a'), 1000);
    clock.setTimeout(note('b1'), 60_000);
    clock.setTimeout(note('b2'), 60_000);
    clock.setTimeout(note('zero'), 0);
    const done = idle(clock);
    expect(clock.now()).toBe(START);
    await done;
    expect(fired).toEqual(['zero@0', 'a@1000', 'b1@60000', 'b2@60000', 'c@3600000']);
    expect(clock.now()).toBe(START + 3_600_000);
  });

  it('lets every chain of promises a timer started finish before time moves on', async () => {
    const clock = new VirtualClock(START);
    const seen: Array<[string, number]> = [];
    const work = async () => {
      await clock.sleep(10_000);
      // A long chain of microtasks (as an awaited in-process driver makes) runs at the same instant.
      for (let i = 0; i < 1000; i++) await Promise.resolve();
      seen.push(['chain done', clock.now() - START]);
      await clock.sleep(5_000);
      seen.push(['slept again', clock.now() - START]);
    };
    clock.setTimeout(() => seen.push(['other timer', clock.now() - START]), 10_001);
    const done = idle(clock);
    await work();
    await done;
    expect(seen).toEqual([
      ['chain done', 10_000],
      ['other timer', 10_001],
      ['slept again', 15_000],
    ]);
  });

  it('waits for chains of immediates and file reads the process started before it jumps', async () => {
    const clock = new VirtualClock(START);
    const order: string[] = [];
    clock.setTimeout(() => {
      // Work that goes through the event loop's check phase, then sets a timer of the clock.
      const chain = (left: number) => setImmediate(() => (left > 0 ? chain(left - 1) : clock.setTimeout(() => order.push(`late timer@${clock.now() - START}`), 0)));
      chain(20);
    }, 1000);
    clock.setTimeout(() => readFile(import.meta.filename, () => order.push(`read@${clock.now() - START}`)), 1500);
    clock.setTimeout(() => order.push(`next@${clock.now() - START}`), 2000);
    await idle(clock);
    expect(order).toEqual(['late timer@1000', 'read@1500', 'next@2000']);
  });

  it('runs beside another virtual clock of the same process, each in its own time', async () => {
    const [a, b] = [new VirtualClock(START), new VirtualClock(START + 5000)];
    const fired: string[] = [];
    for (const [name, clock] of [['a', a], ['b', b]] as const) for (const ms of [1000, 2000, 3000]) clock.setTimeout(() => fired.push(`${name}${clock.now() - START}`), ms);
    await Promise.all([idle(a), idle(b)]);
    expect(fired.filter((f) => f.startsWith('a'))).toEqual(['a1000', 'a2000', 'a3000']);
    expect(fired.filter((f) => f.startsWith('b'))).toEqual(['b6000', 'b7000', 'b8000']);
  });

  it('repeats at its period until cleared, and a cleared timer never fires', async () => {
    const clock = new VirtualClock(START);
    const ticks: number[] = [];
    const repeat = clock.repeat(() => {
      ticks.push(clock.now() - START);
      if (ticks.length === 4) clock.clearTimeout(repeat);
    }, 250);
    const never = clock.setTimeout(() => ticks.push(-1), 500);
    clock.clearTimeout(never);
    clock.clearTimeout(never);
    await idle(clock);
    expect(ticks).toEqual([250, 500, 750, 1000]);
    expect(clock.pending).toBe(0);
  });

  it('ends a sleep early with the reason when its signal aborts, and the time does not move for it', async () => {
    const clock = new VirtualClock(START);
    const abort = new AbortController();
    const slept = clock.sleep(86_400_000, abort.signal);
    clock.setTimeout(() => abort.abort(new Error('called off')), 1000);
    await expect(slept).rejects.toThrow('called off');
    await idle(clock);
    expect(clock.now()).toBe(START + 1000);
    await expect(clock.sleep(10, abort.signal)).rejects.toThrow('called off');
  });

  it('runs polls once per instant in which anything happened, before time jumps', async () => {
    const clock = new VirtualClock(START);
    const log: string[] = [];
    clock.poll(() => log.push(`poll@${clock.now() - START}`), 100);
    clock.setTimeout(() => log.push('t1@1000'), 1000);
    clock.setTimeout(() => log.push('t2@1000'), 1000);
    clock.setTimeout(() => log.push('t3@5000'), 5000);
    await idle(clock);
    expect(log).toEqual(['poll@0', 't1@1000', 't2@1000', 'poll@1000', 't3@5000', 'poll@5000']);
  });

  it('is kept going by foreground timers only: background ones fire on the way, or not at all', async () => {
    const clock = new VirtualClock(START);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 1000, { background: true });
    clock.setTimeout(() => fired.push(2), 2000);
    clock.setTimeout(() => fired.push(3), 3000, { background: true });
    await idle(clock);
    expect(fired).toEqual([1, 2]);
    expect(clock.now()).toBe(START + 2000);
  });

  it('drives XState delays as an actor clock', async () => {
    const clock = new VirtualClock(START);
    const machine = createMachine({ initial: 'soaking', states: { soaking: { after: { 7_200_000: 'done' } }, done: { type: 'final' } } });
    const actor = createActor(machine, { clock });
    const finished = new Promise<number>((resolve) => actor.subscribe({ complete: () => resolve(clock.now() - START) }));
    actor.start();
    expect(await finished).toBe(7_200_000);
  });

  it('refuses timers of real or scaled time while it runs (a wait it cannot see), and allows them again once idle', async () => {
    const clock = new VirtualClock(START);
    const refused: string[] = [];
    clock.setTimeout(() => {
      for (const attempt of [() => WALL_CLOCK.setTimeout(() => undefined, 10), () => WALL_CLOCK.repeat(() => undefined, 10)]) {
        try {
          attempt();
        } catch (error) {
          refused.push((error as Error).message);
        }
      }
      new ScaledClock(100).sleep(10).catch((error: Error) => refused.push(error.message));
      // A heartbeat in the background and a poll are the host's housekeeping, not waits of the run.
      WALL_CLOCK.clearTimeout(WALL_CLOCK.setTimeout(() => undefined, 10, { background: true }));
      WALL_CLOCK.clearTimeout(WALL_CLOCK.poll(() => undefined, 10));
    }, 1000);
    await idle(clock);
    expect(refused).toHaveLength(3);
    expect(refused[0]).toMatch(/timeout of real time was set while a virtual clock runs/);
    await WALL_CLOCK.sleep(1);
  });

  it('fires nothing once stopped, and refuses new timers', async () => {
    const clock = new VirtualClock(START);
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(1), 1000);
    clock.stop();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(fired).toEqual([]);
    expect(() => clock.setTimeout(() => undefined, 1)).toThrow(/stopped/);
    await WALL_CLOCK.sleep(1);
  });
});

describe('seeded identifiers', () => {
  it('repeat for the same seed and label, differ for another, and have the UUID v4 form', () => {
    const take = (seed: number, label: string) => {
      const ids = seededIds(seed, label);
      return [ids.uuid(), ids.uuid(), ids.uuid()];
    };
    const first = take(5, 'locks');
    expect(take(5, 'locks')).toEqual(first);
    expect(new Set(first).size).toBe(3);
    expect(take(6, 'locks')).not.toEqual(first);
    expect(take(5, 'execution:sep-1')).not.toEqual(first);
    for (const id of first) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

/** Waits split by cause: the pieces cover the wait exactly, and each names what the modules were doing then. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { waitPieces } from '../../orchestrator/capacity/metrics.ts';
import type { Interval, Timeline } from '../../orchestrator/capacity/timeline.ts';
import { PlanProgressBar } from '../../cli/plan-progress.ts';

const { layout, schedules } = loadWorkcell('test/fixtures/layouts/two-lane-sila.yaml', ['test/fixtures/schedules/short.yaml']);

function timelineWith(occupancy: Array<Interval & { batchId: string }>, clearances: Interval[]): Timeline {
  return {
    batches: new Map(), occupancy: new Map([['ep-1', occupancy]]), clearances: new Map([['ep-1', clearances.map((c) => ({ ...c, after: 'P-X' }))]]),
    commands: new Map(), transfers: [], stepBars: [], waits: [], holdWindows: [], holds: [], deviations: [], end: 0,
  };
}

/** Non-overlapping intervals on one module, alternately occupied and cleared, from random lengths. */
const moduleHistory = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 30 }), fc.boolean()), { maxLength: 8 }).map((steps) => {
  const occupancy: Array<Interval & { batchId: string }> = [];
  const clearances: Interval[] = [];
  let t = 0;
  for (const [gap, length, occupied] of steps) {
    const from = t + gap;
    if (occupied) occupancy.push({ batchId: 'P-OTHER', from, until: from + length });
    else clearances.push({ from, until: from + length });
    t = from + length;
  }
  return { occupancy, clearances };
});

describe('causes of a wait', () => {
  it('cover the wait without gaps or overlaps, and say busy, clearance or free as the module was', () => {
    fc.assert(
      fc.property(moduleHistory, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 100 }), ({ occupancy, clearances }, from, length) => {
        const wait = { batchId: 'P-002', step: 'electroporate', capability: 'electroporator.electroporate', lane: 'lane-2', from, until: from + length };
        const pieces = waitPieces(wait, timelineWith(occupancy, clearances), layout.model);
        expect(pieces[0]!.from).toBe(from);
        expect(pieces.at(-1)!.until).toBe(from + length);
        pieces.forEach((p, i) => {
          if (i > 0) expect(p.from).toBe(pieces[i - 1]!.until);
          expect(p.until).toBeGreaterThan(p.from);
          if (i > 0) expect(p.reason).not.toBe(pieces[i - 1]!.reason);
          const mid = (p.from + p.until) / 2;
          const busy = occupancy.some((o) => o.from <= mid && mid < o.until);
          const clearing = clearances.some((c) => c.from <= mid && mid < c.until);
          expect(p.reason).toBe(busy ? 'electroporator busy with other batches' : clearing ? 'electroporator in line clearance' : 'electroporator free but not granted (hold-time lookahead of the steps after)');
          expect(p.occupants).toEqual(busy ? ['P-OTHER'] : []);
        });
      }),
    );
  });

  it('a free module not granted names the later step whose modules were all taken (the lookahead over hold times)', () => {
    const wait = { batchId: 'P-002', step: 'wash', capability: 'cell-separator.wash', lane: 'lane-2', from: 10, until: 40 };
    const pieces = waitPieces(wait, timelineWith([{ batchId: 'P-001', from: 0, until: 30 }], [{ from: 30, until: 45 }]), layout.model, schedules[0]!.model);
    expect(pieces.map((p) => [p.reason, p.from, p.until, p.occupants])).toEqual([
      ['cell-separator free, held back for electroporate: electroporator busy (hold-time lookahead)', 10, 40, ['P-001']],
    ]);
  });

  it('a batch that holds a module for the step already waits for none', () => {
    const wait = { batchId: 'P-002', step: 'electroporate', capability: 'electroporator.electroporate', lane: 'lane-2', from: 10, until: 12 };
    expect(waitPieces(wait, timelineWith([{ batchId: 'P-002', from: 0, until: 50 }], []), layout.model)).toEqual([]);
  });
});

describe('the progress bar', () => {
  const stream = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, columns: 120, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream };
  };

  it('draws on a terminal and clears itself at the end', () => {
    const { written, stream: tty } = stream(true);
    const bar = new PlanProgressBar(tty);
    bar.update({ done: 1, total: 4, scenario: 'two-lane × demo', seed: 2, fraction: 0.5 });
    bar.done();
    expect(written[0]).toBe(`\r[${'#'.repeat(11)}${'.'.repeat(19)}]  37 %  run 2/4, seed 2: two-lane × demo`);
    expect(written.at(-1)).toBe('\r\u001b[2K');
  });

  it('writes nothing where stderr is no terminal', () => {
    const { written, stream: pipe } = stream(false);
    const bar = new PlanProgressBar(pipe);
    bar.update({ done: 0, total: 1, scenario: 's', seed: 1, fraction: 0.3 });
    bar.done();
    expect(written).toEqual([]);
  });
});

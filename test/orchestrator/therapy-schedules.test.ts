/**
 * The TCR-T and NK example schedules run through the simulated two-lane workcell (in virtual time) to the end with no
 * hold and no deviation the process does not cause, and their in-process controls see the markers
 * the therapy is followed on (a TCR knock-in, NK purity with few T cells).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import { startVirtualRun, type VirtualTestRun } from '../support/virtual-run.ts';
import { isEntry } from '../../orchestrator/entries.ts';

/** Results of every command of a capability the batch ran, in order. */
function resultsOf(log: EventLog, batchId: string, capability: string): Array<Record<string, number>> {
  const entries = log.stream(batchId, { withoutTelemetry: true });
  const keys = new Set(entries.filter(isEntry('command.issued', (e) => e.data.capability === capability)).map((e) => String(e.data.key)));
  return entries.filter(isEntry('command.completed', (e) => keys.has(String(e.data.key)))).map((e) => e.data.results as Record<string, number>);
}

/** Runs the batch to the end in virtual time: robot moves keep their short hold times, the days of culture take no wait. */
async function runThrough(schedule: string): Promise<VirtualTestRun> {
  const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], schedule: resolve(schedule), seed: 21 });
  await run.finished();
  return run;
}

function expectCleanRecord(run: VirtualTestRun, steps: string[]): void {
  const record = buildRecord(run.log, 'P-001');
  expect(record.status).toBe('completed');
  expect(record.steps.map((s) => [s.step, s.outcome])).toEqual(steps.map((s) => [s, 'completed']));
  expect(run.log.stream('P-001').filter((e) => e.type === 'hold.opened').map((e) => e.data)).toEqual([]);
  // Settle plates may count colonies: that deviation is the room's, not the process's.
  expect(record.deviations.filter((d) => d.kind !== 'em-excursion')).toEqual([]);
}

describe('example schedules for other cell therapies', () => {
  it('TCR-T: a TRAC knock-in followed on TCR+ cells runs without holds or deviations', async () => {
    const run = await runThrough('schedules/tcrt-electroporation.yaml');
    try {
      expectCleanRecord(run, ['wash', 'select', 'electroporate', 'seed', 'expand', 'drain', 'formulate']);
      const samples = resultsOf(run.log, 'P-001', 'sample');
      expect(samples.length).toBeGreaterThanOrEqual(7);
      for (const sample of samples) {
        // About a quarter of the T cells carry the knocked-in TCR; no CAR was delivered.
        expect(sample.tcrPositive).toBeGreaterThan(10);
        expect(sample.tcrPositive).toBeLessThan(60);
        expect(sample.carPositive).toBe(0);
        // TRAC is cut in most cells: those without the knock-in lose surface CD3.
        expect(sample.cd3Positive).toBeLessThan(70);
        expect(sample.cd3Positive).toBeGreaterThanOrEqual(sample.tcrPositive! - 2);
        expect(sample.cd56Positive).toBeLessThan(5);
      }
      const [selected] = resultsOf(run.log, 'P-001', 'select');
      expect(selected!.purity).toBeGreaterThan(90);
    } finally {
      await run.stop();
    }
  }, 240_000);

  it('NK: CD3 depletion and CD56 enrichment, two weeks on feeders, runs without holds or deviations', async () => {
    const run = await runThrough('schedules/nk-expansion.yaml');
    try {
      expectCleanRecord(run, ['wash', 'select', 'seed', 'expand', 'drain', 'formulate']);
      const [selected] = resultsOf(run.log, 'P-001', 'select');
      expect(selected!.purity).toBeGreaterThan(85);
      // NK cells are about a tenth of the apheresis: far fewer come out of the selection than T cells would.
      expect(selected!.totalCells).toBeLessThan(1e9);
      const samples = resultsOf(run.log, 'P-001', 'sample');
      expect(samples.length).toBeGreaterThanOrEqual(6);
      for (const sample of samples) {
        expect(sample.cd56Positive).toBeGreaterThan(85);
        expect(sample.cd16Positive).toBeGreaterThan(60);
        expect(sample.cd3Positive).toBeLessThan(2);
        expect(sample.tcrPositive).toBe(0);
      }
      const [culture] = resultsOf(run.log, 'P-001', 'culture').slice(-1);
      expect(culture).toBeDefined();
      const [formulated] = resultsOf(run.log, 'P-001', 'harvest').slice(-1);
      expect(formulated!.totalCells).toBeGreaterThan(1e9);
    } finally {
      await run.stop();
    }
  }, 240_000);
});

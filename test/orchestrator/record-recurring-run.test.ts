/** End to end: a culture with daily samples, run on the simulated two-lane workcell in virtual time, read with `workcell record`. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecord } from '../../orchestrator/record.ts';
import { runCli } from '../support/cli.ts';
import { startVirtualRun } from '../support/virtual-run.ts';

describe('the record of a batch with daily samples', () => {
  it('shows each sample under its step, dated (a day or more after the start), its results in their units and its control', async () => {
    const run = await startVirtualRun({ batches: [{ batchId: 'P-001', lane: 'lane-1' }], schedule: resolve('test/fixtures/schedules/daily-samples.yaml'), startAt: Date.UTC(2026, 11, 1, 8) });
    try {
      await run.finished();
      const record = buildRecord(run.log, 'P-001');
      expect(record.status).toBe('completed');
      expect(record.steps.map((s) => s.step)).toEqual(['seed', 'expand', 'drain']);
      const expand = record.steps[1]!;
      // Three days of culture in daily segments: a sample after the first and after the second day.
      const samples = expand.recurring.filter((r) => r.work === 'daily-sample');
      expect(samples).toHaveLength(2);
      for (const sample of samples) {
        expect(sample).toMatchObject({ capability: 'rocking-bioreactor.sample', module: 'bio-1', outcome: 'completed', parameters: { volume: 2 }, resultUnits: { viability: '%', cellDensity: 'cells/mL', glucose: 'g/L' } });
        expect(typeof sample.results!.viability).toBe('number');
        expect(sample.controls.map((c) => [c.result, c.min])).toEqual([['viability', 50]]);
      }
      // The step's own control stays the step's.
      expect(expand.controls.map((c) => c.result)).toEqual(['viability']);

      const printed = await runCli(['record', 'P-001', '--db', run.log.file]);
      expect(printed.status).toBe(0);
      expect(printed.stdout).toMatch(/parameters .*duration=3 d.*temperature=37\.0 degC/);
      expect(printed.stdout).toMatch(/ {6}daily-sample #1 at \d\d-\d\d \d\d:\d\d UTC on bio-1 \(volume=2 mL\): .*cellDensity=\d\.\de\d cells\/mL.*viability=\d+\.\d %/);
      expect(printed.stdout).toMatch(/ {6}daily-sample #2 at \d\d-\d\d \d\d:\d\d UTC on bio-1 \(volume=2 mL\): /);
      expect(printed.stdout.match(/ {8}control {2}viability \d+\.\d % \(at least 50\.0 %\): pass/g)).toHaveLength(2);
      const html = await runCli(['record', 'P-001', '--db', run.log.file, '--html']);
      expect(html.stdout).toMatch(/<td>daily-sample<br>on bio-1<\/td><td>volume = 2 mL<\/td>/);
    } finally {
      await run.stop();
    }
  }, 120_000);
});

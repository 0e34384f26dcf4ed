/**
 * A long run with faults, holds and many patients: six batches on the six-lane layout in virtual time with
 * the layout's faults file. Every batch completes or holds with a reason, no batch waits past its
 * watchdog without a hold, each hold is answered as an operator would, and each fault is in the
 * records of the batches it touched.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFaultsFile } from '../../modules/simulators/faults.ts';
import { resolveHold } from '../../orchestrator/operator-actions.ts';
import { openHold } from '../../orchestrator/batch-state.ts';
import { watchdogMargin } from '../../orchestrator/command-executor.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import { OPERATOR, QA } from '../support/operators.ts';
import { startVirtualRun } from '../support/virtual-run.ts';

const BATCHES = ['P-001', 'P-002', 'P-003', 'P-004', 'P-005', 'P-006'];

describe('six patients on the six-lane workcell with its faults file', () => {
  it('completes or holds every batch with a reason, never waits silently, and records every fault where it struck', async () => {
    const faults = readFaultsFile('layouts/faults/six-lane.yaml')!;
    const run = await startVirtualRun({
      layout: resolve('layouts/six-lane.yaml'),
      schedule: resolve('schedules/demo.yaml'),
      faults,
      batches: BATCHES.map((batchId, i) => ({ batchId, lane: `lane-${i + 1}` })),
    });
    const longestSilentWait = new Map<string, number>();
    const waitingSince = new Map<string, number>();
    const answered: Array<{ batchId: string; kind: string; message: string }> = [];
    let holdOpened = false;
    run.log.subscribe((entry) => (holdOpened ||= entry.type === 'hold.opened'));
    // Looked at each instant of the run in which anything happened.
    const stopWatching = run.everyMoment(() => {
      const now = run.clock.now();
      for (const b of run.orchestrator.status().batches) {
        if (b.phase !== 'waiting') waitingSince.delete(b.batchId);
        else if (!waitingSince.has(b.batchId)) waitingSince.set(b.batchId, now);
        const since = waitingSince.get(b.batchId);
        if (since !== undefined) longestSilentWait.set(b.batchId, Math.max(longestSilentWait.get(b.batchId) ?? 0, now - since));
      }
      // An operator at the HMI: every hold is answered, the way its kind calls for.
      if (!holdOpened) return;
      holdOpened = false;
      for (const batchId of BATCHES) {
        const hold = openHold(run.log.stream(batchId, { withoutTelemetry: true }));
        if (!hold) continue;
        const kind = String(hold.data.kind);
        answered.push({ batchId, kind, message: String(hold.data.message) });
        if (kind === 'device-recovery') resolveHold(run.log, batchId, { action: 'continue', option: 'retry', reason: 'cuvette reseated' }, OPERATOR, now);
        else if (kind === 'watchdog') resolveHold(run.log, batchId, { action: 'abort', reason: 'device unresponsive; material to quarantine' }, QA, now);
        else resolveHold(run.log, batchId, { action: 'retry', reason: `checked: ${kind}` }, OPERATOR, now);
      }
    });
    try {
      await run.finished();
      stopWatching();
      // Each hold had a reason an operator can act on.
      expect(answered.length).toBeGreaterThanOrEqual(3);
      for (const hold of answered) expect(hold.message.length).toBeGreaterThan(10);
      expect(new Set(answered.map((h) => h.kind))).toEqual(new Set(['device-recovery', 'watchdog', 'scan-mismatch']));
      // No batch waited longer than its watchdog (and one more check of the devices) without a hold.
      const allowed = 2 * watchdogMargin(0, run.clock.timeScale) * 1000;
      for (const [batchId, waited] of longestSilentWait) expect({ batchId, waited: waited <= allowed }).toEqual({ batchId, waited: true });
      const records = BATCHES.map((batchId) => buildRecord(run.log, batchId));
      for (const record of records) expect(['completed', 'quarantined']).toContain(record.status);
      // The hung electroporation was aborted to quarantine; every other batch completed.
      expect(records.filter((r) => r.status === 'quarantined')).toHaveLength(1);
      const deviations = records.flatMap((r) => r.deviations.map((d) => ({ batchId: r.batchId, ...d })));
      // The centrifuge imbalance is a device fault in the record of the batch that met it.
      expect(deviations.filter((d) => d.kind === 'device-fault' && d.message.includes('centrifuge imbalance'))).toHaveLength(1);
      expect(deviations.some((d) => d.kind === 'scan-mismatch')).toBe(true);
      expect(deviations.some((d) => d.kind === 'em-excursion')).toBe(true);
      expect(run.log.verify().breaks).toEqual([]);
    } finally {
      stopWatching();
      await run.stop();
    }
  }, 180_000);
});

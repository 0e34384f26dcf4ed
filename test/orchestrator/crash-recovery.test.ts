/**
 * Crash safety with real processes: simulators in a process of their own, the orchestrator killed with
 * SIGKILL at random moments and resumed, and the records compared with an uninterrupted run.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord, type BatchRecord } from '../../orchestrator/record.ts';
import { startCli, type Background } from '../support/background-cli.ts';
import { runCli } from '../support/cli.ts';
import { layoutWithFreePorts, TWO_LANE_SILA } from '../support/orchestration.ts';
import { SIMULATOR_ENV, withSimulators } from '../support/simulator-process.ts';
import { SeededRandom } from '../../modules/simulators/random.ts';
import { isEntry } from '../../orchestrator/entries.ts';

const ENV = SIMULATOR_ENV;
const BATCHES = ['--batch', 'P-001:lane-1', '--batch', 'P-002:lane-2', '--batch', 'P-003:lane-1'];
const SIMULATORS = { deliveries: ['BAG-P-001@intake', 'BAG-P-002@intake', 'BAG-P-003@intake'], timeScale: 3600 };
const SEED = Number(process.env.WORKCELL_CRASH_SEED ?? Date.now() % 100_000);

async function killAfter(background: Background, ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  background.child.kill('SIGKILL');
  await background.exited;
}

/** What must be the same whether or not the orchestrator crashed. */
function shape(record: BatchRecord) {
  return {
    status: record.status,
    steps: record.steps.map((s) => [s.step, s.module, s.outcome]),
    route: record.transfers.map((t) => t.to).filter((to) => !to.startsWith('hotel')),
    scans: [...new Set(record.transfers.flatMap((t) => [t.scannedAtPick, t.scannedAtPlace]))],
    concentrate: record.steps.find((s) => s.step === 'concentrate')?.parameters,
  };
}

describe('after kill -9 of the orchestrator', () => {
  it(`resume continues every batch to the records of an uninterrupted run (kill seed ${SEED})`, async () => {
    const layout = await layoutWithFreePorts(TWO_LANE_SILA);
    const dir = dirname(layout);
    const schedule = join(dir, 'crash.yaml');
    copyFileSync('test/fixtures/schedules/crash.yaml', schedule);
    const random = new SeededRandom(SEED);
    const run = (db: string, runLayout: string) => ['run', runLayout, '--schedule', schedule, ...BATCHES, '--time-scale', '3600', '--db', db];

    // The uninterrupted run of the same batches, layout and schedule, in virtual time (the simulated devices
    // in process behave as the simulator process does): its records are what the crashed run must come to.
    const uninterrupted = join(dir, 'uninterrupted.db');
    const reference = await runCli(['run', layout, '--schedule', schedule, ...BATCHES, '--sim', '--virtual', '--db', uninterrupted], { cwd: dir, env: ENV, timeoutMs: 120_000 });
    expect(reference.stderr).toBe('');
    expect(reference.status).toBe(0);

    const crashed = join(dir, 'crashed.db');
    await withSimulators(layout, SIMULATORS, async (runLayout) => {
      const first = await startCli(run(crashed, runLayout), { cwd: dir, env: ENV, readyWhen: /P-003/ });
      await killAfter(first, 200 + random.next() * 2500);
      // Editing the schedule now must not change batches that started on the old version.
      writeFileSync(schedule, readFileSync(schedule, 'utf8').replace('finalVolume: 20 mL', 'finalVolume: 25 mL'));
      for (let kill = 0; kill < 2; kill++) {
        const resumed = await startCli(['resume', '--db', crashed], { cwd: dir, env: ENV, readyWhen: /Resuming|No unfinished batch/ });
        await killAfter(resumed, 300 + random.next() * 2500);
      }
      const last = await runCli(['resume', '--db', crashed], { cwd: dir, env: ENV, timeoutMs: 240_000 });
      expect(last.stderr).toBe('');
      expect(last.status).toBe(0);
    });

    const expected = new EventLog(uninterrupted, { readonly: true });
    const actual = new EventLog(crashed, { readonly: true });
    try {
      expect(actual.verify().breaks).toEqual([]);
      for (const batchId of ['P-001', 'P-002', 'P-003']) {
        const recovered = shape(buildRecord(actual, batchId));
        expect(recovered).toEqual(shape(buildRecord(expected, batchId)));
        expect(recovered.status).toBe('completed');
        expect(recovered.scans).toEqual([`BAG-${batchId}`]);
        expect(recovered.concentrate).toMatchObject({ finalVolume: 20 });
      }
      // No command sent twice: one issue, one completion per idempotency key; re-attached, not re-sent.
      const entries = actual.since(0);
      const issued = entries.filter((e) => e.type === 'command.issued').map((e) => e.data.key);
      const completed = entries.filter((e) => e.type === 'command.completed').map((e) => e.data.key);
      expect(new Set(issued).size).toBe(issued.length);
      expect(new Set(completed).size).toBe(completed.length);
      expect(new Set(completed)).toEqual(new Set(issued));
      expect(entries.filter((e) => e.type === 'run.started').map((e) => e.data.command)).toEqual(['run', 'resume', 'resume', 'resume']);
      // Each kill left the devices locked for the batches inside them: every resume took those locks over.
      expect(entries.filter(isEntry('deviation', (e) => e.data.kind === 'lock-lost')).map((e) => e.data.message)).toEqual([]);
      // Every batch's record says it was picked up after a crash.
      for (const batchId of ['P-001', 'P-002', 'P-003']) expect(actual.stream(batchId).filter((e) => e.type === 'batch.resumed').every((e) => e.data.afterCrash === true)).toBe(true);
    } finally {
      expected.close();
      actual.close();
    }
  }, 600_000);
});

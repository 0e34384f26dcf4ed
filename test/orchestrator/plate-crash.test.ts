/**
 * A crash while a settle plate is being placed, with real processes: the simulators apart, the
 * orchestrator killed with SIGKILL in the middle of the placement, then resumed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM, type LogEntry } from '../../orchestrator/event-log.ts';
import { startCli } from '../support/background-cli.ts';
import { SHORT_SCHEDULE, TWO_LANE_SILA } from '../support/orchestration.ts';
import { layoutCopy, startSimulators } from '../support/simulators.ts';
import { isEntry } from '../../orchestrator/entries.ts';

const ENV = { WORKCELL_OPCUA_PASSWORD: 'plate-crash-password' };

/** Polls a database another process writes until `find` returns something. */
async function watchFor<T>(file: string, find: (workcell: LogEntry[]) => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const log = new EventLog(file, { readonly: true });
      try {
        const found = find(log.stream(WORKCELL_STREAM));
        if (found !== undefined) return found;
      } finally {
        log.close();
      }
    } catch {
      // not created yet
    }
    if (Date.now() > deadline) throw new Error(`not seen in ${file} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

describe('a crash during a settle-plate placement', () => {
  it('re-attaches the placement after the restart and adopts the exposed plate: no second plate at the location, no gap in the record', async () => {
    const { dir, file } = layoutCopy(TWO_LANE_SILA);
    const db = join(dir, 'plates.db');
    // At 60x a placement (1 min) takes a second of wall time: wide enough to kill inside it.
    const { sim, layout } = await startSimulators(file, ['--time-scale', '60', '--deliver', 'BAG-P-001@intake'], { cwd: dir, env: ENV });
    try {
      const first = await startCli(['run', layout, '--schedule', SHORT_SCHEDULE, '--batch', 'P-001:lane-1', '--time-scale', '60', '--db', db], { cwd: dir, env: ENV, readyWhen: /P-001/ });
      const interrupted = await watchFor(db, (workcell) => {
        const place = workcell.find(isEntry('command.issued', (e) => /^em:.+:place$/.test(String(e.data.key))));
        return place && !workcell.some(isEntry('command.completed', (e) => e.data.key === place.data.key)) ? place : undefined;
      });
      first.child.kill('SIGKILL');
      await first.exited;
      const plateId = String((interrupted.data.parameters as { plateId: string }).plateId);
      const resumed = await startCli(['resume', '--db', db], { cwd: dir, env: ENV, readyWhen: /Resuming P-001/ });
      const adopted = await watchFor(db, (workcell) => workcell.find(isEntry('em.plate.placed', (e) => e.data.plateId === plateId)));
      // The monitored step goes on with that plate in place.
      await watchFor(db, (workcell) => workcell.find(isEntry('em.plate.batch', (e) => e.data.batchId === 'P-001')));
      resumed.child.kill('SIGTERM');
      await resumed.exited;
      expect(adopted.data).toMatchObject({ adopted: true, location: (interrupted.data.parameters as { location: string }).location, exposedSince: new Date(interrupted.at).toISOString() });
      const log = new EventLog(db, { readonly: true });
      try {
        const workcell = log.stream(WORKCELL_STREAM);
        // The placement was not sent again under another plate id before this plate was collected.
        const places = workcell.filter(isEntry('command.issued', (e) => /^em:.+:place$/.test(String(e.data.key))));
        const retrieved = workcell.findIndex((e) => e.type === 'em.plate.retrieved' && e.data.plateId === plateId);
        const placedBeforeRetrieval = places.filter((e) => retrieved < 0 || e.seq < workcell[retrieved]!.seq);
        expect(placedBeforeRetrieval.map((e) => e.data.key)).toEqual([interrupted.data.key]);
        expect(workcell.filter(isEntry('alarm', (e) => e.data.kind === 'environmental-monitoring'))).toEqual([]);
      } finally {
        log.close();
      }
    } finally {
      sim.child.kill('SIGTERM');
      await sim.exited;
    }
  }, 120_000);
});

/**
 * One orchestrator per database, with real processes: a second `run` and a `resume` while one runs are
 * refused naming the holder; a holder killed with SIGKILL is taken over. And a new `run` on a database
 * that holds batches honours what they left: a line clearance a killed orchestrator never finished.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { EventLog, WORKCELL_STREAM, type LogEntry } from '../../orchestrator/event-log.ts';
import { DatabaseLease } from '../../orchestrator/database-lease.ts';
import { startCli, type Background } from '../support/background-cli.ts';
import { runCli } from '../support/cli.ts';
import { layoutWithFreePorts, TWO_LANE_SILA } from '../support/orchestration.ts';
import { SIMULATOR_ENV as ENV, withSimulators } from '../support/simulator-process.ts';
import { isEntry } from '../../orchestrator/entries.ts';

const TIME_SCALE = '600';

async function setUp(): Promise<{ layout: string; dir: string; schedule: string; db: string }> {
  const layout = await layoutWithFreePorts(TWO_LANE_SILA);
  const dir = dirname(layout);
  const schedule = join(dir, 'crash.yaml');
  copyFileSync('test/fixtures/schedules/crash.yaml', schedule);
  return { layout, dir, schedule, db: join(dir, 'run.db') };
}

/** Polls the database another process writes until an entry matches; the test's time limit bounds it. */
async function entryAppears(db: string, matches: (entry: LogEntry) => boolean): Promise<LogEntry> {
  for (let after = 0; ; ) {
    const log = new EventLog(db, { readonly: true });
    try {
      const entries = log.since(after);
      const found = entries.find(matches);
      if (found) return found;
      after = entries.at(-1)?.seq ?? after;
    } catch {
      // not created yet
    } finally {
      log.close();
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A CLI process that ends with the test, whatever happens (a timeout included). */
async function started(...args: Parameters<typeof startCli>): Promise<Background> {
  const background = await startCli(...args);
  onTestFinished(() => void background.child.kill('SIGKILL'));
  return background;
}

async function kill(background: Background): Promise<void> {
  background.child.kill('SIGKILL');
  await background.exited;
}

describe('one orchestrator per database', () => {
  it('refuses a second run and a resume while a run drives the database, naming it; takes over once it is killed', async () => {
    const { layout, dir, schedule, db } = await setUp();
    // Slow enough that the first run is still at work while the others are tried.
    const slow = '30';
    await withSimulators(layout, { deliveries: ['BAG-P-001@intake', 'BAG-Q-001@intake'], timeScale: Number(slow) }, async (layout) => {
      const first = await started(['run', layout, '--schedule', schedule, '--batch', 'P-001:lane-1', '--time-scale', slow, '--db', db], { cwd: dir, env: ENV, readyWhen: /P-001/ });
      try {
        const second = await runCli(['run', layout, '--schedule', schedule, '--batch', 'Q-001:lane-2', '--time-scale', TIME_SCALE, '--db', db], { cwd: dir, env: ENV });
        expect(second.status).toBe(1);
        expect(second.stderr).toContain(`${db} is being driven by another orchestrator: process ${first.child.pid} on `);
        expect(second.stderr).toMatch(/\(workcell run .*--batch P-001:lane-1.*\), since \d{4}-\d\d-\d\dT.*Z, last heartbeat \d+ s ago/);
        expect(second.stderr).toContain('so this one did not start this run');
        const resume = await runCli(['resume', '--db', db], { cwd: dir, env: ENV });
        expect(resume.status).toBe(1);
        expect(resume.stderr).toContain(`process ${first.child.pid} on `);
        expect(resume.stderr).toContain('so this one did not resume');
        const log = new EventLog(db, { readonly: true });
        expect(log.ofType('run.started').map((e) => e.data.command)).toEqual(['run']);
        expect(log.stream('Q-001')).toEqual([]);
        log.close();
      } finally {
        await kill(first);
      }
      // Killed with SIGKILL: the lease stays in the database, but its holder is provably gone.
      expect(DatabaseLease.holder(db)?.pid).toBe(first.child.pid);
      const resumed = await started(['resume', '--db', db], { cwd: dir, env: ENV, readyWhen: /Resuming P-001/ });
      expect(DatabaseLease.holder(db)?.pid).toBe(resumed.child.pid);
      resumed.child.kill('SIGTERM');
      expect(await resumed.exited).toBe(130);
      expect(DatabaseLease.holder(db)).toBeUndefined();
    });
  }, 240_000);

  it('a new run on a database whose batch was killed just after the shared electroporator clears it first, and resumes that batch', async () => {
    const { layout, dir, schedule, db } = await setUp();
    await withSimulators(layout, { deliveries: ['BAG-P-001@intake', 'BAG-Q-001@intake'], timeScale: Number(TIME_SCALE) }, async (layout) => {
      const first = await started(['run', layout, '--schedule', schedule, '--batch', 'P-001:lane-1', '--time-scale', TIME_SCALE, '--db', db], { cwd: dir, env: ENV, readyWhen: /P-001/ });
      // Killed the moment P-001 has left ep-1 and its line clearance has started.
      const clearance = await entryAppears(db, (e) => e.stream === WORKCELL_STREAM && e.type === 'line-clearance.started' && e.data.module === 'ep-1');
      await kill(first);
      const killed = new EventLog(db, { readonly: true });
      expect(killed.ofType('line-clearance.completed').filter((e) => e.seq > clearance.seq)).toEqual([]);
      killed.close();

      const second = await runCli(['run', layout, '--schedule', schedule, '--batch', 'Q-001:lane-2', '--time-scale', TIME_SCALE, '--db', db], { cwd: dir, env: ENV, timeoutMs: 240_000 });
      expect(second.stderr).toBe('');
      expect(second.status, second.stdout.slice(-3000)).toBe(0);

      const log = new EventLog(db, { readonly: true });
      try {
        expect(log.verify().breaks).toEqual([]);
        const cleared = log.ofType('line-clearance.completed').find((e) => e.data.module === 'ep-1' && e.seq > clearance.seq);
        expect(cleared).toBeDefined();
        const intoElectroporator = log.stream('Q-001').find(isEntry('transfer.completed', (e) => String(e.data.to).startsWith('ep-1')));
        expect(intoElectroporator).toBeDefined();
        expect(intoElectroporator!.seq).toBeGreaterThan(cleared!.seq);
        expect(log.stream('Q-001').find(isEntry('line-clearance.verified', (e) => e.data.module === 'ep-1'))?.data.previousBatch).toBe('P-001');
        for (const batchId of ['P-001', 'Q-001']) expect(log.stream(batchId).some((e) => e.type === 'batch.completed')).toBe(true);
      } finally {
        log.close();
      }
      expect(second.stdout).toContain(`${db} holds earlier batches: resuming P-001 first, as workcell resume would`);
      const status = await runCli(['status', '--db', db, '--json'], { cwd: dir });
      expect((JSON.parse(status.stdout).status.batches as Array<{ batchId: string }>).map((b) => b.batchId).sort()).toEqual(['P-001', 'Q-001']);

      // Another layout than the one these batches ran on: refused before anything is started.
      const other = join(dir, 'other-layout.yaml');
      writeFileSync(other, readFileSync(layout, 'utf8').replace('description: Two patient lanes', 'description: Two patient lanes, changed'));
      expect(readFileSync(other, 'utf8')).not.toBe(readFileSync(layout, 'utf8'));
      const refused = await runCli(['run', other, '--schedule', schedule, '--batch', 'R-001:lane-1', '--time-scale', TIME_SCALE, '--db', db], { cwd: dir, env: ENV });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`${db} holds batches that ran on another layout`);
      expect(refused.stderr).toContain('needs a database of its own (--db NEW.db)');
    });
  }, 360_000);
});

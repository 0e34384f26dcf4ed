/** One orchestrator per database: the lease, its refusal naming the holder, and takeover only from the provably gone. */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { DatabaseLease, LeaseRefused, STALE_AFTER_MS } from '../../orchestrator/database-lease.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { sample } from '../support/entries.ts';

function database(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-lease-')), 'run.db');
  const log = new EventLog(file);
  log.append({ stream: 'workcell', type: 'run.started', at: 1, data: sample('run.started') });
  log.close();
  return file;
}

function setHolder(file: string, values: Record<string, string | number | null>): void {
  const db = new Database(file);
  const columns = Object.keys(values);
  db.prepare(`UPDATE lease SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = 1`).run(...Object.values(values));
  db.close();
}

/** A process of its own that takes the lease and keeps it until killed. */
async function holderProcess(file: string): Promise<{ pid: number; kill(signal: NodeJS.Signals): Promise<void> }> {
  const script = `const { DatabaseLease } = await import(${JSON.stringify(join(REPO_ROOT, 'orchestrator/database-lease.ts'))}); DatabaseLease.acquire(${JSON.stringify(file)}, { command: 'test holder' }); console.log('held'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => String(chunk).includes('held') && resolve());
    child.on('close', () => reject(new Error('the holder exited before taking the lease')));
  });
  return { pid: child.pid!, kill: async (signal) => (child.kill(signal), exited) };
}

describe('the database lease', () => {
  it('refuses a second holder, naming the first (pid, host, command, since, heartbeat) and what to do', () => {
    const file = database();
    const first = DatabaseLease.acquire(file, { command: 'workcell run layouts/two-lane.yaml' });
    try {
      expect(first.isHeldOn(file)).toBe(true);
      let refusal: unknown;
      try {
        DatabaseLease.acquire(file, { what: 'start a run' });
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(LeaseRefused);
      const message = (refusal as Error).message;
      expect(message).toContain(`${file} is being driven by another orchestrator: process ${process.pid} on ${hostname()} (workcell run layouts/two-lane.yaml), since 20`);
      expect(message).toMatch(/last heartbeat \d+ s ago/);
      expect(message).toContain('so this one did not start a run');
      expect(message).toContain(`kill ${process.pid}`);
      expect(DatabaseLease.holder(file)).toMatchObject({ pid: process.pid, command: 'workcell run layouts/two-lane.yaml' });
    } finally {
      first.release();
    }
    expect(DatabaseLease.holder(file)).toBeUndefined();
    const again = DatabaseLease.acquire(file);
    again.release();
  });

  it('is taken over from a holder killed with SIGKILL (same machine and boot, its PID gone), not from a live one', async () => {
    const file = database();
    const holder = await holderProcess(file);
    expect(() => DatabaseLease.acquire(file)).toThrow(`process ${holder.pid} on ${hostname()} (test holder)`);
    await holder.kill('SIGKILL');
    const next = DatabaseLease.acquire(file);
    try {
      expect(next.tookOverFrom).toMatchObject({ holder: { pid: holder.pid }, why: `process ${holder.pid} no longer exists` });
    } finally {
      next.release();
    }
  });

  it('gives the lease back when its holder ends on SIGTERM', async () => {
    const file = database();
    const holder = await holderProcess(file);
    await holder.kill('SIGTERM');
    // Node ends on SIGTERM without 'exit' handlers, so the PID check frees it: either way nobody waits.
    const next = DatabaseLease.acquire(file);
    next.release();
  });

  it('is taken over after a reboot, and from another machine only once its heartbeat is stale', () => {
    const file = database();
    const held = [DatabaseLease.acquire(file)];
    const free = (values: Record<string, string | number | null>) => {
      setHolder(file, values);
      const next = DatabaseLease.acquire(file);
      const why = next.tookOverFrom?.why;
      next.release();
      held.push(DatabaseLease.acquire(file)); // the next case starts from a held lease again
      return why;
    };
    try {
      expect(free({ boot_id: 'a-boot-before-this-one' })).toBe('its machine has restarted since');
      setHolder(file, { host: 'other-host.site', heartbeat: Date.now() });
      expect(() => DatabaseLease.acquire(file)).toThrow(/process \d+ on other-host\.site .* kill \d+ on other-host\.site/);
      expect(free({ host: 'other-host.site', heartbeat: Date.now() - STALE_AFTER_MS - 60_000 })).toMatch(/^its last heartbeat was 11 min ago$/);
    } finally {
      for (const lease of held) lease.release();
    }
  });

  it('tells its holder when it was taken over (the holder was frozen past the timeout)', async () => {
    const file = database();
    const lease = DatabaseLease.acquire(file);
    const lost = new Promise((resolve) => lease.onLost(resolve));
    setHolder(file, { token: 'someone-else', pid: 1, command: 'workcell resume' });
    expect(lease.isHeldOn(file)).toBe(false);
    expect(await lost).toMatchObject({ pid: 1, command: 'workcell resume' });
    lease.release();
  }, 20_000);
});

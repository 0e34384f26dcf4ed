/** `workcell status` and `workcell holds` date every time that falls on another day than today on the workcell clock. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { runCli } from '../support/cli.ts';
import { RunDisplay } from '../../cli/run-output.ts';
import { sample } from '../support/entries.ts';

/** "Today" on the workcell clock: a running orchestrator's status says it is 9 December 2026, 14:00 UTC. */
const NOW = Date.UTC(2026, 11, 9, 14);
const HOUR = 3_600_000;

function runningWorkcell(): string {
  const db = join(mkdtempSync(join(tmpdir(), 'workcell-times-')), 'run.db');
  const log = new EventLog(db);
  const hold = (batchId: string, at: number) => {
    log.append({ stream: batchId, type: 'batch.started', at: at - HOUR, data: sample('batch.started', { batchId, patient: batchId, chainOfIdentity: `COI-${batchId}`, bagId: `BAG-${batchId}`, lane: 'lane-1', layout: { id: 'l', file: 'l.yaml' }, schedule: { id: 's', version: '1', contentHash: 'x', file: 's.yaml', text: '' } }) });
    log.append({ stream: batchId, type: 'hold.opened', at, data: sample('hold.opened', { step: 'wash', kind: 'command-failed', message: 'centrifuge imbalance', actions: ['retry', 'skip', 'abort'] }) });
  };
  hold('P-001', NOW - 3 * HOUR); // today
  hold('P-002', NOW - 40 * HOUR); // two days ago
  hold('P-003', Date.UTC(2025, 11, 30, 6, 5)); // last year
  log.append({ stream: 'P-001', type: 'alarm', at: NOW - 26 * HOUR, data: sample('alarm', { kind: 'hold-time', message: 'hold time after wash expires soon' }) });
  const batch = (batchId: string, expectedFinish: number) => ({ batchId, patient: batchId, lane: 'lane-1', step: 'expand', module: 'bio-1', phase: 'running' as const, expectedFinish });
  // A time scale of 0 keeps the status clock where it is while the test runs.
  log.writeStatus('orchestrator', { at: NOW, timeScale: 0, final: false, pid: 1, batches: [batch('P-004', NOW + 2 * HOUR), batch('P-005', NOW + 9 * 24 * HOUR + 5 * 60_000)], modules: [], plates: [] });
  log.close();
  return db;
}

describe('times with dates where the day differs', () => {
  it('workcell status: expected finishes, holds and alarms', async () => {
    const db = runningWorkcell();
    const { status, stdout } = await runCli(['status', '--db', db]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/P-004 .* running +16:00 UTC\n/);
    expect(stdout).toMatch(/P-005 .* running +12-18 14:05 UTC\n/);
    expect(stdout).toContain('P-001 at wash (command-failed) since 11:00 UTC: centrifuge imbalance');
    expect(stdout).toContain('P-002 at wash (command-failed) since 12-07 22:00 UTC: centrifuge imbalance');
    expect(stdout).toContain('P-003 at wash (command-failed) since 2025-12-30 06:05 UTC: centrifuge imbalance');
    expect(stdout).toContain('  12-08 12:00 UTC P-001 hold-time: hold time after wash expires soon');
  });

  it('workcell holds', async () => {
    const db = runningWorkcell();
    const { status, stdout } = await runCli(['holds', '--db', db]);
    expect(status).toBe(0);
    expect(stdout).toContain('P-001 at wash (command-failed) since 11:00 UTC\n');
    expect(stdout).toContain('P-002 at wash (command-failed) since 12-07 22:00 UTC\n');
    expect(stdout).toContain('P-003 at wash (command-failed) since 2025-12-30 06:05 UTC\n');
    // The JSON keeps the full ISO 8601 time.
    const json = JSON.parse((await runCli(['holds', '--db', db, '--json'])).stdout) as Array<{ batchId: string; since: string }>;
    expect(json.find((h) => h.batchId === 'P-002')!.since).toBe(new Date(NOW - 40 * HOUR).toISOString());
  });

  it('the live run display: each batch\'s ETA', () => {
    const written: string[] = [];
    const display = new RunDisplay(60_000, (text) => written.push(text));
    const batch = (batchId: string, expectedFinish: number) => ({ batchId, patient: batchId, lane: 'lane-1', step: 'expand', module: 'bio-1', phase: 'running' as const, expectedFinish });
    display.progress([batch('P-004', NOW + 2 * HOUR), batch('P-005', NOW + 9 * 24 * HOUR + 5 * 60_000)], NOW);
    expect(written.join('')).toMatch(/^P-004 .* running {2}ETA 16:00 UTC\n/m);
    expect(written.join('')).toMatch(/^P-005 .* running {2}ETA 12-18 14:05 UTC\n/m);
  });
});

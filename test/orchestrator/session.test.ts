import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { workcellNow } from '../../orchestrator/session.ts';

describe('the workcell clock read from another process', () => {
  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-clock-')), 'records.db'));
  const DAY = 86_400_000;

  it('is the wall clock when no orchestrator runs, but never before the last entry', () => {
    const wall = Date.now();
    expect(workcellNow(log, wall)).toBe(wall);
    log.append({ stream: 'P-001', type: 'batch.started', at: wall + 3 * DAY, data: {} });
    expect(workcellNow(log, wall)).toBe(wall + 3 * DAY);
  });

  it("runs on from a running orchestrator's last status at that run's time scale", () => {
    const wall = Date.now();
    log.writeStatus('orchestrator', { at: wall + 5 * DAY, timeScale: 3600, final: false, pid: 1 });
    const written = log.readStatus().find((s) => s.key === 'orchestrator')!.updatedAt;
    // Two wall seconds at 3600x are two simulated hours.
    expect(workcellNow(log, written + 2000)).toBe(wall + 5 * DAY + 2 * 3_600_000);
  });

  it('stops extrapolating once the run has ended', () => {
    const wall = Date.now();
    log.writeStatus('orchestrator', { at: wall + 9 * DAY, timeScale: 3600, final: true, pid: 1 });
    expect(workcellNow(log, wall + 2000)).toBe(log.lastAt());
    expect(log.lastAt()).toBeGreaterThan(wall + 2 * DAY);
  });
});

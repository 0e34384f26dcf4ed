import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { checkLayoutForResume, layoutHashOf, recordRunSettings, workcellNow } from '../../orchestrator/run-settings.ts';
import { runCli } from '../support/cli.ts';
import { enrolTestOperators, OPERATOR, QA } from '../support/operators.ts';
import { sample } from '../support/entries.ts';
import { liveStatus } from '../support/live-status.ts';

describe('the workcell clock read from another process', () => {
  const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-clock-')), 'records.db'));
  const DAY = 86_400_000;

  it('is the wall clock when no orchestrator runs, but never before the last entry', () => {
    const wall = Date.now();
    expect(workcellNow(log, wall)).toBe(wall);
    log.append({ stream: 'P-001', type: 'batch.started', at: wall + 3 * DAY, data: sample('batch.started') });
    expect(workcellNow(log, wall)).toBe(wall + 3 * DAY);
  });

  it("runs on from a running orchestrator's last status at that run's time scale", () => {
    const wall = Date.now();
    log.writeStatus('orchestrator', liveStatus({ at: wall + 5 * DAY, timeScale: 3600, final: false, pid: 1 }));
    const written = log.readStatus()!.updatedAt;
    // Two wall seconds at 3600x are two simulated hours.
    expect(workcellNow(log, written + 2000)).toBe(wall + 5 * DAY + 2 * 3_600_000);
  });

  it('stops extrapolating once the run has ended', () => {
    const wall = Date.now();
    log.writeStatus('orchestrator', liveStatus({ at: wall + 9 * DAY, timeScale: 3600, final: true, pid: 1 }));
    expect(workcellNow(log, wall + 2000)).toBe(log.lastAt());
    expect(log.lastAt()).toBeGreaterThan(wall + 2 * DAY);
  });
});

describe('resuming on the layout the batches ran on', () => {
  function runOn(layout: string): EventLog {
    const log = new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-layout-')), 'records.db'));
    enrolTestOperators(log);
    recordRunSettings(log, { layoutFile: layout, timeScale: 1, seed: 1, sim: false, clock: { wallAnchor: Date.now(), simAtAnchor: Date.now() } }, { command: 'run', layoutHash: layoutHashOf(layout) });
    return log;
  }

  function layoutCopy(): string {
    const file = join(mkdtempSync(join(tmpdir(), 'workcell-layout-')), 'two-lane.yaml');
    copyFileSync('layouts/two-lane.yaml', file);
    return file;
  }

  it('refuses a changed layout file unless QA accepts the change with a signature; then the new one is the one to match', () => {
    const layout = layoutCopy();
    const log = runOn(layout);
    expect(() => checkLayoutForResume(log, layout, undefined, 0)).not.toThrow();
    writeFileSync(layout, readFileSync(layout, 'utf8').replace('site:', '# moved sep-2 to lane-1\nsite:'));
    expect(() => checkLayoutForResume(log, layout, undefined, 0)).toThrow(`${layout} changed since its batches ran on it`);
    expect(() => checkLayoutForResume(log, layout, { reason: 'endpoint of bio-2 corrected', signer: OPERATOR }, 0)).toThrow('that needs the role qa');
    checkLayoutForResume(log, layout, { reason: 'endpoint of bio-2 corrected', signer: QA }, 0);
    const accepted = log.ofType('layout.changed');
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.data).toMatchObject({ to: layoutHashOf(layout), reason: 'endpoint of bio-2 corrected', signature: { printedName: 'Li Lee', meaning: 'approval to resume batches on a changed layout' } });
    expect(() => checkLayoutForResume(log, layout, undefined, 0)).not.toThrow();
    log.close();
  });

  it('workcell resume says so before touching any device', async () => {
    const layout = layoutCopy();
    const log = runOn(layout);
    log.close();
    writeFileSync(layout, `${readFileSync(layout, 'utf8')}\n# edited\n`);
    const refused = await runCli(['resume', '--db', log.file]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('changed since its batches ran on it');
    expect(refused.stderr).toContain('--accept-layout-change --reason TEXT --user NAME');
  }, 30_000);
});

/** A run that waits says so, every quiet minute (shortened here), with what it waits for. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startCli } from '../support/background-cli.ts';
import { SHORT_SCHEDULE, TWO_LANE_SILA } from '../support/orchestration.ts';
import { layoutCopy } from '../support/simulators.ts';

describe('a run waiting for an operator', () => {
  it('says every quiet interval which batch is held, where, and what it waits for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-quiet-'));
    const faults = join(dir, 'faults.yaml');
    // Every wash on sep-1 fails: after its one retry the batch holds for an operator.
    writeFileSync(faults, 'faults:\n  sep-1:\n    - { kind: error, error: HardwareFault, capability: wash, message: centrifuge imbalance }\n');
    const db = join(dir, 'records.db');
    const run = await startCli(['run', layoutCopy(TWO_LANE_SILA).file, '--schedule', SHORT_SCHEDULE, '--batch', 'P-001:lane-1', '--sim', '--time-scale', '3600', '--faults', faults, '--db', db], {
      cwd: dir,
      env: { WORKCELL_QUIET_NOTICE_MS: '1500' },
      readyWhen: /P-001 +lane-1 +wash +on sep-1 +held/,
      timeoutMs: 90_000,
    });
    try {
      const notice = /^\[\d\d:\d\d:\d\d\] still waiting: P-001 is held at wash: .*centrifuge imbalance.*; it waits for an operator's answer \(npx workcell holds --db .*records\.db\)$/gm;
      const deadline = Date.now() + 20_000;
      while ((run.output().match(notice)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(run.output().match(notice)?.length ?? 0).toBeGreaterThanOrEqual(2);
      // Quiet means quiet: nothing but the notices since the hold, and not more often than the interval.
      const afterHold = run.output().slice(run.output().search(/P-001 +lane-1 +wash +on sep-1 +held/));
      expect(afterHold.split('\n').filter((l) => l.startsWith('[')).length).toBeLessThanOrEqual(Math.ceil(20_000 / 1500) + 1);
    } finally {
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(130);
    }
  }, 150_000);
});

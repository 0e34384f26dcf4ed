import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkcell } from '../../config/validate.ts';
import { EventLog } from '../../orchestrator/event-log.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import { runCli } from '../support/cli.ts';

describe('npm start', () => {
  it('runs four simulated patients through the 4-lane workcell with live progress, and says where the records are', async () => {
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.start).toBe('node bin/workcell.js demo');
    const db = join(mkdtempSync(join(tmpdir(), 'workcell-demo-')), 'demo.db');
    // The demo's nine simulated hours at 3600x instead of its default 1800x: the same run, half the wait.
    const result = await runCli(['demo', '--db', db, '--time-scale', '3600'], { timeoutMs: 240_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Workcell four-lane: simulated in this process');
    // Its simulators take ports from the OS, not the example layout's, so a demo collides with nothing.
    const declared = loadWorkcell('layouts/four-lane.yaml').layout.model.layout.modules.map((m) => (m.connection.sila2 ? `127.0.0.1:${m.connection.sila2.port}` : m.connection.opcua!.endpoint));
    const listed = [...result.stdout.matchAll(/^ {2}(\S+) +(?:sila2|opcua) +(\S+)/gm)].map((m) => m[2]!);
    expect(listed).toHaveLength(declared.length);
    for (const endpoint of listed) expect(declared).not.toContain(endpoint);
    for (const patient of ['P-001', 'P-002', 'P-003', 'P-004']) {
      expect(result.stdout).toMatch(new RegExp(`^${patient} +lane-\\d +wash +on sep-[we] +running +ETA \\d\\d:\\d\\d UTC`, 'm'));
      expect(result.stdout).toContain(`\n  npx workcell record ${patient} --db ${db}\n`);
    }
    expect(result.stdout).toContain('4 batch(es) completed, 0 quarantined.');
    expect(result.stdout).toContain(`Check every hash chain with: npx workcell verify ${db}`);
    // Bare `workcell` is not on a user's PATH: every suggested command goes through npx.
    expect(result.stdout).not.toMatch(/(?<!npx )\bworkcell (record|verify|review|resume|holds|operators) /);
    const log = new EventLog(db, { readonly: true });
    try {
      expect(log.verify().breaks).toEqual([]);
      // The closing lines name every deviation of every batch, by kind, with its message.
      let named = 0;
      for (const patient of ['P-001', 'P-002', 'P-003', 'P-004']) {
        const deviations = log.stream(patient).filter((e) => e.type === 'deviation');
        for (const kind of new Set(deviations.map((d) => String(d.data.kind)))) {
          const ofKind = deviations.filter((d) => d.data.kind === kind);
          const line = result.stdout.split('\n').find((l) => l.startsWith(`  ${patient}: ${ofKind.length} ${kind} deviation${ofKind.length === 1 ? '' : 's'}: `));
          expect(line, `${patient} ${kind}`).toBeDefined();
          for (const d of ofKind) expect(line).toContain(String(d.data.message));
          named++;
        }
      }
      if (named === 0) expect(result.stdout).toContain('\nNo deviations.\n');
      else expect(result.stdout).toContain('\nDeviations (each is in its batch record):\n');
      const record = buildRecord(log, 'P-001');
      expect(record.steps.map((s) => s.step)).toEqual(['wash', 'electroporate', 'seed', 'expand', 'drain', 'concentrate']);
      expect(record.environmentalMonitoring.length).toBeGreaterThan(0);
      // The recurring samples of the culture ran between its segments.
      expect(log.stream('P-001').filter((e) => e.type === 'command.issued' && e.data.capability === 'sample').length).toBe(3);
    } finally {
      log.close();
    }
  }, 300_000);
});

/** `workcell run --sim --virtual`: a whole run in virtual time, through the CLI as a user runs it. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { logDigest } from '../../orchestrator/log-digest.ts';
import { runCli } from '../support/cli.ts';

const RUN = ['run', 'layouts/two-lane.yaml', '--schedule', 'test/fixtures/schedules/short.yaml', '--patients', '2', '--sim', '--virtual', '--start', '2027-01-04T08:00'];
const digestOf = (stdout: string) => /^digest: ([0-9a-f]{64})$/m.exec(stdout)?.[1];

describe('workcell run --sim --virtual', () => {
  it('runs the batches in virtual time into a normal database, prints its digest, the same on a second run; records and verify read it; resume refuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-virtual-'));
    const [first, second] = [join(dir, 'first.db'), join(dir, 'second.db')];
    const run = await runCli([...RUN, '--db', first], { timeoutMs: 120_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/in virtual time from 2027-01-04T08:00:00.000Z, seed 1/);
    expect(run.stdout).toMatch(/2 batch\(es\) completed, 0 quarantined/);
    const digest = digestOf(run.stdout);
    expect(digest).toBeDefined();
    const again = await runCli([...RUN, '--db', second], { timeoutMs: 120_000 });
    expect(again.status).toBe(0);
    expect(digestOf(again.stdout)).toBe(digest);

    const log = new EventLog(first, { readonly: true });
    expect(logDigest(log)).toBe(digest);
    const settings = log.ofType('run.started')[0]!.data;
    expect(settings).toMatchObject({ sim: true, virtual: true, command: 'run', clock: { simAtAnchor: Date.UTC(2027, 0, 4, 8) } });
    expect(settings.durability).toMatch(/not fsynced/);
    expect(log.ofType('batch.started').map((e) => [e.data.batchId, e.at])).toEqual([
      ['P-001', Date.UTC(2027, 0, 4, 8)],
      ['P-002', Date.UTC(2027, 0, 4, 8)],
    ]);
    log.close();

    const verify = await runCli(['verify', first]);
    expect(verify.status).toBe(0);
    expect(verify.stdout).toMatch(/all intact/);
    const record = await runCli(['record', 'P-001', '--db', first]);
    expect(record.status).toBe(0);
    expect(record.stdout).toMatch(/Batch record P-001 {2}\(completed\)/);
    expect(record.stdout).toMatch(/Started 2027-01-04 08:00 UTC/);
    const page = join(dir, 'P-001.html');
    const html = await runCli(['record', 'P-001', '--db', first, '--html', '--out', page]);
    expect(html.status).toBe(0);
    expect(existsSync(page) && readFileSync(page, 'utf8')).toMatch(/^<!DOCTYPE html>/i);

    const resume = await runCli(['resume', '--db', first]);
    expect(resume.status).toBe(1);
    expect(resume.stderr).toMatch(/a virtual one \(--sim --virtual\)/);
    expect(resume.stderr).not.toMatch(/\n\s+at /);
  }, 300_000);

  it('refuses what a virtual run cannot do, saying why, and writes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-virtual-'));
    const db = join(dir, 'run.db');
    const refusals: Array<[string[], RegExp]> = [
      [RUN.filter((a) => a !== '--sim'), /--virtual needs --sim/],
      [[...RUN, '--port-base', '0'], /a virtual run has none/],
      [[...RUN, '--inspect'], /--inspect watches a live run/],
      [[...RUN.slice(0, -1), 'tomorrow'], /--start tomorrow: give a date/],
      [['run', 'layouts/two-lane.yaml', '--schedule', 'test/fixtures/schedules/short.yaml', '--patients', '1', '--sim', '--start', '2027-01-04'], /--start is for --virtual runs/],
    ];
    for (const [args, why] of refusals) {
      const result = await runCli([...args, '--db', db]);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(why);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(db)).toBe(false);
  }, 120_000);
});

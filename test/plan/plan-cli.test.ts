/** `workcell plan` end to end: the real CLI, in virtual time; bad input refused in one clear line each. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { PlanReportSchema, type PlanReport } from '../../orchestrator/capacity/report-schema.ts';
import { runCli } from '../support/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'workcell-plan-cli-'));
const PLAN = ['plan', 'layouts/two-lane.yaml', '--schedule', 'schedules/demo.yaml', '--start', '2027-01-04T08:00Z'];

async function refused(args: string[]): Promise<string> {
  const result = await runCli(args);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.status, result.stderr).toBe(2);
  return result.stderr;
}

describe('workcell plan: bad input', () => {
  it('a layout that cannot run the schedule, with the position in the schedule', async () => {
    const stderr = await refused(['plan', 'test/fixtures/layouts/two-lane-sila.yaml', '--schedule', 'schedules/demo.yaml', '--patients', '1']);
    expect(stderr).toContain('workcell plan: test/fixtures/layouts/two-lane-sila.yaml cannot run schedules/demo.yaml:');
    expect(stderr).toMatch(/schedules\/demo\.yaml:\d+:\d+: no module in lane 'lane-1' of layout 'two-lane' offers rocking-bioreactor\.seed/);
  });

  it('an arrival spec that does not parse', async () => {
    expect(await refused([...PLAN, '--arrivals', '3 a week'])).toContain("workcell plan: --arrivals '3 a week' does not parse: give a rate (3/week, 2/day, every 36h) or a file of dates (.yaml, .yml or .csv)");
  });

  it('an arrivals file with a bad date, at its line and column', async () => {
    const file = join(dir, 'arrivals.yaml');
    writeFileSync(file, '- 2027-01-04T08:00Z\n- { patient: P-2, at: tomorrow }\n');
    expect(await refused([...PLAN, '--arrivals', file])).toContain(`workcell plan: ${file}:2:23: 'at' takes an ISO 8601 date such as 2026-03-02T08:00Z, not 'tomorrow'`);
  });

  it('an arrival in a lane the layout does not have, at its line and column', async () => {
    const file = join(dir, 'lanes.csv');
    writeFileSync(file, 'at,lane\n2027-01-04T08:00Z,lane-1\n2027-01-04T09:00Z,lane-9\n');
    expect(await refused([...PLAN, '--arrivals', file])).toContain(`workcell plan: ${file}:3:19: layout layouts/two-lane.yaml has no lane 'lane-9' (lanes: lane-1, lane-2)`);
  });

  it('a horizon too short for one batch', async () => {
    expect(await refused([...PLAN, '--patients', '1', '--horizon', '20 min'])).toContain('workcell plan: --horizon 20 min is too short for one batch of schedules/demo.yaml (its steps alone take 1 h 3 min 30 s)');
  });

  it('both --patients and --arrivals, or neither; a kind --add cannot copy', async () => {
    expect(await refused([...PLAN, '--patients', '2', '--arrivals', '3/week'])).toContain('workcell plan: give either --patients N (all at once) or --arrivals SPEC');
    expect(await refused([...PLAN])).toContain('give either --patients N');
    expect(await refused([...PLAN, '--patients', '1', '--add', 'freezer=1'])).toContain('--add freezer=1: layout layouts/two-lane.yaml has no freezer to copy');
  }, 90_000);

  it('an --html file in the way is said before anything runs', async () => {
    const html = join(dir, 'there.html');
    writeFileSync(html, 'keep me');
    expect(await refused([...PLAN, '--patients', '1', '--horizon', '1d', '--html', html])).toContain(`workcell plan: --html ${html} exists; give --force to replace it, or name another file`);
    expect(readFileSync(html, 'utf8')).toBe('keep me');
  });

  it('a file it cannot read is named, exit status 1', async () => {
    const result = await runCli(['plan', 'layouts/two-lane.yaml', '--schedule', join(dir, 'missing.yaml'), '--patients', '1']);
    expect(result.stderr).toBe(`workcell plan: cannot read ${join(dir, 'missing.yaml')}: no such file\n`);
    expect(result.status).toBe(1);
  });
});

describe('workcell plan in virtual time', () => {
  it('the same inputs give the same digest; another seed another; --json matches its schema', async () => {
    const args = [...PLAN, '--patients', '2', '--horizon', '1d', '--json'];
    const [first, again, other] = await Promise.all([runCli(args, { timeoutMs: 120_000 }), runCli(args, { timeoutMs: 120_000 }), runCli([...args, '--seed', '2'], { timeoutMs: 120_000 })]);
    for (const r of [first, again, other]) expect(r.status, r.stderr).toBe(0);
    const reports = [first, again, other].map((r) => JSON.parse(r.stdout) as PlanReport);
    const validate = new Ajv({ strict: true, keywords: ['unit'] }).compile(PlanReportSchema);
    expect(validate(reports[0]), JSON.stringify(validate.errors)).toBe(true);
    const [a, b, c] = reports.map((r) => r.scenarios[0]!);
    expect(a!.runs[0]!.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b!.runs[0]!.digest).toBe(a!.runs[0]!.digest);
    expect(c!.runs[0]!.digest).not.toBe(a!.runs[0]!.digest);
    expect(a!.completed).toBe(2);
    expect(a!.veinToVeinHours.batches).toBe(2);
    expect(a!.bound.kind).toBeTruthy();
    expect(a!.modules.map((m) => m.id)).toEqual(['sep-1', 'sep-2', 'ep-1', 'bio-1', 'bio-2', 'arm-1', 'sph-1']);
    // A host cannot cause a deviation in virtual time: what a run finds, another run finds the same.
    expect(b!.holdTimeDeviations).toEqual(a!.holdTimeDeviations);
  }, 240_000);

  it('a fault that holds a batch: the hold is reported, and the batch held for an operator stays held (a plan answers no hold)', async () => {
    const faults = join(dir, 'faults.yaml');
    writeFileSync(faults, ['faults:', '  ep-1:', '    - { kind: error, error: HardwareFault, capability: electroporate, on: 1, message: electrode arc }', '    - { kind: error, error: HardwareFault, capability: electroporate, on: 2, message: electrode arc again }', ''].join('\n'));
    const result = await runCli([...PLAN, '--patients', '1', '--horizon', '1d', '--faults', faults, '--json'], { timeoutMs: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    const scenario = (JSON.parse(result.stdout) as PlanReport).scenarios[0]!;
    expect(scenario.holds.map((h) => [h.batchId, h.step, h.kind, h.message, h.minutes, h.action])).toEqual([['P-001', 'electroporate', 'command-failed', 'ep-1: electrode arc again', null, null]]);
    expect(scenario.completed).toBe(0);
    expect(scenario.findings.map((f) => f.message)).toEqual(['not finished by the end of the run, 24 h after it arrived (its steps take 64 min)']);
  }, 240_000);

  it('compares a layout with one more electroporator side by side, and writes the HTML report', async () => {
    const html = join(dir, 'plan.html');
    const result = await runCli([...PLAN, '--patients', '3', '--horizon', '1d', '--add', 'electroporator=1', '--html', html], { timeoutMs: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/two-lane\.yaml × demo\s+two-lane\.yaml \+1 electroporator × demo/);
    expect(result.stdout).toMatch(/electroporator\s+1 × \d+ %\s+2 × \d+ %/);
    expect(result.stdout).toMatch(/digest: [0-9a-f]{64}/);
    // Not a terminal: no progress bar.
    expect(result.stderr).toBe('');
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('two-lane.yaml +1 electroporator × demo');
    expect(page.match(/aria-label="Gantt chart"/g)).toHaveLength(2);
    expect(page).toContain('ep-1-2');
  }, 240_000);
});

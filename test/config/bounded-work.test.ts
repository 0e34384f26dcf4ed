/**
 * `workcell validate` does bounded work on any input: findings in linear time, a capped listing,
 * a positioned error for absurd nesting, and absurd numbers refused where they are written.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateSources } from '../../config/validate.ts';
import { formatDiagnostic, YamlSource } from '../../config/source.ts';
import { parseQuantityIn } from '../../config/units.ts';
import { runCli } from '../support/cli.ts';

const BASE_SCHEDULE = readFileSync('test/fixtures/schedules/base.yaml', 'utf8');

function scheduleWithUnknownKeys(count: number): string {
  const junk = Array.from({ length: count }, (_, i) => `  junk${i}: 1`).join('\n');
  return BASE_SCHEDULE.replace('  name: Fixture\n', `  name: Fixture\n${junk}\n`);
}

function findings(text: string, file = 'schedule.yaml'): string[] {
  return validateSources([new YamlSource(file, text)]).diagnostics.map(formatDiagnostic);
}

describe('bounded validation', () => {
  // Before the fix, 40,000 findings took about 30 s (each one walked every key before it) and 100,000
  // several minutes; the test's time limit is the bound, no timing is asserted.
  it('lists the first 1,000 of 100,000 findings, says how many more, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-bounded-'));
    const file = join(dir, 'huge.yaml');
    writeFileSync(file, scheduleWithUnknownKeys(100_000));
    const result = await runCli(['validate', file], { timeoutMs: 120_000 });
    expect(result.status).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1001);
    expect(lines[0]).toBe(`${file}:6:3: unknown property 'junk0'; expected one of id, version, name, product, description`);
    expect(lines[999]).toContain("unknown property 'junk999'");
    expect(lines[1000]).toBe('... and 99,000 more findings (workcell validate --all lists every one)');
    expect(result.stderr).toContain('100000 error(s)');
    const all = await runCli(['validate', '--all', '--quiet', file], { timeoutMs: 120_000 });
    expect(all.stdout.trimEnd().split('\n')).toHaveLength(100_000);
  }, 240_000);

  it('reports duplicate keys where they are, in linear time', () => {
    // 100,000 keys: comparing each with every key before it (as yaml's own check does) takes minutes.
    const keys = Array.from({ length: 100_000 }, (_, i) => `  k${i}: 1`).join('\n');
    expect(findings(`layout:\n${keys}\n  k17: 2\n  id: x\n  id: y\n`).slice(0, 2)).toEqual([
      'schedule.yaml:100002:3: duplicate key; each key may appear once in a mapping',
      'schedule.yaml:100004:3: duplicate key; each key may appear once in a mapping',
    ]);
  });

  it.each([
    ['flow collections', `schedule: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`, /^schedule\.yaml:1:\d+: /],
    ['block mappings', `schedule:\n${Array.from({ length: 3000 }, (_, i) => `${'  '.repeat(i + 1)}k${i}:`).join('\n')}\n`, /^schedule\.yaml:\d+:\d+: /],
  ])('refuses YAML nested more than 100 deep (%s) with a positioned error', (_kind, text, position) => {
    const found = findings(text);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(position);
    expect(found[0]).toContain('nested more than 100 levels deep; a layout or schedule needs far fewer');
    expect(found[0]).not.toContain('call stack');
  });

  it('accepts nesting a real file uses', () => {
    const nested = `schedule:\n  id: x\n  version: "1"\n  name: x\n  description: ${'['.repeat(50)}${']'.repeat(50)}\n`;
    expect(findings(nested).join('\n')).not.toContain('nested more than');
  });

  it.each([
    ['1e999 mL', 'mL', /'1e999 mL' is not a finite number/],
    ['-1e999 V', 'V', /not a finite number/],
    ['1e306 d', 'ms', /too large/],
  ])('refuses %s as a quantity', (input, unit, error) => {
    const parsed = parseQuantityIn(input, unit);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(error);
  });

  it('refuses overflowing and infinite values in a schedule, at their position', () => {
    const text = BASE_SCHEDULE.replace('inputVolume: 40 mL', 'inputVolume: 1e999 mL').replace('{ result: viability, min: 70 % }', '{ result: viability, min: -1e999 % }').replace('maxHold: 1 h', 'maxHold: 1e305 d');
    expect(findings(text)).toEqual([
      "schedule.yaml:9:32: parameter 'inputVolume': '1e999 mL' is not a finite number; expected a quantity in mL, such as '1 mL'",
      "schedule.yaml:11:35: '-1e999 %' is not a finite number; expected a quantity in %, such as '1 %'",
      "schedule.yaml:12:14: maxHold: '1e305 d' is too large to express in s",
    ]);
    // YAML's own infinity is no number the schema accepts.
    expect(findings(BASE_SCHEDULE.replace('maxHold: 1 h', 'maxHold: .inf'))).toEqual(['schedule.yaml:12:14: expected a string or a number, got Infinity']);
  });

  it('refuses recurring work that would repeat more than 10,000 times in its step, or more often than it can run', () => {
    const culture = (every: string, duration = '9 d') => BASE_SCHEDULE.replace('parameters: { duration: 2 d }', `parameters: { duration: ${duration} }`).replace('every: 24 h', `every: ${every}`);
    expect(findings(culture('1 ms'))).toEqual([
      "schedule.yaml:24:16: recurring step 'sample' takes about 5 min itself, so it cannot start every 1 ms; give an interval of at least 5 min",
    ]);
    const feeds = culture('150 s', '21 d').replace('id: sample\n        capability: rocking-bioreactor.sample', 'id: feed\n        capability: rocking-bioreactor.feed\n        parameters: { volume: 10 mL }');
    expect(findings(feeds)).toEqual([
      "schedule.yaml:25:16: recurring step 'feed' every 150 s would run 12096 times during step 'expand' (about 21 d); at most 10000 repetitions per step: give an interval of at least 3 min 2 s",
    ]);
    expect(findings(culture('5 min', '21 d'))).toEqual([]);
    expect(findings(culture('24 h'))).toEqual([]);
  });
});

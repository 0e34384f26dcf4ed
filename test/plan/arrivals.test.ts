/** Arrivals of a plan: all at once, at a rate, from a YAML or CSV file; what does not parse names its place. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arrivalsAtOnce, arrivalsFromSpec, DEFAULT_VIABILITY_MS, parseSpan, PlanInputError } from '../../orchestrator/capacity/arrivals.ts';

const H = 3600_000;
const DAY = 24 * H;
const WEEK = 7 * DAY;
const startAt = Date.UTC(2027, 0, 4, 8);
const dir = mkdtempSync(join(tmpdir(), 'workcell-arrivals-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const refusal = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PlanInputError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
};

describe('arrivals', () => {
  it('N at once: every patient at the start, each with the default viability window', () => {
    const arrivals = arrivalsAtOnce(3, startAt);
    expect(arrivals.map((a) => a.batchId)).toEqual(['P-001', 'P-002', 'P-003']);
    expect(arrivals.every((a) => a.at === startAt && a.usableUntil === startAt + DEFAULT_VIABILITY_MS)).toBe(true);
  });

  it('3/week over two weeks: six arrivals 56 h apart', () => {
    const arrivals = arrivalsFromSpec('3/week', { startAt, horizonMs: 2 * WEEK });
    expect(arrivals.map((a) => (a.at - startAt) / H)).toEqual([0, 56, 112, 168, 224, 280]);
  });

  it('every 36h and N/day', () => {
    expect(arrivalsFromSpec('every 36h', { startAt, horizonMs: 4 * DAY }).map((a) => (a.at - startAt) / H)).toEqual([0, 36, 72]);
    expect(arrivalsFromSpec('2/day', { startAt, horizonMs: DAY }).map((a) => (a.at - startAt) / H)).toEqual([0, 12]);
  });

  it('a rate fills the horizon evenly: horizon × rate arrivals, equally spaced, inside it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 30 }), (perWeek, weeks) => {
        const arrivals = arrivalsFromSpec(`${perWeek}/week`, { startAt, horizonMs: weeks * WEEK });
        expect(arrivals).toHaveLength(perWeek * weeks);
        const gaps = arrivals.slice(1).map((a, i) => a.at - arrivals[i]!.at);
        expect(Math.max(...gaps, WEEK / perWeek) - Math.min(...gaps, WEEK / perWeek)).toBeLessThanOrEqual(1);
        expect(arrivals.every((a) => a.at >= startAt && a.at < startAt + weeks * WEEK)).toBe(true);
        expect(new Set(arrivals.map((a) => a.batchId)).size).toBe(arrivals.length);
      }),
    );
  });

  it('spans: weeks, days, hours', () => {
    expect(parseSpan('12w', '--horizon')).toBe(12 * WEEK);
    expect(parseSpan('26 weeks', '--horizon')).toBe(26 * WEEK);
    expect(parseSpan('10 d', '--horizon')).toBe(10 * DAY);
    expect(refusal(() => parseSpan('soon', '--horizon'))).toBe("--horizon 'soon' does not parse: give a duration such as 12w, 26 weeks, 10 d or 36 h");
  });

  it('a spec that does not parse is refused in words', () => {
    expect(refusal(() => arrivalsFromSpec('3 per week', { startAt, horizonMs: WEEK }))).toBe("--arrivals '3 per week' does not parse: give a rate (3/week, 2/day, every 36h) or a file of dates (.yaml, .yml or .csv)");
    expect(refusal(() => arrivalsFromSpec('0/week', { startAt, horizonMs: WEEK }))).toBe("--arrivals '0/week': the rate must be more than 0");
    expect(refusal(() => arrivalsFromSpec('every fortnight', { startAt, horizonMs: WEEK }))).toContain("--arrivals 'every fortnight': the interval 'fortnight' does not parse");
  });

  it('a YAML file: dates or mappings, each patient with its own viability window and collection time', () => {
    const path = file('arrivals.yaml', ['arrivals:', '  - 2027-01-04T08:00Z', '  - { at: 2027-01-05 10:00, patient: PT-7, lane: lane-2, viability: 24 h }', '  - { at: 2027-01-06T09:00Z, collected: 2027-01-05T21:00Z }', ''].join('\n'));
    const arrivals = arrivalsFromSpec(path, { startAt: Number.NEGATIVE_INFINITY, horizonMs: WEEK });
    expect(arrivals.map((a) => [a.batchId, (a.at - startAt) / H, a.lane, (a.usableUntil - a.at) / H])).toEqual([
      ['P-001', 0, undefined, 36],
      ['PT-7', 26, 'lane-2', 24],
      ['P-003', 49, undefined, 24],
    ]);
  });

  it('a CSV file with a header; comments and blank lines are skipped', () => {
    const path = file('arrivals.csv', ['# intake plan', 'at,patient,viability', '2027-01-04T08:00Z,A-1,30 h', '', '2027-01-04T20:00Z,A-2,', ''].join('\n'));
    const arrivals = arrivalsFromSpec(path, { startAt, horizonMs: WEEK });
    expect(arrivals.map((a) => [a.patient, (a.at - startAt) / H, (a.usableUntil - a.collectedAt) / H])).toEqual([['A-1', 0, 30], ['A-2', 12, 36]]);
  });

  it('errors in a file name file:line:col', () => {
    const yaml = file('bad.yaml', ['- 2027-01-04T08:00Z', '- { at: next tuesday }', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(yaml, { startAt, horizonMs: WEEK }))).toBe(`${yaml}:2:9: 'at' takes an ISO 8601 date such as 2026-03-02T08:00Z, not 'next tuesday'`);
    const unknown = file('unknown.yaml', ['- { at: 2027-01-04T08:00Z, colour: red }', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(unknown, { startAt, horizonMs: WEEK }))).toBe(`${unknown}:1:28: unknown field 'colour' of an arrival (fields: at, patient, lane, viability, collected)`);
    const late = file('late.yaml', ['- 2027-01-04T08:00Z', '- 2027-03-01T08:00Z', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(late, { startAt, horizonMs: WEEK }))).toBe(`${late}:2:3: 2027-03-01T08:00:00.000Z is outside the plan's horizon (2027-01-04T08:00:00.000Z to 2027-01-11T08:00:00.000Z)`);
    const twice = file('twice.csv', ['at,patient', '2027-01-04T08:00Z,P-9', '2027-01-04T09:00Z, P-9', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(twice, { startAt, horizonMs: WEEK }))).toBe(`${twice}:3:20: patient P-9 arrives twice in ${twice}`);
    const viability = file('viability.csv', ['at,viability', '2027-01-04T08:00Z,36 mL', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(viability, { startAt, horizonMs: WEEK }))).toMatch(new RegExp(`^${viability}:2:19: 'viability' takes a duration such as 36 h`));
    const header = file('header.csv', ['when,patient', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(header, { startAt, horizonMs: WEEK }))).toBe(`${header}:1:1: unknown column 'when' (columns: at, patient, lane, viability, collected)`);
    const syntax = file('syntax.yaml', ['- [2027-01-04', ''].join('\n'));
    expect(refusal(() => arrivalsFromSpec(syntax, { startAt, horizonMs: WEEK }))).toMatch(new RegExp(`^${syntax}:\\d+:\\d+: `));
  });
});

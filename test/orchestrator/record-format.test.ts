import { describe, expect, it } from 'vitest';
import { timeOfDay } from '../../drivers/clock.ts';
import { formatLimits, formatValue } from '../../orchestrator/quantity-format.ts';
import { envelope } from '../../orchestrator/record-telemetry.ts';

describe('values with their units, for reading', () => {
  it('rounds each kind of quantity to the precision that means something for it, unit attached', () => {
    expect(formatValue(2_412_345_678.9, 'cells')).toBe('2.41e9 cells');
    expect(formatValue(5e6, 'cells/mL')).toBe('5.0e6 cells/mL');
    expect(formatValue(200_337.79, 'cells/mL')).toBe('2.0e5 cells/mL');
    expect(formatValue(94.479123, '%')).toBe('94.5 %');
    expect(formatValue(90, '%')).toBe('90.0 %');
    expect(formatValue(37, 'degC')).toBe('37.0 degC');
    expect(formatValue(36.864, '°C')).toBe('36.9 degC');
    expect(formatValue(499.7, 'V')).toBe('500 V');
    expect(formatValue(1000, 'mL')).toBe('1000 mL');
    expect(formatValue(19.4577, 'mL')).toBe('19.5 mL');
    expect(formatValue(2, 'mL')).toBe('2 mL');
    expect(formatValue(3.99991, 'g/L')).toBe('4.00 g/L');
    expect(formatValue(0.1 * 3, 'g/L')).toBe('0.3 g/L');
    expect(formatValue(0.5, 'L')).toBe('0.5 L');
    expect(formatValue(0.000133468, 'g/L')).toBe('1.33e-4 g/L');
    expect(formatValue(2004.4, 'rpm')).toBe('2004 rpm');
    expect(formatValue(19.4577, 'ohm')).toBe('19.5 ohm');
    expect(formatValue(-0.01, 'degC')).toBe('0.0 degC');
  });

  it('prints dimensionless values as plain numbers, never with a unit "1"', () => {
    expect(formatValue(1.0067722, '1')).toBe('1.01');
    expect(formatValue(7.2443, '1')).toBe('7.24');
    expect(formatValue(1, '1')).toBe('1');
    expect(formatValue(12, undefined)).toBe('12');
    expect(formatValue(12, '')).toBe('12');
  });

  it('prints durations as durations, whatever unit the catalogue keeps them in', () => {
    expect(formatValue(9, 'd')).toBe('9 d');
    expect(formatValue(0.013888888888888888, 'd')).toBe('20 min');
    expect(formatValue(1.5, 'h')).toBe('1 h 30 min');
    expect(formatValue(90, 'min')).toBe('1 h 30 min');
    expect(formatValue(45, 's')).toBe('45 s');
    expect(formatValue(20, 'ms')).toBe('20 ms');
    expect(formatValue(150, 's')).toBe('2 min 30 s');
    // Beyond a few days the minutes are noise.
    expect(formatValue(9 + 4 / 24 + 10 / 1440, 'd')).toBe('9 d 4 h');
  });

  it('shows text as it is, and limits without rounding them away', () => {
    expect(formatValue('transposon', undefined)).toBe('transposon');
    expect(formatValue(true, undefined)).toBe('true');
    expect(formatValue(undefined, 'mL')).toBe('-');
    expect(formatLimits(70, null, '%')).toBe('at least 70.0 %');
    expect(formatLimits(null, 5, '%')).toBe('at most 5.0 %');
    expect(formatLimits(36, 38, 'degC')).toBe('36.0 degC to 38.0 degC');
    expect(formatLimits(1.234e9, null, 'cells')).toBe('at least 1.234e9 cells');
    expect(formatLimits(70.25, null, '%')).toBe('at least 70.25 %');
    expect(formatLimits(null, null, '%')).toBe('');
  });
});

describe('times for people to read', () => {
  const reference = Date.UTC(2026, 11, 9, 1, 30);

  it('is the time of day on the reference day', () => {
    expect(timeOfDay(Date.UTC(2026, 11, 9, 5, 6, 59), reference)).toBe('05:06 UTC');
  });

  it('carries the month and day when the day differs', () => {
    expect(timeOfDay(Date.UTC(2026, 11, 10, 5, 6), reference)).toBe('12-10 05:06 UTC');
    expect(timeOfDay(Date.UTC(2026, 11, 8, 23, 59), reference)).toBe('12-08 23:59 UTC');
  });

  it('carries the year when the year differs', () => {
    expect(timeOfDay(Date.UTC(2027, 0, 2, 5, 6), reference)).toBe('2027-01-02 05:06 UTC');
    expect(timeOfDay(Date.UTC(2025, 11, 9, 5, 6), reference)).toBe('2025-12-09 05:06 UTC');
  });
});

describe('the telemetry envelope a plot is drawn from', () => {
  it('keeps every extreme of many thousand samples in at most the buckets asked for', () => {
    const at: number[] = [];
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      at.push(Date.UTC(2026, 11, 1) + i * 10_000);
      values.push(3 + Math.sin(i / 500));
    }
    values[12_345] = 0.5; // one dip, as a glucose crash would show
    values[40_000] = 9;
    const buckets = envelope(at, values, 120);
    expect(buckets.length).toBeLessThanOrEqual(120);
    expect(Math.min(...buckets.map((b) => b.min))).toBe(0.5);
    expect(Math.max(...buckets.map((b) => b.max))).toBe(9);
    const dip = buckets.find((b) => b.min === 0.5)!;
    // The dip's bucket sits where the dip happened: within one bucket width of it.
    expect(Math.abs(Date.parse(dip.at) - at[12_345]!)).toBeLessThanOrEqual((at.at(-1)! - at[0]!) / 120);
    for (let i = 1; i < buckets.length; i++) expect(Date.parse(buckets[i]!.at)).toBeGreaterThan(Date.parse(buckets[i - 1]!.at));
  });

  it('keeps a few samples as they are', () => {
    expect(envelope([1000, 2000, 5000], [1, 2, 3], 120)).toEqual([
      { at: new Date(1000).toISOString(), min: 1, max: 1 },
      { at: new Date(2000).toISOString(), min: 2, max: 2 },
      { at: new Date(5000).toISOString(), min: 3, max: 3 },
    ]);
  });
});

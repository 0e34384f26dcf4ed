import { describe, expect, it } from 'vitest';
import { convert, formatDuration, parseDuration, parseQuantity, parseQuantityIn } from '../../config/units.ts';

describe('quantities', () => {
  it('parses numbers with units, including exponents and aliases', () => {
    expect(parseQuantity('2e6 cells/mL')).toEqual({ ok: true, value: { value: 2e6, unit: 'cells/mL' } });
    expect(parseQuantity('37 °C')).toEqual({ ok: true, value: { value: 37, unit: 'degC' } });
    expect(parseQuantity('5%')).toEqual({ ok: true, value: { value: 5, unit: '%' } });
    expect(parseQuantity(7)).toEqual({ ok: true, value: { value: 7, unit: '1' } });
  });

  it('converts within a dimension and refuses across dimensions', () => {
    expect(convert({ value: 90, unit: 'min' }, 'h')).toBeCloseTo(1.5);
    expect(convert({ value: 1, unit: 'L/day' }, 'mL/day')).toBeCloseTo(1000);
    expect(convert({ value: 500, unit: 'mL' }, 'V')).toBeUndefined();
  });

  it('explains a wrong or missing unit', () => {
    expect(parseQuantityIn('500 mL', 'V')).toEqual({ ok: false, error: "wrong unit 'mL' in '500 mL': expected a voltage in V, kV" });
    expect(parseQuantityIn(500, 'V')).toEqual({ ok: false, error: "'500' has no unit; expected a voltage such as '1 V'" });
    expect(parseQuantityIn('5 furlongs', 'mm')).toMatchObject({ ok: false, error: expect.stringContaining("unknown unit 'furlongs'") });
  });

  it('reads durations in seconds and prints them back', () => {
    expect(parseDuration('36 h')).toEqual({ ok: true, value: 129600 });
    expect(parseDuration('2 days')).toEqual({ ok: true, value: 172800 });
    expect(parseDuration('-5 min')).toEqual({ ok: true, value: -300 });
    expect(formatDuration(9 * 86400 + 4 * 3600 + 600)).toBe('9 d 4 h 10 min');
    expect(formatDuration(150)).toBe('2 min 30 s');
  });
});

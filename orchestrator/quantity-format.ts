/**
 * Values with their units as people read them in records, status and holds: each quantity rounded to
 * the precision that carries meaning for it (a cell count to three figures, a viability to a tenth of a
 * percent, a voltage to the volt), durations as durations. Only what is shown is rounded: the log and the
 * JSON record keep the raw value.
 */
import { canonicalUnit, convert, dimensionOf, formatDuration } from '../config/units.ts';

type Style =
  | { kind: 'decimals'; decimals: number }
  | { kind: 'figures'; figures: number }
  /** Exponent notation from `from` up (cells: 2.41e9), whole numbers below. */
  | { kind: 'exponent'; figures: number; from: number }
  | { kind: 'duration' };

type NumberStyle = Exclude<Style, { kind: 'duration' }>;

const FIGURES: NumberStyle = { kind: 'figures', figures: 3 };

const STYLE_BY_DIMENSION: Readonly<Record<string, Style>> = {
  time: { kind: 'duration' },
  'cell-count': { kind: 'exponent', figures: 3, from: 1e4 },
  'cell-density': { kind: 'exponent', figures: 2, from: 1e4 },
  fraction: { kind: 'decimals', decimals: 1 },
  temperature: { kind: 'decimals', decimals: 1 },
  'cooling-rate': { kind: 'decimals', decimals: 1 },
  rotation: { kind: 'decimals', decimals: 0 },
  'colony-count': { kind: 'decimals', decimals: 0 },
};

// Where one unit of a dimension wants its own precision (500 V, but 0.52 kV).
const STYLE_BY_UNIT: Readonly<Record<string, Style>> = {
  V: { kind: 'decimals', decimals: 0 },
};

/**
 * A value for reading, with its unit: `2.41e9 cells`, `5.0e6 cells/mL`, `94.5 %`, `37.0 degC`,
 * `500 V`, `9 d`, `1 h 30 min`; a dimensionless value (unit '1' or none) as a plain number. Text is
 * returned as it is (the caller escapes it for its medium); lists and mappings as JSON.
 * `exact` (for limits written in a schedule) adds figures until nothing is rounded away; `bare` leaves
 * the unit off (an axis labelled with its unit once), except from durations, which say their units.
 */
export function formatValue(value: unknown, unit?: string, options: { exact?: boolean; bare?: boolean } = {}): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value, unit, options);
  if (typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** `at least 70.0 %`, `at most 5 %`, `1.00e9 cells to 5.00e9 cells`; empty when neither limit is set. */
export function formatLimits(min: number | null | undefined, max: number | null | undefined, unit?: string): string {
  const low = min === null || min === undefined ? undefined : formatValue(min, unit, { exact: true });
  const high = max === null || max === undefined ? undefined : formatValue(max, unit, { exact: true });
  if (low !== undefined && high !== undefined) return `${low} to ${high}`;
  if (low !== undefined) return `at least ${low}`;
  return high !== undefined ? `at most ${high}` : '';
}

function formatNumber(value: number, unit: string | undefined, { exact = false, bare = false }: { exact?: boolean; bare?: boolean }): string {
  if (!Number.isFinite(value)) return String(value);
  const symbol = unit === undefined || unit === '' ? '1' : (canonicalUnit(unit) ?? unit);
  const dimension = dimensionOf(symbol);
  let style = STYLE_BY_UNIT[symbol] ?? (dimension ? STYLE_BY_DIMENSION[dimension] : undefined) ?? FIGURES;
  if (style.kind === 'duration') {
    const seconds = convert({ value, unit: symbol }, 's');
    if (seconds !== undefined) return durationText(seconds, exact);
    style = FIGURES;
  }
  const shown = exact ? exactly(value, style) : rounded(value, style);
  return symbol === '1' || bare ? shown : `${shown} ${symbol}`;
}

/** A duration in seconds as people say it: `45 s`, `1 h 30 min`, `9 d`, `20 ms`. */
export function durationText(seconds: number, exact = false): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const size = Math.abs(seconds);
  if (size > 0 && size < 1) return `${figures(seconds * 1000, exact ? 6 : 3)} ms`;
  if (size < 60 || exact) return size < 60 ? `${figures(seconds, exact ? 6 : 3)} s` : formatDuration(seconds);
  // Beyond a few days the minutes are noise; beyond an hour, the seconds.
  const grain = size >= 3 * 86_400 ? 3600 : size >= 3600 ? 60 : 1;
  return formatDuration(Math.round(seconds / grain) * grain);
}

function rounded(value: number, style: NumberStyle): string {
  switch (style.kind) {
    case 'decimals':
      return noNegativeZero(value.toFixed(style.decimals));
    case 'exponent':
      return Math.abs(value) >= style.from ? exponent(value, style.figures) : noNegativeZero(value.toFixed(0));
    case 'figures':
      return figures(value, style.figures);
  }
}

/** The style's rendering, with more figures while it still rounds the value away (up to six). */
function exactly(value: number, style: NumberStyle): string {
  let shown = rounded(value, style);
  for (let more = 1; Number(shown) !== value && more <= 6; more++) {
    shown = style.kind === 'decimals' ? rounded(value, { kind: 'decimals', decimals: style.decimals + more })
      : style.kind === 'exponent' && Math.abs(value) >= style.from ? exponent(value, style.figures + more)
      : figures(value, 3 + more);
  }
  return shown;
}

/**
 * Significant figures, never fewer than the whole number has; exponent notation only far from 1.
 * Trailing zeros only where they say something was rounded: 3.99991 g/L is 4.00 g/L, a set 0.5 L stays 0.5 L.
 */
function figures(value: number, count: number): string {
  const size = Math.abs(value);
  if (size === 0) return '0';
  if (size >= 1e6 || size < 1e-3) return exponent(value, count);
  if (size >= 10 ** count) return noNegativeZero(value.toFixed(0));
  const shown = value.toPrecision(count);
  // Binary fractions (0.1 * 3 is 0.30000000000000004) are not figures anybody measured.
  const nothingRounded = Math.abs(Number(shown) - value) <= Math.abs(value) * 1e-9;
  return noNegativeZero(nothingRounded ? String(Number(shown)) : shown);
}

/** `2.41e9`, `5.0e6`, `1.3e-4`: the figures asked for, kept even when they are zeros. */
function exponent(value: number, count: number): string {
  return value.toExponential(Math.max(0, count - 1)).replace('e+', 'e');
}

function noNegativeZero(text: string): string {
  return /^-0(\.0*)?$/.test(text) ? text.slice(1) : text;
}

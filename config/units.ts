/**
 * Physical quantities as users write them in YAML ("37 degC", "500 V", "7 d", "2e6 cells/mL").
 *
 * Every unit belongs to one dimension and converts to that dimension's base unit by a factor,
 * so "90 min" satisfies a parameter declared in h and "500 mL" is refused for one declared in V.
 */

interface UnitDefinition {
  dimension: string;
  /** Multiply a value in this unit by `factor` to get the dimension's base unit. */
  factor: number;
}

const UNITS: Record<string, UnitDefinition> = {
  // time (base s)
  ms: { dimension: 'time', factor: 0.001 },
  s: { dimension: 'time', factor: 1 },
  min: { dimension: 'time', factor: 60 },
  h: { dimension: 'time', factor: 3600 },
  d: { dimension: 'time', factor: 86400 },
  // volume (base mL)
  uL: { dimension: 'volume', factor: 0.001 },
  mL: { dimension: 'volume', factor: 1 },
  L: { dimension: 'volume', factor: 1000 },
  // electrical
  V: { dimension: 'voltage', factor: 1 },
  kV: { dimension: 'voltage', factor: 1000 },
  mA: { dimension: 'current', factor: 0.001 },
  A: { dimension: 'current', factor: 1 },
  uF: { dimension: 'capacitance', factor: 1 },
  ohm: { dimension: 'resistance', factor: 1 },
  // thermal
  degC: { dimension: 'temperature', factor: 1 },
  'degC/min': { dimension: 'cooling-rate', factor: 1 },
  // motion
  rpm: { dimension: 'rotation', factor: 1 },
  deg: { dimension: 'angle', factor: 1 },
  mm: { dimension: 'length', factor: 1 },
  cm: { dimension: 'length', factor: 10 },
  m: { dimension: 'length', factor: 1000 },
  'mm/s': { dimension: 'speed', factor: 1 },
  Hz: { dimension: 'frequency', factor: 1 },
  // fractions and ratios
  '%': { dimension: 'fraction', factor: 1 },
  // mass (base ug)
  ng: { dimension: 'mass', factor: 0.001 },
  ug: { dimension: 'mass', factor: 1 },
  mg: { dimension: 'mass', factor: 1000 },
  g: { dimension: 'mass', factor: 1e6 },
  // mass concentration (base g/L)
  'g/L': { dimension: 'mass-concentration', factor: 1 },
  'mg/mL': { dimension: 'mass-concentration', factor: 1 },
  'mg/L': { dimension: 'mass-concentration', factor: 0.001 },
  'mg/dL': { dimension: 'mass-concentration', factor: 0.01 },
  // molar concentration (base mmol/L)
  'mmol/L': { dimension: 'molar-concentration', factor: 1 },
  mM: { dimension: 'molar-concentration', factor: 1 },
  // cells
  cells: { dimension: 'cell-count', factor: 1 },
  'cells/mL': { dimension: 'cell-density', factor: 1 },
  'cells/L': { dimension: 'cell-density', factor: 0.001 },
  // flow (base mL/min)
  'mL/min': { dimension: 'flow', factor: 1 },
  'mL/h': { dimension: 'flow', factor: 1 / 60 },
  'mL/day': { dimension: 'flow', factor: 1 / 1440 },
  'L/day': { dimension: 'flow', factor: 1000 / 1440 },
  // pressure (base mbar)
  mbar: { dimension: 'pressure', factor: 1 },
  kPa: { dimension: 'pressure', factor: 10 },
  bar: { dimension: 'pressure', factor: 1000 },
  // microbiology and release testing
  CFU: { dimension: 'colony-count', factor: 1 },
  'EU/mL': { dimension: 'endotoxin', factor: 1 },
  'copies/cell': { dimension: 'vector-copy-number', factor: 1 },
  // dimensionless (MOI, pulse counts): written as a bare number
  '1': { dimension: 'dimensionless', factor: 1 },
};

/** Spellings people use that mean a unit above. */
const ALIASES: Record<string, string> = {
  sec: 's', second: 's', seconds: 's',
  minute: 'min', minutes: 'min', mins: 'min',
  hour: 'h', hours: 'h', hr: 'h', hrs: 'h',
  day: 'd', days: 'd',
  'µL': 'uL', 'μL': 'uL', ml: 'mL', l: 'L',
  '°C': 'degC', 'ºC': 'degC', C: 'degC',
  '°C/min': 'degC/min',
  '°': 'deg', degree: 'deg', degrees: 'deg',
  'µg': 'ug', 'μg': 'ug', 'µF': 'uF', 'μF': 'uF',
  'Ω': 'ohm', ohms: 'ohm',
  cell: 'cells', 'cells/ml': 'cells/mL',
  'mL/d': 'mL/day', 'L/d': 'L/day',
  cfu: 'CFU',
};

export interface Quantity {
  value: number;
  /** Canonical unit symbol, a key of the unit table ('1' for a bare number). */
  unit: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const QUANTITY_PATTERN = /^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$/;

export function canonicalUnit(unit: string): string | undefined {
  if (unit === '') return '1';
  if (UNITS[unit]) return unit;
  const alias = ALIASES[unit];
  return alias && UNITS[alias] ? alias : undefined;
}

export function dimensionOf(unit: string): string | undefined {
  const canonical = canonicalUnit(unit);
  return canonical ? UNITS[canonical]?.dimension : undefined;
}

export function unitsOfDimension(dimension: string): string[] {
  return Object.entries(UNITS).filter(([, u]) => u.dimension === dimension).map(([name]) => name);
}

/** Parses "500 V", "2e6 cells/mL", "90 minutes" or a bare YAML number (dimensionless). */
export function parseQuantity(input: unknown): Parsed<Quantity> {
  if (typeof input === 'number') {
    return Number.isFinite(input) ? { ok: true, value: { value: input, unit: '1' } } : { ok: false, error: `expected a finite number, got ${input}` };
  }
  if (typeof input !== 'string') return { ok: false, error: `expected a quantity such as '30 min', got ${describeValue(input)}` };
  const match = QUANTITY_PATTERN.exec(input);
  if (!match) return { ok: false, error: `expected a number followed by a unit, such as '30 min', got '${input}'` };
  const [, number, unitText] = match as unknown as [string, string, string];
  const unit = canonicalUnit(unitText);
  if (!unit) return { ok: false, error: `unknown unit '${unitText}' in '${input}'` };
  const value = Number(number);
  // '1e999' reads as Infinity: no device setting or limit is infinite.
  if (!Number.isFinite(value)) return { ok: false, error: `'${input}' is not a finite number` };
  return { ok: true, value: { value, unit } };
}

/** The quantity's value expressed in `targetUnit`, or undefined when the dimensions differ. */
export function convert(quantity: Quantity, targetUnit: string): number | undefined {
  const from = UNITS[quantity.unit];
  const toName = canonicalUnit(targetUnit);
  const to = toName ? UNITS[toName] : undefined;
  if (!from || !to || from.dimension !== to.dimension) return undefined;
  return (quantity.value * from.factor) / to.factor;
}

/**
 * Parses a quantity and expresses it in `targetUnit`; the error says which units would have fitted.
 */
export function parseQuantityIn(input: unknown, targetUnit: string): Parsed<number> {
  const parsed = parseQuantity(input);
  const target = canonicalUnit(targetUnit) ?? targetUnit;
  if (!parsed.ok) {
    const example = target === '1' ? 'a plain number' : `a quantity in ${target}, such as '${exampleValue(target)}'`;
    return { ok: false, error: typeof input === 'number' || typeof input === 'string' ? `${parsed.error}; expected ${example}` : `expected ${example}, got ${describeValue(input)}` };
  }
  const converted = convert(parsed.value, target);
  if (converted === undefined) {
    const dimension = dimensionOf(target) ?? target;
    if (parsed.value.unit === '1') {
      return { ok: false, error: `'${String(input)}' has no unit; expected a ${dimension} such as '${exampleValue(target)}'` };
    }
    const accepted = unitsOfDimension(dimension).join(', ');
    return { ok: false, error: `wrong unit '${parsed.value.unit}' in '${String(input)}': expected a ${dimension} in ${accepted}` };
  }
  if (!Number.isFinite(converted)) return { ok: false, error: `'${String(input)}' is too large to express in ${target}` };
  return { ok: true, value: converted };
}

/** Durations in seconds: "30 min", "36 h", "7 days". */
export function parseDuration(input: unknown): Parsed<number> {
  return parseQuantityIn(input, 's');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const sign = seconds < 0 ? '-' : '';
  let rest = Math.abs(seconds);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)} ${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${Number(rest.toFixed(3))} s`);
  return sign + parts.join(' ');
}

export function formatQuantity(value: number, unit: string): string {
  const shown = Math.abs(value) >= 1e5 ? value.toExponential(2) : String(Number(value.toPrecision(6)));
  return unit === '1' ? shown : `${shown} ${unit}`;
}

function exampleValue(unit: string): string {
  return unit === '1' ? '1' : `1 ${unit}`;
}

export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value.length > 60 ? `'${value.slice(0, 57)}...'` : `'${value}'`;
  return String(value);
}

export type SiBaseUnit = 'Dimensionless' | 'Meter' | 'Kilogram' | 'Second' | 'Ampere' | 'Kelvin' | 'Mole' | 'Candela';

/** A unit in SI base units, as SiLA 2 Unit constraints state it: value_SI = value * factor + offset. */
export interface SiDecomposition {
  factor: number;
  offset: number;
  components: Array<[SiBaseUnit, number]>;
}

const M3 = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Meter', 3]] });
const PER_SECOND = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Second', -1]] });
const DIMENSIONLESS = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Dimensionless', 1]] });
const SECONDS = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Second', 1]] });
const METERS = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Meter', 1]] });
const KILOGRAMS = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Kilogram', 1]] });
const DENSITY = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Kilogram', 1], ['Meter', -3]] });
const FLOW = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Meter', 3], ['Second', -1]] });
const PRESSURE = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Kilogram', 1], ['Meter', -1], ['Second', -2]] });
const VOLTS = (factor: number): SiDecomposition => ({ factor, offset: 0, components: [['Kilogram', 1], ['Meter', 2], ['Second', -3], ['Ampere', -1]] });

export const SI_DECOMPOSITION: Record<string, SiDecomposition> = {
  ms: SECONDS(0.001), s: SECONDS(1), min: SECONDS(60), h: SECONDS(3600), d: SECONDS(86400),
  uL: M3(1e-9), mL: M3(1e-6), L: M3(1e-3),
  V: VOLTS(1), kV: VOLTS(1000),
  mA: { factor: 0.001, offset: 0, components: [['Ampere', 1]] }, A: { factor: 1, offset: 0, components: [['Ampere', 1]] },
  uF: { factor: 1e-6, offset: 0, components: [['Kilogram', -1], ['Meter', -2], ['Second', 4], ['Ampere', 2]] },
  ohm: { factor: 1, offset: 0, components: [['Kilogram', 1], ['Meter', 2], ['Second', -3], ['Ampere', -2]] },
  degC: { factor: 1, offset: 273.15, components: [['Kelvin', 1]] },
  'degC/min': { factor: 1 / 60, offset: 0, components: [['Kelvin', 1], ['Second', -1]] },
  rpm: PER_SECOND(1 / 60), Hz: PER_SECOND(1),
  deg: DIMENSIONLESS(Math.PI / 180),
  mm: METERS(0.001), cm: METERS(0.01), m: METERS(1),
  'mm/s': { factor: 0.001, offset: 0, components: [['Meter', 1], ['Second', -1]] },
  '%': DIMENSIONLESS(0.01),
  ng: KILOGRAMS(1e-12), ug: KILOGRAMS(1e-9), mg: KILOGRAMS(1e-6), g: KILOGRAMS(1e-3),
  'g/L': DENSITY(1), 'mg/mL': DENSITY(1), 'mg/L': DENSITY(1e-3), 'mg/dL': DENSITY(1e-2),
  'mmol/L': { factor: 1, offset: 0, components: [['Mole', 1], ['Meter', -3]] },
  mM: { factor: 1, offset: 0, components: [['Mole', 1], ['Meter', -3]] },
  cells: DIMENSIONLESS(1),
  'cells/mL': { factor: 1e6, offset: 0, components: [['Meter', -3]] },
  'cells/L': { factor: 1e3, offset: 0, components: [['Meter', -3]] },
  'mL/min': FLOW(1e-6 / 60), 'mL/h': FLOW(1e-6 / 3600), 'mL/day': FLOW(1e-6 / 86400), 'L/day': FLOW(1e-3 / 86400),
  mbar: PRESSURE(100), kPa: PRESSURE(1000), bar: PRESSURE(1e5),
  CFU: DIMENSIONLESS(1),
  'EU/mL': { factor: 1e6, offset: 0, components: [['Meter', -3]] },
  'copies/cell': DIMENSIONLESS(1),
  '1': DIMENSIONLESS(1),
};

export function knownUnits(): string[] {
  return Object.keys(UNITS);
}

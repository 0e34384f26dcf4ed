/**
 * Checks a plain value against the constraints of a Constrained data type. Returns what is wrong, in a
 * sentence for a ValidationError, or undefined when the value is allowed. This runs on every call that
 * carries a constrained value, so whatever can be read once per constraint (patterns, Set values, bounds)
 * is read once and kept.
 */
import type { BasicType, Constraints, DataType, FqiKind } from './feature.ts';
import { applicableConstraints } from './fdl-constraints.ts';
import type { SilaDate, SilaTime, SilaTimestamp, SilaValue } from './values.ts';
import { dataTypesEqual } from './values.ts';
import { readLiteral } from './xsd-literals.ts';
import { xsdPatternRegExp } from './xsd-pattern.ts';

const ID = '[A-Z][a-zA-Z0-9]*';
const FEATURE = `[a-z][a-z0-9_.]*/[a-z][a-z0-9_.]*/${ID}/v\\d+`;
const DATA_TYPE = new RegExp(`^${FEATURE}/DataType/${ID}$`, 'i');
const FQI_PATTERNS: Record<FqiKind, RegExp> = {
  FeatureIdentifier: new RegExp(`^${FEATURE}$`, 'i'),
  CommandIdentifier: new RegExp(`^${FEATURE}/Command/${ID}$`, 'i'),
  CommandParameterIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/Parameter/${ID}$`, 'i'),
  CommandResponseIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/Response/${ID}$`, 'i'),
  IntermediateCommandResponseIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/IntermediateResponse/${ID}$`, 'i'),
  DefinedExecutionErrorIdentifier: new RegExp(`^${FEATURE}/DefinedExecutionError/${ID}$`, 'i'),
  PropertyIdentifier: new RegExp(`^${FEATURE}/Property/${ID}$`, 'i'),
  DataTypeIdentifier: DATA_TYPE,
  TypeIdentifier: DATA_TYPE,
  MetadataIdentifier: new RegExp(`^${FEATURE}/Metadata/${ID}$`, 'i'),
};

type Bound = { limit: string; order: number; holds: (difference: number) => boolean; words: string };

/** What a constraints object says about ordered values, read once: undefined parts are not checked. */
interface OrderedLimits {
  set?: Array<number | string>;
  bounds: Bound[];
}

const orderedLimits = new WeakMap<Constraints, OrderedLimits>();

/** Set values and bounds as orderable values of `basic`; one that is not a literal of the type is ignored (the parser warned). */
function limitsOf(basic: BasicType, constraints: Constraints): OrderedLimits {
  let limits = orderedLimits.get(constraints);
  if (limits) return limits;
  limits = { bounds: [] };
  if (applicableConstraints(basic).includes('Set')) {
    const read = constraints.set?.map((v) => readLiteral(basic, basic === 'String' ? v : v.trim(), true));
    if (read?.every((r) => r.ok)) limits.set = read.map((r) => (r.ok ? r.order : NaN));
    const bounds: Array<[string | undefined, (difference: number) => boolean, string]> = [
      [constraints.minimalInclusive, (d) => d >= 0, 'at least'],
      [constraints.minimalExclusive, (d) => d > 0, 'greater than'],
      [constraints.maximalInclusive, (d) => d <= 0, 'at most'],
      [constraints.maximalExclusive, (d) => d < 0, 'less than'],
    ];
    for (const [limit, holds, words] of bounds) {
      if (limit === undefined || basic === 'String') continue;
      const literal = readLiteral(basic, limit.trim());
      if (literal.ok && typeof literal.order === 'number' && !Number.isNaN(literal.order)) limits.bounds.push({ limit, order: literal.order, holds, words });
    }
  }
  orderedLimits.set(constraints, limits);
  return limits;
}

export function checkConstraints(value: SilaValue, base: DataType, constraints: Constraints): string | undefined {
  if (base.kind === 'list') {
    const count = (value as SilaValue[]).length;
    if (constraints.elementCount !== undefined && count !== constraints.elementCount) return `expected exactly ${constraints.elementCount} elements, got ${count}`;
    if (constraints.minimalElementCount !== undefined && count < constraints.minimalElementCount) return `expected at least ${constraints.minimalElementCount} elements, got ${count}`;
    if (constraints.maximalElementCount !== undefined && count > constraints.maximalElementCount) return `expected at most ${constraints.maximalElementCount} elements, got ${count}`;
    return undefined;
  }
  if (base.kind !== 'basic') return undefined;
  const basic = base.basic;
  // A binary still held by the binary transfer service has no bytes here to count.
  if (basic === 'String' || (basic === 'Binary' && value instanceof Uint8Array)) {
    const length = basic === 'String' ? [...(value as string)].length : (value as Uint8Array).length;
    const unit = basic === 'String' ? 'characters' : 'bytes';
    if (constraints.length !== undefined && length !== constraints.length) return `expected exactly ${constraints.length} ${unit}, got ${length}`;
    if (constraints.minimalLength !== undefined && length < constraints.minimalLength) return `expected at least ${constraints.minimalLength} ${unit}, got ${length}`;
    if (constraints.maximalLength !== undefined && length > constraints.maximalLength) return `expected at most ${constraints.maximalLength} ${unit}, got ${length}`;
  }
  if (basic === 'String') {
    const text = value as string;
    if (constraints.pattern !== undefined && !xsdPatternRegExp(constraints.pattern).test(text)) return `'${text}' does not match the pattern ${constraints.pattern}`;
    if (constraints.fullyQualifiedIdentifier && !FQI_PATTERNS[constraints.fullyQualifiedIdentifier].test(text)) {
      return `'${text}' is not a fully qualified ${constraints.fullyQualifiedIdentifier.replace(/Identifier$/, '')} identifier`;
    }
    if (constraints.schema) {
      const problem = constraints.schema.type === 'Json' ? jsonProblem(text) : xmlProblem(text);
      if (problem) return problem;
    }
  }
  if (basic === 'Any' && constraints.allowedTypes) {
    const type = (value as { type: DataType }).type;
    if (!constraints.allowedTypes.some((allowed) => dataTypesEqual(allowed, type))) return 'the Any value is of a type that is not allowed here';
  }
  if (constraints.set === undefined && constraints.minimalInclusive === undefined && constraints.minimalExclusive === undefined
    && constraints.maximalInclusive === undefined && constraints.maximalExclusive === undefined) return undefined;
  const limits = limitsOf(basic, constraints);
  if (!limits.set && !limits.bounds.length) return undefined;
  const own = orderOf(basic, value);
  if (limits.set && !limits.set.some((allowed) => allowed === own)) return `${describe(value)} is not one of ${constraints.set!.join(', ')}`;
  if (typeof own !== 'number') return undefined;
  for (const bound of limits.bounds) if (!bound.holds(own - bound.order)) return `${describe(value)} is not ${bound.words} ${bound.limit}`;
  return undefined;
}

/** The number (or, for String, the text) that orders a value of a basic type the way its literals are ordered. */
function orderOf(basic: BasicType, value: unknown): number | string {
  switch (basic) {
    case 'Integer':
    case 'Real':
      return Number(value);
    case 'Date':
      return dateMillis(value as SilaDate);
    case 'Time':
      return timeMillis(value as SilaTime);
    case 'Timestamp':
      return timestampMillis(value as SilaTimestamp);
    default:
      return String(value);
  }
}

const zoneMillis = (tz: { hours: number; minutes: number }) => (tz.hours * 60 + Math.sign(tz.hours || 1) * tz.minutes) * 60_000;

function dateMillis(d: SilaDate): number {
  return Date.UTC(d.year, d.month - 1, d.day) - zoneMillis(d.timezone);
}

function timeMillis(t: SilaTime): number {
  return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.millisecond - zoneMillis(t.timezone);
}

function timestampMillis(t: SilaTimestamp): number {
  return Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.millisecond) - zoneMillis(t.timezone);
}

function jsonProblem(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    return `expected JSON: ${(error as Error).message}`;
  }
}

function xmlProblem(text: string): string | undefined {
  return /^\s*</.test(text) ? undefined : 'expected an XML document';
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : typeof value === 'object' ? JSON.stringify(value) : String(value);
}

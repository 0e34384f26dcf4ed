/**
 * Checks a plain value against the constraints of a Constrained data type. Returns what is wrong, in a
 * sentence for a ValidationError, or undefined when the value is allowed.
 */
import type { BasicType, Constraints, DataType, FqiKind } from './feature.ts';
import type { SilaDate, SilaTime, SilaTimestamp, SilaValue } from './values.ts';
import { dataTypesEqual } from './values.ts';

const ID = '[A-Z][a-zA-Z0-9]*';
const FEATURE = `[a-z][a-z0-9_.]*/[a-z][a-z0-9_.]*/${ID}/v\\d+`;
const FQI_PATTERNS: Record<FqiKind, RegExp> = {
  FeatureIdentifier: new RegExp(`^${FEATURE}$`, 'i'),
  CommandIdentifier: new RegExp(`^${FEATURE}/Command/${ID}$`, 'i'),
  CommandParameterIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/Parameter/${ID}$`, 'i'),
  CommandResponseIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/Response/${ID}$`, 'i'),
  IntermediateCommandResponseIdentifier: new RegExp(`^${FEATURE}/Command/${ID}/IntermediateResponse/${ID}$`, 'i'),
  DefinedExecutionErrorIdentifier: new RegExp(`^${FEATURE}/DefinedExecutionError/${ID}$`, 'i'),
  PropertyIdentifier: new RegExp(`^${FEATURE}/Property/${ID}$`, 'i'),
  DataTypeIdentifier: new RegExp(`^${FEATURE}/DataType/${ID}$`, 'i'),
  MetadataIdentifier: new RegExp(`^${FEATURE}/Metadata/${ID}$`, 'i'),
};

const patternCache = new Map<string, RegExp>();

/** XML Schema patterns match the whole value. */
function wholeMatch(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    patternCache.set(pattern, re);
  }
  return re;
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
  if (basic === 'String' || basic === 'Binary') {
    const length = basic === 'String' ? [...(value as string)].length : (value as Uint8Array).length;
    const unit = basic === 'String' ? 'characters' : 'bytes';
    if (constraints.length !== undefined && length !== constraints.length) return `expected exactly ${constraints.length} ${unit}, got ${length}`;
    if (constraints.minimalLength !== undefined && length < constraints.minimalLength) return `expected at least ${constraints.minimalLength} ${unit}, got ${length}`;
    if (constraints.maximalLength !== undefined && length > constraints.maximalLength) return `expected at most ${constraints.maximalLength} ${unit}, got ${length}`;
  }
  if (basic === 'String') {
    const text = value as string;
    if (constraints.pattern !== undefined && !wholeMatch(constraints.pattern).test(text)) return `'${text}' does not match the pattern ${constraints.pattern}`;
    if (constraints.fullyQualifiedIdentifier && !FQI_PATTERNS[constraints.fullyQualifiedIdentifier].test(text)) {
      return `'${text}' is not a fully qualified ${constraints.fullyQualifiedIdentifier.replace(/Identifier$/, '')} identifier`;
    }
    if (constraints.schema) {
      const problem = constraints.schema.type === 'Json' ? jsonProblem(text) : xmlProblem(text);
      if (problem) return problem;
    }
  }
  if (constraints.set !== undefined) {
    const allowed = constraints.set.map((v) => comparable(basic, v));
    const own = comparable(basic, value);
    if (!allowed.some((a) => a === own)) return `${describe(value)} is not one of ${constraints.set.join(', ')}`;
  }
  const bounds: Array<[string | undefined, (c: number) => boolean, string]> = [
    [constraints.minimalInclusive, (c) => c >= 0, 'at least'],
    [constraints.minimalExclusive, (c) => c > 0, 'greater than'],
    [constraints.maximalInclusive, (c) => c <= 0, 'at most'],
    [constraints.maximalExclusive, (c) => c < 0, 'less than'],
  ];
  for (const [limit, ok, words] of bounds) {
    if (limit === undefined) continue;
    const own = comparable(basic, value);
    const other = comparable(basic, limit);
    if (typeof own !== 'number' || typeof other !== 'number' || Number.isNaN(other)) continue;
    if (!ok(own - other)) return `${describe(value)} is not ${words} ${limit}`;
  }
  if (basic === 'Any' && constraints.allowedTypes) {
    const type = (value as { type: DataType }).type;
    if (!constraints.allowedTypes.some((allowed) => dataTypesEqual(allowed, type))) return 'the Any value is of a type that is not allowed here';
  }
  return undefined;
}

/** A number (or string) that orders values of a basic type; constraint limits are written as XML Schema literals. */
function comparable(basic: BasicType, value: unknown): number | string {
  switch (basic) {
    case 'Integer':
    case 'Real':
      return typeof value === 'bigint' ? Number(value) : Number(value);
    case 'Date':
      return typeof value === 'string' ? parseXsDate(value) : dateMillis(value as SilaDate);
    case 'Time':
      return typeof value === 'string' ? parseXsTime(value) : timeMillis(value as SilaTime);
    case 'Timestamp':
      return typeof value === 'string' ? Date.parse(value) : timestampMillis(value as SilaTimestamp);
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

function zoneOf(text: string): number {
  const m = /(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m || m[1] === 'Z') return 0;
  return (m[2] === '-' ? -1 : 1) * (Number(m[3]) * 60 + Number(m[4])) * 60_000;
}

function parseXsDate(text: string): number {
  const m = /^(\d{4,})-(\d{2})-(\d{2})/.exec(text);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - zoneOf(text) : NaN;
}

function parseXsTime(text: string): number {
  const m = /^(\d{2}):(\d{2}):(\d{2})(\.\d+)?/.exec(text);
  return m ? ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Math.round(Number(m[4] ?? 0) * 1000) - zoneOf(text) : NaN;
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

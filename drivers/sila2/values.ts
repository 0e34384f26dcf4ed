/**
 * Plain TypeScript values for SiLA data types, as handlers and callers see them.
 *
 * String: string; Integer: number (bigint beyond 2^53); Real: number; Boolean: boolean;
 * Binary: Uint8Array; Date/Time/Timestamp: the interfaces below (always with a time zone);
 * Any: { type, value }; List: array; Structure: object keyed by element identifier;
 * a custom data type: the value of its underlying type.
 */
import type { DataType } from './feature.ts';

export interface SilaTimezone {
  /** -14 to +14; a zone west of UTC has negative hours (-03:30 is { hours: -3, minutes: 30 }). */
  hours: number;
  minutes: number;
}

export interface SilaDate {
  year: number;
  month: number;
  day: number;
  timezone: SilaTimezone;
}

export interface SilaTime {
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  timezone: SilaTimezone;
}

export interface SilaTimestamp extends SilaDate, Omit<SilaTime, 'timezone'> {}

export interface SilaAny {
  type: DataType;
  value: SilaValue;
}

export type SilaValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | SilaDate
  | SilaTime
  | SilaTimestamp
  | SilaAny
  | BinaryRef
  | SilaValue[]
  | { [element: string]: SilaValue };

/** A binary held by the binary transfer service, not yet (or never) fetched. */
export class BinaryRef {
  constructor(readonly binaryTransferUUID: string) {}
}

export const UTC: SilaTimezone = { hours: 0, minutes: 0 };

/** A timestamp for the instant `date`, expressed in UTC. */
export function timestampFromDate(date: Date, timezone: SilaTimezone = UTC): SilaTimestamp {
  const offsetMs = (timezone.hours * 60 + Math.sign(timezone.hours || 1) * timezone.minutes) * 60_000;
  const local = new Date(date.getTime() + offsetMs);
  return {
    year: local.getUTCFullYear(),
    month: local.getUTCMonth() + 1,
    day: local.getUTCDate(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
    second: local.getUTCSeconds(),
    millisecond: local.getUTCMilliseconds(),
    timezone,
  };
}

export function dateFromTimestamp(t: SilaTimestamp): Date {
  const offsetMs = (t.timezone.hours * 60 + Math.sign(t.timezone.hours || 1) * t.timezone.minutes) * 60_000;
  return new Date(Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second, t.millisecond) - offsetMs);
}

export function dataTypesEqual(a: DataType, b: DataType): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Whether a value of this type can hold a Binary anywhere inside (Any can hold anything). */
export function mayContainBinary(dataType: DataType, resolve: (id: string) => DataType): boolean {
  switch (dataType.kind) {
    case 'basic':
      return dataType.basic === 'Binary' || dataType.basic === 'Any';
    case 'list':
      return mayContainBinary(dataType.element, resolve);
    case 'structure':
      return dataType.elements.some((e) => mayContainBinary(e.dataType, resolve));
    case 'constrained':
      return mayContainBinary(dataType.base, resolve);
    case 'reference':
      return mayContainBinary(resolve(dataType.identifier), resolve);
  }
}

/**
 * Constraint values (Set values and the Minimal/Maximal bounds) are written as XML Schema literals of the
 * constrained basic type: xs:integer, xs:decimal or xs:double, xs:date, xs:time, xs:dateTime. This reads
 * them into something that orders values of the type: a number (instants in milliseconds for the temporal
 * types) or, for String, the text itself.
 */
import type { BasicType } from './feature.ts';

export type Literal = { ok: true; order: number | string; zoneless: boolean } | { ok: false; expected: string };

const INTEGER = /^[+-]?\d+$/;
const REAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_REALS: Record<string, number> = { INF: Infinity, '+INF': Infinity, '-INF': -Infinity, NaN: NaN };
const ZONE = '(Z|[+-]\\d{2}:\\d{2})?';
const DATE = new RegExp(`^(-?\\d{4,})-(\\d{2})-(\\d{2})${ZONE}$`);
const TIME = new RegExp(`^(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?${ZONE}$`);
const TIMESTAMP = new RegExp(`^(-?\\d{4,})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d+)?${ZONE}$`);

const EXPECTED: Partial<Record<BasicType, string>> = {
  Integer: 'an integer such as 42',
  Real: 'a number such as 2.5, 1e-3 or INF',
  Date: 'a date YYYY-MM-DD with a time zone, such as 2024-05-31Z or 2024-05-31+02:00',
  Time: 'a time hh:mm:ss with a time zone, such as 13:45:00Z',
  Timestamp: 'a timestamp YYYY-MM-DDThh:mm:ss with a time zone, such as 2024-05-31T13:45:00Z',
};

/** Reads `text` as a literal of `basic`; Set values of Integer must be whole, bounds of Integer may be decimals. */
export function readLiteral(basic: BasicType, text: string, setValue = false): Literal {
  const failed: Literal = { ok: false, expected: EXPECTED[basic] ?? `a value of type ${basic}` };
  switch (basic) {
    case 'String':
      return { ok: true, order: text, zoneless: false };
    case 'Integer':
      if (setValue ? !INTEGER.test(text) : !REAL.test(text)) return failed;
      return { ok: true, order: Number(text), zoneless: false };
    case 'Real': {
      const special = SPECIAL_REALS[text];
      if (special !== undefined) return { ok: true, order: special, zoneless: false };
      return REAL.test(text) ? { ok: true, order: Number(text), zoneless: false } : failed;
    }
    case 'Date': {
      const m = DATE.exec(text);
      if (!m || !validDate(+m[1]!, +m[2]!, +m[3]!)) return failed;
      const zone = zoneMinutes(m[4]);
      if (zone === null) return failed;
      return { ok: true, order: Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!) - (zone ?? 0) * 60_000, zoneless: zone === undefined };
    }
    case 'Time': {
      const m = TIME.exec(text);
      if (!m || !validTime(+m[1]!, +m[2]!, +m[3]!)) return failed;
      const zone = zoneMinutes(m[5]);
      if (zone === null) return failed;
      const millis = ((+m[1]! * 60 + +m[2]!) * 60 + +m[3]!) * 1000 + Math.round(Number(m[4] ?? 0) * 1000);
      return { ok: true, order: millis - (zone ?? 0) * 60_000, zoneless: zone === undefined };
    }
    case 'Timestamp': {
      const m = TIMESTAMP.exec(text);
      if (!m || !validDate(+m[1]!, +m[2]!, +m[3]!) || !validTime(+m[4]!, +m[5]!, +m[6]!)) return failed;
      const zone = zoneMinutes(m[8]);
      if (zone === null) return failed;
      const millis = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + Math.round(Number(m[7] ?? 0) * 1000);
      return { ok: true, order: millis - (zone ?? 0) * 60_000, zoneless: zone === undefined };
    }
    default:
      return failed;
  }
}

function validDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

function validTime(hour: number, minute: number, second: number): boolean {
  return hour <= 23 && minute <= 59 && second <= 59;
}

/** Minutes east of UTC; undefined when no zone is written, null when it is out of range (beyond 14:00). */
function zoneMinutes(zone: string | undefined): number | undefined | null {
  if (zone === undefined) return undefined;
  if (zone === 'Z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.slice(4, 6));
  if (minutes > 59 || hours * 60 + minutes > 14 * 60) return null;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

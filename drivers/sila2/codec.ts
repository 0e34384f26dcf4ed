/**
 * Converts between plain values (values.ts) and SiLA protobuf messages for any data type, and checks
 * received values against their types and constraints.
 */
import protobuf from 'protobufjs';
import { checkConstraints } from './constraints.ts';
import { dataTypeToXml, parseDataTypeXml } from './fdl.ts';
import type { DataType, Feature } from './feature.ts';
import { valueWrapperType } from './proto.ts';
import { BinaryRef, mayContainBinary, type SilaAny, type SilaDate, type SilaTime, type SilaTimestamp, type SilaTimezone, type SilaValue } from './values.ts';

/** Values up to this size travel inline; larger ones go through binary transfer. */
export const MAX_INLINE_BINARY = 2 * 1024 * 1024;

export class CodecError extends Error {
  constructor(readonly path: string, detail: string) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'CodecError';
  }
}

type Message = Record<string, any>;

interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber(): number;
  toString(): string;
}

export const VOID: DataType = { kind: 'constrained', base: { kind: 'basic', basic: 'String' }, constraints: { length: 0 } };

export class ValueCodec {
  private readonly anyTypes = new Map<string, { dataType: DataType; wrapper: protobuf.Type }>();

  constructor(private readonly feature: Pick<Feature, 'dataTypes' | 'identifier'> | undefined, private readonly root: protobuf.Root) {}

  resolve = (identifier: string): DataType => {
    const definition = this.feature?.dataTypes.find((d) => d.identifier === identifier);
    if (!definition) throw new CodecError('', `unknown data type '${identifier}'`);
    return definition.dataType;
  };

  private readonly binaryTypes = new WeakMap<DataType, boolean>();

  /** Whether values of this type need the binary transfer pass (asked on every call, so remembered). */
  mayContainBinary(dataType: DataType): boolean {
    let answer = this.binaryTypes.get(dataType);
    if (answer === undefined) {
      answer = mayContainBinary(dataType, this.resolve);
      this.binaryTypes.set(dataType, answer);
    }
    return answer;
  }

  encode(dataType: DataType, value: SilaValue | undefined, path: string): unknown {
    if (value === undefined || value === null) throw new CodecError(path, 'missing value');
    switch (dataType.kind) {
      case 'constrained':
        return this.encode(dataType.base, value, path);
      case 'reference': {
        return { [dataType.identifier]: this.encode(this.resolve(dataType.identifier), value, path) };
      }
      case 'list': {
        if (!Array.isArray(value)) throw new CodecError(path, `expected a list, got ${kindOf(value)}`);
        return value.map((v, i) => this.encode(dataType.element, v, `${path}[${i}]`));
      }
      case 'structure': {
        if (typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new CodecError(path, `expected a structure, got ${kindOf(value)}`);
        const struct = value as Record<string, SilaValue>;
        const message: Message = {};
        for (const element of dataType.elements) message[element.identifier] = this.encode(element.dataType, struct[element.identifier], `${path}.${element.identifier}`);
        return message;
      }
      case 'basic':
        return this.encodeBasic(dataType.basic, value, path);
    }
  }

  private encodeBasic(basic: string, value: SilaValue, path: string): unknown {
    switch (basic) {
      case 'String':
        if (typeof value !== 'string') throw new CodecError(path, `expected a string, got ${kindOf(value)}`);
        return { value };
      case 'Integer':
        if (typeof value === 'bigint') return { value: value.toString() };
        if (typeof value !== 'number' || !Number.isInteger(value)) throw new CodecError(path, `expected an integer, got ${kindOf(value)}`);
        return { value };
      case 'Real':
        if (typeof value !== 'number') throw new CodecError(path, `expected a number, got ${kindOf(value)}`);
        return { value };
      case 'Boolean':
        if (typeof value !== 'boolean') throw new CodecError(path, `expected true or false, got ${kindOf(value)}`);
        return { value };
      case 'Binary':
        if (value instanceof BinaryRef) return { binaryTransferUUID: value.binaryTransferUUID };
        if (!(value instanceof Uint8Array)) throw new CodecError(path, `expected bytes (Uint8Array), got ${kindOf(value)}`);
        if (value.length > MAX_INLINE_BINARY) throw new CodecError(path, `binary of ${value.length} bytes is over 2 MiB and must go through binary transfer`);
        return { value };
      case 'Date': {
        const d = value as SilaDate;
        requireFields(d, ['year', 'month', 'day', 'timezone'], path);
        return { day: d.day, month: d.month, year: d.year, timezone: timezone(d.timezone, path) };
      }
      case 'Time': {
        const t = value as SilaTime;
        requireFields(t, ['hour', 'minute', 'second', 'timezone'], path);
        return { second: t.second, minute: t.minute, hour: t.hour, timezone: timezone(t.timezone, path), millisecond: t.millisecond ?? 0 };
      }
      case 'Timestamp': {
        const t = value as SilaTimestamp;
        requireFields(t, ['year', 'month', 'day', 'hour', 'minute', 'second', 'timezone'], path);
        return { second: t.second, minute: t.minute, hour: t.hour, day: t.day, month: t.month, year: t.year, timezone: timezone(t.timezone, path), millisecond: t.millisecond ?? 0 };
      }
      case 'Any': {
        const any = value as SilaAny;
        if (typeof any !== 'object' || !('type' in any)) throw new CodecError(path, 'expected an Any value { type, value }');
        const xml = typeof any.type === 'string' ? any.type : dataTypeToXml(any.type);
        const { dataType, wrapper } = this.anyType(xml, path);
        if (isVoid(dataType)) return { type: xml, payload: new Uint8Array(0) };
        return { type: xml, payload: wrapper.encode({ value: this.encode(dataType, any.value, `${path}<Any>`) }).finish() };
      }
      default:
        throw new CodecError(path, `unknown basic type ${basic}`);
    }
  }

  /**
   * Reads a received message. With `check`, also enforces constraints and the standard's value rules
   * (servers check what clients send; a failure is the caller's ValidationError).
   */
  decode(dataType: DataType, message: any, path: string, check: boolean): SilaValue {
    if (message === undefined || message === null) throw new CodecError(path, 'missing value');
    switch (dataType.kind) {
      case 'constrained': {
        const value = this.decode(dataType.base, message, path, check);
        if (check) {
          const problem = checkConstraints(value, dataType.base.kind === 'reference' ? this.resolve(dataType.base.identifier) : dataType.base, dataType.constraints);
          if (problem) throw new CodecError(path, problem);
        }
        return value;
      }
      case 'reference':
        return this.decode(this.resolve(dataType.identifier), message[dataType.identifier], path, check);
      case 'list':
        return (message as unknown[]).map((m, i) => this.decode(dataType.element, m, `${path}[${i}]`, check));
      case 'structure': {
        const value: Record<string, SilaValue> = {};
        for (const element of dataType.elements) value[element.identifier] = this.decode(element.dataType, message[element.identifier], `${path}.${element.identifier}`, check);
        return value;
      }
      case 'basic':
        return this.decodeBasic(dataType.basic, message, path, check);
    }
  }

  private decodeBasic(basic: string, m: Message, path: string, check: boolean): SilaValue {
    switch (basic) {
      case 'String':
      case 'Real':
      case 'Boolean':
        return m.value;
      case 'Integer':
        return fromLong(m.value);
      case 'Binary':
        return m.binaryTransferUUID ? new BinaryRef(m.binaryTransferUUID) : (m.value as Uint8Array);
      case 'Date': {
        const value: SilaDate = { year: m.year, month: m.month, day: m.day, timezone: readTimezone(m.timezone, path, check) };
        if (check) checkDate(value.year, value.month, value.day, path);
        return value;
      }
      case 'Time': {
        const value: SilaTime = { hour: m.hour, minute: m.minute, second: m.second, millisecond: m.millisecond ?? 0, timezone: readTimezone(m.timezone, path, check) };
        if (check) checkTime(value, path);
        return value;
      }
      case 'Timestamp': {
        const value: SilaTimestamp = {
          year: m.year, month: m.month, day: m.day, hour: m.hour, minute: m.minute, second: m.second, millisecond: m.millisecond ?? 0,
          timezone: readTimezone(m.timezone, path, check),
        };
        if (check) {
          checkDate(value.year, value.month, value.day, path);
          checkTime(value, path);
        }
        return value;
      }
      case 'Any': {
        const { dataType, wrapper } = this.anyType(m.type, path);
        if (isVoid(dataType)) return { type: dataType, value: '' };
        const inner = wrapper.decode(m.payload) as unknown as Message;
        return { type: dataType, value: this.decode(dataType, inner.value, `${path}<Any>`, check) };
      }
      default:
        throw new CodecError(path, `unknown basic type ${basic}`);
    }
  }

  private anyType(xml: string, path: string): { dataType: DataType; wrapper: protobuf.Type } {
    let entry = this.anyTypes.get(xml);
    if (!entry) {
      let dataType: DataType;
      try {
        dataType = parseDataTypeXml(xml);
      } catch (error) {
        throw new CodecError(path, `the Any value's type is not a valid <DataType>: ${(error as Error).message}`);
      }
      entry = { dataType, wrapper: valueWrapperType(`AnyValue${this.anyTypes.size}`, dataType, this.root) };
      this.anyTypes.set(xml, entry);
    }
    return entry;
  }

  /** Replaces every Binary in `value` by what `transform` makes of it (upload before encode, download after decode). */
  async mapBinaries(dataType: DataType, value: SilaValue, transform: (binary: Uint8Array | BinaryRef) => Promise<Uint8Array | BinaryRef>): Promise<SilaValue> {
    switch (dataType.kind) {
      case 'constrained':
        return this.mapBinaries(dataType.base, value, transform);
      case 'reference':
        return this.mapBinaries(this.resolve(dataType.identifier), value, transform);
      case 'list':
        return Promise.all((value as SilaValue[]).map((v) => this.mapBinaries(dataType.element, v, transform)));
      case 'structure': {
        const out: Record<string, SilaValue> = { ...(value as Record<string, SilaValue>) };
        for (const element of dataType.elements) out[element.identifier] = await this.mapBinaries(element.dataType, out[element.identifier]!, transform);
        return out;
      }
      case 'basic':
        return dataType.basic === 'Binary' && (value instanceof Uint8Array || value instanceof BinaryRef) ? transform(value) : value;
    }
  }
}

export function isVoid(dataType: DataType): boolean {
  return JSON.stringify(dataType) === JSON.stringify(VOID);
}

function fromLong(value: number | LongLike | string): number | bigint {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return toSafe(BigInt(value));
  if (value.high === 0 || (value.high === -1 && value.low < 0 && !value.unsigned)) return value.toNumber();
  return toSafe(BigInt(value.toString()));
}

function toSafe(n: bigint): number | bigint {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n;
}

function kindOf(value: unknown): string {
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function requireFields(value: object, fields: string[], path: string): void {
  if (typeof value !== 'object' || value === null) throw new CodecError(path, `expected an object with ${fields.join(', ')}`);
  const missing = fields.filter((f) => (value as Record<string, unknown>)[f] === undefined);
  if (missing.length) throw new CodecError(path, `missing ${missing.join(', ')}`);
}

function timezone(tz: SilaTimezone, path: string): SilaTimezone {
  if (!tz || !Number.isInteger(tz.hours) || !Number.isInteger(tz.minutes)) throw new CodecError(path, 'expected a timezone { hours, minutes }');
  if (tz.hours < -14 || tz.hours > 14 || tz.minutes < 0 || tz.minutes > 59) throw new CodecError(path, `timezone ${tz.hours}:${tz.minutes} is outside -14:00 to +14:00`);
  return { hours: tz.hours, minutes: tz.minutes };
}

function readTimezone(tz: Message | null | undefined, path: string, check: boolean): SilaTimezone {
  if (!tz) {
    if (check) throw new CodecError(path, 'missing timezone');
    return { hours: 0, minutes: 0 };
  }
  const value = { hours: tz.hours, minutes: tz.minutes };
  if (check) timezone(value, path);
  return value;
}

function checkDate(year: number, month: number, day: number, path: string): void {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    throw new CodecError(path, `${year}-${month}-${day} is not a calendar date`);
  }
}

function checkTime(t: Omit<SilaTime, 'timezone'>, path: string): void {
  if (t.hour > 23 || t.minute > 59 || t.second > 59 || t.millisecond > 999) throw new CodecError(path, `${t.hour}:${t.minute}:${t.second}.${t.millisecond} is not a time of day`);
}

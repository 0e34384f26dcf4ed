/**
 * Every SiLA data type survives encode -> protobuf bytes -> decode unchanged, for arbitrary types
 * (nested lists and structures, Any, constrained types) and arbitrary values of them.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValueCodec } from '../../drivers/sila2/codec.ts';
import { checkConstraints } from '../../drivers/sila2/constraints.ts';
import type { BasicType, DataType } from '../../drivers/sila2/feature.ts';
import { frameworkRoot, valueWrapperType } from '../../drivers/sila2/proto.ts';
import { propertyParameters } from '../support/property-runs.ts';

const root = frameworkRoot();
const codec = new ValueCodec({ identifier: 'RoundTrip', dataTypes: [] }, root);
let wrappers = 0;

const timezone = fc.record({ hours: fc.integer({ min: -14, max: 14 }), minutes: fc.integer({ min: 0, max: 59 }) });
const date = { year: fc.integer({ min: 1, max: 9999 }), month: fc.integer({ min: 1, max: 12 }), day: fc.integer({ min: 1, max: 28 }), timezone };
const time = { hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }), second: fc.integer({ min: 0, max: 59 }), millisecond: fc.integer({ min: 0, max: 999 }) };

const BASICS: BasicType[] = ['String', 'Integer', 'Real', 'Boolean', 'Binary', 'Date', 'Time', 'Timestamp', 'Any'];
const identifier = fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,8}$/);

const dataType: fc.Arbitrary<DataType> = fc.letrec<{ type: DataType; nonList: DataType }>((tie) => ({
  type: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('nonList'), fc.record({ kind: fc.constant('list' as const), element: tie('nonList') })),
  nonList: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...BASICS).map((basic) => ({ kind: 'basic' as const, basic })),
    fc.uniqueArray(identifier, { minLength: 1, maxLength: 3 }).chain((ids) =>
      fc.tuple(...ids.map(() => tie('type'))).map((types) => ({
        kind: 'structure' as const,
        elements: ids.map((id, i) => ({ identifier: id, displayName: id, description: '-', dataType: types[i]! })),
      })),
    ),
    fc.constantFrom<DataType>(
      { kind: 'constrained', base: { kind: 'basic', basic: 'String' }, constraints: { maximalLength: 12, pattern: '[a-z]*' } },
      { kind: 'constrained', base: { kind: 'basic', basic: 'Real' }, constraints: { minimalInclusive: '4', maximalExclusive: '37' } },
    ),
  ),
})).type;

/** A value of `type`, and the value decoding must give back (bytes come back as Buffer, safe bigints as numbers). */
function valueOf(type: DataType): fc.Arbitrary<{ value: any; expected: any }> {
  const same = (a: fc.Arbitrary<any>) => a.map((value) => ({ value, expected: value }));
  switch (type.kind) {
    case 'list':
      return fc.array(valueOf(type.element), { maxLength: 4 }).map((items) => ({ value: items.map((i) => i.value), expected: items.map((i) => i.expected) }));
    case 'structure':
      return fc.tuple(...type.elements.map((e) => valueOf(e.dataType))).map((values) => ({
        value: Object.fromEntries(type.elements.map((e, i) => [e.identifier, values[i]!.value])),
        expected: Object.fromEntries(type.elements.map((e, i) => [e.identifier, values[i]!.expected])),
      }));
    case 'constrained':
      return type.base.kind === 'basic' && type.base.basic === 'String'
        ? same(fc.stringMatching(/^[a-z]{0,12}$/))
        : same(fc.double({ min: 4, max: 36.999, noNaN: true }));
    case 'reference':
      throw new Error('no references here');
    case 'basic':
      switch (type.basic) {
        case 'String':
          return same(fc.string({ unit: 'grapheme', maxLength: 20 }));
        case 'Integer':
          return fc.oneof(
            same(fc.maxSafeInteger()),
            fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => ({ value: b, expected: b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(b) : b })),
          );
        case 'Real':
          return same(fc.double());
        case 'Boolean':
          return same(fc.boolean());
        case 'Binary':
          return fc.uint8Array({ maxLength: 64 }).map((b) => ({ value: b, expected: Buffer.from(b) }));
        case 'Date':
          return same(fc.record(date));
        case 'Time':
          return same(fc.record({ ...time, timezone }));
        case 'Timestamp':
          return same(fc.record({ ...date, ...time }));
        case 'Any':
          return fc.constantFrom<BasicType>('String', 'Integer', 'Real', 'Boolean', 'Timestamp').chain((inner) => {
            const innerType: DataType = { kind: 'basic', basic: inner };
            return valueOf(innerType).map(({ value, expected }) => ({ value: { type: innerType, value }, expected: { type: innerType, value: expected } }));
          });
      }
  }
}

function roundTrip(type: DataType, value: unknown): unknown {
  const wrapper = valueWrapperType(`RoundTrip${wrappers++}`, type, root);
  const bytes = wrapper.encode({ value: codec.encode(type, value as never, 'value') }).finish();
  const message = wrapper.decode(bytes) as unknown as { value: unknown };
  return codec.decode(type, message.value, 'value', true);
}

describe('the SiLA value codec', () => {
  it('round-trips arbitrary data types and values through protobuf bytes', () => {
    fc.assert(
      fc.property(dataType.chain((type) => valueOf(type).map((v) => ({ type, ...v }))), ({ type, value, expected }) => {
        expect(roundTrip(type, value)).toEqual(expected);
      }),
      propertyParameters(300),
    );
  });

  it('refuses, when checking, a constrained value outside its constraints', () => {
    const type: DataType = { kind: 'constrained', base: { kind: 'basic', basic: 'Real' }, constraints: { minimalInclusive: '4', maximalExclusive: '37' } };
    fc.assert(
      fc.property(fc.oneof(fc.double({ max: 3.999, noNaN: true }), fc.double({ min: 37, noNaN: true })), (outside) => {
        expect(() => roundTrip(type, outside)).toThrow(/is not (at least 4|less than 37)/);
      }),
      propertyParameters(200),
    );
  });

  it('checks dates, times and time zones the way the standard says', () => {
    const t: DataType = { kind: 'basic', basic: 'Date' };
    expect(() => roundTrip(t, { year: 2026, month: 2, day: 30, timezone: { hours: 0, minutes: 0 } })).toThrow(/not a calendar date/);
    expect(() => codec.encode(t, { year: 2026, month: 2, day: 3, timezone: { hours: 15, minutes: 0 } } as never, 'Day')).toThrow(/outside -14:00 to \+14:00/);
    expect(checkConstraints('ab', { kind: 'basic', basic: 'String' }, { set: ['a', 'b'] })).toBe("'ab' is not one of a, b");
  });
});

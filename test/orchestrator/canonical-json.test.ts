/**
 * The canonical JSON every entry's hash, the digest and signatures are computed over: object keys sorted
 * at every depth, whatever order the object was made in; a key `__proto__` kept as a key; the rest as
 * JSON.stringify has it. A change here that altered one byte would break the chain of every stored log.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../orchestrator/log-entry.ts';

describe('canonical JSON', () => {
  it('sorts the keys of every object, nested in objects and arrays, and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }, 3], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1},3]},"b":1}');
    expect(canonicalJson({ module: 'bio-1', channel: 'temperature', value: 37, unit: 'degC' })).toBe(canonicalJson({ channel: 'temperature', module: 'bio-1', unit: 'degC', value: 37 }));
  });

  it('keeps a key named __proto__ (as JSON.parse makes it) and one of an object without a prototype', () => {
    const parsed: unknown = JSON.parse('{"z":0,"__proto__":{"x":1},"a":1}');
    expect(canonicalJson(parsed)).toBe('{"__proto__":{"x":1},"a":1,"z":0}');
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 2, a: 1 });
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
  });

  it('drops undefined fields, writes NaN as null and a Date as its ISO string, as JSON does', () => {
    expect(canonicalJson({ b: undefined, a: Number.NaN, at: new Date(Date.UTC(2027, 0, 4, 8)) })).toBe('{"a":null,"at":"2027-01-04T08:00:00.000Z"}');
  });
});

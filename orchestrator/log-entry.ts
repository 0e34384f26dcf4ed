/**
 * What the event log holds and how its hashes see it: an entry, a break in a chain, and the key order that
 * makes a hash independent of property order. Apart from event-log.ts so that the signed checkpoints
 * (checkpoints.ts), which the log writes, read entries without importing the log. The entries themselves,
 * typed by their type, are defined in entries/.
 */
export type { LogEntry, NewEntry } from './entries/index.ts';

/**
 * An entry as a log (or a copy of one) stores it, before its data is checked against its type's schema:
 * what hashes and chains are computed over, whatever the data holds.
 */
export interface StoredRow {
  seq: number;
  stream: string;
  streamSeq: number;
  type: string;
  at: number;
  recordedAt: number;
  data: unknown;
  previousHash: string;
  hash: string;
  formatVersion?: number;
}

export interface ChainBreak {
  stream: string;
  streamSeq: number;
  seq?: number;
  /**
   * A chain broken inside (altered, missing, reordered), the log against its signed checkpoints, or an
   * entry whose data its type's schema does not allow (invalid: written by hand, or by a later format).
   */
  problem: 'altered' | 'missing' | 'reordered' | 'truncated' | 'rewritten' | 'checkpoint' | 'unguarded' | 'invalid';
  message: string;
}

/** JSON with object keys sorted, so that the hash does not depend on property order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, withSortedKeys);
}

/**
 * An object as JSON.stringify should see it: its own enumerable keys in sorted order. A plain object
 * whose keys are in order already is taken as it is (every entry's data passes here; a telemetry sample,
 * most of them, is made in order); another gets a copy whose keys are (without a prototype, so that a
 * key `__proto__` stays a key).
 */
function withSortedKeys(_key: string, value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if ((prototype === Object.prototype || prototype === null) && keys.every((key, i) => i === 0 || keys[i - 1]! < key)) return value;
  const sorted: Record<string, unknown> = Object.create(null);
  for (const key of keys.sort()) sorted[key] = (value as Record<string, unknown>)[key];
  return sorted;
}

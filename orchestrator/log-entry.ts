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
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

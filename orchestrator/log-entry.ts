/**
 * What the event log holds and how its hashes see it: an entry, a break in a chain, and the key order that
 * makes a hash independent of property order. Apart from event-log.ts so that the signed checkpoints
 * (checkpoints.ts), which the log writes, read entries without importing the log. The entries themselves,
 * typed by their type, are defined in entries/.
 */
export type { LogEntry, NewEntry } from './entries/index.ts';

export interface ChainBreak {
  stream: string;
  streamSeq: number;
  seq?: number;
  /** A chain broken inside (altered, missing, reordered), or the log against its signed checkpoints. */
  problem: 'altered' | 'missing' | 'reordered' | 'truncated' | 'rewritten' | 'checkpoint' | 'unguarded';
  message: string;
}

/** JSON with object keys sorted, so that the hash does not depend on property order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

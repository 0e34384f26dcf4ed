/**
 * Where identifiers made up at run time come from (lock ids, execution tokens): random UUIDs in a real
 * run; in a digital-twin run a seeded sequence, so the same inputs and seed give the same records.
 */
import { randomUUID } from 'node:crypto';
import { sha256Hex } from './sha256.ts';

export interface IdSource {
  /** A fresh identifier in UUID form. */
  uuid(): string;
}

export const RANDOM_IDS: IdSource = { uuid: () => randomUUID() };

/**
 * Identifiers in UUID (version 4) form drawn from a seed and a label: the nth of a (seed, label) is
 * the same in every run, and sources of different labels never repeat each other's.
 */
export function seededIds(seed: number, label: string): IdSource {
  let n = 0;
  return {
    uuid() {
      const hex = sha256Hex(`${seed}\u0000${label}\u0000${n++}`);
      const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
    },
  };
}

/**
 * SHA-256 of a string, as hex: what every entry's hash and every seeded identifier is. Node's one-shot
 * crypto.hash (20.12 and later) costs a third of a Hash object's, and a campaign makes tens of thousands.
 */
import * as crypto from 'node:crypto';

export const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function' ? (text) => crypto.hash('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

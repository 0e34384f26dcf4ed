/** What starting a batch takes: whose material, on which lane, and the signed request it answers, if any. */
import type { BatchStarted } from './entries.ts';

export interface BatchSpec {
  batchId: string;
  patient: string;
  /** ISBT 128 chain-of-identity identifier (or the site's equivalent). */
  chainOfIdentity: string;
  bagId: string;
  lane: string;
  /** The signed request it is started from (batch-requests.ts), recorded in its batch.started entry. */
  request?: BatchStarted['request'];
}

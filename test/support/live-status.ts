/**
 * A complete live status view for tests that write one by hand: the log refuses a view its schema does
 * not allow, so a test gives the fields it is about and takes the rest from here.
 */
import type { LiveStatus } from '../../orchestrator/live-status.ts';

type BatchStatus = LiveStatus['batches'][number];

export function liveStatus(fields: Partial<LiveStatus> = {}): LiveStatus {
  return { at: 0, timeScale: 1, final: false, pid: 1, batches: [], modules: [], plates: [], ...fields };
}

export function batchStatus(fields: Partial<BatchStatus> & Pick<BatchStatus, 'batchId'>): BatchStatus {
  return { patient: fields.batchId, lane: 'lane-1', step: 'wash', phase: 'running', ...fields };
}

/**
 * What the API answers, as the app reads it. Where the server answers with a structure the orchestrator
 * defines (the record, the open holds, the live status), the type is imported from there, so that a change
 * of shape fails the app's type check rather than the page.
 */
import type { BatchRecord } from '../../../orchestrator/record-build.ts';
import type { OpenHoldView, WorkcellOverview } from '../../../orchestrator/workcell-overview.ts';
import type { Role } from '../../../orchestrator/signatures.ts';

export type { BatchRecord, StepRecord, ControlOutcome, TelemetrySummary } from '../../../orchestrator/record-build.ts';
export type { OpenHoldView, WorkcellOverview, LiveStatusView } from '../../../orchestrator/workcell-overview.ts';
export type { Signature, Operator, Role } from '../../../orchestrator/signatures.ts';
export type { BatchStatus } from '../../../orchestrator/step-runner.ts';

export interface SessionInfo {
  user: string;
  roles: Role[];
  csrfToken: string;
}

export type Status = WorkcellOverview;
export type Hold = OpenHoldView;

export interface BatchSummary {
  batchId: string;
  patient: string;
  lane: string;
  status: BatchRecord['status'];
  started: string;
  review?: { decision: 'approved' | 'rejected'; user: string; at: string } | null;
}

/** The record and the verification of the log's hash chain the server ran when answering. */
export interface RecordResponse {
  record: BatchRecord;
  integrity: { ok: boolean; entries: number; message: string };
}

export interface TimelineBar {
  module: string;
  batch: string;
  step: string;
  start: number;
  end: number | null;
  kind?: 'step' | 'clearance' | 'booking';
}

export interface TimelineResponse {
  from: number;
  to: number;
  modules: string[];
  bars: TimelineBar[];
}

export interface SiteResponse {
  workcells: Array<{ workcell: string; schema?: string; lastEntryAt: number | null; entries: number }>;
  batches: Array<{ workcell: string; batchId: string; patient?: string; status: string; step?: string }>;
  holds: Array<{ workcell: string; batchId: string; step: string; kind: string; message: string; since: number }>;
}

export interface AuditItem {
  seq: number;
  at: number;
  type: string;
  stream: string;
  user: string | null;
  summary: string;
}

export interface AuditPage {
  items: AuditItem[];
  next: number | null;
}

/**
 * What the API answers, as the app reads it: the server's own TypeBox schemas (web/server/schemas.ts)
 * made static, and where the server passes an orchestrator structure on whole (the record, the alarms),
 * that structure's type. A change of shape on either side fails the app's type check, not the page.
 */
import type { Static } from '@sinclair/typebox';
import type * as Api from '../../server/schemas.ts';
import type { BatchRecord } from '../../../orchestrator/record-build.ts';
import type { WorkcellOverview } from '../../../orchestrator/workcell-overview.ts';

export type { BatchRecord, StepRecord, ControlOutcome, TelemetrySummary } from '../../../orchestrator/record-build.ts';
export type { Signature, Role } from '../../../orchestrator/signatures.ts';

export type SessionInfo = Static<typeof Api.SessionInfo>;
export type Hold = Static<typeof Api.HoldView>;
export type MenuChoice = Hold['menu'][number];
export type BatchStatus = Static<typeof Api.BatchStatus>;
export type ModuleStatus = Static<typeof Api.ModuleStatus>;
export type Status = Omit<Static<typeof Api.Overview>, 'alarms'> & { alarms: WorkcellOverview['alarms'] };
export type BatchSummary = Static<typeof Api.BatchSummary>;
export type RecordResponse = { record: BatchRecord; integrity: Static<typeof Api.RecordResponse>['integrity'] };
export type TimelineResponse = Static<typeof Api.TimelineResponse>;
export type TimelineBar = TimelineResponse['bars'][number];
export type SiteResponse = Static<typeof Api.SiteResponse>;
export type AuditPage = Static<typeof Api.AuditPage>;
export type Operator = Static<typeof Api.OperatorView>;
export type EnrolBody = Static<typeof Api.EnrolBody>;
export type HoldAnswer = Static<typeof Api.HoldAnswer>;
export type ReviewBody = Static<typeof Api.ReviewBody>;
export type DisableBody = Static<typeof Api.DisableBody>;
export type PasswordBody = Static<typeof Api.PasswordBody>;
export type ScheduleList = Static<typeof Api.ScheduleList>;
export type ScheduleListing = ScheduleList['schedules'][number];
export type StartBatchBody = Static<typeof Api.StartBatchBody>;
export type BatchRequested = Static<typeof Api.BatchRequested>;

/**
 * What `workcell status --json`, `workcell holds` and the web API show of a workcell: the live view the
 * running orchestrator writes, and from the log itself the open holds with their menus, modules out of
 * service, records awaiting review and recent alarms. One place, so that the terminal and the screen agree.
 */
import type { EventLog } from './event-log.ts';
import type { EntryData } from './entries/index.ts';
import { batchProjection, openHoldOf } from './batch-state.ts';
import { modulesOutOfService, whatSkipApproves, type OutOfService } from './operator-actions.ts';
import { awaitingReview } from './record.ts';
import type { LiveStatus } from './live-status.ts';

export interface OpenHoldView {
  batchId: string;
  /** The hold's position in its batch's stream: an answer names it, so that it answers the hold its signer saw. */
  hold: number;
  step: string;
  kind: string;
  message: string;
  actions: string[];
  since: number;
  /** The hold time that keeps running while the batch is held: after which step, until when (clock ms). */
  holdTime: { after: string; deadline: number } | null;
  /** What answering `skip` approves (the failed control and its value). */
  skipApproves: string | null;
  /** The device's own continuation options (a recoverable error), offered beside retry, skip and abort. */
  deviceOptions: Array<{ identifier: string; description: string }>;
}

export interface WorkcellOverview {
  status: LiveStatus | null;
  /** Wall-clock ms the live view was written, null when none was. */
  updatedAt: number | null;
  /** Why the live view written is not shown (it does not match its schema), if so. */
  statusProblem?: string;
  holds: OpenHoldView[];
  outOfService: OutOfService[];
  awaitingReview: ReturnType<typeof awaitingReview>;
  /** The last ten; an alarm of the workcell stream names its batch in its data, when it concerns one. */
  alarms: Array<{ batchId: string; at: number } & EntryData<'alarm'>>;
}

export function openHolds(log: EventLog): OpenHoldView[] {
  // A finished batch's machine has ended: no hold opens after it, and its stream need not be read.
  const finished = new Set([...log.ofType('batch.completed'), ...log.ofType('batch.quarantined')].map((e) => e.stream));
  return log.ofType('batch.started').filter((b) => !finished.has(b.stream)).flatMap((b) => {
    const state = batchProjection(log, b.stream);
    const hold = openHoldOf(state);
    if (!hold) return [];
    const running = state.holdTime;
    const { actions } = hold.data;
    return [{ batchId: b.stream, hold: hold.streamSeq, step: hold.data.step, kind: hold.data.kind, message: hold.data.message, actions, since: hold.at, holdTime: running ? { after: running.step, deadline: running.deadlineMs } : null, skipApproves: actions.includes('skip') ? whatSkipApproves(hold) : null, deviceOptions: hold.data.deviceOptions ?? [] }];
  });
}

export function liveStatus(log: EventLog): { view: LiveStatus | null; updatedAt: number | null; problem?: string } {
  const live = log.readStatus();
  return { view: live?.value ?? null, updatedAt: live?.updatedAt ?? null, ...(live?.problem === undefined ? {} : { problem: live.problem }) };
}

export function workcellOverview(log: EventLog): WorkcellOverview {
  const { view, updatedAt, problem } = liveStatus(log);
  return {
    status: view,
    updatedAt,
    ...(problem === undefined ? {} : { statusProblem: problem }),
    holds: openHolds(log),
    outOfService: [...modulesOutOfService(log).values()],
    awaitingReview: awaitingReview(log),
    alarms: log.ofType('alarm').slice(-10).map((a) => ({ batchId: a.stream, at: a.at, ...a.data })),
  };
}

/**
 * What operators do from any process (the CLI, later the web HMI), each signed and checked in the same
 * transaction that records it: answering a hold, asking for one, taking a module out of allocation and
 * back, recording material taken out by hand. A running orchestrator reads these entries from the log and
 * acts on them; nothing here talks to a device.
 */
import { WORKCELL_STREAM, type EventLog, type LogEntry } from './event-log.ts';
import type { HoldAction } from './entries.ts';
import { batchProjection, openHoldOf } from './batch-state.ts';
import type { BatchProjection } from './projection.ts';
import { signed, type Credentials } from './signatures.ts';

function requireReason(reason: string, what: string): void {
  if (!reason.trim()) throw new Error(`give a reason: every ${what} is recorded with why`);
}

/** Where a batch stands, for an operator's action on it (from any process: the same projection the orchestrator keeps). */
function batchState(log: EventLog, batchId: string): BatchProjection {
  const state = batchProjection(log, batchId);
  if (state.head === undefined) throw new Error(`no batch ${batchId} in ${log.file}`);
  return state;
}


/** What a skip of a hold approves, in words: the failed controls and their values, or the hold's reason. */
export function whatSkipApproves(hold: LogEntry<'hold.opened'>): string {
  const failed = hold.data.failedControls ?? [];
  if (failed.length === 0) return `continuing without ${hold.data.step}: ${hold.data.message}`;
  const limits = (c: (typeof failed)[number]) => [c.min !== null ? `min ${c.min} ${c.unit}` : '', c.max !== null ? `max ${c.max} ${c.unit}` : ''].filter(Boolean).join(', ');
  return `continuing without meeting ${failed.map((c) => `${c.result} ${c.value} ${c.unit} (${limits(c)})`).join('; ')} at ${hold.data.step}`;
}

/**
 * Answers an open hold (from the CLI or in process), signed by the operator answering it. `continue`
 * names one of the device's own continuation options (a recoverable error), sent back to the device.
 */
/**
 * `answer.hold`: the position of the hold the signer read (the web HMI and API always give it); an answer
 * naming another hold is refused, since the open hold may have been answered and another opened meanwhile.
 */
export function resolveHold(log: EventLog, batchId: string, answer: { action: HoldAction; reason: string; option?: string; hold?: number }, signer: Credentials, at: number): LogEntry<'hold.resolved'> {
  requireReason(answer.reason, 'answer to a hold');
  return signed(log, signer, answer.action, at, (sign) => {
    const hold = openHoldOf(batchState(log, batchId));
    if (!hold) throw new Error(`batch ${batchId} has no open hold`);
    if (answer.hold !== undefined && answer.hold !== hold.streamSeq) throw new Error(`the open hold of ${batchId} is another one than the hold answered (entry ${answer.hold}): it opened at ${hold.data.step} (${hold.data.kind}: ${hold.data.message}); read it and answer again`);
    const offered = hold.data.actions;
    if (!offered.includes(answer.action)) throw new Error(`the hold of ${batchId} offers ${offered.join(', ')}, not ${answer.action}`);
    // A skip names what it approves: the failed control and its value, signed with the rest.
    const approves = answer.action === 'skip' ? { approves: whatSkipApproves(hold) } : {};
    const option = answer.action === 'continue' ? { option: deviceOption(hold, answer.option) } : {};
    const content = { batchId, step: hold.data.step, holdEntry: hold.hash, action: answer.action, reason: answer.reason, ...approves, ...option };
    const signature = sign(content);
    return log.append({ stream: batchId, type: 'hold.resolved', at, data: { step: hold.data.step, hold: hold.streamSeq, action: answer.action, reason: answer.reason, ...approves, ...option, user: signature.user, signature } });
  });
}

/** The device's continuation option an answer names, checked against what the device offered. */
function deviceOption(hold: LogEntry<'hold.opened'>, option: string | undefined): string {
  const options = hold.data.deviceOptions ?? [];
  const list = options.map((o) => `${o.identifier} (${o.description})`).join(', ');
  if (!option) throw new Error(`name the device's option to continue with: ${list}`);
  if (!options.some((o) => o.identifier === option)) throw new Error(`the device offers ${list}, not '${option}'`);
  return option;
}

/** Asks the running orchestrator to hold a batch at its next safe point (`workcell hold`), signed. */
export function requestHold(log: EventLog, batchId: string, request: { reason: string }, signer: Credentials, at: number): LogEntry<'hold.requested'> {
  requireReason(request.reason, 'hold');
  return signed(log, signer, 'hold', at, (sign) => {
    const state = batchState(log, batchId);
    if (state.finished) throw new Error(`batch ${batchId} is finished (${state.finished}): there is nothing to hold`);
    const hold = openHoldOf(state);
    if (hold) throw new Error(`batch ${batchId} is held already at ${hold.data.step}: ${hold.data.message}`);
    const earlier = state.holdRequest;
    if (earlier) throw new Error(`a hold of ${batchId} was asked for already by ${earlier.data.user} and is not yet in place`);
    const signature = sign({ batchId, action: 'hold', reason: request.reason, head: state.head });
    return log.append({ stream: batchId, type: 'hold.requested', at, data: { reason: request.reason, user: signature.user, signature } });
  });
}

export interface OutOfService {
  module: string;
  since: number;
  user: string;
  reason: string;
}

/** The modules taken out of allocation and not yet returned, by module id. */
export function modulesOutOfService(log: EventLog): Map<string, OutOfService> {
  const out = new Map<string, OutOfService>();
  for (const entry of log.since(0, ['module.out-of-service', 'module.in-service'])) applyServiceEntry(out, entry);
  return out;
}

export function applyServiceEntry(out: Map<string, OutOfService>, entry: LogEntry): void {
  if (entry.type === 'module.out-of-service') out.set(entry.data.module, { module: entry.data.module, since: entry.at, user: entry.data.user, reason: entry.data.reason });
  if (entry.type === 'module.in-service') out.delete(entry.data.module);
}

/** Takes a module out of allocation, or returns it (`workcell module M out-of-service|in-service`), signed. */
export function setModuleService(log: EventLog, moduleId: string, change: { inService: boolean; reason: string; knownModules: readonly string[] }, signer: Credentials, at: number): LogEntry<'module.out-of-service' | 'module.in-service'> {
  requireReason(change.reason, 'change of service');
  if (!change.knownModules.includes(moduleId)) throw new Error(`the layout of this workcell has no module '${moduleId}' (modules: ${change.knownModules.join(', ')})`);
  return signed(log, signer, change.inService ? 'in-service' : 'out-of-service', at, (sign) => {
    const out = modulesOutOfService(log).get(moduleId);
    if (change.inService && !out) throw new Error(`${moduleId} is in service`);
    if (!change.inService && out) throw new Error(`${moduleId} is out of service already (since ${new Date(out.since).toISOString()}, by ${out.user}: ${out.reason})`);
    const type = change.inService ? 'module.in-service' : 'module.out-of-service';
    const signature = sign({ module: moduleId, type, reason: change.reason });
    return log.append({ stream: WORKCELL_STREAM, type, at, data: { module: moduleId, reason: change.reason, user: signature.user, signature } });
  });
}

/** Asks the running orchestrator to read a module's state from the device again (`workcell module M refresh`). */
export function requestModuleRefresh(log: EventLog, moduleId: string, knownModules: readonly string[], requestedBy: string, at: number): LogEntry<'module.refresh-requested'> {
  if (!knownModules.includes(moduleId)) throw new Error(`the layout of this workcell has no module '${moduleId}' (modules: ${knownModules.join(', ')})`);
  return log.append({ stream: WORKCELL_STREAM, type: 'module.refresh-requested', at, data: { module: moduleId, requestedBy } });
}

/**
 * Records that an operator took a quarantined batch's material out by hand from where it was stuck
 * (`workcell remove`), signed by that operator; a running orchestrator frees the module when it reads this.
 */
export function recordRemoval(log: EventLog, batchId: string, removal: { reason: string }, signer: Credentials, at: number): LogEntry<'material.removed'> {
  requireReason(removal.reason, 'removal');
  return signed(log, signer, 'remove', at, (sign) => {
    const state = batchState(log, batchId);
    const quarantined = state.end?.type === 'batch.quarantined' ? state.end : undefined;
    if (!quarantined) throw new Error(`batch ${batchId} is not quarantined: only a quarantined batch's material is removed by hand (abort it first: workcell resolve ${batchId} --action abort)`);
    if (quarantined.data.stuck !== true) throw new Error(`batch ${batchId}'s material was moved out to ${quarantined.data.location}: nothing is stuck`);
    const removed = state.removed;
    if (removed) throw new Error(`batch ${batchId}'s material was already removed from ${removed.data.from} by ${removed.data.user}`);
    const content = { batchId, from: quarantined.data.location, bagId: quarantined.data.bagId, reason: removal.reason, quarantinedEntry: quarantined.hash };
    const signature = sign(content);
    return log.append({ stream: batchId, type: 'material.removed', at, data: { from: content.from, bagId: content.bagId, reason: removal.reason, user: signature.user, signature } });
  });
}

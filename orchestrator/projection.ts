/**
 * A batch's state as its entries say, folded by one reducer: the steps done, the attempt of each step
 * still open, the hold it must deal with, the request for a hold not yet in place, the hold time
 * running, the module it holds, the commands sent and not finished, and whether it finished. Whoever
 * needs to know where a batch stands (the orchestrator on resume, the step runner, the CLI from any
 * process) reads this, not the entries themselves.
 */
import type { EntryData, LogEntry } from './entries/index.ts';

/** The hold of a batch whose last move, out to the output position, failed (its step in hold entries). */
export const FINISH = 'finish';

/** The hold time a batch is in: the step it runs after, its deadline (ms since the epoch) and length. */
export interface HoldTimeWindow {
  step: string;
  deadlineMs: number;
  maxHoldSeconds: number;
}

export interface PendingHold {
  entry: LogEntry<'hold.opened'>;
  /** Answered while no orchestrator acted on it yet (the answer is in the log, nothing followed). */
  answered: boolean;
  /** The answer, once given. */
  answer?: LogEntry<'hold.resolved'>;
  /**
   * The answer was carried out on the device work the hold left standing (resumed, continued, cancelled:
   * device-holds.ts): after a restart it is not sent to the device again, only the batch's part is left.
   */
  deviceWorkSettled?: boolean;
}

/** What the latest attempt of a step did, from its start on (what a skip of it records). */
export interface AttemptRecord {
  attempt: number;
  /** The module reserved last since the attempt started. */
  module?: string;
  /** Whether a device command of the step's own work (its run) was sent in this attempt. */
  ran: boolean;
  /** The results of the attempt's last completed run command. */
  results?: EntryData<'command.completed'>['results'];
  failedControls: Array<Pick<EntryData<'control.checked'>, 'result' | 'value' | 'unit' | 'min' | 'max'>>;
}

export interface PendingCommand {
  module: string;
  capability: string;
  step: string;
  /** The device's execution token, once the device accepted the command. */
  token?: LogEntry<'command.accepted'>['data']['token'];
}

export interface BatchProjection {
  /** Steps completed or skipped. */
  done: Set<string>;
  /** Per step, how many attempts started. */
  attempts: Map<string, number>;
  /** Per step, the attempt started and not yet ended (failed, completed or skipped). */
  openAttempts: Map<string, number>;
  /** Per step, its failures since the last answer to a hold (failures that carried out an answer do not count). */
  failuresSinceHold: Map<string, number>;
  /** The hold the batch must still deal with: open, or answered and not yet acted on. */
  pendingHold?: PendingHold;
  /** The latest answer to a hold. */
  lastAnswer?: LogEntry<'hold.resolved'>;
  /** An operator's request to hold the batch that no hold has taken up yet. */
  holdRequest?: LogEntry<'hold.requested'>;
  /** The hold time running (the latest window not closed). */
  holdTime?: HoldTimeWindow;
  /** The latest hold time started, running or closed. */
  lastHoldTime?: HoldTimeWindow;
  /** The step completed last, while the hold time after it has not opened yet (nor has anything else started). */
  completedLast?: { step: string; at: number };
  /** The module allocated to the batch last and not released. */
  module?: string;
  /** Commands sent and neither completed nor failed, by idempotency key. */
  pendingCommands: Map<string, PendingCommand>;
  /** The entry that started the batch. */
  started?: LogEntry<'batch.started'>;
  finished?: 'completed' | 'quarantined';
  /** The entry that finished the batch. */
  end?: LogEntry<'batch.completed' | 'batch.quarantined'>;
  /** The operator's record that the stuck material of the quarantined batch was taken out by hand. */
  removed?: LogEntry<'material.removed'>;
  /** Per step, its latest attempt. */
  lastAttempts: Map<string, AttemptRecord>;
  /** Per step (or recurring work), the latest number each result of its commands had: what `when` conditions read. */
  latestResults: Map<string, Map<string, number>>;
  /** Alarms and deviations raised for hold times, as `TYPE:STEP:DEADLINE` (each is raised once). */
  holdTimeAlerts: Set<string>;
  /** How many answers the holds of moving the material out had (each try of it has a key of its own). */
  finishAnswers: number;
  /** Whether the orchestrator before stopped cleanly (`batch.interrupted`) or the batch was resumed since. */
  lastStop?: 'interrupted' | 'resumed';
  /** The hash of the latest entry folded (telemetry aside). */
  head?: string;
}

/** The key of a hold time's alarm or deviation in `holdTimeAlerts`. */
export function holdTimeAlert(type: 'alarm' | 'deviation', step: string, deadlineMs: number): string {
  return `${type}:${step}:${deadlineMs}`;
}

/** The prefix of the idempotency keys of an attempt's own device commands (step-runner.ts). */
export function runKeyPrefix(batchId: string, step: string, attempt: number): string {
  return `${batchId}:${step}:${attempt}:run`;
}

/** Entries that show the batch acted on an operator's answer. */
const ACTED = new Set<string>(['step.started', 'step.skipped', 'batch.quarantined', 'batch.completed', 'transfer.completed', 'module.reserved']);

/** Entries after which a completed step no longer owes its hold time (it opened, or the batch moved on). */
const CLOSES_COMPLETION = new Set<string>(['hold-time.started', 'step.started', 'step.skipped', 'hold.opened', 'batch.completed', 'batch.quarantined']);

export function emptyProjection(): BatchProjection {
  return {
    done: new Set(),
    attempts: new Map(),
    openAttempts: new Map(),
    failuresSinceHold: new Map(),
    pendingCommands: new Map(),
    lastAttempts: new Map(),
    latestResults: new Map(),
    holdTimeAlerts: new Set(),
    finishAnswers: 0,
  };
}

/** Which attempt of a step a command key belongs to, for the attempts this batch has. */
function attemptOfRun(state: BatchProjection, batchId: string, key: string): AttemptRecord | undefined {
  for (const [step, record] of state.lastAttempts) if (key.startsWith(runKeyPrefix(batchId, step, record.attempt))) return record;
  return undefined;
}

/** The state after one more entry (the given state is updated and returned). */
export function applyEntry(state: BatchProjection, entry: LogEntry): BatchProjection {
  if (state.pendingHold?.answered && ACTED.has(entry.type)) state.pendingHold = undefined;
  // Entries that carry out an answer on a hold's device work name the answer they carry out.
  const carriesOut = entry.type === 'command.resumed' || entry.type === 'command.continued' || entry.type === 'command.cancelled' ? entry.data.answer : undefined;
  const answer = state.pendingHold?.answer;
  if (answer && carriesOut !== undefined && carriesOut === answer.streamSeq) {
    // Retry and continue go on with the same attempt, re-attached to the same command: nothing of the
    // answer is left. Skip and abort still owe the batch's part (the skip, the quarantine).
    if (answer.data.action === 'retry' || answer.data.action === 'continue') state.pendingHold = undefined;
    else state.pendingHold!.deviceWorkSettled = true;
  }
  state.head = entry.hash;
  if (CLOSES_COMPLETION.has(entry.type)) state.completedLast = undefined;
  switch (entry.type) {
    case 'step.started':
      state.attempts.set(entry.data.step, (state.attempts.get(entry.data.step) ?? 0) + 1);
      state.openAttempts.set(entry.data.step, entry.data.attempt);
      state.lastAttempts.set(entry.data.step, { attempt: entry.data.attempt, ran: false, failedControls: [] });
      break;
    case 'step.failed':
      state.openAttempts.delete(entry.data.step);
      if (entry.data.answered !== true) state.failuresSinceHold.set(entry.data.step, (state.failuresSinceHold.get(entry.data.step) ?? 0) + 1);
      break;
    case 'step.completed':
      state.completedLast = { step: entry.data.step, at: entry.at };
      state.openAttempts.delete(entry.data.step);
      state.done.add(entry.data.step);
      break;
    case 'step.skipped':
      state.openAttempts.delete(entry.data.step);
      state.done.add(entry.data.step);
      break;
    case 'hold.opened':
      state.pendingHold = { entry, answered: false };
      if (state.holdRequest && entry.data.request === state.holdRequest.streamSeq) state.holdRequest = undefined;
      break;
    case 'hold.resolved':
      if (state.pendingHold) Object.assign(state.pendingHold, { answered: true, answer: entry });
      state.lastAnswer = entry;
      state.failuresSinceHold.clear();
      if (entry.data.step === FINISH) state.finishAnswers++;
      break;
    case 'hold.requested':
      state.holdRequest = entry;
      break;
    case 'hold-time.started':
      state.holdTime = { step: entry.data.step, deadlineMs: entry.data.deadlineMs, maxHoldSeconds: entry.data.maxHoldSeconds };
      state.lastHoldTime = state.holdTime;
      break;
    case 'hold-time.ended':
      state.holdTime = undefined;
      break;
    case 'module.reserved':
      state.module = entry.data.module;
      for (const record of state.lastAttempts.values()) record.module = entry.data.module;
      break;
    case 'module.released':
      if (state.module === entry.data.module) state.module = undefined;
      break;
    case 'command.issued': {
      state.pendingCommands.set(entry.data.key, { module: entry.data.module, capability: entry.data.capability, step: entry.data.step });
      const attempt = attemptOfRun(state, entry.stream, entry.data.key);
      if (attempt) attempt.ran = true;
      break;
    }
    case 'command.accepted': {
      const command = state.pendingCommands.get(entry.data.key);
      if (command) command.token = entry.data.token;
      break;
    }
    case 'command.completed': {
      const step = state.pendingCommands.get(entry.data.key)?.step;
      state.pendingCommands.delete(entry.data.key);
      const attempt = attemptOfRun(state, entry.stream, entry.data.key);
      if (attempt) attempt.results = entry.data.results;
      if (step === undefined) break;
      const latest = state.latestResults.get(step) ?? new Map<string, number>();
      state.latestResults.set(step, latest);
      for (const [name, value] of Object.entries(entry.data.results)) if (typeof value === 'number') latest.set(name, value);
      break;
    }
    case 'command.failed':
      state.pendingCommands.delete(entry.data.key);
      break;
    case 'control.checked':
      if (!entry.data.pass) {
        const { result, value, unit, min, max } = entry.data;
        state.lastAttempts.get(entry.data.step)?.failedControls.push({ result, value, unit, min, max });
      }
      break;
    case 'alarm':
    case 'deviation':
      if (entry.data.holdOf !== undefined && entry.data.deadlineMs !== undefined) state.holdTimeAlerts.add(holdTimeAlert(entry.type, entry.data.holdOf, entry.data.deadlineMs));
      break;
    case 'batch.completed':
    case 'batch.quarantined':
      state.finished = entry.type === 'batch.completed' ? 'completed' : 'quarantined';
      state.end = entry;
      state.holdRequest = undefined;
      break;
    case 'material.removed':
      state.removed = entry;
      break;
    case 'batch.started':
      state.started = entry;
      break;
    case 'batch.interrupted':
      state.lastStop = 'interrupted';
      break;
    case 'batch.resumed':
      state.lastStop = 'resumed';
      break;
    default:
      break;
  }
  return state;
}

/** A batch's state from its entries, in stream order. */
export function projectBatch(entries: readonly LogEntry[]): BatchProjection {
  return entries.reduce(applyEntry, emptyProjection());
}

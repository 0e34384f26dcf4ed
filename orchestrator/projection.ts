/**
 * A batch's state as its entries say, folded by one reducer: the steps done, the attempt of each step
 * still open, the hold it must deal with, the request for a hold not yet in place, the hold time
 * running, the module it holds, the commands sent and not finished, and whether it finished. Whoever
 * needs to know where a batch stands (the orchestrator on resume, the step runner, the CLI from any
 * process) reads this, not the entries themselves.
 */
import type { LogEntry } from './entries/index.ts';

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
  /** An operator's request to hold the batch that no hold has taken up yet. */
  holdRequest?: LogEntry<'hold.requested'>;
  /** The hold time running (the latest window not closed). */
  holdTime?: HoldTimeWindow;
  /** The latest hold time started, running or closed. */
  lastHoldTime?: HoldTimeWindow;
  /** The module allocated to the batch last and not released. */
  module?: string;
  /** Commands sent and neither completed nor failed, by idempotency key. */
  pendingCommands: Map<string, PendingCommand>;
  finished?: 'completed' | 'quarantined';
}

/** Entries that show the batch acted on an operator's answer. */
const ACTED = new Set<string>(['step.started', 'step.skipped', 'batch.quarantined', 'batch.completed', 'transfer.completed', 'module.reserved']);

export function emptyProjection(): BatchProjection {
  return { done: new Set(), attempts: new Map(), openAttempts: new Map(), failuresSinceHold: new Map(), pendingCommands: new Map() };
}

/** The state after one more entry (the given state is updated and returned). */
export function applyEntry(state: BatchProjection, entry: LogEntry): BatchProjection {
  if (state.pendingHold?.answered && ACTED.has(entry.type)) state.pendingHold = undefined;
  switch (entry.type) {
    case 'step.started':
      state.attempts.set(entry.data.step, (state.attempts.get(entry.data.step) ?? 0) + 1);
      state.openAttempts.set(entry.data.step, entry.data.attempt);
      break;
    case 'step.failed':
      state.openAttempts.delete(entry.data.step);
      if (entry.data.answered !== true) state.failuresSinceHold.set(entry.data.step, (state.failuresSinceHold.get(entry.data.step) ?? 0) + 1);
      break;
    case 'step.completed':
    case 'step.skipped':
      state.openAttempts.delete(entry.data.step);
      state.done.add(entry.data.step);
      break;
    case 'hold.opened':
      state.pendingHold = { entry, answered: false };
      if (state.holdRequest && entry.data.request === state.holdRequest.streamSeq) state.holdRequest = undefined;
      break;
    case 'hold.resolved':
      if (state.pendingHold) state.pendingHold.answered = true;
      state.failuresSinceHold.clear();
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
      break;
    case 'module.released':
      if (state.module === entry.data.module) state.module = undefined;
      break;
    case 'command.issued':
      state.pendingCommands.set(entry.data.key, { module: entry.data.module, capability: entry.data.capability, step: entry.data.step });
      break;
    case 'command.accepted': {
      const command = state.pendingCommands.get(entry.data.key);
      if (command) command.token = entry.data.token;
      break;
    }
    case 'command.completed':
    case 'command.failed':
      state.pendingCommands.delete(entry.data.key);
      break;
    case 'batch.completed':
    case 'batch.quarantined':
      state.finished = entry.type === 'batch.completed' ? 'completed' : 'quarantined';
      state.holdRequest = undefined;
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

/**
 * Observable command executions on the server side: their lifecycle, how long their UUIDs stay valid
 * (SiLA's lifetime of execution), and the controls the core features act on (CancelController,
 * PauseController, ErrorRecoveryService).
 */
import { randomUUID } from 'node:crypto';
import { FrameworkError, type SilaError } from './errors.ts';
import type { Command } from './feature.ts';
import type { Clock } from '../clock.ts';

export type ExecutionStatus = 'waiting' | 'running' | 'finishedSuccessfully' | 'finishedWithError';
export const STATUS_NUMBER: Record<ExecutionStatus, number> = { waiting: 0, running: 1, finishedSuccessfully: 2, finishedWithError: 3 };

/** What a command's handler can do to a running execution of it; a handler declares what it supports. */
export interface ExecutionControls {
  /** Stops the work for good; the handler then ends, and the execution finishes with the cancellation. */
  cancel?(): void;
  /** Stops progress until resume(); throws when the work cannot be paused now. */
  pause?(): void;
  resume?(): void;
}

/** Finished executions kept for late C_Result calls at most; the oldest go first. */
const MAX_RETAINED_EXECUTIONS = 10_000;

export class ServerExecution<Owner = unknown> {
  status: ExecutionStatus = 'waiting';
  progress = 0;
  remainingSeconds: number | undefined;
  responses: Record<string, unknown> | undefined;
  error: SilaError | undefined;
  controls: ExecutionControls = {};
  paused = false;
  /** Why a client cancelled the execution; its outcome is then the cancellation, whatever the handler ends with. */
  cancellation: string | undefined;
  readonly changed = new Set<() => void>();
  private intermediateListeners: Set<(message: Record<string, unknown>) => void> | undefined;
  private cancelListenerSet: Set<() => void> | undefined;

  constructor(
    readonly uuid: string,
    readonly owner: Owner,
    readonly command: Command,
    readonly commandFqi: string,
    /** Until when the UUID is valid (ms since the epoch). */
    public expiresAt: number,
    private readonly clock: Clock,
  ) {}

  /** Who follows the intermediate responses (made on first use: most commands have none). */
  get intermediates(): Set<(message: Record<string, unknown>) => void> {
    return (this.intermediateListeners ??= new Set());
  }

  /** Who is to know of a cancellation (made on first use). */
  get cancelListeners(): Set<() => void> {
    return (this.cancelListenerSet ??= new Set());
  }

  get finished(): boolean {
    return this.status === 'finishedSuccessfully' || this.status === 'finishedWithError';
  }

  notify(): void {
    for (const listener of this.changed) listener();
  }

  /** Cancels through the handler's control; false when the command offers no cancellation. */
  cancel(reason: string): boolean {
    if (this.finished || !this.controls.cancel) return false;
    this.cancellation ??= reason;
    for (const listener of this.cancelListenerSet ?? []) listener();
    this.controls.cancel();
    return true;
  }

  /** Resolves when the execution has finished, or after `timeoutMs` at the latest. */
  whenFinished(timeoutMs: number): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve) => {
      const end = () => {
        this.clock.clearTimeout(timer);
        this.changed.delete(check);
        resolve();
      };
      const check = () => {
        if (this.finished) end();
      };
      const timer = this.clock.setTimeout(end, timeoutMs);
      this.changed.add(check);
    });
  }
}

export class ExecutionRegistry<Owner> {
  private readonly executions = new Map<string, ServerExecution<Owner>>();
  /** Idempotency key -> the execution it started (kept after the execution expires, so it is never run again). */
  private readonly executionsByKey = new Map<string, string>();
  /** Finished executions in the order they expire (each expires one lifetime after it finished), so purging is cheap. */
  private finishedQueue: ServerExecution<Owner>[] = [];
  /** Where the unpurged part of the queue starts; the queue is compacted now and then rather than at every purge. */
  private queueStart = 0;

  constructor(readonly lifetimeSeconds: number, private readonly clock: Clock) {}

  /** The execution an idempotency key started: 'expired' when it is gone (it must not run again). */
  startedWithKey(key: string): ServerExecution<Owner> | 'expired' | undefined {
    const uuid = this.executionsByKey.get(key);
    if (uuid === undefined) return undefined;
    return this.executions.get(uuid) ?? 'expired';
  }

  start(owner: Owner, command: Command, commandFqi: string, key: string | undefined): ServerExecution<Owner> {
    this.purge();
    const execution = new ServerExecution(randomUUID(), owner, command, commandFqi, this.clock.now() + this.lifetimeSeconds * 1000, this.clock);
    this.executions.set(execution.uuid, execution);
    if (key !== undefined) this.executionsByKey.set(key, execution.uuid);
    return execution;
  }

  finish(execution: ServerExecution<Owner>): void {
    execution.remainingSeconds = 0;
    if (execution.status === 'finishedSuccessfully') execution.progress = 1;
    // The result stays available for a whole lifetime after the end, whenever the command ended.
    execution.expiresAt = Math.max(execution.expiresAt, this.clock.now() + this.lifetimeSeconds * 1000);
    this.finishedQueue.push(execution);
    execution.notify();
  }

  /** Any valid execution by UUID (the core features name executions of every command). */
  get(uuid: string): ServerExecution<Owner> | undefined {
    const execution = this.executions.get(uuid);
    if (!execution) return undefined;
    if (!execution.finished) {
      this.lifetimeLeft(execution);
      return execution;
    }
    return execution.expiresAt < this.clock.now() ? undefined : execution;
  }

  /** A valid execution of `command`, or INVALID_COMMAND_EXECUTION_UUID. */
  find(owner: Owner, command: Command, uuid: string, commandFqi: string): ServerExecution<Owner> {
    const execution = this.get(uuid);
    if (!execution || execution.owner !== owner || execution.command !== command) {
      throw new FrameworkError('INVALID_COMMAND_EXECUTION_UUID', `no execution '${uuid}' of command ${commandFqi}${this.executions.has(uuid) ? ' (it has expired)' : ''}`);
    }
    return execution;
  }

  running(): ServerExecution<Owner>[] {
    return [...this.executions.values()].filter((e) => !e.finished);
  }

  /**
   * Seconds the UUID stays valid. A running execution never expires: once half of its lifetime is
   * used up, it is extended to a whole lifetime from now (clients learn it from ExecutionInfo).
   */
  lifetimeLeft(execution: ServerExecution<Owner>): number {
    const now = this.clock.now();
    if (!execution.finished && execution.expiresAt - now < (this.lifetimeSeconds * 1000) / 2) execution.expiresAt = now + this.lifetimeSeconds * 1000;
    return Math.max(0, (execution.expiresAt - now) / 1000);
  }

  private purge(): void {
    const now = this.clock.now();
    const queue = this.finishedQueue;
    let start = this.queueStart;
    while (start < queue.length && (queue[start]!.expiresAt < now || queue.length - start > MAX_RETAINED_EXECUTIONS)) {
      this.executions.delete(queue[start]!.uuid);
      start++;
    }
    if (start > 1024 && start * 2 > queue.length) {
      this.finishedQueue = queue.slice(start);
      start = 0;
    }
    this.queueStart = start;
  }
}

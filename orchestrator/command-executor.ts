/**
 * Device commands, each sent at most once: an idempotency key is logged before the command goes out,
 * the device's token (SiLA execution UUID, LADS run id) as soon as it is known, so a restarted
 * orchestrator re-attaches instead of sending again. While a command runs, the watchdog escalates one
 * that stops advancing, and the device is asked now and then what it is really doing: a result that
 * never reached us is fetched by its token, a device that forgot the command is escalated.
 * Segregation (who may command which module with whose material) is the MaterialGate's business, above.
 */
import type { Clock } from '../drivers/clock.ts';
import type { ModuleKind } from '../config/catalogue.ts';
import type { ModuleState } from '../config/state-model.ts';
import { ModuleError, type Execution, type ExecutionProgress, type ExecutionToken, type ModuleDriver, type ParameterValue, type RecoverableErrorNotice, type ResultValue } from '../drivers/module.ts';
import { WORKCELL_STREAM, type LogEntry } from './event-log.ts';
import type { EntryData, EntryWriter } from './entries.ts';

/** What a hold is about, recorded in its hold.opened entry: the request it answers, the device work it leaves standing, the failed controls. */
export type HoldDetails = Pick<EntryData<'hold.opened'>, 'request' | 'paused' | 'reattach' | 'recovery' | 'failedControls'>;

/** Stops a batch for an operator: the reason goes into the hold. */
export class HoldRequired extends Error {
  override name = 'HoldRequired';
  constructor(
    readonly kind: EntryData<'hold.opened'>['kind'],
    message: string,
    /** Whether the failed work may be tried on another module (no material was loaded). */
    readonly beforeLoad = false,
    /** What the hold is about, for the operator's menu and the signed answer (a failed control, a device's options). */
    readonly details: HoldDetails = {},
  ) {
    super(message);
  }
}

export interface CommandRequest {
  /** The stream the command is recorded in: the batch whose material it works on, or the workcell's own. */
  stream: string;
  module: string;
  capability: string;
  parameters: Record<string, ParameterValue>;
  /** Unique per intended command; the same key is never sent twice, even across a crash. */
  key: string;
  stepId: string;
  /** The step a recurring command (a daily sample) belongs to. */
  parentStep?: string;
  /** Expected duration in seconds, for the watchdog and the ETA. */
  expectedSeconds: number;
  /** The item the device must hold (omitted for commands that name their item in a parameter). */
  itemId?: string;
  /** The batch the command works for (LADS records it as the supervisory job). */
  batchId?: string;
  onProgress?: (progress: ExecutionProgress) => void;
}

/** An operator's hold of a batch whose command runs: the message of the hold and what it refers to. */
export interface PauseRequest {
  message: string;
  details: HoldDetails;
}

/** Watchdog: how long past the expected duration, and since its last progress, a command may go without finishing. */
export function watchdogMargin(expectedSeconds: number, timeScale: number): number {
  // The last term keeps the margin above a few real seconds, however fast the clock runs.
  return Math.max(expectedSeconds * 0.5, 15 * 60, 5 * timeScale);
}

/** A device is re-read this rarely in virtual time: in process, no notification is ever lost, and each read costs the run's computation. */
const VIRTUAL_RECONCILE_MS = 3_600_000;

/**
 * How often a device is asked what it is doing (while a command runs, and in the reconciler's rounds),
 * in clock ms: a minute, at least a real second; in virtual time an hour.
 */
export function reconcileInterval(clock: Pick<Clock, 'timeScale' | 'virtual'>): number {
  return clock.virtual ? VIRTUAL_RECONCILE_MS : Math.max(60_000, 1000 * clock.timeScale);
}

/** Ends what follows a command once it settled: a reason given, so that no DOMException (and its stack) is made for each command. */
const COMMAND_SETTLED = new Error('the command settled');

/** States in which a device is not working on a command (so an unfinished one of ours has ended, or was lost). */
const NOT_WORKING: ReadonlySet<ModuleState> = new Set(['idle', 'stopped', 'aborted', 'faulted', 'offline', 'maintenance']);

/** Refusals before anything started; not a fault of the device. */
const REFUSALS = new Set(['ModuleOccupied', 'WrongItem']);

interface CommandHistory {
  stream: string;
  token?: ExecutionToken;
  /** As kept in the log: null where the device reported no finite number. */
  results?: Record<string, ResultValue | null>;
  error?: { message: string; kind: ModuleError['kind']; code?: string };
}

export interface ExecutorContext {
  drivers: ReadonlyMap<string, ModuleDriver>;
  clock: Clock;
  kindOf(moduleId: string): ModuleKind | undefined;
  /** Appends to a stream (telemetry received before it stays before it). */
  write: EntryWriter;
  /** Reads the module's state from the device itself (not from a subscription) and reconciles it; undefined when unreachable. */
  refreshState(moduleId: string, why: string): Promise<ModuleState | undefined>;
}

export class CommandExecutor {
  private readonly history = new Map<string, CommandHistory>();
  /** Modules with a command of ours running, and how many. */
  private readonly running = new Map<string, number>();
  /** Per stream, who waits for an operator's hold request while a command of that stream runs. */
  private readonly pauseListeners = new Map<string, Set<(hold: PauseRequest) => void>>();

  constructor(private readonly context: ExecutorContext) {}

  /** Follows command entries (live, and the whole log after a restart). */
  apply(entry: LogEntry): void {
    switch (entry.type) {
      case 'command.issued':
        this.history.set(entry.data.key, { stream: entry.stream });
        break;
      case 'command.accepted':
        this.history.get(entry.data.key)!.token = entry.data.token;
        break;
      case 'command.completed':
        this.history.get(entry.data.key)!.results = entry.data.results;
        break;
      case 'command.failed':
        this.history.get(entry.data.key)!.error = { message: entry.data.message, kind: entry.data.errorKind ?? 'device', code: entry.data.code ?? undefined };
        break;
      default:
        break;
    }
  }

  /** Brings a module in `state` back to idle (abort, then clear) after a failed, hung or aborted command. */
  async reset(moduleId: string, state: ModuleState): Promise<void> {
    const driver = this.context.drivers.get(moduleId);
    if (!driver) return;
    if (state === 'running' || state === 'held' || state === 'starting') await driver.abort().catch(() => undefined);
    if (['running', 'held', 'starting', 'aborting', 'aborted', 'faulted', 'stopped'].includes(state)) await driver.clear().catch(() => undefined);
  }

  /** Whether a command of ours runs on the module now. */
  busy(moduleId: string): boolean {
    return (this.running.get(moduleId) ?? 0) > 0;
  }

  /**
   * Asks the commands of a stream that run now to pause on the device for an operator's hold (where
   * the device can pause); true when one was running. The paused command holds its batch.
   */
  requestPause(stream: string, hold: PauseRequest): boolean {
    const listeners = this.pauseListeners.get(stream);
    if (!listeners || listeners.size === 0) return false;
    for (const listener of [...listeners]) listener(hold);
    return true;
  }

  /** The command of ours a module was left running (a hold stopped following it), if any: its key, stream and token. */
  unfinishedOn(moduleId: string): { key: string; stream: string; token: ExecutionToken } | undefined {
    for (const [key, h] of [...this.history].reverse()) if (h.token?.module === moduleId && !h.results && !h.error) return { key, stream: h.stream, token: h.token };
    return undefined;
  }

  /** Cancels what a module was left running (CancelController), recorded; false when the device cannot cancel. */
  async cancel(moduleId: string, why: string): Promise<boolean> {
    const unfinished = this.unfinishedOn(moduleId);
    const driver = this.context.drivers.get(moduleId);
    if (!unfinished || !driver?.cancel) return false;
    const cancelled = await driver.cancel(unfinished.token).catch(() => false);
    if (cancelled) this.context.write(unfinished.stream, 'command.cancelled', { key: unfinished.key, module: moduleId, token: unfinished.token, reason: why });
    return cancelled;
  }

  /** The commands logged as sent whose outcome the log does not hold: after a restart, these are re-attached. */
  unfinished(keyPrefix: string): string[] {
    return [...this.history].filter(([key, h]) => key.startsWith(keyPrefix) && !h.results && !h.error).map(([key]) => key);
  }

  async run(request: CommandRequest): Promise<Record<string, ResultValue>> {
    const { module: moduleId, stream } = request;
    const driver = this.context.drivers.get(moduleId);
    if (!driver) throw new HoldRequired('command-failed', `${moduleId} is not connected`, true);
    const history = this.history.get(request.key);
    if (history?.results) return Object.fromEntries(Object.entries(history.results).map(([name, value]) => [name, value ?? Number.NaN]));
    // A key that failed stays failed (a retry is a new attempt with a key of its own).
    if (history?.error !== undefined) throw new ModuleError(moduleId, history.error.kind, history.error.message.replace(`${moduleId}: `, ''), history.error.code);
    let execution: Execution;
    if (history?.token) {
      execution = await driver.reattach(history.token);
    } else if (history && !driver.dedupesByKey) {
      throw new HoldRequired('outcome-unknown', `the orchestrator stopped after sending ${request.capability} to ${moduleId} and before the device confirmed it: whether it ran is unknown; check the device, then retry or skip`);
    } else {
      // A first initiation, or a repeat of one whose confirmation was lost (the device starts a key once).
      if (!history) {
        const parent = request.parentStep ? { parentStep: request.parentStep } : {};
        this.context.write(stream, 'command.issued', { key: request.key, module: moduleId, capability: request.capability, parameters: request.parameters, step: request.stepId, ...parent, itemId: request.itemId ?? null });
      }
      try {
        execution = await driver.execute(request.capability, request.parameters, { idempotencyKey: request.key, itemId: request.itemId, batchId: request.batchId, stepId: request.stepId });
      } catch (error) {
        this.recordFailure(request, error);
        throw error;
      }
      this.context.write(stream, 'command.accepted', { key: request.key, module: moduleId, token: execution.token, repeated: history !== undefined });
    }
    this.running.set(moduleId, (this.running.get(moduleId) ?? 0) + 1);
    try {
      const results = await this.follow(request, driver, execution);
      const units = this.context.kindOf(moduleId)?.capabilities[request.capability]?.results ?? {};
      this.context.write(stream, 'command.completed', { key: request.key, module: moduleId, results, resultUnits: Object.fromEntries(Object.entries(units).flatMap(([name, r]) => (r.unit === undefined ? [] : [[name, r.unit]]))) });
      return results;
    } catch (error) {
      // The device took the command; a lost connection says nothing of how it ended: its key stays open, to be re-attached.
      if (error instanceof ModuleError && error.kind === 'connection') {
        this.context.write(stream, 'alarm', { kind: 'communication', module: moduleId, step: request.parentStep ?? request.stepId, message: error.message });
        throw new HoldRequired('outcome-unknown', `the connection to ${moduleId} was lost while ${request.capability} ran (${error.message}); it may still run: retry re-attaches to it by its token`, false, { reattach: { module: moduleId, key: request.key } });
      }
      if (!(error instanceof HoldRequired)) this.recordFailure(request, error);
      throw error;
    } finally {
      this.running.set(moduleId, this.running.get(moduleId)! - 1);
    }
  }

  /** Waits for the result, with the watchdog and the reconciliation beside it. */
  private async follow(request: CommandRequest, driver: ModuleDriver, execution: Execution): Promise<Record<string, ResultValue>> {
    const { clock } = this.context;
    const stop = new AbortController();
    const startedAt = clock.now();
    const marginMs = watchdogMargin(request.expectedSeconds, clock.timeScale) * 1000;
    // A command still advancing is slow, not hung (a busy host delivers results late, too).
    let lastAdvance = startedAt;
    let furthest = -1;
    let raiseRecoverable!: (notice: RecoverableErrorNotice) => void;
    const recoverable = new Promise<never>((_, reject) => {
      let raised = false;
      raiseRecoverable = (notice) => {
        if (raised) return;
        raised = true;
        reject(this.recoverableHold(request, execution.token, notice));
      };
    });
    void (async () => {
      for await (const progress of execution.progress(stop.signal)) {
        // A paused command, or one waiting for an operator in a recoverable error, is not hung.
        if (progress.fraction > furthest || progress.paused || progress.recoverableError) {
          furthest = Math.max(furthest, progress.fraction);
          lastAdvance = clock.now();
        }
        if (progress.recoverableError) raiseRecoverable(progress.recoverableError);
        request.onProgress?.(progress);
      }
    })().catch(() => undefined);
    const paused = this.pausedForHold(request, driver, execution.token, stop.signal);
    const hungAt = () => Math.max(startedAt + request.expectedSeconds * 1000 + marginMs, lastAdvance + marginMs);
    const hung = (async () => {
      while (clock.now() < hungAt()) await clock.sleep(hungAt() - clock.now(), stop.signal);
      const minutesSince = (t: number) => Math.round((clock.now() - t) / 60_000);
      this.context.write(request.stream, 'alarm', { kind: 'watchdog', module: request.module, message: `${request.capability} on ${request.module} has not finished ${minutesSince(startedAt)} min after it started (expected ${Math.round(request.expectedSeconds / 60)} min; last progress ${minutesSince(lastAdvance)} min ago)` });
      throw new HoldRequired('watchdog', `${request.capability} on ${request.module} appears hung (no result within its expected duration plus margin)`);
    })();
    const reconciled = this.reconcileWhileRunning(request, driver, execution.token, stop.signal);
    // Whichever settles first decides; the others end with the stop signal.
    for (const racer of [hung, reconciled, recoverable, paused]) racer.catch(() => undefined);
    try {
      return await Promise.race([execution.result(), hung, reconciled, recoverable, paused]);
    } finally {
      stop.abort(COMMAND_SETTLED);
    }
  }

  /** The device waits in a recoverable error: the batch holds with the device's options beside its own. */
  private recoverableHold(request: CommandRequest, token: ExecutionToken, notice: RecoverableErrorNotice): HoldRequired {
    const recovery = { module: request.module, key: request.key, token, errorIdentifier: notice.errorIdentifier, options: notice.options, defaultOption: notice.defaultOption ?? null, automaticSelectionSeconds: notice.automaticSelectionSeconds ?? null };
    this.context.write(request.stream, 'command.recoverable-error', { ...recovery, message: notice.message });
    const automatic = notice.automaticSelectionSeconds !== undefined && notice.defaultOption ? `; without an answer within ${Math.round(notice.automaticSelectionSeconds)} s the device goes on with ${notice.defaultOption}` : '';
    return new HoldRequired('device-recovery', `${request.module}: ${notice.message} (the device offers ${notice.options.map((o) => o.identifier).join(', ')}${automatic})`, false, { recovery });
  }

  /** Resolves never; rejects with the operator's hold once a requested pause took effect on the device. */
  private pausedForHold(request: CommandRequest, driver: ModuleDriver, token: ExecutionToken, signal: AbortSignal): Promise<never> {
    return new Promise<never>((_, reject) => {
      const listeners = this.pauseListeners.get(request.stream) ?? new Set();
      this.pauseListeners.set(request.stream, listeners);
      const listener = (hold: PauseRequest) => {
        listeners.delete(listener);
        void (async () => {
          if (!driver.pause || !(await driver.pause(token).catch(() => false)) || signal.aborted) return; // held at the next safe point instead
          this.context.write(request.stream, 'command.paused', { key: request.key, module: request.module, token, reason: hold.message });
          reject(new HoldRequired('operator', hold.message, false, { ...hold.details, paused: { module: request.module, key: request.key, token } }));
        })();
      };
      listeners.add(listener);
      signal.addEventListener('abort', () => listeners.delete(listener), { once: true });
    });
  }

  /**
   * Asks the device, every reconcile interval, what it is doing. A device that is not working while our
   * command has no result twice in a row has finished (or lost) it: the result is fetched by the token,
   * and if the device no longer knows the token, the batch holds with the outcome unknown.
   */
  private async reconcileWhileRunning(request: CommandRequest, driver: ModuleDriver, token: ExecutionToken, signal: AbortSignal): Promise<Record<string, ResultValue>> {
    const { clock } = this.context;
    // Work that runs alongside others (a plate incubating while the handler places more) leaves the device idle.
    const alongside = this.context.kindOf(request.module)?.capabilities[request.capability]?.alongside === true;
    let idleReadings = 0;
    for (;;) {
      await clock.sleep(reconcileInterval(clock), signal);
      const state = await this.context.refreshState(request.module, `read while ${request.capability} ran`);
      if (signal.aborted) throw signal.reason;
      if (state === undefined) continue; // unreachable now: the connection's own recovery and the watchdog cover that
      idleReadings = !alongside && NOT_WORKING.has(state) ? idleReadings + 1 : 0;
      if (idleReadings < 2) continue;
      const fetched = await this.fetchByToken(driver, token, reconcileInterval(clock), signal);
      if (signal.aborted) throw signal.reason;
      if ('results' in fetched) {
        this.context.write(request.stream, 'module.reconciled', { module: request.module, believed: 'running', actual: state, action: 'result fetched by token', message: `${request.module} was ${state} while ${request.capability} had sent no result: its result was fetched by its token ${token.id}` });
        return fetched.results;
      }
      if ('error' in fetched) throw fetched.error;
      const message = `${request.module} is ${state}, but ${request.capability} (token ${token.id}) never reported an outcome and the device does not give it: ${fetched.unknown}`;
      this.context.write(request.stream, 'module.reconciled', { module: request.module, believed: 'running', actual: state, action: 'escalated', message });
      throw new HoldRequired('outcome-unknown', `${message}; check the device, then retry or skip`);
    }
  }

  private async fetchByToken(driver: ModuleDriver, token: ExecutionToken, withinMs: number, signal: AbortSignal): Promise<{ results: Record<string, ResultValue> } | { error: ModuleError } | { unknown: string }> {
    const { clock } = this.context;
    const timeout = new AbortController();
    const cancel = () => timeout.abort();
    signal.addEventListener('abort', cancel, { once: true });
    try {
      const execution = await driver.reattach(token);
      const outcome = await Promise.race([
        execution.result().then((results) => ({ results })),
        clock.sleep(withinMs, timeout.signal).then(() => ({ unknown: 'no answer within the reconcile interval' })),
      ]);
      return outcome;
    } catch (error) {
      if (error instanceof ModuleError && error.kind !== 'connection' && error.kind !== 'invalid') return { error };
      return { unknown: (error as Error).message };
    } finally {
      timeout.abort();
      signal.removeEventListener('abort', cancel);
    }
  }

  /** A failed command is logged; a fault of the device is a deviation of the batch it worked for. */
  private recordFailure(request: CommandRequest, error: unknown): void {
    const failure = error as ModuleError;
    const code = failure.code ?? null;
    this.context.write(request.stream, 'command.failed', { key: request.key, module: request.module, message: failure.message, code, errorKind: failure.kind ?? null });
    const fault = (failure.kind === 'device' || failure.kind === 'defined') && !REFUSALS.has(code ?? '');
    const about = { module: request.module, step: request.parentStep ?? request.stepId, capability: request.capability, code };
    if (fault && request.stream !== WORKCELL_STREAM) this.context.write(request.stream, 'deviation', { kind: 'device-fault', ...about, message: `${request.capability} on ${failure.message}` });
    else if (failure.kind === 'connection') this.context.write(request.stream, 'alarm', { kind: 'communication', ...about, message: failure.message });
  }
}

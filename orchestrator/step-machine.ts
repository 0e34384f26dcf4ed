/**
 * The lifecycle of one step of a batch, a child machine of the batch machine (batch-machine.ts): intake
 * when the material is not in the workcell yet, the step's `when` condition, then attempts: waiting for a
 * module, line clearance, transfer in, running (the device command or commands with the recurring work
 * between them), controls, the hold time to the next step. A failed attempt is recorded and, as the
 * schedule's failure policy says, retried after a backoff that doubles each time (a delayed transition
 * on the workcell clock), on another module when it failed before the material was loaded; otherwise the
 * machine ends with the hold the batch machine opens.
 *
 * Each state's work is a small invoked promise (StepWork, step-runner.ts): the log entries, their order,
 * the idempotency keys and the safe points are the work's. A hold is an event, HOLD, sent to the batch
 * machine, which leaves the step for its `held` state. After a restart the step enters the state its
 * projection names (StepResume): `running` when the open attempt's command was sent (the command is
 * re-attached by its logged token, never sent again), the hold-time window when the step completed and
 * its window never opened; otherwise it starts from the top and finds its open attempt in the projection.
 */
import { assign, fromPromise, sendParent, setup, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import type { ResultValue } from '../drivers/module.ts';
import { HoldRequired } from './command-executor.ts';

export type BatchPhase = 'intake' | 'waiting' | 'clearance' | 'transfer' | 'running' | 'held' | 'completed' | 'quarantined';

export interface StepPolicy {
  retries: number;
  backoffMs: number;
  /** Whether an attempt that failed before the material was loaded is tried again on another module. */
  alternateModule: boolean;
}

/** What a recorded failure comes to: a hold now, or what a retry needs to know. */
export type FailedAttempt = { hold: unknown } | { failures: number; beforeLoad: boolean; module?: string };

/** The event by which a step tells its batch machine to hold: the step, and why. */
export interface HoldEvent {
  type: 'HOLD';
  step: string;
  reason: unknown;
}

/**
 * Where a resumed step enters its machine, as the batch's projection says: running the open attempt
 * (its command sent to `module`), or in the hold-time window after the step, which opens from when the
 * step completed (`since`, clock ms).
 */
export type StepResume = { state: 'running'; attempt: number; module: string } | { state: 'holdTimeWindow'; since: number };

/** The work of each state, for one batch. */
export interface StepWork {
  policy(step: string): StepPolicy;
  /** Whether the batch's material is in the workcell; if not, it comes in through intake first. */
  arrived(): boolean;
  receive(): Promise<void>;
  /** Whether the step has a `when` condition that is not met (the step is then skipped). */
  conditionUnmet(step: string): boolean;
  skipUnmet(step: string): Promise<void>;
  /** A safe point, then the attempt open in the log (after a restart) or a new one. */
  startAttempt(step: string): Promise<number>;
  allocate(step: string, attempt: number, avoid: readonly string[]): Promise<string>;
  /** Line clearance of the module, a safe point, the settle plate of a monitored step. */
  clearLine(step: string, module: string): Promise<void>;
  /** The material into the module (closing the hold time), then a safe point. */
  transferIn(step: string, attempt: number, module: string): Promise<void>;
  /** The device command or commands; `resumed`: after a restart, the attempt's command is followed again (re-attached). */
  run(step: string, attempt: number, module: string, resumed: boolean): Promise<Record<string, ResultValue>>;
  /** The step's controls, then its completion. */
  checkControls(step: string, attempt: number, module: string, results: Record<string, ResultValue>): Promise<void>;
  /** The hold time after the step, counted from now or, after a restart, from when the step completed. */
  startHoldTime(step: string, since?: number): Promise<void>;
  recordFailure(step: string, attempt: number, error: unknown): Promise<FailedAttempt>;
  /** Gives the module up for the alternate one. */
  release(module: string): void;
  recover(module: string | undefined): Promise<void>;
}

interface StepContext {
  step: string;
  policy: StepPolicy;
  attempt: number;
  /** Modules this step is not tried on again (they failed it before loading). */
  avoid: string[];
  module?: string;
  results?: Record<string, ResultValue>;
  error?: unknown;
  /** The phase the failed attempt was in: shown while the failure is handled and the retry waits. */
  failedPhase: BatchPhase;
  failures: number;
  /** The module a failure leaves to be made ready again. */
  failedModule?: string;
  hold?: { reason: unknown };
  resume?: StepResume;
  /** Why the step waits (for intake, for a module: the scheduler's words). */
  note?: string;
  /** How far the device says its command is (0..1). */
  progress?: number;
}

/** Events the step's work sends its machine, for what `workcell status` shows: why it waits, how far the device is. */
export type StepNoteEvent = { type: 'note'; note: string | undefined } | { type: 'progress'; fraction: number };

type Failure = Extract<FailedAttempt, { failures: number }>;

export function stepMachine(work: StepWork): AnyStateMachine {
  const attemptInput = ({ context }: { context: StepContext }) => ({ step: context.step, attempt: context.attempt, module: context.module! });
  const failed = (phase: BatchPhase) => ({ target: 'failing' as const, actions: { type: 'fail' as const, params: ({ event }: { event: { error: unknown } }) => ({ error: event.error, phase }) } });
  const hold = { target: 'holding' as const, actions: { type: 'hold' as const, params: ({ event }: { event: { error: unknown } }) => ({ reason: event.error }) } };
  const failure = (event: unknown) => (event as { output: FailedAttempt }).output;
  type AttemptInput = ReturnType<typeof attemptInput>;
  const machineSetup = setup({
    types: {} as { context: StepContext; input: { step: string; resume?: StepResume }; events: StepNoteEvent | { type: 'parking.started' | 'parking.ended' } },
    actors: {
      receive: fromPromise<void>(() => work.receive()),
      skipUnmet: fromPromise<void, { step: string }>(({ input }) => work.skipUnmet(input.step)),
      startAttempt: fromPromise<number, { step: string }>(({ input }) => work.startAttempt(input.step)),
      allocate: fromPromise<string, { step: string; attempt: number; avoid: string[] }>(({ input }) => work.allocate(input.step, input.attempt, input.avoid)),
      clearLine: fromPromise<void, AttemptInput>(({ input }) => work.clearLine(input.step, input.module)),
      transferIn: fromPromise<void, AttemptInput>(({ input }) => work.transferIn(input.step, input.attempt, input.module)),
      run: fromPromise<Record<string, ResultValue>, AttemptInput & { resumed: boolean }>(({ input }) => work.run(input.step, input.attempt, input.module, input.resumed)),
      checkControls: fromPromise<void, AttemptInput & { results: Record<string, ResultValue> }>(({ input }) => work.checkControls(input.step, input.attempt, input.module, input.results)),
      startHoldTime: fromPromise<void, { step: string; since?: number }>(({ input }) => work.startHoldTime(input.step, input.since)),
      recordFailure: fromPromise<FailedAttempt, { step: string; attempt: number; error: unknown }>(({ input }) => work.recordFailure(input.step, input.attempt, input.error)),
      recover: fromPromise<void, { module?: string }>(({ input }) => work.recover(input.module)),
    },
    actions: {
      fail: assign((_, params: { error: unknown; phase: BatchPhase }) => ({ error: params.error, failedPhase: params.phase })),
      hold: assign((_, params: { reason: unknown }) => ({ hold: { reason: params.reason } })),
      noteFailure: assign(({ event }) => ({ failures: (failure(event) as Failure).failures, failedModule: (failure(event) as Failure).module })),
      // The attempt failed before loading: the next one goes to another module, this one is given up.
      avoidModule: assign(({ context, event }) => ({ avoid: [...context.avoid, (failure(event) as Failure).module!] })),
      releaseModule: ({ event }) => work.release((failure(event) as Failure).module!),
      noteDone: assign({ note: undefined }),
      holdBatch: sendParent(({ context }): HoldEvent => ({ type: 'HOLD', step: context.step, reason: context.hold!.reason })),
    },
    guards: {
      resumesRunning: ({ context }) => context.resume?.state === 'running',
      resumesInWindow: ({ context }) => context.resume?.state === 'holdTimeWindow',
      arrived: () => work.arrived(),
      conditionUnmet: ({ context }) => work.conditionUnmet(context.step),
      holdsNow: ({ event }) => 'hold' in failure(event),
      exhausted: ({ context, event }) => (failure(event) as Failure).failures > context.policy.retries,
      toAlternate: ({ context, event }) => {
        const { beforeLoad, module } = failure(event) as Failure;
        return beforeLoad && context.policy.alternateModule && module !== undefined;
      },
    },
    delays: {
      backoff: ({ context }) => context.policy.backoffMs * 2 ** (context.failures - 1),
    },
  });
  return machineSetup.createMachine({
    id: 'step',
    context: ({ input }) => {
      const running = input.resume?.state === 'running' ? input.resume : undefined;
      return { step: input.step, policy: work.policy(input.step), attempt: running?.attempt ?? 0, module: running?.module, avoid: [], failedPhase: 'waiting', failures: 0, resume: input.resume };
    },
    initial: 'entering',
    on: {
      note: { actions: assign({ note: ({ event }) => event.note }) },
      progress: { actions: assign({ progress: ({ event }) => event.fraction }) },
    },
    states: {
      entering: { always: [{ guard: 'resumesRunning', target: 'running' }, { guard: 'resumesInWindow', target: 'holdTimeWindow' }, { target: 'arriving' }] },
      arriving: { always: [{ guard: 'arrived', target: 'checkingCondition' }, { target: 'receiving' }] },
      receiving: { tags: 'intake', invoke: { src: 'receive', onDone: 'checkingCondition', onError: hold }, exit: 'noteDone' },
      checkingCondition: { always: [{ guard: 'conditionUnmet', target: 'skipping' }, { target: 'starting' }] },
      skipping: { invoke: { src: 'skipUnmet', input: ({ context }) => ({ step: context.step }), onDone: 'done', onError: hold } },
      starting: {
        tags: 'waiting',
        invoke: { src: 'startAttempt', input: ({ context }) => ({ step: context.step }), onDone: { target: 'waitingForModule', actions: assign({ attempt: ({ event }) => event.output }) }, onError: hold },
      },
      waitingForModule: {
        // While it waits, the allocator may move the material to storage to free its module for another batch.
        initial: 'queued',
        exit: 'noteDone',
        states: { queued: { tags: 'waiting', on: { 'parking.started': 'parking' } }, parking: { tags: 'transfer', on: { 'parking.ended': 'queued' } } },
        invoke: {
          src: 'allocate',
          input: ({ context }) => ({ step: context.step, attempt: context.attempt, avoid: [...context.avoid] }),
          onDone: { target: 'lineClearance', actions: assign({ module: ({ event }) => event.output }) },
          onError: failed('waiting'),
        },
      },
      lineClearance: { tags: 'clearance', invoke: { src: 'clearLine', input: attemptInput, onDone: 'transferIn', onError: failed('clearance') } },
      transferIn: { tags: 'transfer', invoke: { src: 'transferIn', input: attemptInput, onDone: 'running', onError: failed('transfer') } },
      running: {
        tags: 'running',
        invoke: {
          src: 'run',
          input: ({ context }) => ({ ...attemptInput({ context }), resumed: context.resume?.state === 'running' }),
          onDone: { target: 'checkingControls', actions: assign({ results: ({ event }) => event.output }) },
          onError: failed('running'),
        },
        // What a restart resumed is resumed once: a retry is a new attempt.
        exit: assign({ resume: undefined }),
      },
      checkingControls: {
        tags: 'running',
        invoke: { src: 'checkControls', input: ({ context }) => ({ ...attemptInput({ context }), results: context.results! }), onDone: 'holdTimeWindow', onError: failed('running') },
      },
      holdTimeWindow: {
        tags: 'running',
        invoke: { src: 'startHoldTime', input: ({ context }) => ({ step: context.step, since: context.resume?.state === 'holdTimeWindow' ? context.resume.since : undefined }), onDone: 'done', onError: failed('running') },
        exit: assign({ resume: undefined }),
      },
      failing: {
        tags: 'failed',
        invoke: {
          src: 'recordFailure',
          input: ({ context }) => ({ step: context.step, attempt: context.attempt, error: context.error }),
          onDone: [
            { guard: 'holdsNow', target: 'holding', actions: { type: 'hold', params: ({ event }) => ({ reason: (event.output as { hold: unknown }).hold }) } },
            { guard: 'exhausted', target: 'holding', actions: { type: 'hold', params: ({ context }) => ({ reason: context.error instanceof HoldRequired ? context.error : new HoldRequired('command-failed', (context.error as Error).message) }) } },
            { guard: 'toAlternate', target: 'recovering', actions: ['noteFailure', 'avoidModule', 'releaseModule'] },
            { target: 'recovering', actions: 'noteFailure' },
          ],
          onError: hold,
        },
      },
      recovering: { tags: 'failed', invoke: { src: 'recover', input: ({ context }) => ({ module: context.failedModule }), onDone: 'retryWait', onError: hold } },
      retryWait: { tags: 'failed', after: { backoff: 'starting' } },
      // The batch machine leaves the step on HOLD (this machine stops there).
      holding: { entry: 'holdBatch' },
      done: { type: 'final' },
    },
  });
}

const PHASE_TAGS: readonly BatchPhase[] = ['intake', 'waiting', 'clearance', 'transfer', 'running'];

/** Why the step waits, and how far its device command is, as its machine's snapshot says. */
export function stepNotes(snapshot: AnyMachineSnapshot): { note?: string; progress?: number } {
  const { note, progress } = snapshot.context as StepContext;
  return { note, progress };
}

/** The phase a step machine's snapshot shows (`workcell status`, run output, the interruption entry). */
export function stepPhase(snapshot: AnyMachineSnapshot): BatchPhase {
  if (snapshot.hasTag('failed')) return (snapshot.context as StepContext).failedPhase;
  return PHASE_TAGS.find((phase) => snapshot.hasTag(phase)) ?? 'waiting';
}

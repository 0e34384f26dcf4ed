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
 * the idempotency keys and the safe points are the work's. After a restart a step starts from the top:
 * its open attempt is found in the log and re-attaches to its module and commands by their logged keys.
 */
import { assign, fromPromise, setup, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
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

/** How a step ended: done (or skipped), or with the reason the batch must hold. */
export interface StepOutcome {
  hold?: { reason: unknown };
}

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
  run(step: string, attempt: number, module: string): Promise<Record<string, ResultValue>>;
  /** The step's controls, then its completion. */
  checkControls(step: string, attempt: number, module: string, results: Record<string, ResultValue>): Promise<void>;
  startHoldTime(step: string): Promise<void>;
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
}

type Failure = Extract<FailedAttempt, { failures: number }>;

export function stepMachine(work: StepWork): AnyStateMachine {
  const attemptInput = ({ context }: { context: StepContext }) => ({ step: context.step, attempt: context.attempt, module: context.module! });
  const failed = (phase: BatchPhase) => ({ target: 'failing' as const, actions: { type: 'fail' as const, params: ({ event }: { event: { error: unknown } }) => ({ error: event.error, phase }) } });
  const hold = { target: 'holding' as const, actions: { type: 'hold' as const, params: ({ event }: { event: { error: unknown } }) => ({ reason: event.error }) } };
  const failure = (event: unknown) => (event as { output: FailedAttempt }).output;
  type AttemptInput = ReturnType<typeof attemptInput>;
  const machineSetup = setup({
    types: {} as { context: StepContext; input: { step: string }; output: StepOutcome },
    actors: {
      receive: fromPromise<void>(() => work.receive()),
      skipUnmet: fromPromise<void, { step: string }>(({ input }) => work.skipUnmet(input.step)),
      startAttempt: fromPromise<number, { step: string }>(({ input }) => work.startAttempt(input.step)),
      allocate: fromPromise<string, { step: string; attempt: number; avoid: string[] }>(({ input }) => work.allocate(input.step, input.attempt, input.avoid)),
      clearLine: fromPromise<void, AttemptInput>(({ input }) => work.clearLine(input.step, input.module)),
      transferIn: fromPromise<void, AttemptInput>(({ input }) => work.transferIn(input.step, input.attempt, input.module)),
      run: fromPromise<Record<string, ResultValue>, AttemptInput>(({ input }) => work.run(input.step, input.attempt, input.module)),
      checkControls: fromPromise<void, AttemptInput & { results: Record<string, ResultValue> }>(({ input }) => work.checkControls(input.step, input.attempt, input.module, input.results)),
      startHoldTime: fromPromise<void, { step: string }>(({ input }) => work.startHoldTime(input.step)),
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
    },
    guards: {
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
    context: ({ input }) => ({ step: input.step, policy: work.policy(input.step), attempt: 0, avoid: [], failedPhase: 'waiting', failures: 0 }),
    initial: 'arriving',
    output: ({ context }) => (context.hold ? { hold: context.hold } : {}),
    states: {
      arriving: { always: [{ guard: 'arrived', target: 'checkingCondition' }, { target: 'receiving' }] },
      receiving: { tags: 'intake', invoke: { src: 'receive', onDone: 'checkingCondition', onError: hold } },
      checkingCondition: { always: [{ guard: 'conditionUnmet', target: 'skipping' }, { target: 'starting' }] },
      skipping: { invoke: { src: 'skipUnmet', input: ({ context }) => ({ step: context.step }), onDone: 'done', onError: hold } },
      starting: {
        tags: 'waiting',
        invoke: { src: 'startAttempt', input: ({ context }) => ({ step: context.step }), onDone: { target: 'waitingForModule', actions: assign({ attempt: ({ event }) => event.output }) }, onError: hold },
      },
      waitingForModule: {
        // While it waits, the allocator may move the material to storage to free its module for another batch.
        initial: 'queued',
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
      running: { tags: 'running', invoke: { src: 'run', input: attemptInput, onDone: { target: 'checkingControls', actions: assign({ results: ({ event }) => event.output }) }, onError: failed('running') } },
      checkingControls: {
        tags: 'running',
        invoke: { src: 'checkControls', input: ({ context }) => ({ ...attemptInput({ context }), results: context.results! }), onDone: 'holdTimeWindow', onError: failed('running') },
      },
      holdTimeWindow: { tags: 'running', invoke: { src: 'startHoldTime', input: ({ context }) => ({ step: context.step }), onDone: 'done', onError: failed('running') } },
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
      holding: { type: 'final' },
      done: { type: 'final' },
    },
  });
}

const PHASE_TAGS: readonly BatchPhase[] = ['intake', 'waiting', 'clearance', 'transfer', 'running'];

/** The phase a step machine's snapshot shows (`workcell status`, run output, the interruption entry). */
export function stepPhase(snapshot: AnyMachineSnapshot): BatchPhase {
  if (snapshot.hasTag('failed')) return (snapshot.context as StepContext).failedPhase;
  return PHASE_TAGS.find((phase) => snapshot.hasTag(phase)) ?? 'waiting';
}

/**
 * The XState machines: one per batch, derived from its schedule, and one per module in the normalized
 * state model. The batch machine decides what happens next (step order, holds and the operator's menu,
 * completion, quarantine); each step is a child machine (step-machine.ts), the rest of the work invoked
 * promises supplied by the orchestrator. The batch's phase is read from these machines (batchPhase).
 *
 * Holds and their answers are events: a step sends HOLD; the operator's answer arrives as ANSWERED (the
 * orchestrator sends it as it reads the answer from the log); carried out on the device and the module,
 * the answer becomes RETRY, SKIP or ABORT. An answer that cannot be carried out (a module that will not
 * recover, a skip that cannot be recorded) raises an alarm and opens a new hold: it waits for an
 * operator again rather than being retried without end.
 *
 * XState's own persistence is not crash-safe (domain brief, section 7), so nothing is restored from a
 * snapshot: after a restart the machine starts at `routing`, which jumps to the state the batch's
 * projection names, its step entering its own machine where the projection says (StepResume).
 */
import { assign, fromPromise, raise, setup, type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { MODULE_STATES, MODULE_TRANSITIONS, type ModuleState } from '../config/state-model.ts';
import type { Schedule } from '../config/schedule.ts';
import type { HoldAction, LogEntry } from './entries.ts';
import { FINISH } from './projection.ts';
import { stepMachine, stepPhase, type BatchPhase, type HoldEvent, type StepResume, type StepWork } from './step-machine.ts';

/** Where a (resumed) batch starts: a step id, an open hold on a step, or finishing. */
export type BatchPosition = { at: 'step'; step: string } | { at: 'held'; step: string } | { at: 'finishing' };

/** The step a resumed batch enters first, and where in that step's machine. */
export interface ResumePoint {
  step: string;
  resume: StepResume;
}

export interface BatchMachineContext {
  batchId: string;
  position: BatchPosition;
  /** Consumed by the first step the batch enters. */
  resumeAt?: ResumePoint;
  /** The step a hold belongs to. */
  heldStep?: string;
}

/** The operator's answer to a hold, once the device work it concerns is settled. */
export interface HoldAnswer {
  action: HoldAction;
  /** The module to make ready again before going on (not one the answer left to its device). */
  recover?: string;
}

/** The event of an operator's answer to a hold of the batch, read from the log. */
export interface AnsweredEvent {
  type: 'ANSWERED';
  answer: LogEntry<'hold.resolved'>;
}

/** A hold in place: its entry, and the answer the log already holds for it (given while no orchestrator ran). */
export interface OpenedHold {
  hold: LogEntry<'hold.opened'>;
  answer?: LogEntry<'hold.resolved'>;
}

export interface BatchWork {
  /** The work of each step's states. */
  steps: StepWork;
  /** Opens the hold, or takes up the one the log holds open (unless it is `actedOn`, answered here already). */
  openHold(step: string, reason: unknown, actedOn: number | undefined): Promise<OpenedHold>;
  /** Carries out an answer on the device work its hold left standing: what the batch does next. */
  carryOut(hold: LogEntry<'hold.opened'>, answer: LogEntry<'hold.resolved'>): Promise<HoldAnswer>;
  /** Acts on the answer before the batch goes on: makes its module ready again. */
  settle(answer: HoldAnswer): Promise<void>;
  /** Records that an answer could not be carried out (an alarm); the batch holds again. */
  answerFailed(step: string, error: unknown): void;
  /** Records an operator's skip of a step. */
  skipStep(step: string): Promise<void>;
  /** Moves the material out and closes the batch. */
  finish(): Promise<void>;
  quarantine(step: string): Promise<void>;
}

export { FINISH } from './projection.ts';

const STEP_PREFIX = 'step:';

/** What an answer, carried out, tells the batch machine. */
const DECISION: Record<HoldAction, 'RETRY' | 'SKIP' | 'ABORT'> = { retry: 'RETRY', continue: 'RETRY', skip: 'SKIP', abort: 'ABORT' };

export function stateIdOf(step: string): string {
  return `${STEP_PREFIX}${step}`;
}

interface HeldContext {
  reason?: unknown;
  hold?: LogEntry<'hold.opened'>;
  answer?: LogEntry<'hold.resolved'>;
  /** The hold whose answer this machine carried out: an answer is carried out once, whatever follows. */
  actedOnHold?: number;
  decision?: HoldAnswer;
}

type BatchEvent = HoldEvent | AnsweredEvent | { type: 'RETRY' | 'SKIP' | 'ABORT' };

export function batchMachine(schedule: Schedule, work: BatchWork): AnyStateMachine {
  const stepIds = schedule.steps.map((s) => s.id);
  const next = (i: number) => (i + 1 < stepIds.length ? `#batch.${stateIdOf(stepIds[i + 1]!)}` : '#batch.finishing');
  const machineSetup = setup({
    types: {} as { context: BatchMachineContext & HeldContext; input: { batchId: string; position: BatchPosition; resumeAt?: ResumePoint }; events: BatchEvent },
    actors: {
      step: stepMachine(work.steps),
      openHold: fromPromise<OpenedHold, { step: string; reason: unknown; actedOn?: number }>(({ input }) => work.openHold(input.step, input.reason, input.actedOn)),
      carryOut: fromPromise<HoldAnswer, { hold: LogEntry<'hold.opened'>; answer: LogEntry<'hold.resolved'> }>(({ input }) => work.carryOut(input.hold, input.answer)),
      settle: fromPromise<void, HoldAnswer>(({ input }) => work.settle(input)),
      skipStep: fromPromise<void, { step: string }>(({ input }) => work.skipStep(input.step)),
      finish: fromPromise<void>(() => work.finish()),
      quarantine: fromPromise<void, { step: string }>(({ input }) => work.quarantine(input.step)),
    },
    actions: {
      holdOn: assign((_, params: { step: string; reason: unknown }) => ({ heldStep: params.step, reason: params.reason, hold: undefined, answer: undefined })),
      resumed: assign({ resumeAt: undefined }),
      // The newest answer is kept: older ones (the log read from its start) answer holds carried out before.
      noteAnswer: assign(({ context, event }) => (event.type === 'ANSWERED' && event.answer.seq > (context.answer?.seq ?? 0) ? { answer: event.answer } : {})),
      // An answer that cannot be carried out holds the batch again, for an operator: it is not retried without end.
      recordAnswerFailure: ({ context }, params: { error: unknown }) => work.answerFailed(context.heldStep!, params.error),
      holdAgain: assign(({ context }, params: { error: unknown }) => {
        const message = `the answer ${context.decision?.action ?? context.answer?.data.action ?? ''} to the hold at ${context.heldStep} could not be carried out: ${params.error instanceof Error ? params.error.message : String(params.error)}`;
        return { reason: new Error(message), hold: undefined, answer: undefined, decision: undefined };
      }),
    },
    guards: {
      resumesIn: ({ context }, params: { step: string }) => context.resumeAt?.step === params.step,
      resumesAt: ({ context }, params: { step: string }) => context.position.at === 'step' && context.position.step === params.step,
      resumesHeld: ({ context }) => context.position.at === 'held',
      heldOn: ({ context }, params: { step: string }) => context.heldStep === params.step,
      answerForHold: ({ context }) => context.answer !== undefined && context.hold !== undefined && context.answer.seq > context.hold.seq,
    },
  });
  const errorOf = ({ event }: { event: { error: unknown } }) => ({ error: event.error });
  const failedAnswer = { target: '#batch.held.opening', actions: [{ type: 'recordAnswerFailure' as const, params: errorOf }, { type: 'holdAgain' as const, params: errorOf }] };
  const stepStates = Object.fromEntries(
    stepIds.map((step, i) => [
      stateIdOf(step),
      {
        invoke: {
          id: stateIdOf(step),
          src: 'step' as const,
          input: ({ context }: { context: BatchMachineContext }) => ({ step, resume: context.resumeAt?.step === step ? context.resumeAt.resume : undefined }),
          onDone: { target: next(i) },
          onError: { target: '#batch.held', actions: { type: 'holdOn' as const, params: ({ event }: { event: { error: unknown } }) => ({ step, reason: event.error }) } },
        },
        exit: 'resumed' as const,
        on: { HOLD: { target: '#batch.held', actions: { type: 'holdOn' as const, params: ({ event }: { event: HoldEvent }) => ({ step, reason: event.reason }) } } },
      },
    ]),
  );
  const retries = stepIds.map((step) => ({ guard: { type: 'heldOn' as const, params: { step } }, target: `#batch.${stateIdOf(step)}` }));
  return machineSetup.createMachine({
    id: 'batch',
    context: ({ input }) => ({ batchId: input.batchId, position: input.position, resumeAt: input.resumeAt, heldStep: input.position.at === 'held' ? input.position.step : undefined }),
    initial: 'routing',
    states: {
      routing: {
        always: [
          ...stepIds.map((step) => ({ guard: { type: 'resumesIn' as const, params: { step } }, target: stateIdOf(step) })),
          ...stepIds.map((step) => ({ guard: { type: 'resumesAt' as const, params: { step } }, target: stateIdOf(step) })),
          { guard: 'resumesHeld', target: 'held' },
          { target: 'finishing' },
        ],
      },
      ...stepStates,
      held: {
        initial: 'opening',
        on: { ANSWERED: { actions: 'noteAnswer' } },
        states: {
          opening: {
            invoke: {
              src: 'openHold',
              input: ({ context }) => ({ step: context.heldStep!, reason: context.reason, actedOn: context.actedOnHold }),
              onDone: { target: 'awaitingAnswer', actions: assign(({ context, event }) => ({ hold: event.output.hold, answer: event.output.answer && event.output.answer.seq > (context.answer?.seq ?? 0) ? event.output.answer : context.answer })) },
            },
          },
          awaitingAnswer: { always: { guard: 'answerForHold', target: 'carryingOut' } },
          carryingOut: {
            entry: assign(({ context }) => ({ actedOnHold: context.hold!.seq })),
            invoke: {
              src: 'carryOut',
              input: ({ context }) => ({ hold: context.hold!, answer: context.answer! }),
              onDone: { target: 'settling', actions: assign({ decision: ({ event }) => event.output }) },
              onError: failedAnswer,
            },
          },
          settling: {
            invoke: {
              src: 'settle',
              input: ({ context }) => context.decision!,
              onDone: { target: 'settled', actions: raise(({ context }) => ({ type: DECISION[context.decision!.action] })) },
              onError: failedAnswer,
            },
          },
          settled: {
            on: {
              RETRY: [{ guard: { type: 'heldOn', params: { step: FINISH } }, target: '#batch.finishing' }, ...retries, { target: '#batch.quarantining' }],
              SKIP: [...stepIds.map((step) => ({ guard: { type: 'heldOn' as const, params: { step } }, target: '#batch.skipping' })), { target: '#batch.quarantining' }],
              ABORT: '#batch.quarantining',
            },
          },
        },
      },
      skipping: {
        invoke: {
          src: 'skipStep',
          input: ({ context }) => ({ step: context.heldStep! }),
          onDone: stepIds.map((step, i) => ({ guard: { type: 'heldOn' as const, params: { step } }, target: next(i) })),
          onError: failedAnswer,
        },
      },
      finishing: {
        invoke: {
          src: 'finish',
          onDone: 'completed',
          onError: { target: 'held', actions: { type: 'holdOn', params: ({ event }) => ({ step: FINISH, reason: event.error }) } },
        },
      },
      // A quarantine that fails has not happened: the batch is held again with an alarm, never ended without its entry.
      quarantining: { invoke: { src: 'quarantine', input: ({ context }) => ({ step: context.heldStep! }), onDone: 'quarantined', onError: failedAnswer } },
      completed: { type: 'final' },
      quarantined: { type: 'final' },
    },
  });
}

/** The step machine the batch is in, if it is in a step. */
export function currentStep(snapshot: AnyMachineSnapshot): AnyActorRef | undefined {
  return typeof snapshot.value === 'string' ? (snapshot.children[snapshot.value] as AnyActorRef | undefined) : undefined;
}

/** The step a batch is at: the one it runs or is held at; `finish` while it moves out and once completed. */
export function batchStep(snapshot: AnyMachineSnapshot): string {
  const context = snapshot.context as BatchMachineContext;
  const value = snapshot.value;
  if (value === 'routing') return context.position.at === 'finishing' ? FINISH : context.position.step;
  if (value === 'finishing' || value === 'completed') return FINISH;
  return typeof value === 'string' && value.startsWith(STEP_PREFIX) ? value.slice(STEP_PREFIX.length) : context.heldStep!;
}

const PHASES: Record<string, BatchPhase> = { finishing: 'transfer', completed: 'completed', quarantined: 'quarantined' };

/** The phase of a batch as its machines say: the step's phase in a step; after a hold's answer, waiting. */
export function batchPhase(snapshot: AnyMachineSnapshot): BatchPhase {
  if (snapshot.matches({ held: 'opening' }) || snapshot.matches({ held: 'awaitingAnswer' })) return 'held';
  const step = currentStep(snapshot);
  if (step) return stepPhase(step.getSnapshot() as AnyMachineSnapshot);
  return (typeof snapshot.value === 'string' && PHASES[snapshot.value]) || 'waiting';
}

/** A module in the normalized state model: its driver reports states; the machine keeps only allowed moves. */
export function moduleMachine(moduleId: string): AnyStateMachine {
  const machineSetup = setup({ types: {} as { context: { moduleId: string } } });
  const states = Object.fromEntries(MODULE_STATES.map((state) => [state, { on: Object.fromEntries([state, ...MODULE_TRANSITIONS[state]].map((to) => [`state.${to}`, { target: `#module.${to}` }])) }]));
  // A state the model does not allow from here is still followed: the device says so (the reconciler re-reads devices).
  const anyReport = Object.fromEntries(MODULE_STATES.map((to) => [`state.${to}`, { target: `.${to}` }]));
  return machineSetup.createMachine({ id: 'module', context: { moduleId }, initial: 'offline', on: anyReport, states });
}

export function moduleEvent(state: ModuleState): { type: string } {
  return { type: `state.${state}` };
}

/**
 * The XState machines: one per batch, derived from its schedule, and one per module in the normalized
 * state model. The batch machine decides what happens next (step order, holds and the operator's menu,
 * completion, quarantine); each step is a child machine (step-machine.ts), the rest of the work invoked
 * promises supplied by the orchestrator. The batch's phase is read from these machines (batchPhase).
 *
 * XState's own persistence is not crash-safe (domain brief, section 7), so nothing is restored from a
 * snapshot: after a restart the machine starts at `routing`, which jumps to the state the event log
 * says the batch is in, and the step re-attaches to its device commands by their logged tokens.
 */
import { assign, fromPromise, setup, type AnyActorRef, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { MODULE_STATES, MODULE_TRANSITIONS, type ModuleState } from '../config/state-model.ts';
import type { Schedule } from '../config/schedule.ts';
import type { HoldAction } from './entries.ts';
import { FINISH } from './projection.ts';
import { stepMachine, stepPhase, type BatchPhase, type StepOutcome, type StepWork } from './step-machine.ts';

/** Where a (resumed) batch starts: a step id, an open hold on a step, or finishing. */
export type BatchPosition = { at: 'step'; step: string } | { at: 'held'; step: string } | { at: 'finishing' };

export interface BatchMachineContext {
  batchId: string;
  position: BatchPosition;
  /** The step a hold belongs to. */
  heldStep?: string;
}

/** The operator's answer to a hold, once the device work it concerns is settled. */
export interface HoldAnswer {
  action: HoldAction;
  /** The module to make ready again before going on (not one the answer left to its device). */
  recover?: string;
}

export interface BatchWork {
  /** The work of each step's states. */
  steps: StepWork;
  /** Opens the hold (unless already open) and resolves with the operator's answer. */
  awaitOperator(step: string, reason: unknown): Promise<HoldAnswer>;
  /** Acts on the answer before the batch goes on: makes its module ready again. */
  settle(answer: HoldAnswer): Promise<void>;
  /** Records an operator's skip of a step. */
  skipStep(step: string): Promise<void>;
  /** Moves the material out and closes the batch. */
  finish(): Promise<void>;
  quarantine(step: string): Promise<void>;
}

export { FINISH } from './projection.ts';

const STEP_PREFIX = 'step:';

export function stateIdOf(step: string): string {
  return `${STEP_PREFIX}${step}`;
}

export function batchMachine(schedule: Schedule, work: BatchWork): AnyStateMachine {
  const stepIds = schedule.steps.map((s) => s.id);
  const next = (i: number) => (i + 1 < stepIds.length ? `#batch.${stateIdOf(stepIds[i + 1]!)}` : '#batch.finishing');
  const machineSetup = setup({
    types: {} as { context: BatchMachineContext & { reason?: unknown; answer?: HoldAnswer }; input: { batchId: string; position: BatchPosition } },
    actors: {
      step: stepMachine(work.steps),
      awaitOperator: fromPromise<HoldAnswer, { step: string; reason: unknown }>(({ input }) => work.awaitOperator(input.step, input.reason)),
      settle: fromPromise<void, HoldAnswer>(({ input }) => work.settle(input)),
      skipStep: fromPromise<void, { step: string }>(({ input }) => work.skipStep(input.step)),
      finish: fromPromise<void>(() => work.finish()),
      quarantine: fromPromise<void, { step: string }>(({ input }) => work.quarantine(input.step)),
    },
    actions: {
      holdOn: assign((_, params: { step: string; reason: unknown }) => ({ heldStep: params.step, reason: params.reason })),
      keepAnswer: assign((_, answer: HoldAnswer) => ({ answer })),
    },
    guards: {
      resumesAt: ({ context }, params: { step: string }) => context.position.at === 'step' && context.position.step === params.step,
      resumesHeld: ({ context }) => context.position.at === 'held',
      heldOn: ({ context }, params: { step: string }) => context.heldStep === params.step,
      answered: ({ context }, params: { step: string; action: HoldAction }) => context.heldStep === params.step && context.answer?.action === params.action,
      stepHeld: ({ event }) => (event as unknown as { output: StepOutcome }).output.hold !== undefined,
    },
  });
  const stepStates = Object.fromEntries(
    stepIds.map((step, i) => [
      stateIdOf(step),
      {
        invoke: {
          id: stateIdOf(step),
          src: 'step' as const,
          input: { step },
          onDone: [
            { guard: 'stepHeld' as const, target: '#batch.held', actions: { type: 'holdOn' as const, params: ({ event }: { event: { output: StepOutcome } }) => ({ step, reason: event.output.hold!.reason }) } },
            { target: next(i) },
          ],
          onError: { target: '#batch.held', actions: { type: 'holdOn' as const, params: ({ event }: { event: { error: unknown } }) => ({ step, reason: event.error }) } },
        },
      },
    ]),
  );
  const afterHeld = stepIds.flatMap((step) => [
    { guard: { type: 'answered' as const, params: { step, action: 'retry' as HoldAction } }, target: `#batch.${stateIdOf(step)}` },
    { guard: { type: 'answered' as const, params: { step, action: 'skip' as HoldAction } }, target: '#batch.skipping' },
  ]);
  return machineSetup.createMachine({
    id: 'batch',
    context: ({ input }) => ({ batchId: input.batchId, position: input.position, heldStep: input.position.at === 'held' ? input.position.step : undefined }),
    initial: 'routing',
    states: {
      routing: {
        always: [...stepIds.map((step) => ({ guard: { type: 'resumesAt' as const, params: { step } }, target: stateIdOf(step) })), { guard: 'resumesHeld', target: 'held' }, { target: 'finishing' }],
      },
      ...stepStates,
      held: {
        initial: 'awaitingAnswer',
        states: {
          awaitingAnswer: {
            invoke: {
              src: 'awaitOperator',
              input: ({ context }) => ({ step: context.heldStep!, reason: context.reason }),
              onDone: { target: 'settling', actions: { type: 'keepAnswer', params: ({ event }) => event.output } },
            },
          },
          settling: {
            invoke: {
              src: 'settle',
              input: ({ context }) => context.answer!,
              onDone: [{ guard: { type: 'answered', params: { step: FINISH, action: 'retry' } }, target: '#batch.finishing' }, ...afterHeld, { target: '#batch.quarantining' }],
            },
          },
        },
      },
      skipping: {
        invoke: {
          src: 'skipStep',
          input: ({ context }) => ({ step: context.heldStep! }),
          onDone: stepIds.map((step, i) => ({ guard: { type: 'heldOn' as const, params: { step } }, target: next(i) })),
        },
      },
      finishing: {
        invoke: {
          src: 'finish',
          onDone: 'completed',
          onError: { target: 'held', actions: { type: 'holdOn', params: ({ event }) => ({ step: FINISH, reason: event.error }) } },
        },
      },
      quarantining: { invoke: { src: 'quarantine', input: ({ context }) => ({ step: context.heldStep! }), onDone: 'quarantined', onError: 'quarantined' } },
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
  if (snapshot.matches({ held: 'awaitingAnswer' })) return 'held';
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

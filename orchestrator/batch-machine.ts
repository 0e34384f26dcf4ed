/**
 * The XState machines: one per batch, derived from its schedule, and one per module in the normalized
 * state model. The batch machine decides what happens next (step order, holds and the operator's menu,
 * completion, quarantine); the work of a step is an invoked promise supplied by the orchestrator.
 *
 * XState's own persistence is not crash-safe (domain brief, section 7), so nothing is restored from a
 * snapshot: after a restart the machine starts at `routing`, which jumps to the state the event log
 * says the batch is in, and the invoked step re-attaches to its device commands by their logged tokens.
 */
import { assign, fromPromise, setup, type AnyStateMachine } from 'xstate';
import { MODULE_STATES, MODULE_TRANSITIONS, type ModuleState } from '../config/state-model.ts';
import type { Schedule } from '../config/schedule.ts';
import type { HoldAction } from './entries.ts';

/** Where a (resumed) batch starts: a step id, an open hold on a step, or finishing. */
export type BatchPosition = { at: 'step'; step: string } | { at: 'held'; step: string } | { at: 'finishing' };

export interface BatchMachineContext {
  batchId: string;
  position: BatchPosition;
  /** The step a hold belongs to. */
  heldStep?: string;
}

export interface BatchWork {
  /** Runs one step to completion (or to its skip); rejects with HoldRequired to hold the batch. */
  runStep(step: string): Promise<void>;
  /** Opens the hold (unless already open) and resolves with the operator's answer. */
  awaitOperator(step: string, reason: unknown): Promise<HoldAction>;
  /** Records an operator's skip of a step. */
  skipStep(step: string): Promise<void>;
  /** Moves the material out and closes the batch. */
  finish(): Promise<void>;
  quarantine(step: string): Promise<void>;
}

/** The hold of a batch whose last move, out to the output position, failed. */
export const FINISH = 'finish';

export function stateIdOf(step: string): string {
  return `step:${step}`;
}

export function batchMachine(schedule: Schedule, work: BatchWork): AnyStateMachine {
  const stepIds = schedule.steps.map((s) => s.id);
  const next = (i: number) => (i + 1 < stepIds.length ? `#batch.${stateIdOf(stepIds[i + 1]!)}` : '#batch.finishing');
  const machineSetup = setup({
    types: {} as { context: BatchMachineContext & { reason?: unknown }; input: { batchId: string; position: BatchPosition } },
    actors: {
      runStep: fromPromise<void, { step: string }>(({ input }) => work.runStep(input.step)),
      awaitOperator: fromPromise<HoldAction, { step: string; reason: unknown }>(({ input }) => work.awaitOperator(input.step, input.reason)),
      skipStep: fromPromise<void, { step: string }>(({ input }) => work.skipStep(input.step)),
      finish: fromPromise<void>(() => work.finish()),
      quarantine: fromPromise<void, { step: string }>(({ input }) => work.quarantine(input.step)),
    },
    actions: {
      holdOn: assign((_, params: { step: string; reason: unknown }) => ({ heldStep: params.step, reason: params.reason })),
    },
    guards: {
      resumesAt: ({ context }, params: { step: string }) => context.position.at === 'step' && context.position.step === params.step,
      resumesHeld: ({ context }) => context.position.at === 'held',
      heldOn: ({ context }, params: { step: string }) => context.heldStep === params.step,
      answered: ({ context, event }, params: { step: string; action: HoldAction }) => context.heldStep === params.step && (event as unknown as { output: HoldAction }).output === params.action,
    },
  });
  const stepStates = Object.fromEntries(
    stepIds.map((step, i) => [
      stateIdOf(step),
      {
        invoke: {
          src: 'runStep' as const,
          input: { step },
          onDone: { target: next(i) },
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
        invoke: {
          src: 'awaitOperator',
          input: ({ context }) => ({ step: context.heldStep!, reason: context.reason }),
          onDone: [{ guard: { type: 'answered', params: { step: FINISH, action: 'retry' } }, target: 'finishing' }, ...afterHeld, { target: 'quarantining' }],
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

/** A module in the normalized state model: its driver reports states; the machine keeps only allowed moves. */
export function moduleMachine(moduleId: string): AnyStateMachine {
  const machineSetup = setup({
    types: {} as { context: { moduleId: string; anomalies: number } },
    actions: { countAnomaly: assign({ anomalies: ({ context }) => context.anomalies + 1 }) },
  });
  const states = Object.fromEntries(MODULE_STATES.map((state) => [state, { on: Object.fromEntries([state, ...MODULE_TRANSITIONS[state]].map((to) => [`state.${to}`, { target: `#module.${to}` }])) }]));
  // A state the model does not allow from here is still followed (the device says so) but counted.
  const anyReport = Object.fromEntries(MODULE_STATES.map((to) => [`state.${to}`, { target: `.${to}`, actions: 'countAnomaly' as const }]));
  return machineSetup.createMachine({ id: 'module', context: { moduleId, anomalies: 0 }, initial: 'offline', on: anyReport, states });
}

export function moduleEvent(state: ModuleState): { type: string } {
  return { type: `state.${state}` };
}

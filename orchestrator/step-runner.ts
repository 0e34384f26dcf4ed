/**
 * The work of a batch's steps: intake, each state of a step (allocation, line clearance, transfer in, the
 * device command or commands with the recurring work between them, controls, the hold time to the next
 * step, a failed attempt recorded), and the way out (finish, quarantine). The step machine
 * (step-machine.ts) and the batch machine (batch-machine.ts) decide which of these runs next, retries
 * and the alternate module included; the orchestrator owns the batches.
 */
import type { LayoutModel } from '../config/layout.ts';
import type { RecurringStep, ScheduleModel, Step } from '../config/schedule.ts';
import { canonicalUnit, convert } from '../config/units.ts';
import type { Clock } from '../drivers/clock.ts';
import { ModuleError, type ParameterValue, type ResultValue } from '../drivers/module.ts';
import type { AnyActorRef } from 'xstate';
import { stepNotes, type BatchPhase, type StepNoteEvent, type StepWork } from './step-machine.ts';
import { currentStep } from './batch-machine.ts';
import type { Allocator } from './allocator.ts';
import { HoldRequired } from './command-executor.ts';
import { checkControls, conditionMet, describeCondition, resultOf, telemetryUnit } from './controls.ts';
import type { BatchJournal, BatchStarted, LogEntry } from './entries.ts';
import type { EnvironmentalMonitoring } from './environmental-monitoring.ts';
import type { HoldTimes } from './hold-times.ts';
import type { BatchIdentity, MaterialGate } from './material-gate.ts';

export type { BatchPhase } from './step-machine.ts';

export interface BatchStatus {
  batchId: string;
  patient: string;
  lane: string;
  step: string;
  module?: string;
  phase: BatchPhase;
  /** Why the batch waits (scheduler's words), or why it is held. */
  note?: string;
  /** Expected finish of the whole batch, clock ms. */
  expectedFinish?: number;
  progress?: number;
  /** The hold time running: after which step, until when (clock ms). */
  holdTime?: { step: string; deadline: number };
}

export interface ActiveBatch {
  identity: BatchIdentity;
  started: BatchStarted;
  schedule: ScheduleModel;
  journal: BatchJournal;
  /** The batch machine: where the batch stands (batch-machine.ts), with its projection (the journal's state). */
  actor?: AnyActorRef;
  done: Promise<void>;
  finished: () => void;
  /** The latest sample of each telemetry channel attributed to the batch, for `when` conditions. */
  latestTelemetry: Map<string, number>;
  /**
   * The operator's request to hold (`workcell hold`, its entry's place in the batch stream) this process
   * interrupted the batch's wait or paused its command for; the request itself is the projection's.
   */
  interruptedFor?: number;
}

export interface StepContext {
  layout: LayoutModel;
  gate: MaterialGate;
  em: EnvironmentalMonitoring;
  allocator: Allocator;
  holdTimes: HoldTimes;
  clock: Clock;
  /** Every batch this process runs (the intake lets one bag at a time onto a position). */
  batches(): Iterable<ActiveBatch>;
  waitUntil(predicate: () => boolean): Promise<void>;
  /** Puts starting material at an intake position (in-process simulation); without it, an operator does. */
  deliver?: (bagId: string, position: string) => void | Promise<void>;
}

/** The message of a hold an operator asked for. */
export function heldBy(request: LogEntry<'hold.requested'>): string {
  return `held by ${request.data.user}: ${request.data.reason}`;
}

/** Tells the step the batch is in why it waits or how far its device is (what `workcell status` shows). */
export function tellStep(batch: ActiveBatch, event: StepNoteEvent): void {
  const step = batch.actor && currentStep(batch.actor.getSnapshot());
  if (!step) return;
  // What the step knows already changes nothing there: not sent again (a scheduling round explains
  // every wait at every instant, and an event through the machines is not free).
  const known = stepNotes(step.getSnapshot());
  if (event.type === 'note' ? known.note === event.note : known.progress === event.fraction) return;
  step.send(event);
}

export class StepRunner {
  private readonly intakeQueues = new Map<string, string[]>();

  constructor(private readonly context: StepContext) {}

  /** A safe point: an operator's hold request holds the batch here, before anything else starts. */
  private safePoint(batch: ActiveBatch): void {
    const request = batch.journal.state().holdRequest;
    if (!request) return;
    throw new HoldRequired('operator', heldBy(request), this.context.gate.moduleHolding(batch.identity.batchId) === undefined, { request: request.streamSeq });
  }

  /** The work of the step machine's states (step-machine.ts) for one batch. */
  workFor(batch: ActiveBatch): StepWork {
    const { gate, em, allocator, holdTimes, layout } = this.context;
    const id = batch.identity.batchId;
    const stepOf = (stepId: string) => batch.schedule.schedule.steps.find((s) => s.id === stepId)!;
    const key = (stepId: string, attempt: number) => (what: string) => `${id}:${stepId}:${attempt}:${what}`;
    return {
      policy: (stepId) => {
        const { retries, backoffMs, alternateModule } = stepOf(stepId).onFailure;
        return { retries, backoffMs, alternateModule };
      },
      arrived: () => Boolean(gate.whereIs(id)),
      receive: () => this.receive(batch),
      conditionUnmet: (stepId) => {
        const step = stepOf(stepId);
        return step.when !== undefined && !conditionMet(this.subjectOf(batch, step.when, step.capability), step.when);
      },
      skipUnmet: async (stepId) => {
        batch.journal.write('step.skipped', { step: stepId, reason: `condition not met: ${describeCondition(stepOf(stepId).when!)}` });
      },
      startAttempt: async (stepId) => {
        this.safePoint(batch);
        return this.openAttempt(batch, stepId) ?? this.newAttempt(batch, stepId);
      },
      allocate: async (stepId, attempt, avoid) => {
        return allocator.allocate(batch, stepOf(stepId), [...avoid], key(stepId, attempt)('park'), batch.journal.state().holdTime?.deadlineMs);
      },
      clearLine: async (stepId, moduleId) => {
        await gate.clearLine(batch.identity, moduleId);
        this.safePoint(batch);
        if (stepOf(stepId).environmentalMonitoring) await em.enter(id, layout.modules.get(moduleId)!);
      },
      transferIn: async (stepId, attempt, moduleId) => {
        const position = layout.positionsOf(layout.modules.get(moduleId)!)[0] ?? moduleId;
        try {
          try {
            await gate.transfer(batch.identity, position, key(stepId, attempt)('load'));
          } catch (error) {
            if (error instanceof ModuleError) Object.assign(error, { beforeLoad: gate.whereIs(id) !== position });
            throw error;
          }
          holdTimes.end(batch.journal);
          this.safePoint(batch);
        } catch (error) {
          this.leaveAfterFailure(batch, stepOf(stepId), moduleId, error, false);
          throw error;
        }
      },
      run: async (stepId, attempt, moduleId, resumed) => {
        const step = stepOf(stepId);
        let processed = false;
        try {
          // Resumed in its command, the step is in its zone again (line clearance, where it entered it, is behind it).
          if (resumed && step.environmentalMonitoring) await em.enter(id, layout.modules.get(moduleId)!);
          allocator.expectRelease(batch, step, moduleId, batch.schedule.expectedDuration(step));
          return await this.execute(batch, step, moduleId, key(stepId, attempt), () => (processed = true));
        } catch (error) {
          this.leaveAfterFailure(batch, step, moduleId, error, processed);
          throw error;
        }
      },
      checkControls: async (stepId, attempt, moduleId, results) => {
        const step = stepOf(stepId);
        try {
          checkControls(batch.journal, batch.schedule, step, results);
          const spec = batch.schedule.catalogue.capability(step.capability)?.spec;
          const unitsOf = (items: Record<string, { unit?: string }> = {}) => Object.fromEntries(Object.entries(items).flatMap(([name, item]) => (item.unit ? [[name, item.unit]] : [])));
          batch.journal.write('step.completed', { step: step.id, attempt, module: moduleId, parameters: batch.schedule.normalizedParameters(step), parameterUnits: unitsOf(spec?.parameters), results, resultUnits: unitsOf(spec?.results) });
        } finally {
          if (step.environmentalMonitoring) em.leave(id, layout.modules.get(moduleId)!);
        }
      },
      startHoldTime: async (stepId, since) => {
        const step = stepOf(stepId);
        const maxHold = batch.schedule.maxHold(step);
        const index = batch.schedule.schedule.steps.indexOf(step);
        if (maxHold !== undefined && index < batch.schedule.schedule.steps.length - 1) holdTimes.start(batch.journal, step.id, maxHold, since);
      },
      recordFailure: async (stepId, attempt, error) => {
        // An operator's hold interrupts the attempt without failing it: retried, it goes on where it stood.
        // So does a device waiting for an answer in a recoverable error: continued, the same command goes on.
        if (error instanceof HoldRequired && (error.kind === 'operator' || error.kind === 'device-recovery' || error.details.reattach !== undefined)) return { hold: error };
        const beforeLoad = error instanceof HoldRequired ? error.beforeLoad : error instanceof ModuleError && (error as ModuleError & { beforeLoad?: boolean }).beforeLoad === true;
        batch.journal.write('step.failed', { step: stepId, attempt, message: (error as Error).message, beforeLoad });
        const module = batch.journal.state().module;
        if (error instanceof HoldRequired && error.kind !== 'command-failed') return { hold: error };
        return { failures: this.failuresSinceLastHold(batch, stepId), beforeLoad, module };
      },
      release: (moduleId) => gate.release(batch.identity, moduleId),
      recover: async (moduleId) => {
        if (moduleId) await gate.recover(moduleId);
      },
    };
  }

  /**
   * The device work failed after the material entered its module's zone: nothing was processed, so the
   * material waits again, on the deadline its hold time had. A command the device may still be running
   * (paused, waiting for a recovery option, out of reach) is processing it.
   */
  private leaveAfterFailure(batch: ActiveBatch, step: Step, moduleId: string, error: unknown, processed: boolean): void {
    const stillRunning = error instanceof HoldRequired && (error.kind === 'device-recovery' || error.details.paused !== undefined || error.details.reattach !== undefined);
    if (!processed && !stillRunning) this.context.holdTimes.reopen(batch.journal, `${step.id} did not start: ${(error as Error).message}`);
    if (step.environmentalMonitoring) this.context.em.leave(batch.identity.batchId, this.context.layout.modules.get(moduleId)!);
  }

  private openAttempt(batch: ActiveBatch, stepId: string): number | undefined {
    return batch.journal.state().openAttempts.get(stepId);
  }

  private newAttempt(batch: ActiveBatch, stepId: string): number {
    const attempt = (batch.journal.state().attempts.get(stepId) ?? 0) + 1;
    batch.journal.write('step.started', { step: stepId, attempt });
    return attempt;
  }

  /** A failure that carried out an operator's answer (work given up to retry the step) does not count. */
  private failuresSinceLastHold(batch: ActiveBatch, stepId: string): number {
    return batch.journal.state().failuresSinceHold.get(stepId) ?? 0;
  }

  /** The step's command; a step with recurring work runs in segments with that work between them. */
  private async execute(batch: ActiveBatch, step: Step, moduleId: string, key: (what: string) => string, processed: () => void): Promise<Record<string, ResultValue>> {
    const parameters = batch.schedule.normalizedParameters(step);
    const recurring = step.during ?? [];
    const durationUnit = batch.schedule.catalogue.capability(step.capability)?.spec.parameters.duration?.unit ?? 's';
    const secondsPerUnit = convert({ value: 1, unit: canonicalUnit(durationUnit) ?? durationUnit }, 's') ?? 1;
    const total = Number(parameters.duration ?? 0) * secondsPerUnit;
    const every = recurring.flatMap((r) => (r.everyMs !== undefined ? [r.everyMs / 1000] : []));
    if (recurring.length === 0 || !(total > 0) || every.length === 0) {
      const results = await this.runCommand(batch, step, step.capability, parameters, moduleId, { key: key('run'), expectedSeconds: batch.schedule.expectedDuration(step), stepSecondsAfter: 0 });
      processed();
      return results;
    }
    // The device runs one command at a time: the culture runs in segments with the recurring work between them.
    const segment = Math.min(...every);
    let elapsed = 0;
    let results: Record<string, ResultValue> = {};
    for (let i = 0; elapsed < total; i++) {
      this.context.allocator.expectRelease(batch, step, moduleId, total - elapsed);
      const length = Math.min(segment, total - elapsed);
      results = await this.runCommand(batch, step, step.capability, { ...parameters, duration: length / secondsPerUnit }, moduleId, { key: key(`run.${i}`), expectedSeconds: length, stepSecondsAfter: total - elapsed - length });
      processed();
      elapsed += length;
      if (elapsed >= total) break;
      for (const extra of recurring) await this.runRecurring(batch, step, extra, elapsed, moduleId, key(`${extra.id}.${i}`));
    }
    return results;
  }

  private async runRecurring(batch: ActiveBatch, step: Step, extra: RecurringStep, elapsedSeconds: number, moduleId: string, commandKey: string): Promise<void> {
    if (extra.everyMs !== undefined && Math.round(elapsedSeconds) % Math.round(extra.everyMs / 1000) !== 0) return;
    if (extra.when && !conditionMet(this.subjectOf(batch, extra.when, extra.capability), extra.when)) return;
    const parameters = batch.schedule.normalizedParameters(extra);
    const capability = batch.schedule.catalogue.capability(extra.capability);
    const estimate = capability ? batch.schedule.expectedDuration(extra) : 60;
    const results = await this.runCommand(batch, step, extra.capability, parameters, moduleId, { key: commandKey, expectedSeconds: estimate, label: extra.id, parentStep: step.id });
    checkControls(batch.journal, batch.schedule, { id: extra.id, capability: extra.capability, controls: extra.controls }, results, step.id);
  }

  /**
   * One device command of a step. `stepSecondsAfter` marks the step's own work (not recurring work in
   * between): how much of the step remains after this command, so progress can update the release estimate.
   */
  private async runCommand(
    batch: ActiveBatch,
    step: Step,
    capabilityRef: string,
    parameters: Record<string, ParameterValue>,
    moduleId: string,
    command: { key: string; expectedSeconds: number; label?: string; parentStep?: string; stepSecondsAfter?: number },
  ): Promise<Record<string, ResultValue>> {
    const { key, expectedSeconds, label = step.id, stepSecondsAfter } = command;
    const capability = capabilityRef.slice(capabilityRef.indexOf('.') + 1);
    return this.context.gate.command({
      batch: batch.identity,
      module: moduleId,
      capability,
      parameters,
      key,
      stepId: label,
      parentStep: command.parentStep,
      expectedSeconds,
      itemId: batch.identity.bagId,
      onProgress: (progress) => {
        tellStep(batch, { type: 'progress', fraction: progress.fraction });
        if (stepSecondsAfter !== undefined && progress.remainingSeconds !== undefined) this.context.allocator.expectRelease(batch, step, moduleId, progress.remainingSeconds * this.context.clock.timeScale + stepSecondsAfter);
      },
    });
  }

  /** What a `when` condition reads: an earlier result from the log, or the latest telemetry sample. */
  private subjectOf(batch: ActiveBatch, condition: NonNullable<Step['when']>, capabilityRef: string): { value: number; unit: string } | undefined {
    if (condition.result !== undefined) return resultOf(batch.journal, batch.schedule, condition.result);
    const value = batch.latestTelemetry.get(condition.telemetry!);
    return value === undefined ? undefined : { value, unit: telemetryUnit(this.context.layout.catalogue, capabilityRef, condition.telemetry!) };
  }

  // ---- material in and out ---------------------------------------------------------------------

  private async receive(batch: ActiveBatch): Promise<void> {
    const { layout, gate, clock } = this.context;
    const position = layout.workcellPositions('intake', batch.identity.lane)[0]?.id;
    if (!position) throw new HoldRequired('intake', `layout ${layout.id} has no intake position for ${batch.identity.lane}`);
    const queue = this.intakeQueues.get(position) ?? [];
    this.intakeQueues.set(position, queue);
    if (!queue.includes(batch.identity.batchId)) queue.push(batch.identity.batchId);
    tellStep(batch, { type: 'note', note: `waiting for intake ${position}` });
    await this.context.waitUntil(() => queue[0] === batch.identity.batchId && ![...this.context.batches()].some((b) => gate.whereIs(b.identity.batchId) === position));
    try {
      for (let scan = 0; ; scan++) {
        const scanned = await gate.scan(batch.identity, position, `${batch.identity.batchId}:intake:${scan}`);
        if (scanned !== '') {
          gate.received(batch.identity, position, scanned);
          break;
        }
        if (this.context.deliver && scan === 0) {
          await this.context.deliver(batch.identity.bagId, position);
          continue;
        }
        if (scan >= 20) throw new HoldRequired('intake', `no bag at ${position}: place ${batch.identity.bagId} there, then answer the hold with retry`);
        await clock.sleep(30_000);
      }
    } finally {
      queue.splice(queue.indexOf(batch.identity.batchId), 1);
      tellStep(batch, { type: 'note', note: undefined });
    }
  }

  async finish(batch: ActiveBatch, tries: number): Promise<void> {
    const { layout, gate, holdTimes } = this.context;
    const output = layout.workcellPositions('output', batch.identity.lane)[0]?.id;
    if (!output) throw new HoldRequired('segregation', `layout ${layout.id} has no output position for ${batch.identity.lane}`);
    await gate.transfer(batch.identity, output, `${batch.identity.batchId}:finish:${tries + 1}:out`);
    holdTimes.end(batch.journal);
    gate.releaseEmpty(batch.identity);
    batch.journal.write('batch.completed', { output, bagId: batch.identity.bagId });
  }

  async quarantine(batch: ActiveBatch, step: string): Promise<void> {
    const { layout, gate, holdTimes } = this.context;
    const module = batch.journal.state().module;
    // What the batch left running on its module is cancelled on the device, not merely stopped.
    if (module) await gate.executor.cancel(module, `${batch.identity.batchId} was aborted to quarantine`);
    if (module) await gate.recover(module);
    const output = layout.workcellPositions('output', batch.identity.lane)[0]?.id;
    let where = gate.whereIs(batch.identity.batchId) ?? 'unknown';
    // The material leaves the workcell for quarantine; a one-off failure (a misread) is tried again.
    for (let attempt = 1; output && where !== output && attempt <= 3; attempt++) {
      try {
        await gate.transfer(batch.identity, output, `${batch.identity.batchId}:quarantine:${attempt}:out`);
        where = output;
      } catch (error) {
        if (attempt === 3) {
          const command = `workcell remove ${batch.identity.batchId} --reason TEXT --user NAME`;
          batch.journal.write('alarm', { kind: 'quarantine', message: `the material could not be moved out of ${where}: ${(error as Error).message}; remove it by hand, then record that with ${command}` });
        } else {
          const stuckIn = gate.moduleHolding(batch.identity.batchId);
          if (stuckIn) await gate.recover(stuckIn.id);
        }
      }
    }
    holdTimes.end(batch.journal);
    gate.releaseEmpty(batch.identity);
    batch.journal.write('batch.quarantined', { step, location: where, bagId: batch.identity.bagId, stuck: where !== output });
  }
}

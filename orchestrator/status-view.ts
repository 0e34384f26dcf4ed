/**
 * What `workcell status`, the run output and the status view show of a running orchestrator: each
 * batch where it stands (step, phase, why it waits and its device's progress read from its machines;
 * its module, hold and hold time from its projection), when it should finish; each module's state, occupant and why it may not be used.
 */
import type { ModuleConfig } from '../config/layout.ts';
import type { ModuleState } from '../config/state-model.ts';
import { batchPhase, batchStep, currentStep } from './batch-machine.ts';
import { stepNotes } from './step-machine.ts';
import type { OutOfService } from './operator-actions.ts';
import type { ActiveBatch, BatchPhase, BatchStatus } from './step-runner.ts';

export interface ModuleStatus {
  id: string;
  state: ModuleState;
  occupant?: string;
  outOfService?: string;
}

export interface WorkcellStatus {
  at: number;
  batches: BatchStatus[];
  modules: ModuleStatus[];
  plates: string[];
}

/** Where a batch this process runs stands: its step and phase read from its machines, which it starts with. */
export function batchStatus(batch: ActiveBatch, now: number): BatchStatus {
  const snapshot = batch.actor!.getSnapshot();
  const step = batchStep(snapshot);
  const phase = batchPhase(snapshot);
  const state = batch.journal.state();
  const inStep = currentStep(snapshot);
  const { note, progress } = inStep ? stepNotes(inStep.getSnapshot()) : {};
  const { batchId, patient, lane } = batch.started;
  return {
    batchId,
    patient,
    lane,
    module: state.module,
    note: phase === 'held' ? state.pendingHold?.entry.data.message : note,
    progress,
    step,
    phase,
    expectedFinish: expectedFinish(batch, step, phase, progress, now),
    holdTime: state.holdTime ? { step: state.holdTime.step, deadline: state.holdTime.deadlineMs } : undefined,
  };
}

function expectedFinish(batch: ActiveBatch, step: string, phase: BatchPhase, progress: number | undefined, now: number): number | undefined {
  if (phase === 'completed' || phase === 'quarantined') return undefined;
  const steps = batch.schedule.schedule.steps;
  const index = steps.findIndex((s) => s.id === step);
  if (index < 0) return now;
  const current = batch.schedule.expectedDuration(steps[index]!) * (1 - (phase === 'running' ? (progress ?? 0) : 0));
  const rest = steps.slice(index + 1).reduce((sum, s) => sum + batch.schedule.expectedDuration(s), 0);
  return now + (current + rest) * 1000;
}

/** Why a module may not be allocated now (out of service, qualification or calibration expired), or undefined. */
export function unusable(module: ModuleConfig, outOfService: ReadonlyMap<string, OutOfService>, now: number): string | undefined {
  const today = utcDate(now);
  const out = outOfService.get(module.id);
  if (out) return `out of service since ${new Date(out.since).toISOString().slice(0, 16).replace('T', ' ')} UTC (${out.user}: ${out.reason})`;
  if (module.qualification.validUntil < today) return `qualification expired on ${module.qualification.validUntil}`;
  if (module.calibration && module.calibration.validUntil < today) return `calibration expired on ${module.calibration.validUntil}`;
  return undefined;
}

const DAY_MS = 86_400_000;
let datedDay = Number.NaN;
let datedText = '';

/** "2027-01-04": the UTC date of `ms`, made once a day (every scheduling round asks it of every module). */
function utcDate(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== datedDay) {
    datedDay = day;
    datedText = new Date(ms).toISOString().slice(0, 10);
  }
  return datedText;
}

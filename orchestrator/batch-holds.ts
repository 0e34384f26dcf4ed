/**
 * A held batch: its hold opened (or found in the log after a restart), the operator's answer awaited,
 * the device work it concerns settled and its module made ready again; and a step an operator skipped,
 * recorded with what it did. The batch machine's `held` and `skipping` states run these.
 */
import type { ModuleDriver } from '../drivers/module.ts';
import type { LogEntry } from './event-log.ts';
import { HoldRequired } from './command-executor.ts';
import type { HoldAction } from './entries.ts';
import type { MaterialGate } from './material-gate.ts';
import type { HoldTimes } from './hold-times.ts';
import { FINISH, type HoldAnswer } from './batch-machine.ts';
import { settleDeviceWork } from './device-holds.ts';
import type { ActiveBatch } from './step-runner.ts';

export interface HoldsContext {
  gate: MaterialGate;
  holdTimes: HoldTimes;
  drivers: ReadonlyMap<string, ModuleDriver>;
  /** Answers to holds, per batch, as they are read from the log. */
  answers: ReadonlyMap<string, ReadonlyArray<LogEntry<'hold.resolved'>>>;
  waitUntil(predicate: () => boolean): Promise<void>;
}

export class BatchHolds {
  constructor(private readonly context: HoldsContext) {}

  /**
   * A step an operator skipped. One that never started is "skipped"; one that ran is recorded as such,
   * with what it did (parameters, results, the controls it failed) and who approved going on without it.
   */
  skipStep(batch: ActiveBatch, stepId: string): void {
    const state = batch.journal.state();
    const answer = state.lastAnswer;
    const signedSkip = answer && answer.data.step === stepId && answer.data.action === 'skip' ? answer : undefined;
    const approvedBy = signedSkip ? { approvedBy: { user: signedSkip.data.signature.user, printedName: signedSkip.data.signature.printedName }, approves: signedSkip.data.approves ?? null } : {};
    const last = state.lastAttempts.get(stepId);
    if (!last) {
      batch.journal.write('step.skipped', { step: stepId, reason: 'skipped by an operator before it started (see the hold resolution)', ...approvedBy });
    } else {
      const step = batch.schedule.schedule.steps.find((s) => s.id === stepId)!;
      const results = last.results ?? null;
      const failedControls = last.failedControls;
      const module = last.module ?? batch.status.module ?? null;
      const why = failedControls.length > 0 ? 'ran, failed controls, continued without meeting them' : results ? 'ran, continued past its hold' : 'started, did not complete, continued without it';
      batch.journal.write('step.skipped', { step: stepId, ran: true, reason: why, module, parameters: batch.schedule.normalizedParameters(step), results, failedControls, ...approvedBy });
    }
    this.context.gate.releaseEmpty(batch.identity);
  }

  async awaitOperator(batch: ActiveBatch, step: string, reason: unknown): Promise<HoldAnswer> {
    // An answered hold found in the log is one given while no orchestrator acted on it (a restart).
    // Once acted on here, a new failure opens a new hold: replaying the old answer would loop.
    const pending = batch.journal.state().pendingHold?.entry;
    const open = pending && pending.seq !== batch.actedOnHold ? pending : undefined;
    let holdEntry: LogEntry<'hold.opened'>;
    if (open) {
      holdEntry = open;
      batch.status.note = open.data.message;
    } else {
      const hold = reason instanceof HoldRequired ? reason : undefined;
      const message = reason instanceof Error ? reason.message : String(reason);
      // Moving the finished material out can be tried again or given up, not skipped.
      const recovery = hold?.details.recovery;
      const actions: HoldAction[] = step === FINISH ? ['retry', 'abort'] : recovery ? ['continue', 'retry', 'skip', 'abort'] : ['retry', 'skip', 'abort'];
      const deviceOptions = recovery ? { deviceOptions: recovery.options } : {};
      const running = batch.journal.state().holdTime;
      const holdTime = running ? { holdTime: { after: running.step, deadlineMs: running.deadlineMs } } : {};
      holdEntry = batch.journal.write('hold.opened', { step, kind: hold?.kind ?? 'command-failed', message, actions, module: batch.status.module ?? null, ...hold?.details, ...deviceOptions, ...holdTime });
      if (hold?.kind === 'operator') batch.holdRequest = undefined;
      batch.status.note = message;
    }
    const since = holdEntry.seq;
    let answer: LogEntry<'hold.resolved'> | undefined;
    await this.context.waitUntil(() => {
      answer = this.context.answers.get(batch.identity.batchId)?.find((e) => e.seq > since);
      return answer !== undefined;
    });
    const action = await settleDeviceWork(this.context.drivers, batch.journal, holdEntry, answer!);
    batch.actedOnHold = since;
    batch.status.note = undefined;
    // A module whose command was resumed or continued on the device is left to it; any other is made ready again.
    const answered = answer!.data.action;
    const goesOn = (holdEntry.data.paused || holdEntry.data.reattach ? answered === 'retry' : false) || (holdEntry.data.recovery ? answered === 'continue' : false);
    return { action, recover: action !== 'abort' && batch.status.module && !goesOn ? batch.status.module : undefined };
  }

  async settle(answer: HoldAnswer): Promise<void> {
    if (answer.recover) await this.context.gate.recover(answer.recover);
  }
}

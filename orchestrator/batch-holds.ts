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
import { FINISH, type HoldAnswer, type OpenedHold } from './batch-machine.ts';
import { settleDeviceWork } from './device-holds.ts';
import type { ActiveBatch } from './step-runner.ts';

export interface HoldsContext {
  gate: MaterialGate;
  drivers: ReadonlyMap<string, ModuleDriver>;
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
      const module = last.module ?? state.module ?? null;
      const why = failedControls.length > 0 ? 'ran, failed controls, continued without meeting them' : results ? 'ran, continued past its hold' : 'started, did not complete, continued without it';
      batch.journal.write('step.skipped', { step: stepId, ran: true, reason: why, module, parameters: batch.schedule.normalizedParameters(step), results, failedControls, ...approvedBy });
    }
    this.context.gate.releaseEmpty(batch.identity);
  }

  /**
   * The hold of the batch: the one its projection holds open (after a restart, perhaps answered while no
   * orchestrator ran), unless this machine carried its answer out already; otherwise a new one.
   */
  async openHold(batch: ActiveBatch, step: string, reason: unknown, actedOn: number | undefined): Promise<OpenedHold> {
    // Once acted on here, a new failure opens a new hold: replaying the old answer would loop.
    const pending = batch.journal.state().pendingHold;
    if (pending && pending.entry.seq !== actedOn) return { hold: pending.entry, answer: pending.answer };
    const hold = reason instanceof HoldRequired ? reason : undefined;
    const message = reason instanceof Error ? reason.message : String(reason);
    // Moving the finished material out can be tried again or given up, not skipped.
    const recovery = hold?.details.recovery;
    const actions: HoldAction[] = step === FINISH ? ['retry', 'abort'] : recovery ? ['continue', 'retry', 'skip', 'abort'] : ['retry', 'skip', 'abort'];
    const deviceOptions = recovery ? { deviceOptions: recovery.options } : {};
    const state = batch.journal.state();
    const holdTime = state.holdTime ? { holdTime: { after: state.holdTime.step, deadlineMs: state.holdTime.deadlineMs } } : {};
    const opened = batch.journal.write('hold.opened', { step, kind: hold?.kind ?? 'command-failed', message, actions, module: state.module ?? null, ...hold?.details, ...deviceOptions, ...holdTime });
    // An answer given as the hold opened (an operator quick at the terminal) is in the log already.
    return { hold: opened, answer: batch.journal.state().pendingHold?.answer };
  }

  /** Carries the operator's answer out on the device work the hold left standing; says what the batch does next. */
  async carryOut(batch: ActiveBatch, hold: LogEntry<'hold.opened'>, answer: LogEntry<'hold.resolved'>): Promise<HoldAnswer> {
    const action = await settleDeviceWork(this.context.drivers, batch.journal, hold, answer);
    // A module whose command was resumed or continued on the device is left to it; any other is made ready again.
    const answered = answer.data.action;
    const goesOn = (hold.data.paused || hold.data.reattach ? answered === 'retry' : false) || (hold.data.recovery ? answered === 'continue' : false);
    const module = batch.journal.state().module;
    return { action, recover: action !== 'abort' && module && !goesOn ? module : undefined };
  }

  /** An answer that could not be carried out: an alarm says so, and the batch holds again for an operator. */
  answerFailed(batch: ActiveBatch, step: string, error: unknown): void {
    batch.journal.write('alarm', { kind: 'orchestrator', step, message: `the answer to the hold at ${step} could not be carried out: ${error instanceof Error ? error.message : String(error)}; the batch holds again` });
  }

  async settle(answer: HoldAnswer): Promise<void> {
    if (answer.recover) await this.context.gate.recover(answer.recover);
  }
}

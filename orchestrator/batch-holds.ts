/**
 * A held batch: its hold opened (or found in the log after a restart), the operator's answer awaited,
 * the device work it concerns settled and its module made ready again; and a step an operator skipped,
 * recorded with what it did. The batch machine's `held` and `skipping` states run these.
 */
import type { ModuleDriver } from '../drivers/module.ts';
import type { LogEntry } from './event-log.ts';
import { HoldRequired } from './command-executor.ts';
import { isEntry, type HoldAction } from './entries.ts';
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
    const entries = batch.journal.entries();
    const lastStart = entries.findLastIndex((e) => e.type === 'step.started' && e.data.step === stepId);
    const answer = entries.findLast(isEntry('hold.resolved', (e) => e.data.step === stepId && e.data.action === 'skip'));
    const approvedBy = answer ? { approvedBy: { user: answer.data.signature.user, printedName: answer.data.signature.printedName }, approves: answer.data.approves ?? null } : {};
    if (lastStart < 0) {
      batch.journal.write('step.skipped', { step: stepId, reason: 'skipped by an operator before it started (see the hold resolution)', ...approvedBy });
    } else {
      const attempt = entries.slice(lastStart);
      const started = entries[lastStart]!;
      const step = batch.schedule.schedule.steps.find((s) => s.id === stepId)!;
      const runKey = `${batch.identity.batchId}:${stepId}:${started.type === 'step.started' ? started.data.attempt : ''}:run`;
      const results = attempt.findLast(isEntry('command.completed', (e) => e.data.key.startsWith(runKey)))?.data.results ?? null;
      const failedControls = attempt.filter(isEntry('control.checked', (e) => e.data.step === stepId && !e.data.pass)).map(({ data }) => ({ result: data.result, value: data.value, unit: data.unit, min: data.min, max: data.max }));
      const module = attempt.findLast(isEntry('module.reserved'))?.data.module ?? batch.status.module ?? null;
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
    let since: number;
    if (open) {
      since = open.seq;
      batch.status.note = open.data.message;
    } else {
      const hold = reason instanceof HoldRequired ? reason : undefined;
      const message = reason instanceof Error ? reason.message : String(reason);
      // Moving the finished material out can be tried again or given up, not skipped.
      const recovery = hold?.details.recovery;
      const actions: HoldAction[] = step === FINISH ? ['retry', 'abort'] : recovery ? ['continue', 'retry', 'skip', 'abort'] : ['retry', 'skip', 'abort'];
      const deviceOptions = recovery ? { deviceOptions: recovery.options } : {};
      const running = this.context.holdTimes.current(batch.identity.batchId);
      const holdTime = running ? { holdTime: { after: running.step, deadlineMs: running.deadlineMs } } : {};
      since = batch.journal.write('hold.opened', { step, kind: hold?.kind ?? 'command-failed', message, actions, module: batch.status.module ?? null, ...hold?.details, ...deviceOptions, ...holdTime }).seq;
      if (hold?.kind === 'operator') batch.holdRequest = undefined;
      batch.status.note = message;
    }
    let answer: LogEntry<'hold.resolved'> | undefined;
    await this.context.waitUntil(() => {
      answer = this.context.answers.get(batch.identity.batchId)?.find((e) => e.seq > since);
      return answer !== undefined;
    });
    const holdEntry = open ?? batch.journal.entries().find(isEntry('hold.opened', (e) => e.seq === since))!;
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

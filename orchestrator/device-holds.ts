/**
 * Holds whose device work is left standing: a command paused for an operator's hold (PauseController),
 * or waiting in a recoverable error for a continuation option (ErrorRecoveryService). The answer to the
 * hold is carried out on the device before the batch goes on: resumed, continued with the option the
 * operator signed for, or given up (cancelled, error handling abandoned), each recorded.
 */
import type { ModuleDriver } from '../drivers/module.ts';
import type { LogEntry } from './event-log.ts';
import type { BatchJournal, HoldAction } from './entries.ts';

/**
 * Carries out an answer on the device work a hold left standing; returns the action for the batch
 * machine (`continue` goes on like `retry`: the same attempt, re-attached to the same command).
 */
export async function settleDeviceWork(drivers: ReadonlyMap<string, ModuleDriver>, journal: BatchJournal, hold: LogEntry<'hold.opened'>, answer: LogEntry<'hold.resolved'>): Promise<HoldAction> {
  const action = answer.data.action;
  const { paused, recovery } = hold.data;
  const work = paused ?? recovery;
  const driver = work ? drivers.get(work.module) : undefined;
  // Carried out already (before a restart): the device is not sent the answer a second time.
  if (!work || !driver || journal.state().pendingHold?.deviceWorkSettled) return action === 'continue' ? 'retry' : action;
  const about = { key: work.key, module: work.module, token: work.token, answer: answer.streamSeq };
  const giveUp = async (why: string) => {
    // The command ends on the device; its key is closed here, so that nothing waits for it again.
    journal.write('command.failed', { key: work.key, module: work.module, message: `${work.module}: ${why}`, code: null, errorKind: 'device' });
    if (action === 'retry') journal.write('step.failed', { step: hold.data.step, attempt: attemptOfKey(work.key), message: why, beforeLoad: false, answered: true });
  };
  if (paused) {
    if (action === 'retry') {
      const resumed = await driver.resumePaused?.(paused.token).catch(() => false);
      journal.write('command.resumed', { ...about, resumed: resumed === true });
      return 'retry';
    }
    const cancelled = (await driver.cancel?.(paused.token).catch(() => false)) === true;
    journal.write('command.cancelled', { ...about, cancelled, reason: `the hold was answered with ${action}` });
    await giveUp(`cancelled: the hold was answered with ${action}`);
    return action;
  }
  if (action === 'continue') {
    const option = answer.data.option ?? '';
    await driver.continueAfterError?.(recovery!.token, option);
    journal.write('command.continued', { ...about, option, by: answer.data.user });
    return 'retry';
  }
  await driver.abortErrorHandling?.(recovery!.token).catch(() => undefined);
  journal.write('command.continued', { ...about, option: null, abandoned: true, by: answer.data.user });
  await giveUp(`the device's error handling was given up: the hold was answered with ${action}`);
  return action;
}

/** The attempt an idempotency key was made for (`BATCH:STEP:ATTEMPT:WHAT`, command-executor.ts); null when it names none. */
function attemptOfKey(key: string): number | null {
  const attempt = Number(key.split(':').at(-2));
  return Number.isInteger(attempt) && attempt > 0 ? attempt : null;
}

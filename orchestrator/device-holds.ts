/**
 * Holds whose device work is left standing: a command paused for an operator's hold (PauseController),
 * or waiting in a recoverable error for a continuation option (ErrorRecoveryService). The answer to the
 * hold is carried out on the device before the batch goes on: resumed, continued with the option the
 * operator signed for, or given up (cancelled, error handling abandoned), each recorded.
 */
import type { ExecutionToken, ModuleDriver } from '../drivers/module.ts';
import type { LogEntry } from './event-log.ts';
import type { BatchJournal, HoldAction } from './entries.ts';

interface DeviceWork {
  module: string;
  key: string;
  token: ExecutionToken;
}

/**
 * Carries out an answer on the device work a hold left standing; returns the action for the batch
 * machine (`continue` goes on like `retry`: the same attempt, re-attached to the same command).
 */
export async function settleDeviceWork(drivers: ReadonlyMap<string, ModuleDriver>, journal: BatchJournal, hold: LogEntry, answer: LogEntry): Promise<HoldAction> {
  const action = answer.data.action as HoldAction;
  const paused = hold.data.paused as DeviceWork | undefined;
  const recovery = hold.data.recovery as DeviceWork | undefined;
  const work = paused ?? recovery;
  const driver = work ? drivers.get(work.module) : undefined;
  if (!work || !driver) return action === 'continue' ? 'retry' : action;
  const record = (type: 'command.resumed' | 'command.continued' | 'command.cancelled', data: Record<string, unknown>) => journal.write(type, { key: work.key, module: work.module, token: work.token, answer: answer.streamSeq, ...data });
  const giveUp = async (why: string) => {
    // The command ends on the device; its key is closed here, so that nothing waits for it again.
    journal.write('command.failed', { key: work.key, module: work.module, message: `${work.module}: ${why}`, code: null, errorKind: 'device' });
    if (action === 'retry') journal.write('step.failed', { step: hold.data.step, attempt: Number(work.key.split(':').at(-2) ?? 0) || null, message: why, beforeLoad: false, answered: true });
  };
  if (paused) {
    if (action === 'retry') {
      const resumed = await driver.resumePaused?.(paused.token).catch(() => false);
      record('command.resumed', { resumed: resumed === true });
      return 'retry';
    }
    const cancelled = (await driver.cancel?.(paused.token).catch(() => false)) === true;
    record('command.cancelled', { cancelled, reason: `the hold was answered with ${action}` });
    await giveUp(`cancelled: the hold was answered with ${action}`);
    return action;
  }
  if (action === 'continue') {
    const option = String(answer.data.option);
    await driver.continueAfterError?.(recovery!.token, option);
    record('command.continued', { option, by: answer.data.user });
    return 'retry';
  }
  await driver.abortErrorHandling?.(recovery!.token).catch(() => undefined);
  record('command.continued', { option: null, abandoned: true, by: answer.data.user });
  await giveUp(`the device's error handling was given up: the hold was answered with ${action}`);
  return action;
}

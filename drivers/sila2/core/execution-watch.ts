/**
 * An execution's Info stream merged with the recoverable error it may be waiting in
 * (ErrorRecoveryService.RecoverableErrors), so that whoever follows a command also learns when it
 * waits for a continuation option, and when that wait is over.
 */
import { Mailbox } from '../client-streams.ts';
import type { ExecutionInfo } from '../client-types.ts';
import type { CommandExecution } from '../command-execution.ts';
import type { CoreFeatureClient, RecoverableErrorInfo } from './core-client.ts';

export interface ExecutionState {
  info: ExecutionInfo;
  /** The recoverable error the execution waits in, if any. */
  recoverableError?: RecoverableErrorInfo;
}

export async function* watchExecution(execution: CommandExecution, core: CoreFeatureClient, signal?: AbortSignal): AsyncGenerator<ExecutionState> {
  if (!core.has('ErrorRecoveryService')) {
    for await (const info of execution.info(signal)) yield { info };
    return;
  }
  const stop = new AbortController();
  const forward = () => stop.abort();
  signal?.addEventListener('abort', forward, { once: true });
  if (signal?.aborted) stop.abort();
  const mailbox = new Mailbox<ExecutionState>();
  let info: ExecutionInfo = { status: 'running' };
  let waiting: RecoverableErrorInfo | undefined;
  const state = (): ExecutionState => (waiting ? { info, recoverableError: waiting } : { info });
  const infos = (async () => {
    for await (const next of execution.info(stop.signal)) {
      info = next;
      mailbox.push(state());
    }
  })().then(
    () => mailbox.close(),
    (error) => mailbox.close(error),
  );
  const errors = (async () => {
    for await (const list of core.recoverableErrors(stop.signal)) {
      const mine = list.find((e) => e.executionUuid === execution.uuid);
      if (mine?.errorTime === waiting?.errorTime && (mine === undefined) === (waiting === undefined)) continue;
      waiting = mine;
      mailbox.push(state());
    }
  })().catch(() => undefined);
  try {
    yield* mailbox.drain();
  } finally {
    signal?.removeEventListener('abort', forward);
    stop.abort();
    await Promise.allSettled([infos, errors]);
  }
}

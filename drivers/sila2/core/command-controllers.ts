/**
 * CancelController and PauseController on the server, for the observable commands whose handlers
 * declare that they can be cancelled or paused (CommandContext.controls).
 */
import { DefinedExecutionError } from '../errors.ts';
import type { ExecutionRegistry, ServerExecution } from '../server-executions.ts';
import type { FeatureImplementation } from '../server-types.ts';

/** How long CancelCommand waits for the cancelled work to stop before it answers. */
const CANCEL_WAIT_MS = 5000;

function running(executions: ExecutionRegistry<unknown>, uuid: string): ServerExecution {
  const execution = executions.get(uuid);
  if (!execution || execution.finished) throw new DefinedExecutionError('InvalidCommandExecutionUUID', `no execution '${uuid}' is running on this server`);
  return execution;
}

export function cancelControllerImplementation(executions: ExecutionRegistry<unknown>): FeatureImplementation {
  // Answer once the work has stopped, so that the caller sees the execution finished.
  const cancel = async (execution: ServerExecution, reason: string) => {
    if (execution.cancel(reason)) await execution.whenFinished(CANCEL_WAIT_MS);
  };
  return {
    commands: {
      CancelCommand: async ({ CommandExecutionUUID }) => {
        const execution = running(executions, CommandExecutionUUID);
        if (!execution.controls.cancel) throw new DefinedExecutionError('OperationNotSupported', `${execution.commandFqi} cannot be cancelled`);
        await cancel(execution, 'a client cancelled it (CancelController.CancelCommand)');
      },
      CancelAll: async () => {
        await Promise.all(executions.running().map((execution) => cancel(execution, 'a client cancelled every command (CancelController.CancelAll)')));
      },
    },
  };
}

export function pauseControllerImplementation(executions: ExecutionRegistry<unknown>): FeatureImplementation {
  const control = (uuid: string, pausing: boolean) => {
    const execution = running(executions, uuid);
    const act = pausing ? execution.controls.pause : execution.controls.resume;
    if (!act) throw new DefinedExecutionError('OperationNotSupported', `${execution.commandFqi} cannot be paused or resumed`);
    if (execution.paused === pausing) throw new DefinedExecutionError('InvalidCommandState', `execution '${uuid}' is ${pausing ? 'paused already' : 'not paused'}`);
    try {
      act.call(execution.controls);
    } catch (error) {
      throw new DefinedExecutionError('InvalidCommandState', `execution '${uuid}' cannot be ${pausing ? 'paused' : 'resumed'} now: ${(error as Error).message}`);
    }
    execution.paused = pausing;
    execution.notify();
  };
  return {
    commands: {
      Pause: ({ CommandExecutionUUID }) => control(CommandExecutionUUID, true),
      Resume: ({ CommandExecutionUUID }) => control(CommandExecutionUUID, false),
    },
    properties: { Paused: () => executions.running().some((e) => e.paused) },
  };
}

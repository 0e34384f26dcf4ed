/**
 * A module driver whose notifications get lost on the way, as they can on a real network (a dropped
 * subscription update, a result stream that never delivers): the device behind it works normally and
 * answers direct reads. Loopback never loses a message, so this is how tests meet that case.
 */
import { ModuleError, type Execution, type ExecutionToken, type ModuleDriver } from '../../drivers/module.ts';
import type { ModuleState } from '../../config/state-model.ts';

export interface Losses {
  /** Drop this state notification (the n-th one reported, counting from 1). */
  dropState?: (state: ModuleState, n: number) => boolean;
  /** The result of executions of this capability never arrives through the execution first started. */
  loseResultOf?: string;
  /** The device forgot every execution (restarted meanwhile): re-attaching by token finds none. */
  forgetExecutions?: boolean;
  /** The connection drops while the first execution of this capability runs (the device goes on with it). */
  dropConnectionDuring?: string;
}

export function lossy(driver: ModuleDriver, losses: Losses): ModuleDriver {
  return new Proxy(driver, {
    get(target, property, receiver) {
      if (property === 'watchState') {
        return async (listener: (state: ModuleState) => void) => {
          let n = 0;
          return target.watchState((state) => {
            n++;
            if (!losses.dropState?.(state, n)) listener(state);
          });
        };
      }
      if (property === 'execute') {
        return async (...args: Parameters<ModuleDriver['execute']>): Promise<Execution> => {
          const execution = await target.execute(...args);
          if (args[0] === losses.dropConnectionDuring) {
            losses.dropConnectionDuring = undefined;
            return { token: execution.token, progress: (signal) => execution.progress(signal), result: () => Promise.reject(new ModuleError(target.id, 'connection', 'the connection to the device dropped')) };
          }
          if (args[0] !== losses.loseResultOf) return execution;
          return { token: execution.token, progress: (signal) => execution.progress(signal), result: () => new Promise(() => undefined) };
        };
      }
      if (property === 'reattach' && losses.forgetExecutions) {
        return async (token: ExecutionToken) => {
          throw new ModuleError(target.id, 'invalid', `no execution ${token.id} on ${target.id}`);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

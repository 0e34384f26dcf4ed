/** Which database a command works on, and opening an existing one. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { EventLog } from '../orchestrator/event-log.ts';

/** The database of `workcell run` and every command after it, in the working directory. */
export const DEFAULT_DATABASE = 'workcell.db';

/** Opens a run's database (an existing one only: a typo must not create an empty log), runs `use`, closes it. */
export async function withDatabase<T>(file: string | undefined, options: { readonly: boolean }, use: (log: EventLog) => T | Promise<T>): Promise<T> {
  const database = resolve(file ?? DEFAULT_DATABASE);
  if (!existsSync(database)) throw new Error(`no database ${database}`);
  const log = new EventLog(database, { readonly: options.readonly });
  try {
    return await use(log);
  } finally {
    log.close();
  }
}

/** Which database a command works on, and opening an existing one. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EventLog } from '../orchestrator/event-log.ts';
import { DEFAULT_DATABASE } from './usage.ts';

/** The absolute path of an existing database; else an error saying what is missing, the file or its directory. */
export function existingDatabase(file: string | undefined): string {
  const database = resolve(file ?? DEFAULT_DATABASE);
  if (existsSync(database)) return database;
  const directory = dirname(database);
  throw new Error(existsSync(directory) ? `no database ${database}` : `no database ${database}: no directory ${directory}`);
}

/** Opens a run's database (an existing one only: a typo must not create an empty log), runs `use`, closes it. */
export async function withDatabase<T>(file: string | undefined, options: { readonly: boolean }, use: (log: EventLog) => T | Promise<T>): Promise<T> {
  const log = new EventLog(existingDatabase(file), { readonly: options.readonly });
  try {
    return await use(log);
  } finally {
    log.close();
  }
}

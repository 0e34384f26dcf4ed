/** `workcell schema entries`: the published entry schemas (orchestrator/entries/), as docs/records/entries.schema.json holds them. */
import { entrySchemaText } from '../orchestrator/entries/publish.ts';
import { UsageError } from './usage.ts';

export async function schema([what]: [string]): Promise<number> {
  if (what !== 'entries') throw new UsageError(`no schema '${what}': entries`);
  process.stdout.write(entrySchemaText());
  return 0;
}

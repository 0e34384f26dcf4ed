/** `workcell schema entries|status`: the published schemas (orchestrator/entries/, orchestrator/live-status.ts), as docs/records/ holds them. */
import { entrySchemaText, statusSchemaText } from '../orchestrator/entries/publish.ts';
import { UsageError } from './usage.ts';

const SCHEMAS: Record<string, () => string> = { entries: entrySchemaText, status: statusSchemaText };

export async function schema([what]: [string]): Promise<number> {
  const text = Object.hasOwn(SCHEMAS, what) ? SCHEMAS[what] : undefined;
  if (!text) throw new UsageError(`no schema '${what}': entries or status`);
  process.stdout.write(text());
  return 0;
}

/**
 * The published schemas (docs/records/): the entries (entries.schema.json), what consumers of the log's
 * copies (MQTT, PostgreSQL, the API) rely on, and the live status view (status.schema.json), which
 * `workcell status --json` and MQTT's status topic carry. `workcell schema entries|status` prints them,
 * `npm run docs:schemas` rewrites the files; a test fails when they differ from what the code defines.
 */
import { fileURLToPath } from 'node:url';
import { liveStatusSchemaDocument } from '../live-status.ts';
import { entrySchemaDocument } from './index.ts';

export const ENTRY_SCHEMA_FILE = fileURLToPath(new URL('../../docs/records/entries.schema.json', import.meta.url));
export const STATUS_SCHEMA_FILE = fileURLToPath(new URL('../../docs/records/status.schema.json', import.meta.url));

/** The entry schemas file's content, as written. */
export function entrySchemaText(): string {
  return `${JSON.stringify(entrySchemaDocument(), null, 2)}\n`;
}

/** The status schema file's content, as written. */
export function statusSchemaText(): string {
  return `${JSON.stringify(liveStatusSchemaDocument(), null, 2)}\n`;
}

/**
 * The published entry schemas (docs/records/entries.schema.json): what consumers of the log's copies
 * (MQTT, PostgreSQL, the API) rely on. `workcell schema entries` prints it, `npm run docs:schemas` rewrites the file; a test fails when it
 * differs from what the code defines.
 */
import { fileURLToPath } from 'node:url';
import { entrySchemaDocument } from './index.ts';

export const ENTRY_SCHEMA_FILE = fileURLToPath(new URL('../../docs/records/entries.schema.json', import.meta.url));

/** The file's content, as written. */
export function entrySchemaText(): string {
  return `${JSON.stringify(entrySchemaDocument(), null, 2)}\n`;
}

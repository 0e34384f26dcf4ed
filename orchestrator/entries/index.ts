/**
 * The entry types of the event log, each defined once: its meaning and the JSON Schema of its data
 * (TypeBox), from which come the TypeScript types writers and readers use and the validators every
 * append runs. `entrySchemaDocument()` publishes them (docs/records/entries.schema.json) for consumers
 * of the log's copies: MQTT, PostgreSQL, the API.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { batchEntries } from './batch.ts';
import { commandEntries } from './commands.ts';
import { emEntries } from './environmental-monitoring.ts';
import { holdEntries } from './holds.ts';
import { moduleEntries } from './modules.ts';
import { workcellEntries } from './workcell.ts';

export { ALARM_KINDS, DEVIATION_KINDS } from './batch.ts';
export { HOLD_ACTIONS, HOLD_KINDS, REFUSALS, ROLES, SIGNED_ACTIONS } from './holds.ts';

/**
 * The format of entries as written: 1 since entries carry it. Entries without one were written
 * before (format 0); their data is the same, so readers treat both alike.
 */
export const ENTRY_FORMAT_VERSION = 1;

export const ENTRY_SCHEMAS = { ...batchEntries, ...commandEntries, ...moduleEntries, ...holdEntries, ...emEntries, ...workcellEntries };

export type EntryType = keyof typeof ENTRY_SCHEMAS;
export type EntryData<T extends EntryType> = Static<(typeof ENTRY_SCHEMAS)[T]>;

/** Each entry type's meaning, in one line. */
export const ENTRY_TYPES = Object.fromEntries(Object.entries(ENTRY_SCHEMAS).map(([type, schema]) => [type, schema.description])) as Record<EntryType, string>;

export function isKnownEntryType(type: string): type is EntryType {
  return Object.hasOwn(ENTRY_SCHEMAS, type);
}

/** What every entry carries beside its type and data, as the log stores it. */
export interface EntryEnvelope {
  /** Global order of appending. */
  seq: number;
  /** A batch id, `workcell` for what belongs to no batch, or `operators`. */
  stream: string;
  /** Position in its stream, from 1. */
  streamSeq: number;
  /** Simulation (or wall) clock time the event happened, ms since the epoch. */
  at: number;
  /** Wall-clock time the entry was committed, ms since the epoch. */
  recordedAt: number;
  /** ENTRY_FORMAT_VERSION of the code that wrote it; absent in entries written before entries carried it. */
  formatVersion?: number;
  previousHash: string;
  hash: string;
}

type NewEntries = { [K in EntryType]: { stream: string; type: K; at: number; data: EntryData<K> } };
type LogEntries = { [K in EntryType]: EntryEnvelope & { type: K; data: EntryData<K> } };

/** An entry to append: its stream, type, time and data. */
export type NewEntry<T extends EntryType = EntryType> = Extract<NewEntries[EntryType], { type: T }>;

/** An entry as the log holds it; a union over the types, so that `type` tells what `data` holds. */
export type LogEntry<T extends EntryType = EntryType> = Extract<LogEntries[EntryType], { type: T }>;

/** For `filter` and `find`: entries of one type (and, optionally, a condition on them). */
export function isEntry<T extends EntryType>(type: T, where?: (entry: LogEntry<T>) => boolean): (entry: LogEntry) => entry is LogEntry<T> {
  return (entry): entry is LogEntry<T> => entry.type === type && (where === undefined || where(entry as LogEntry<T>));
}

/** Like isEntry, for entries of any of several types. */
export function isEntryOf<T extends EntryType>(types: readonly T[]): (entry: LogEntry) => entry is LogEntry<T> {
  const wanted = new Set<string>(types);
  return (entry): entry is LogEntry<T> => wanted.has(entry.type);
}

// `unit` annotates numbers for consumers; validation has nothing to check in it.
const ajv = new Ajv({ allErrors: false, strict: true, keywords: ['unit'] });
const validators = new Map<string, ValidateFunction>();

/** Compiled on the first entry of its type, then kept. */
function validatorOf(type: string): ValidateFunction | undefined {
  if (!isKnownEntryType(type)) return undefined;
  let validate = validators.get(type);
  if (!validate) {
    validate = ajv.compile(ENTRY_SCHEMAS[type] as TSchema);
    validators.set(type, validate);
  }
  return validate;
}

/**
 * Refuses an entry whose data does not match its type's schema, naming the type and the field: a
 * programming error, but one that must never reach a patient's record.
 */
export function checkEntry(entry: { type: string; data: unknown }): void {
  if (!isKnownEntryType(entry.type)) throw new Error(`no entry type '${entry.type}': the log takes only the entry types of orchestrator/entries/`);
  const problem = entryDataProblem(entry);
  if (problem) throw new Error(`refused a ${entry.type} entry: its data ${problem}`);
}

/**
 * Whether an entry read back has the data its type's schema says (one of a type this version does not
 * know passes unchecked: readers list it as unrecognised). entryDataProblem says what does not match.
 */
export function matchesItsSchema<E extends { type: string; data: unknown }>(entry: E): entry is E & LogEntry {
  const validate = validatorOf(entry.type);
  return !validate || validate(entry.data);
}

/**
 * What in an entry's data its type's schema does not allow, naming the field ("lacks the field
 * 'attempt'"); undefined when the data matches, or the type is not one of this version's.
 */
export function entryDataProblem(entry: { type: string; data: unknown }): string | undefined {
  const validate = validatorOf(entry.type);
  if (!validate || validate(entry.data)) return undefined;
  return schemaErrorText(validate.errors![0]!);
}

/** An ajv error in words, naming the field: "lacks the field 'holdTime.deadlineMs'". */
export function schemaErrorText(error: ErrorObject): string {
  const field = error.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : '';
  if (error.keyword === 'additionalProperties') return `has a field '${[field, String(error.params.additionalProperty)].filter(Boolean).join('.')}' its schema does not list`;
  if (error.keyword === 'required') return `lacks the field '${[field, String(error.params.missingProperty)].filter(Boolean).join('.')}'`;
  return field ? `field '${field}' ${error.message ?? 'is invalid'}` : `${error.message ?? 'is invalid'}`;
}

/**
 * Every entry type's JSON Schema as one document: `$defs` holds the data of each type, and the document
 * itself the envelope every entry has (stream, streamSeq, type, at, recordedAt, formatVersion, data, hashes).
 */
export function entrySchemaDocument(): Record<string, unknown> {
  const types = Object.keys(ENTRY_SCHEMAS).sort();
  const defs = Object.fromEntries(types.map((type) => [type, { title: type, ...plain(ENTRY_SCHEMAS[type as EntryType]) }]));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Workcell event log entry',
    description: `An entry of a Workcell event log: one of ${types.length} types, each with its data. Entries of one stream form a hash chain. Entry format version ${ENTRY_FORMAT_VERSION}; entries without formatVersion were written before entries carried it and have the same data.`,
    type: 'object',
    required: ['stream', 'streamSeq', 'type', 'at', 'recordedAt', 'data', 'previousHash', 'hash'],
    properties: {
      seq: { type: 'integer', description: 'Global order of appending in the log it was written to' },
      stream: { type: 'string', description: 'A batch id, `workcell` for what belongs to no batch, or `operators`' },
      streamSeq: { type: 'integer', minimum: 1, description: 'Position in its stream, from 1' },
      type: { enum: types, description: 'The entry type: says what `data` holds' },
      at: { type: 'number', unit: 'ms since the epoch', description: 'Workcell (simulation or wall) clock time the event happened' },
      recordedAt: { type: 'number', unit: 'ms since the epoch', description: 'Wall-clock time the entry was committed' },
      formatVersion: { type: 'integer', description: `The entry format version (${ENTRY_FORMAT_VERSION}); absent in entries written before entries carried it` },
      data: { type: 'object', description: "The entry's data, by its type (see $defs)" },
      previousHash: { type: 'string', description: "SHA-256 of the stream's previous entry (64 zeros for the first)" },
      hash: { type: 'string', description: 'SHA-256 over stream, streamSeq, type, at, recordedAt, the canonical JSON of data (keys sorted), previousHash and, when present, formatVersion' },
    },
    allOf: types.map((type) => ({ if: { properties: { type: { const: type } } }, then: { properties: { data: { $ref: `#/$defs/${type}` } } } })),
    $defs: defs,
  };
}

/** A schema as plain JSON (without TypeBox's symbol keys). */
function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

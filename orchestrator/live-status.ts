/**
 * The live status view: what a running orchestrator last said of its batches and modules, rewritten as
 * things change (the `live_status` table, not part of the record). `workcell status`, the MQTT status
 * topic and other processes' clocks (run-settings.ts) read it. Defined once here (TypeBox, as the entries
 * are), checked when written and when read; `workcell schema status` publishes it
 * (docs/records/status.schema.json).
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { MODULE_STATES } from '../config/state-model.ts';
import { schemaErrorText } from './entries/index.ts';
import { entry, epochMs, flag, isoTime, number, oneOf, text } from './entries/fields.ts';

/** Where a batch can stand: step-machine.ts's BatchPhase (test/orchestrator/live-status.test.ts type-checks that the orchestrator's status is this schema's). */
export const BATCH_PHASES = ['intake', 'waiting', 'clearance', 'transfer', 'running', 'held', 'completed', 'quarantined'] as const;

export const BatchStatusSchema = entry('Where a batch this orchestrator runs stands', {
  batchId: text('Batch id'),
  patient: text('Patient id'),
  lane: text('The lane the batch runs in'),
  step: text('The step it is at (its id in the schedule)'),
  module: Type.Optional(text('The module the step runs on, once allocated')),
  phase: oneOf(BATCH_PHASES, "The step's phase, read from the batch's machines"),
  note: Type.Optional(text("Why the batch waits (the scheduler's words), or why it is held")),
  expectedFinish: Type.Optional(epochMs('Expected finish of the whole batch, workcell clock')),
  progress: Type.Optional(Type.Number({ description: "The running command's progress, 0 to 1", minimum: 0, maximum: 1 })),
  holdTime: Type.Optional(entry('The hold time running', { step: text('The step it runs after'), deadline: epochMs('When it is exceeded, workcell clock') })),
});

export const ModuleStatusSchema = entry("A module's state as the orchestrator believes it", {
  id: text('Module id'),
  state: oneOf(MODULE_STATES, 'Its state (config/state-model.ts)'),
  occupant: Type.Optional(text('The batch whose material it holds')),
  outOfService: Type.Optional(text('Why it may not be used (out of service, qualification or calibration expired)')),
});

export const LiveStatusSchema = entry("A running orchestrator's live status: its batches, modules and settle plates, as of `at`", {
  at: epochMs('Workcell clock time the status describes'),
  timeScale: number('Workcell clock ms per wall-clock ms: how fast the workcell clock runs on from `at`'),
  final: flag('Written as the orchestrator stopped: no later status follows from it'),
  pid: Type.Integer({ description: 'Process id of the orchestrator that wrote it' }),
  batches: Type.Array(BatchStatusSchema, { description: 'Every batch the orchestrator runs' }),
  modules: Type.Array(ModuleStatusSchema, { description: 'Every module of the layout' }),
  plates: Type.Array(text('A settle plate exposed, in words'), { description: 'The settle plates exposed now' }),
});

export type LiveStatus = Static<typeof LiveStatusSchema>;

/** The one key the view is written under: the orchestrator of the database. */
export const LIVE_STATUS_KEY = 'orchestrator';

const validate = new Ajv({ allErrors: false, strict: true, keywords: ['unit'] }).compile<LiveStatus>(LiveStatusSchema as TSchema);

/** What in a status view its schema does not allow, naming the field; undefined when it matches. */
export function liveStatusProblem(value: unknown): string | undefined {
  if (validate(value)) return undefined;
  return schemaErrorText(validate.errors![0]!);
}

export function isLiveStatus(value: unknown): value is LiveStatus {
  return validate(value);
}

/** The published schema of the status view (docs/records/status.schema.json); MQTT adds `updatedAt`. */
export function liveStatusSchemaDocument(): Record<string, unknown> {
  const { properties, ...schema } = JSON.parse(JSON.stringify(LiveStatusSchema)) as { properties: Record<string, unknown> };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Workcell live status',
    ...schema,
    description: `${LiveStatusSchema.description}. Rewritten as things change, not part of the record.`,
    properties: { ...properties, updatedAt: { ...isoTime('Wall-clock time the status was written; on MQTT (PREFIX/status, retained) only') } },
  };
}

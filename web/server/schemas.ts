/**
 * The API's own request and response schemas (TypeBox). Fastify validates requests with them and
 * serialises responses by them; openapi.ts publishes them with the log's entry schemas. Structures the
 * orchestrator defines (the record, the live view) are described to the depth a client relies on; deeper
 * parts are open objects, passed on whole.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { HOLD_ACTIONS, ROLES } from '../../orchestrator/entries/index.ts';
import { Signature } from '../../orchestrator/entries/fields.ts';

const open = (description: string) => Type.Object({}, { additionalProperties: true, description });
const openList = (description: string) => Type.Array(open(description), { description });
const text = (description: string) => Type.String({ description });
const ms = (description: string) => Type.Number({ description: `${description} (ms since the epoch)` });
const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()], { description: schema.description });

export const ErrorBody = Type.Object({ error: text('Why the request was refused, in a sentence') }, { description: 'A refusal' });

export const Role = Type.Union(ROLES.map((r) => Type.Literal(r)), { description: 'A role of the operators model' });

export const SessionInfo = Type.Object(
  { user: text('User id'), printedName: text('The printed name signatures show'), roles: Type.Array(Role), csrfToken: text('Send it as the x-csrf-token header on every mutating request') },
  { description: 'The current session' },
);
export const LoginBody = Type.Object({ user: Type.String({ minLength: 1, maxLength: 200 }), password: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });

/** A signature given for one action: the password re-entered (21 CFR 11.200) and why. */
const signing = { reason: Type.String({ minLength: 1, maxLength: 2000, description: 'Why: recorded with the signature' }), password: Type.String({ minLength: 1, maxLength: 1000, description: "The signer's password, entered for this signature" }) };

export const BatchStatus = Type.Object(
  {
    batchId: text('Batch id'),
    patient: text('Patient id'),
    lane: text('Lane'),
    step: text('The current step'),
    module: Type.Optional(text('The module it is on')),
    phase: text('intake, waiting, clearance, transfer, running, held, completed or quarantined'),
    note: Type.Optional(text('Why it waits, or why it is held')),
    expectedFinish: Type.Optional(ms('Expected finish of the whole batch, workcell clock')),
    progress: Type.Optional(Type.Number({ description: 'Progress of the step, 0..1' })),
    holdTime: Type.Optional(Type.Object({ step: text('After which step'), deadline: ms('Until when, workcell clock') })),
  },
  { additionalProperties: true },
);

export const ModuleStatus = Type.Object(
  { id: text('Module id'), state: text('Its state'), occupant: Type.Optional(text('The batch on it')), outOfService: Type.Optional(text('Why it cannot be allocated')), lanes: Type.Optional(Type.Array(Type.String(), { description: 'The lanes it serves (from the layout)' })) },
  { additionalProperties: true },
);

export const HoldView = Type.Object(
  {
    batchId: text('The held batch'),
    hold: Type.Integer({ description: "The hold's position in the batch's stream: send it as `hold` with the answer" }),
    step: text('The step it is held at'),
    kind: text('What kind of hold'),
    message: text('What happened'),
    actions: Type.Array(Type.Union(HOLD_ACTIONS.map((a) => Type.Literal(a)))),
    since: ms('Opened at, workcell clock'),
    holdTime: nullable(Type.Object({ after: text('After which step'), deadline: ms('Until when, workcell clock') }, { description: 'The hold time still running while the batch is held' })),
    skipApproves: nullable(text('What answering skip approves: the failed control and its value')),
    deviceOptions: Type.Array(Type.Object({ identifier: text("The device's option"), description: text('What it does') })),
    menu: Type.Array(
      Type.Object({ option: text('Send this as `option` to answer: retry, skip, abort, or continue:IDENTIFIER for a device option'), action: Type.Union(HOLD_ACTIONS.map((a) => Type.Literal(a))), deviceOption: Type.Optional(text("With continue: the device's option")), label: text('The answer in words'), meaning: text('What the signature means'), roles: Type.Array(Role, { description: 'Who may sign it' }) }),
      { description: 'The answers the hold offers' },
    ),
    holdTimeLeftMs: nullable(Type.Number({ description: 'Hold time left now (negative: exceeded), ms of workcell time' })),
  },
  { description: 'An open hold with its typed menu and what is at stake' },
);

export const Overview = Type.Object(
  {
    status: nullable(Type.Object({ at: ms('Workcell clock of the view'), final: Type.Boolean({ description: 'The run ended' }), pid: Type.Number(), timeScale: Type.Optional(Type.Number()), batches: Type.Array(BatchStatus), modules: Type.Array(ModuleStatus), plates: Type.Array(Type.String()) }, { additionalProperties: true, description: 'What the running orchestrator last wrote; null when none did' })),
    updatedAt: nullable(ms('Wall-clock time the live view was written')),
    holds: Type.Array(HoldView),
    outOfService: openList('A module out of service: module, since, user, reason'),
    awaitingReview: Type.Array(Type.Object({ batchId: Type.String(), status: Type.String(), waitingFor: Type.Array(Type.String()) })),
    alarms: openList('A recent alarm: batchId, at, kind, message'),
  },
  { description: 'The workcell now' },
);

export const HoldAnswer = Type.Object({ option: Type.String({ minLength: 1, maxLength: 200, description: "One of the hold's menu options: retry, skip, abort, or continue:IDENTIFIER for a device option" }), hold: Type.Integer({ minimum: 1, description: 'The `hold` of the hold answered (GET /api/holds): an answer to a hold no longer open is refused' }), ...signing }, { additionalProperties: false });
export const HoldAnswered = Type.Object({ batchId: Type.String(), step: Type.String(), action: Type.String(), option: Type.Optional(Type.String()), approves: Type.Optional(Type.String()), signature: Signature }, { additionalProperties: true });

export const BatchSummary = Type.Object({
  batchId: text('Batch id'),
  patient: text('Patient id'),
  lane: text('Lane'),
  status: text('in progress, held, completed or quarantined'),
  started: text('Start, ISO 8601 (workcell clock)'),
  review: nullable(Type.Object({ decision: text('approved or rejected'), user: text('The QA reviewer'), at: text('When signed, ISO 8601') })),
});

export const RecordResponse = Type.Object({
  record: Type.Object(
    {
      batchId: Type.String(),
      status: Type.String(),
      started: Type.String(),
      identity: open('Patient, chain of identity, starting material, lane, layout, schedule'),
      deviations: openList('A departure from the process'),
      alarms: openList('An alarm'),
      holds: openList('A hold'),
      operatorActions: openList('An answer to a hold, with its signature'),
      steps: openList('A step: units, controls, telemetry against limits, commands'),
      transfers: openList('A robot hand-off with its scans: the chain of custody'),
      removals: openList('Material taken out by hand'),
      lineClearances: openList('A line clearance'),
      environmentalMonitoring: openList('An EM result'),
      interruptions: openList('The orchestrator stopped and took the batch up again'),
      reconciliations: openList('A module state found other than believed'),
      unrecognised: openList('An entry of a type this version does not know'),
      timeline: openList('An entry in a line'),
      review: nullable(open("QA's signed disposition")),
      entries: Type.Integer(),
      firstHash: Type.String(),
      lastHash: Type.String(),
    },
    { additionalProperties: true, description: 'The batch record (orchestrator/record-build.ts BatchRecord)' },
  ),
  integrity: Type.Object({
    ok: Type.Boolean({ description: "The batch's hash chain verified unbroken, every entry matches its schema, and the log's signed checkpoints verify and agree with it (false too when the log holds no checkpoint)" }),
    entries: Type.Integer({ description: "The batch's entries" }),
    message: text('What the verification found, in a sentence'),
    breaks: Type.Array(Type.Object({ stream: text('The stream broken (the batch, or `checkpoints`)'), streamSeq: Type.Integer({ description: 'Its first entry affected; 0 for a checkpoint' }), problem: text('altered, missing, reordered, invalid, truncated, rewritten or checkpoint'), message: text('What is wrong') }), { description: 'Every break found, in the order workcell verify names them' }),
    checkpoints: Type.Object(
      {
        verified: Type.Integer({ description: 'Signed checkpoints whose signature verified' }),
        latest: nullable(Type.Object({ number: Type.Integer(), signedAt: text('When it was signed (ISO 8601, UTC)'), upToSeq: Type.Integer({ description: 'It covers every entry up to this log position' }), keyId: text('The signing key') }, { description: 'The latest checkpoint that verified; null: none' })),
        uncovered: Type.Integer({ description: "The batch's entries after the latest checkpoint: not yet covered (at most a minute's worth while the orchestrator runs)" }),
        notes: Type.Array(Type.String(), { description: 'What a reader should know that is no break (a key that replaced another)' }),
      },
      { description: "The log's signed checkpoints, as workcell verify checks them, for this batch" },
    ),
  }),
});

export const ReviewBody = Type.Object({ decision: Type.Union([Type.Literal('approve'), Type.Literal('reject')]), ...signing }, { additionalProperties: false });
export const Reviewed = Type.Object({ batchId: Type.String(), decision: Type.String(), reviewedHead: Type.String(), signature: Signature });

export const StartBatchBody = Type.Object(
  {
    batchId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', maxLength: 64 }),
    patient: Type.String({ minLength: 1, maxLength: 200 }),
    schedule: Type.String({ minLength: 1, maxLength: 1000, description: 'The schedule the batch follows: a file name from GET /api/schedules (in the server’s schedules directory; a path anywhere else is refused)' }),
    layout: Type.Optional(text('The layout file, when given: it must be the one the workcell runs on (the last run’s)')),
    lane: Type.Optional(Type.String()),
    chainOfIdentity: Type.Optional(Type.String()),
    bagId: Type.Optional(Type.String()),
    signature: Type.Object(signing, { additionalProperties: false }),
  },
  { additionalProperties: false },
);

export const BatchRequested = Type.Object({
  batchId: Type.String(),
  lane: text('The lane it is to run in'),
  orchestratorRunning: Type.Boolean({ description: 'An orchestrator runs on the database now and starts it within a second' }),
  message: text('What happens next'),
  signature: Signature,
});

export const ScheduleList = Type.Object({
  directory: text('The directory batches are started from: `workcell serve --schedules DIR`, else the `schedules` directory beside the layout'),
  layout: nullable(text('The layout file the workcell runs on (the last run’s), which each schedule is checked against; null: no run yet')),
  schedules: Type.Array(
    Type.Object({
      name: text('The file name: `schedule` of POST /api/batches'),
      id: nullable(text('Schedule id')),
      version: nullable(text('Schedule version')),
      title: nullable(text('The process, in words (the schedule’s name)')),
      product: nullable(text('The therapy it makes, where the schedule says')),
      startable: Type.Boolean({ description: 'A valid schedule that fits the layout: a batch may be started on it' }),
      problems: Type.Array(Type.String(), { description: 'Why not (FILE:LINE:COL: message)' }),
    }),
  ),
});

export const Cursor = Type.Object({ after: Type.Optional(Type.Integer({ minimum: 0, description: 'Log position to start after' })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 500 })) }, { additionalProperties: false });

/** One log entry (its data as its type's schema says: components `Entry`). */
export const EntrySchema = Type.Object(
  { seq: Type.Integer(), stream: Type.String(), streamSeq: Type.Integer(), type: Type.String(), at: Type.Number(), recordedAt: Type.Number(), formatVersion: Type.Optional(Type.Integer()), data: open("The entry's data, by its type"), previousHash: Type.String(), hash: Type.String() },
  { description: 'A log entry' },
);
export const EntryPage = Type.Object({ entries: Type.Array(EntrySchema), next: Type.Integer({ description: 'The cursor for the next page (after=)' }), last: Type.Integer({ description: 'The last position of the log now' }) });

export const TimelineQuery = Type.Object({ from: Type.Optional(Type.Number({ description: 'ms since the epoch' })), to: Type.Optional(Type.Number({ description: 'ms since the epoch' })) }, { additionalProperties: false });
export const TimelineResponse = Type.Object({
  from: Type.Number(),
  to: Type.Number(),
  modules: Type.Array(Type.String()),
  bars: Type.Array(Type.Object({ module: Type.String(), batch: Type.String(), step: Type.String(), start: Type.Number(), end: nullable(Type.Number()), kind: Type.Union([Type.Literal('step'), Type.Literal('clearance')]) })),
});

export const SiteResponse = Type.Object({
  workcells: Type.Array(Type.Object({ workcell: text('The log id (it names the workcell log wherever it is copied)'), file: text('The database file it was copied from'), lastEntryAt: nullable(ms('The latest batch event copied')), entries: Type.Integer({ description: 'Entries copied' }) })),
  batches: Type.Array(Type.Object({ workcell: Type.String(), batchId: Type.String(), patient: Type.Optional(Type.String()), status: Type.String(), step: Type.Optional(Type.String()) })),
  holds: Type.Array(Type.Object({ workcell: Type.String(), batchId: Type.String(), step: Type.String(), kind: Type.String(), message: Type.String(), since: Type.Number() })),
});

export const AuditPage = Type.Object({
  items: Type.Array(Type.Object({ seq: Type.Integer(), at: Type.Number(), type: Type.String(), stream: Type.String(), user: nullable(Type.String()), summary: Type.String(), signature: nullable(Signature) })),
  next: nullable(Type.Integer({ description: 'after= for the next page; null at the end' })),
});

export const OperatorView = Type.Object({ user: Type.String(), printedName: Type.String(), roles: Type.Array(Role), enrolledBy: nullable(Type.String()), enrolledAt: Type.String(), disabled: Type.Optional(Type.Object({ by: Type.String(), at: Type.String(), reason: Type.String() })) });
export const EnrolBody = Type.Object({ user: Type.String({ minLength: 1, maxLength: 64 }), printedName: Type.String({ minLength: 1, maxLength: 200 }), roles: Type.Array(Role, { minItems: 1 }), initialPassword: Type.String({ minLength: 1, maxLength: 1000, description: 'The new operator’s first password' }), password: signing.password }, { additionalProperties: false });
export const DisableBody = Type.Object(signing, { additionalProperties: false });
export const PasswordBody = Type.Object({ current: Type.String({ minLength: 1, maxLength: 1000 }), next: Type.String({ minLength: 1, maxLength: 1000 }) }, { additionalProperties: false });

export const BatchParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const HoldParams = Type.Object({ batch: Type.String({ minLength: 1, maxLength: 200 }) });
export const Done = Type.Object({ done: Type.Boolean(), message: text('What was done') });

/** Entries of a batch and its steps: start and end, attempts, controls, hold times, alarms and deviations, telemetry. */
import { Type } from '@sinclair/typebox';
import { entry, entryNumber, epochMs, FailedControl, flag, isoTime, marker, nullable, number, oneOf, ResultValues, seconds, Signature, text, Units, Values } from './fields.ts';

const step = text('Step id (of the schedule)');
const message = text('What happened, in words');

export const Position = Type.Union(
  [
    Type.Object({ at: Type.Literal('step'), step }, { additionalProperties: false }),
    Type.Object({ at: Type.Literal('held'), step }, { additionalProperties: false }),
    Type.Object({ at: Type.Literal('finishing') }, { additionalProperties: false }),
  ],
  { description: 'Where the batch stands: at a step, held at one, or moving its material out' },
);

export const ALARM_KINDS = ['hold-time', 'watchdog', 'storage', 'communication', 'quarantine', 'lock', 'environmental-monitoring', 'security', 'orchestrator'] as const;
export const DEVIATION_KINDS = ['hold-time-exceeded', 'watchdog', 'device-fault', 'out-of-limit', 'scan-mismatch', 'lock-lost', 'em-excursion'] as const;

/** What alarms and deviations may name beside their kind and message. */
const about = {
  step: Type.Optional(text('The step it concerns')),
  parentStep: Type.Optional(text('The step the recurring work it concerns belongs to')),
  module: Type.Optional(text('The module it concerns')),
  capability: Type.Optional(text('The capability of the command it concerns')),
  code: Type.Optional(nullable(text("The device's error code; null: none given"))),
  holdOf: Type.Optional(text('The step whose hold time it concerns')),
  deadlineMs: Type.Optional(epochMs('The deadline of that hold time')),
};

export const batchEntries = {
  'batch.started': entry('A batch began: patient, chain of identity, starting material, lane, schedule (id, version, hash, text), and the signed request it was started from, if any.', {
    batchId: text('Batch id: the stream of its record'),
    patient: text('Patient id'),
    chainOfIdentity: text('ISBT 128 chain-of-identity identifier (or the site\'s equivalent)'),
    bagId: text('Barcode of the bag of starting material'),
    lane: text('The lane (segregated path) the batch runs in'),
    layout: Type.Object(
      {
        id: text('Layout id'),
        file: text('Layout file'),
        contentHash: Type.Optional(text('SHA-256 of the layout file (absent in logs from before it was recorded)')),
      },
      { description: 'The layout the batch started on', additionalProperties: false },
    ),
    schedule: Type.Object(
      {
        id: text('Schedule id'),
        version: text('Schedule version'),
        contentHash: text('SHA-256 of the schedule text'),
        file: text('Schedule file'),
        text: text('The whole schedule text: the batch runs and resumes on this, not on the file'),
      },
      { description: 'The schedule the batch runs', additionalProperties: false },
    ),
    seed: Type.Optional(number('Seed of the simulation')),
    request: Type.Optional(
      Type.Object(
        {
          seq: Type.Integer({ minimum: 1, description: 'Log position of the batch.requested entry' }),
          streamSeq: entryNumber('Its position in the workcell stream'),
          hash: text('Its hash: the request this batch was started from, exactly'),
          at: epochMs('When it was asked for (workcell time)'),
          reason: text('Why, as the request says'),
          signature: Signature,
        },
        { description: 'The signed request (batch.requested: the web API, an MES) the batch was started from; absent for a batch workcell run started, and in logs from before it was recorded', additionalProperties: false },
      ),
    ),
    simulatedModules: Type.Optional(Type.Array(Type.String(), { description: 'Modules that reported simulation mode when the orchestrator started (SiLA SimulationController)' })),
  }),
  'step.started': entry('An attempt of a step began.', {
    step,
    attempt: entryNumber('The attempt, from 1'),
  }),
  'step.skipped': entry('A step did not run: its condition was not met, or an operator skipped it.', {
    step,
    reason: text('Why it did not run, or what it did before it was skipped'),
    ran: marker('The step ran (some of it) before it was skipped'),
    module: Type.Optional(nullable(text('The module it ran on'))),
    parameters: Type.Optional(Values('The parameters it ran with')),
    results: Type.Optional(nullable(ResultValues('The results of its last command; null: none'))),
    failedControls: Type.Optional(Type.Array(FailedControl, { description: 'The controls its results failed' })),
    approvedBy: Type.Optional(Type.Object({ user: text('User id'), printedName: text('Printed name') }, { description: 'Who signed the skip', additionalProperties: false })),
    approves: Type.Optional(nullable(text('What the signed skip approves, in words'))),
  }),
  'step.completed': entry('A step finished with its results.', {
    step,
    attempt: entryNumber('The attempt that completed'),
    module: text('The module it ran on'),
    parameters: Values('The parameters it ran with (normalised: quantities in the capability\'s units)'),
    parameterUnits: Units('The unit of each parameter'),
    results: ResultValues('Its results'),
    resultUnits: Units('The unit of each result'),
  }),
  'step.failed': entry('An attempt of a step failed; the failure policy decides what follows.', {
    step,
    attempt: nullable(entryNumber('The attempt that failed; null: not known')),
    message,
    beforeLoad: flag('The failure came before any material was loaded (the work may go to another module)'),
    answered: marker('The failure follows from an operator\'s answer to a hold (it does not count against the retries)'),
  }),
  'control.checked': entry('An in-process control: result, value, limits, pass or fail.', {
    step,
    parentStep: Type.Optional(text('The step the recurring work belongs to')),
    result: text('The result checked'),
    value: nullable(number('Its value, in `unit`; null: not reported as a finite number (the control fails)')),
    unit: text('The unit of value and limits'),
    min: nullable(number('Lower limit, in `unit`; null: none')),
    max: nullable(number('Upper limit, in `unit`; null: none')),
    pass: flag('Whether the value is within the limits'),
  }),
  'hold-time.started': entry('The hold time after a step began: its deadline.', {
    step: text('The step after which the hold time runs'),
    maxHoldSeconds: seconds('The longest the material may wait'),
    deadline: isoTime('The deadline'),
    deadlineMs: epochMs('The deadline'),
    reopened: marker('A hold time closed too early was opened again'),
    reason: Type.Optional(text('Why it was opened again')),
  }),
  'hold-time.ended': entry('The material entered the next module (or left the workcell) within or after the hold time. Every field is absent when no hold time ran.', {
    step: Type.Optional(text('The step after which the hold time ran')),
    deadlineMs: Type.Optional(epochMs('Its deadline')),
    maxHoldSeconds: Type.Optional(seconds('The longest the material could wait')),
    withinHoldTime: Type.Optional(flag('Whether it ended by the deadline')),
  }),
  telemetry: entry('A sensor value from the module the batch occupied at that moment.', {
    module: text('Module id'),
    channel: text('Sensor channel'),
    value: number('The value, in `unit`'),
    unit: text('Its unit'),
  }),
  alarm: entry('Something needs attention before it becomes a deviation.', {
    kind: oneOf(ALARM_KINDS, 'What kind of alarm'),
    message,
    ...about,
    batchId: Type.Optional(text('The batch it concerns (an alarm of the workcell stream)')),
  }),
  deviation: entry('A departure from the process: out-of-limit result, exceeded hold time, scan mismatch, EM excursion.', {
    kind: oneOf(DEVIATION_KINDS, 'What kind of deviation'),
    message,
    ...about,
    result: Type.Optional(text('The result out of its limits')),
    value: Type.Optional(nullable(number("That result's value; null: not reported as a finite number"))),
    arm: Type.Optional(text('The robot arm of a transfer')),
    from: Type.Optional(text('Where the transfer started')),
    to: Type.Optional(text('Where it went')),
  }),
  'batch.completed': entry('Every step done; the material is at the output.', {
    output: text('The output position'),
    bagId: text('Barcode of the bag'),
  }),
  'batch.quarantined': entry('The batch was aborted; its material is quarantined (stuck: it could not be moved out).', {
    step: text('The step (or `finish`) where it was aborted'),
    location: text('Where the material is'),
    bagId: text('Barcode of the bag'),
    stuck: flag('The material could not be moved out to the output: it is removed by hand'),
  }),
  'batch.interrupted': entry('The orchestrator stopped (on request) while the batch was unfinished.', {
    step: text('The step it was at'),
    phase: text('What it was doing'),
    message,
  }),
  'batch.resumed': entry('An orchestrator picked the unfinished batch up again: after a clean stop, or after a crash.', {
    runId: nullable(text('The run that resumed it')),
    afterCrash: flag('The orchestrator before stopped without closing'),
    position: Position,
    message,
  }),
};

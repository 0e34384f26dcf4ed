/** Entries of holds and the people who answer them: holds opened, asked for and answered, removals by hand, reviews, operators and their signatures. */
import { Type } from '@sinclair/typebox';
import { ContinuationOption, DeviceWork, entry, entryNumber, epochMs, ExecutionToken, FailedControl, flag, isoTime, nullable, oneOf, seconds, Signature, text } from './fields.ts';

export const HOLD_ACTIONS = ['retry', 'skip', 'abort', 'continue'] as const;
export const HOLD_KINDS = ['segregation', 'scan-mismatch', 'command-failed', 'watchdog', 'outcome-unknown', 'control', 'intake', 'operator', 'device-recovery'] as const;
export const ROLES = ['operator', 'qa', 'admin'] as const;
export const SIGNED_ACTIONS = ['retry', 'skip', 'abort', 'continue', 'hold', 'out-of-service', 'in-service', 'remove', 'approve', 'reject', 'accept-layout', 'enrol', 'disable', 'password', 'login', 'start'] as const;
export const REFUSALS = ['credentials', 'locked', 'disabled', 'authority', 'independence'] as const;

/** `continue`: go on with one of the device's own continuation options (a recoverable error). */
export const HoldActionSchema = oneOf(HOLD_ACTIONS, 'An answer to a hold');
const signer = { user: text('User id of the signer'), signature: Signature };

export const holdEntries = {
  'hold.opened': entry('The batch waits for an operator: why, and the actions offered.', {
    step: text('The step (or `finish`) it is held at'),
    kind: oneOf(HOLD_KINDS, 'Why it is held'),
    message: text('Why, in words'),
    actions: Type.Array(HoldActionSchema, { description: 'The answers offered' }),
    module: nullable(text('The module the batch was at; null: none')),
    request: Type.Optional(entryNumber('The hold.requested entry this hold answers')),
    paused: Type.Optional(Type.Object(DeviceWork.properties, { description: 'The command paused on its device for the hold', additionalProperties: false })),
    reattach: Type.Optional(Type.Object({ module: text('Module id'), key: text('Idempotency key') }, { description: 'The command that may still run (its connection was lost): retry re-attaches to it', additionalProperties: false })),
    recovery: Type.Optional(
      Type.Object(
        {
          module: text('Module id'),
          key: text('Idempotency key'),
          token: ExecutionToken,
          errorIdentifier: text("The device's identifier of the kind of error"),
          options: Type.Array(ContinuationOption),
          defaultOption: nullable(text('The option the device prefers')),
          automaticSelectionSeconds: nullable(seconds('After this long the device goes on with its default option; null: never')),
        },
        { description: 'The command waiting in a recoverable error for a continuation option', additionalProperties: false },
      ),
    ),
    failedControls: Type.Optional(Type.Array(Type.Object({ ...FailedControl.properties, pass: flag('Always false here') }, { additionalProperties: false }), { description: 'The controls that failed' })),
    deviceOptions: Type.Optional(Type.Array(ContinuationOption, { description: "The device's continuation options, for `continue`" })),
    holdTime: Type.Optional(Type.Object({ after: text('The step the hold time runs after'), deadlineMs: epochMs('Its deadline') }, { description: 'The hold time running while the batch is held', additionalProperties: false })),
  }),
  'hold.resolved': entry('An operator answered a hold: action, reason, and the electronic signature (printed name, time, meaning, content hash).', {
    step: text('The step it was held at'),
    hold: entryNumber('The hold.opened entry answered'),
    action: HoldActionSchema,
    reason: text('Why'),
    approves: Type.Optional(text('What a skip approves, in words (the failed controls and their values)')),
    option: Type.Optional(text("The device's continuation option chosen (with `continue`)")),
    ...signer,
  }),
  'batch.requested': entry('An operator asked for a batch to be started (the web API, an MES): its identity, lane and schedule, why, and the signature; the running orchestrator starts it, or the next one (workcell stream).', {
    batchId: text('Batch id: the stream of its record once started'),
    patient: text('Patient id'),
    chainOfIdentity: text("ISBT 128 chain-of-identity identifier (or the site's equivalent)"),
    bagId: text('Barcode of the bag of starting material'),
    lane: text('The lane it is to run in'),
    schedule: Type.Object({ file: text('The schedule file'), text: text('Its text as requested: the batch follows this, whatever the file becomes') }, { description: 'The schedule the batch follows', additionalProperties: false }),
    reason: text('Why'),
    ...signer,
  }),
  'hold.requested': entry('An operator asked for the batch to be held at its next safe point: why, and the signature.', {
    reason: text('Why'),
    ...signer,
  }),
  'material.removed': entry("An operator took a quarantined batch's stuck material out by hand: from where, why, and the signature.", {
    from: text('Where it was stuck'),
    bagId: text('Barcode of the bag'),
    reason: text('Why, how'),
    ...signer,
  }),
  'record.reviewed': entry("QA's signed disposition of the finished record (approved or rejected), over the chain head reviewed.", {
    decision: oneOf(['approved', 'rejected'], 'The disposition'),
    reason: text('Why'),
    reviewedHead: text('Hash of the last entry of the record reviewed'),
    ...signer,
  }),
  'operator.enrolled': entry('A person who may sign: user id, printed name, roles, salted password hash, the admin who signed (operators stream).', {
    user: text('User id'),
    printedName: text('The printed name their signatures show'),
    roles: Type.Array(oneOf(ROLES, 'A role'), { description: 'What they may sign' }),
    enrolledBy: nullable(text('The admin who signed; null: the first admin, who signed for themselves')),
    enrolledAt: isoTime('Wall-clock time of enrolment'),
    signature: nullable(Signature),
    passwordHash: text('scrypt$salt$hash, base64'),
  }),
  'operator.disabled': entry("An admin withdrew an operator's authority to sign: who, why (operators stream).", {
    user: text('User id withdrawn'),
    reason: text('Why'),
    by: text('The admin'),
    disabledAt: isoTime('When'),
    signature: Signature,
  }),
  'operator.password-changed': entry('An operator changed their own password, signing with the old one (operators stream).', {
    ...signer,
    passwordHash: text('The new scrypt$salt$hash, base64'),
  }),
  'signature.refused': entry('A signature was not given: unknown user or wrong password, or no authority for the action (operators stream).', {
    user: text('The user id given'),
    action: oneOf(SIGNED_ACTIONS, 'What they tried to sign'),
    kind: oneOf(REFUSALS, 'Why it was refused'),
    reason: text('Why, in words'),
    signedAt: isoTime('Wall-clock time of the attempt'),
  }),
};

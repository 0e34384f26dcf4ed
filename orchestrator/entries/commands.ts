/** Entries of device commands: issued, accepted, finished or failed, and what operators' holds did to them on the device. */
import { Type } from '@sinclair/typebox';
import { ContinuationOption, entry, entryNumber, ExecutionToken, flag, marker, nullable, oneOf, ResultValues, seconds, text, Units, Values } from './fields.ts';

const key = text('Idempotency key of the command: unique per intended command, never sent twice');
const module = text('Module id');
const token = ExecutionToken;
const answer = entryNumber('The hold.resolved entry (its position in the stream) that decided it');

export const commandEntries = {
  'command.issued': entry('A device command about to be sent, with its idempotency key.', {
    key,
    module,
    capability: text('The capability invoked'),
    parameters: Values('Its parameters'),
    step: text('The step (or recurring work, or `transfer`) the command is for'),
    parentStep: Type.Optional(text('The step recurring work belongs to')),
    itemId: nullable(text('The item the device must hold; null: the command names its item in a parameter')),
  }),
  'command.accepted': entry('The device accepted it: its execution token (SiLA execution UUID, LADS run id).', {
    key,
    module,
    token,
    repeated: flag('The command was sent again after its confirmation was lost (the device ran the key once)'),
  }),
  'command.completed': entry('The device finished the command: its results.', {
    key,
    module,
    results: ResultValues('Its results'),
    resultUnits: Units('The unit of each result'),
  }),
  'command.failed': entry('The device failed or refused the command.', {
    key,
    module,
    message: text("The device's message"),
    code: nullable(text("The device's error code; null: none")),
    errorKind: nullable(oneOf(['defined', 'invalid', 'connection', 'device'], 'What failed: an error the device defines, refused parameters, the connection, anything else the device reported; null: not known')),
  }),
  'command.cancelled': entry('A running command was cancelled on the device (SiLA CancelController, LADS Abort): the batch was aborted or its step skipped.', {
    key,
    module,
    token,
    reason: text('Why it was cancelled'),
    answer: Type.Optional(answer),
    cancelled: Type.Optional(flag('Whether the device confirmed the cancellation')),
  }),
  'command.paused': entry("A running command was paused on the device (SiLA PauseController) for an operator's hold.", {
    key,
    module,
    token,
    reason: text('The hold it was paused for'),
  }),
  'command.resumed': entry('A paused command was resumed after the hold was answered.', {
    key,
    module,
    token,
    answer,
    resumed: flag('Whether the device confirmed it'),
  }),
  'command.recoverable-error': entry('The device raised a recoverable error in a running command and waits for a continuation option (SiLA ErrorRecoveryService).', {
    key,
    module,
    token,
    errorIdentifier: text("The device's identifier of the kind of error"),
    options: Type.Array(ContinuationOption, { description: "The device's continuation options" }),
    defaultOption: nullable(text('The option the device prefers; null: none')),
    automaticSelectionSeconds: nullable(seconds('After this long without an answer the device goes on with its default option; null: never')),
    message: text("The device's message"),
  }),
  'command.continued': entry("The continuation option an operator chose was sent to the device (ExecuteContinuationOption), or the device's error handling was given up.", {
    key,
    module,
    token,
    answer,
    option: nullable(text('The option sent; null: the error handling was given up')),
    abandoned: marker("The device's error handling was given up"),
    by: text('User id of the operator who answered'),
  }),
};

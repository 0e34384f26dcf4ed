/** Entries of the workcell's runs: how each was started, and layout changes QA accepted. */
import { Type } from '@sinclair/typebox';
import { entry, epochMs, flag, number, oneOf, Signature, text } from './fields.ts';

export const RunSettingsSchema = {
  layoutFile: text('The layout file'),
  timeScale: number('Workcell seconds per wall-clock second'),
  seed: number('Seed of the simulation'),
  sim: flag('Simulated in process (--sim)'),
  virtual: Type.Optional(flag('In virtual time (--sim --virtual): the digital twin, no wall-clock anchor; the time scale does not apply')),
  durability: Type.Optional(text('How the database commits when not every commit is fsynced (a virtual run), and why')),
  clock: Type.Object(
    { wallAnchor: epochMs('A wall-clock instant'), simAtAnchor: epochMs('The workcell time at that instant') },
    { description: 'The clock every process reads the same', additionalProperties: false },
  ),
};

export const workcellEntries = {
  'run.started': entry('The orchestrator started or resumed: layout, time scale, seed, clock anchor (workcell stream).', {
    ...RunSettingsSchema,
    command: oneOf(['run', 'resume'], 'The command that started it'),
    layoutHash: text('SHA-256 of the layout file'),
    pid: number('Process id of the orchestrator'),
  }),
  'layout.changed': entry('QA accepted resuming on a layout file changed since the batches ran on it: both hashes, why, signature (workcell stream).', {
    layoutFile: text('The layout file'),
    from: text('SHA-256 the batches ran on'),
    to: text('SHA-256 of the file now'),
    reason: text('Why'),
    user: text('User id of the signer'),
    signature: Signature,
  }),
};

/** Entries of modules and the material gate: allocation, locks, line clearance, transfers, states and their reconciliation, service. */
import { Type } from '@sinclair/typebox';
import { entry, epochMs, nullable, seconds, Signature, text } from './fields.ts';

const module = text('Module id');
const procedure = nullable(text('The line-clearance procedure (SOP); null: none named'));

export const moduleEntries = {
  'material.received': entry('The starting material was found at the intake and scanned.', {
    bagId: text('Barcode of the bag expected'),
    position: text('The intake position'),
    scanned: text('What the scan read'),
  }),
  'module.reserved': entry('A module was allocated to the batch.', { module, lane: text('The lane of the batch') }),
  'module.released': entry('The batch left a module.', { module }),
  'module.state': entry('The state of a module the batch occupied changed.', {
    module,
    state: text('The new state'),
    previous: nullable(text('The state before; null: not known')),
  }),
  'module.locked': entry("The device's lock was taken for the batch (SiLA LockController) before its material entered: the lock identifier, logged before it was used.", {
    module,
    lockId: text('The lock identifier'),
    timeoutSeconds: seconds('The lock expires after this long without renewal'),
  }),
  'module.unlocked': entry('The lock was released (the material left), or the device offers none.', { module, reason: text('Why') }),
  'module.reconciled': entry("What the orchestrator believed of a module differed from what the device said when asked: believed, actual, and what was done (state corrected, result fetched by its token, escalated).", {
    module,
    believed: nullable(text('What the orchestrator believed; null: nothing yet')),
    actual: text('What the device said'),
    action: text('What was done'),
    message: text('The whole story, in words'),
  }),
  'module.watchdog': entry("A module stayed in a state longer than anything of ours explains (running with no command of ours, say) (workcell stream).", {
    module,
    state: text('The state it stays in'),
    sinceMs: epochMs('Since when'),
    message: text('What to do, in words'),
  }),
  'module.out-of-service': entry('An operator took a module out of allocation: why, and the signature (workcell stream).', {
    module,
    reason: text('Why'),
    user: text('User id of the signer'),
    signature: Signature,
  }),
  'module.in-service': entry('An operator returned a module to allocation: why, and the signature (workcell stream).', {
    module,
    reason: text('Why'),
    user: text('User id of the signer'),
    signature: Signature,
  }),
  'module.refresh-requested': entry("Someone asked the running orchestrator to re-read a module's state from the device (workcell stream).", {
    module,
    requestedBy: text('Who asked'),
  }),
  'line-clearance.started': entry('A shared module began its line clearance after a batch left it (workcell stream).', {
    module,
    after: text('The batch that left it'),
    procedure,
    until: epochMs('When the clearance is expected to end'),
  }),
  'line-clearance.completed': entry('The line clearance finished (workcell stream).', { module, after: text('The batch that left it'), procedure }),
  'line-clearance.verified': entry("The module was cleared after the previous batch before this batch's material entered.", {
    module,
    procedure,
    previousBatch: text('The batch before'),
  }),
  'transfer.completed': entry('A robot moved the material; the barcode scans at pick and place.', {
    arm: text('The robot arm'),
    from: text('Where it picked'),
    to: text('Where it placed'),
    itemId: text('Barcode of the item moved'),
    scannedAtPick: text('What the scan read at pick'),
    scannedAtPlace: text('What the scan read at place'),
  }),
};

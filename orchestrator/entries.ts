/**
 * The typed entries of the event log: every batch's record is one ordered stream of these, like a
 * Bluesky run's documents. Readers (record, status, resume) switch on `type`; writers use `BatchJournal`.
 */
import type { EventLog, LogEntry } from './event-log.ts';

export const ENTRY_TYPES = {
  'batch.started': 'A batch began: patient, chain of identity, starting material, lane, schedule (id, version, hash, text).',
  'material.received': 'The starting material was found at the intake and scanned.',
  'step.started': 'An attempt of a step began.',
  'step.skipped': 'A step did not run: its condition was not met, or an operator skipped it.',
  'step.completed': 'A step finished with its results.',
  'step.failed': 'An attempt of a step failed; the failure policy decides what follows.',
  'module.reserved': 'A module was allocated to the batch.',
  'module.released': 'The batch left a module.',
  'line-clearance.started': 'A shared module began its line clearance after a batch left it (workcell stream).',
  'line-clearance.completed': 'The line clearance finished (workcell stream).',
  'line-clearance.verified': "The module was cleared after the previous batch before this batch's material entered.",
  'transfer.completed': 'A robot moved the material; the barcode scans at pick and place.',
  'command.issued': 'A device command about to be sent, with its idempotency key.',
  'command.accepted': 'The device accepted it: its execution token (SiLA execution UUID, LADS run id).',
  'command.completed': 'The device finished the command: its results.',
  'command.failed': 'The device failed or refused the command.',
  'control.checked': 'An in-process control: result, value, limits, pass or fail.',
  'hold-time.started': 'The hold time after a step began: its deadline.',
  'hold-time.ended': 'The material entered the next module (or left the workcell) within or after the hold time.',
  telemetry: 'A sensor value from the module the batch occupied at that moment.',
  'module.state': 'The state of a module the batch occupied changed.',
  alarm: 'Something needs attention before it becomes a deviation.',
  deviation: 'A departure from the process: out-of-limit result, exceeded hold time, scan mismatch, EM excursion.',
  'hold.opened': 'The batch waits for an operator: why, and the actions offered.',
  'hold.resolved': 'An operator answered a hold: action, reason, and the electronic signature (printed name, time, meaning, content hash).',
  'em.result': 'A settle plate read while the batch was open in its zone.',
  'batch.completed': 'Every step done; the material is at the output.',
  'batch.quarantined': 'The batch was aborted; its material is quarantined (stuck: it could not be moved out).',
  'material.removed': "An operator took a quarantined batch's stuck material out by hand: from where, why, and the signature.",
  'operator.enrolled': 'A person who may sign: user id, printed name, roles, salted password hash, the admin who signed (operators stream).',
  'operator.disabled': "An admin withdrew an operator's authority to sign: who, why (operators stream).",
  'operator.password-changed': 'An operator changed their own password, signing with the old one (operators stream).',
  'signature.refused': 'A signature was not given: unknown user or wrong password, or no authority for the action (operators stream).',
  'record.reviewed': "QA's signed disposition of the finished record (approved or rejected), over the chain head reviewed.",
  'layout.changed': 'QA accepted resuming on a layout file changed since the batches ran on it: both hashes, why, signature (workcell stream).',
  'run.started': 'The orchestrator started or resumed: layout, time scale, seed, clock anchor (workcell stream).',
  'em.plate.placed': 'A settle plate was opened at a location (workcell stream).',
  'em.plate.batch': 'A batch was open in the zone while this plate was exposed (workcell stream).',
  'em.plate.retrieved': 'A settle plate was closed and collected (workcell stream).',
  'em.plate.read': 'A settle plate was incubated and its colonies counted (workcell stream).',
  'module.reconciled': "What the orchestrator believed of a module differed from what the device said when asked: believed, actual, and what was done (state corrected, result fetched by its token, escalated).",
  'module.watchdog': 'A module stayed in a state longer than anything of ours explains (running with no command of ours, say) (workcell stream).',
  'module.out-of-service': 'An operator took a module out of allocation: why, and the signature (workcell stream).',
  'module.in-service': 'An operator returned a module to allocation: why, and the signature (workcell stream).',
  'module.refresh-requested': "Someone asked the running orchestrator to re-read a module's state from the device (workcell stream).",
  'module.locked': "The device's lock was taken for the batch (SiLA LockController) before its material entered: the lock identifier, logged before it was used.",
  'module.unlocked': 'The lock was released (the material left), or the device offers none.',
  'command.cancelled': 'A running command was cancelled on the device (SiLA CancelController, LADS Abort): the batch was aborted or its step skipped.',
  'command.paused': "A running command was paused on the device (SiLA PauseController) for an operator's hold.",
  'command.resumed': 'A paused command was resumed after the hold was answered.',
  'command.recoverable-error': 'The device raised a recoverable error in a running command and waits for a continuation option (SiLA ErrorRecoveryService).',
  'command.continued': "The continuation option an operator chose was sent to the device (ExecuteContinuationOption), or the device's error handling was given up.",
  'hold.requested': 'An operator asked for the batch to be held at its next safe point: why, and the signature.',
  'batch.interrupted': 'The orchestrator stopped (on request) while the batch was unfinished.',
  'batch.resumed': 'An orchestrator picked the unfinished batch up again: after a clean stop, or after a crash.',
} as const;

export type EntryType = keyof typeof ENTRY_TYPES;

/** `continue`: go on with one of the device's own continuation options (a recoverable error). */
export type HoldAction = 'retry' | 'skip' | 'abort' | 'continue';

export interface BatchStarted {
  batchId: string;
  patient: string;
  chainOfIdentity: string;
  bagId: string;
  lane: string;
  /** `contentHash`: SHA-256 of the layout file the batch started on (absent in logs from before it was recorded). */
  layout: { id: string; file: string; contentHash?: string };
  schedule: { id: string; version: string; contentHash: string; file: string; text: string };
  seed?: number;
  /** Modules of the workcell that reported simulation mode when the orchestrator started (SiLA SimulationController). */
  simulatedModules?: string[];
}

/** Writes entries of one batch only: whoever holds it cannot write into another batch's record. */
export class BatchJournal {
  constructor(readonly batchId: string, private readonly log: EventLog, private readonly now: () => number) {}

  write(type: EntryType, data: Record<string, unknown>): LogEntry {
    return this.log.append({ stream: this.batchId, type, at: this.now(), data });
  }

  /** The batch's entries except telemetry samples (which outnumber the rest by far). */
  entries(): LogEntry[] {
    return this.log.stream(this.batchId, { withoutTelemetry: true });
  }
}

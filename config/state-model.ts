/**
 * The normalized module state model. Every driver maps its native states onto these (SiLA 2 command
 * status, OPC UA LADS FunctionalUnitState, PackML), so the orchestrator reasons about one model.
 */

export const MODULE_STATES = [
  'offline', // not reachable
  'idle', // reachable, ready for work
  'starting',
  'running',
  'held', // paused on purpose (operator or device), resumable
  'stopping',
  'stopped', // at rest but must be reset before it accepts work (PackML Stopped/Complete)
  'aborting',
  'aborted', // stopped abnormally; needs clearing before new work
  'clearing',
  'faulted', // device reports a failure; needs attention
  'maintenance', // taken out of service (cleaning, calibration, line clearance)
] as const;

export type ModuleState = (typeof MODULE_STATES)[number];

/** Transitions a well-behaved module may make; anything else is recorded as a protocol anomaly. */
export const MODULE_TRANSITIONS: Readonly<Record<ModuleState, readonly ModuleState[]>> = {
  offline: ['idle', 'faulted', 'maintenance'],
  idle: ['starting', 'running', 'maintenance', 'offline', 'faulted', 'aborting'],
  starting: ['running', 'aborting', 'faulted', 'offline', 'idle'],
  running: ['held', 'stopping', 'stopped', 'aborting', 'idle', 'faulted', 'offline'],
  held: ['running', 'stopping', 'aborting', 'faulted', 'offline'],
  stopping: ['idle', 'stopped', 'aborting', 'faulted', 'offline'],
  stopped: ['clearing', 'idle', 'aborting', 'faulted', 'offline'],
  aborting: ['aborted', 'faulted', 'offline'],
  aborted: ['clearing', 'offline', 'faulted'],
  clearing: ['idle', 'faulted', 'offline'],
  faulted: ['clearing', 'idle', 'offline', 'maintenance'],
  maintenance: ['idle', 'offline'],
};

export function canTransition(from: ModuleState, to: ModuleState): boolean {
  return from === to || MODULE_TRANSITIONS[from].includes(to);
}

/** States in which the module can accept new work. */
export function acceptsWork(state: ModuleState): boolean {
  return state === 'idle';
}

/** SiLA 2 ExecutionInfo.CommandStatus (by name) for the command the module is executing. */
export const SILA_COMMAND_STATUS_TO_STATE: Readonly<Record<string, ModuleState>> = {
  waiting: 'starting',
  running: 'running',
  finishedSuccessfully: 'idle',
  finishedWithError: 'faulted',
};

/** OPC UA LADS FunctionalUnitState (OPC 30500), mapped by state name, never by number. */
export const LADS_STATE_TO_STATE: Readonly<Record<string, ModuleState>> = {
  Stopped: 'idle',
  Running: 'running',
  Stopping: 'stopping',
  Aborting: 'aborting',
  Aborted: 'aborted',
  Clearing: 'clearing',
};

/** PackML (ISA-TR88 / OPC 30050) states, mapped by name. */
export const PACKML_STATE_TO_STATE: Readonly<Record<string, ModuleState>> = {
  Idle: 'idle',
  Starting: 'starting',
  Execute: 'running',
  Completing: 'running',
  Complete: 'stopped',
  Resetting: 'clearing', // Reset leads from Complete/Stopped back to Idle
  Holding: 'held',
  Held: 'held',
  Unholding: 'running',
  Suspending: 'held',
  Suspended: 'held',
  Unsuspending: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
  Aborting: 'aborting',
  Aborted: 'aborted',
  Clearing: 'clearing',
};

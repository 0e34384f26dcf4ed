/**
 * What a fault injected into a simulated module may be, as a faults file (faults.schema.json) or a test
 * gives it. Apart from faults.ts so that the check against a layout (faults-check.ts) needs no plan.
 */
interface Trigger {
  /** Fire on this matching execution (1 = the first); without it and without probability, on every one. */
  on?: number;
  /** Fire with this probability per matching execution. */
  probability?: number;
  /** Only for this capability (catalogue name); any when omitted. */
  capability?: string;
}

export type DeviceError = 'HardwareFault' | 'ModuleOccupied' | 'WrongItem';

/** How a command may go on after a recoverable error (the operator or orchestrator chooses). */
export const RECOVERY_OPTIONS = ['retry', 'skip', 'abort'] as const;
export type RecoveryOption = (typeof RECOVERY_OPTIONS)[number];

export type FaultSpec =
  | ({ kind: 'error'; error: DeviceError; message?: string } & Trigger)
  /**
   * Mid-command, the device stops with an error it can recover from and waits for a continuation option
   * (defaults: options retry, skip, abort; default option retry; at half way; a retry succeeds).
   */
  | ({ kind: 'recoverable'; error?: DeviceError; message?: string; options?: RecoveryOption[]; defaultOption?: RecoveryOption; atFraction?: number; recurrences?: number; automaticSelectionSeconds?: number } & Trigger)
  | ({ kind: 'hang' } & Trigger)
  | ({ kind: 'wrong-scan' } & Trigger)
  | ({ kind: 'colonies'; count: number } & Trigger)
  /** The network to the device drops mid-command for `downSeconds` (wall clock); the device keeps working. */
  | ({ kind: 'disconnect'; downSeconds: number } & Trigger)
  | { kind: 'sensor-drift'; channel: string; perHour: number };

/**
 * What a schedule or layout may leave out, and the value it then has: filled in once, when the file is
 * loaded (config/schedule.ts, config/layout.ts), so the orchestrator never meets an absent setting. The
 * JSON schemas carry the same values as `default` (test/config/defaults.test.ts keeps them equal).
 */

/** A step without `onFailure`: no retry, the batch holds for an operator. */
export const FAILURE_POLICY_DEFAULTS = {
  retries: 0,
  /** Wait before the first retry, doubled for each one after it ('30 s'). */
  backoffMs: 30_000,
  alternateModule: false,
  then: 'hold',
} as const;

/** A control without `onFail`: an out-of-limit result is a deviation, and the batch goes on. */
export const CONTROL_ON_FAIL_DEFAULT = 'deviation' as const;

/**
 * How a step of a record ended, in the words a reviewer reads: shared by the terminal record, the printed
 * page and the web HMI (which bundles it for the browser, so it imports nothing but the record's types).
 */
import type { StepRecord } from './record-build.ts';

/** How a step ended, in the words a reviewer reads (the caller escapes it for its medium). */
export function describeOutcome(step: StepRecord): string {
  const approval = step.continued?.approvedBy ? `skip approved by ${step.continued.approvedBy.printedName} (${step.continued.approvedBy.user})` : 'skip approval not recorded';
  const attempts = step.attempts > 1 ? ` (${step.attempts} attempts)` : '';
  switch (step.outcome) {
    case 'failed-controls-skipped':
      return `ran, failed controls, continued without meeting them (${approval})${attempts}`;
    case 'incomplete-skipped':
      return `started, did not complete (${step.continued?.why ?? 'no reason recorded'}), continued without it (${approval})${attempts}`;
    case 'skipped':
      return step.skippedBecause ? `skipped: ${step.skippedBecause}` : 'skipped';
    default:
      return `${step.outcome}${attempts}`;
  }
}

/** The people of the test workcell who sign hold answers and removals. */
import type { EventLog } from '../../orchestrator/event-log.ts';
import { enrolOperator, type Credentials } from '../../orchestrator/signatures.ts';

export const ADMIN: Credentials = { user: 'it.admin', password: 'admin-password-1' };
/** May retry a step and record a removal by hand. */
export const OPERATOR: Credentials = { user: 'a.jansen', password: 'operator-password-1' };
/** May also skip a step and abort a batch. */
export const QA: Credentials = { user: 'qa.lee', password: 'qa-password-12345' };

export function enrolTestOperators(log: EventLog): void {
  enrolOperator(log, { ...ADMIN, printedName: 'Sam Admin', roles: ['admin'] }, undefined, 0);
  enrolOperator(log, { ...OPERATOR, printedName: 'Anna Jansen', roles: ['operator'] }, ADMIN, 0);
  enrolOperator(log, { ...QA, printedName: 'Li Lee', roles: ['qa'] }, ADMIN, 0);
}

/** A second QA, who took no part in the batches: the one who may review a record QA signed for while it ran. */
export const REVIEWER: Credentials = { user: 'qa.ode', password: 'reviewer-password-1' };

export function enrolReviewer(log: EventLog): void {
  enrolOperator(log, { ...REVIEWER, printedName: 'Bo Ode', roles: ['qa'] }, ADMIN, 0);
}

/** The environment a `workcell resolve` or `workcell remove` child process signs with. */
export function signingAs(credentials: Credentials): Record<string, string> {
  return { WORKCELL_PASSWORD: credentials.password };
}

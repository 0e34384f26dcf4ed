import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { contentHash, recordRemoval, resolveHold } from '../../orchestrator/orchestrator.ts';
import { awaitingReview, buildRecord, formatRecord, reviewRecord } from '../../orchestrator/record.ts';
import { changePassword, contentHashOf, disableOperator, enrolOperator, listOperators, LOCKOUT, MIN_PASSWORD_LENGTH, OPERATORS_STREAM, refusedSignatures, SignatureRefused, type Credentials } from '../../orchestrator/signatures.ts';
import { checkLayoutForResume } from '../../orchestrator/run-settings.ts';
import { runCli } from '../support/cli.ts';
import { ADMIN, enrolTestOperators, OPERATOR, QA, signingAs } from '../support/operators.ts';
import { sample } from '../support/entries.ts';

function freshLog(): EventLog {
  return new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-sign-')), 'records.db'));
}

/** A batch waiting at a hold that offers every action. */
function heldBatch(log: EventLog, batchId = 'P-001'): void {
  log.append({ stream: batchId, type: 'batch.started', at: 1000, data: sample('batch.started', { batchId }) });
  log.append({ stream: batchId, type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'electroporate', kind: 'command-failed', message: 'HardwareFault', actions: ['retry', 'skip', 'abort'] }) });
}

/** A layout file next to the log, with the run that started on it recorded, then changed to `version`. */
function layoutFile(log: EventLog, version: string): string {
  const file = join(log.file, '..', 'layout.yaml');
  writeFileSync(file, 'layout: v1\n');
  log.append({ stream: WORKCELL_STREAM, type: 'run.started', at: 500, data: sample('run.started', { layoutFile: file, layoutHash: contentHash('layout: v1\n') }) });
  writeFileSync(file, `layout: ${version}\n`);
  return file;
}

describe('electronic signatures', () => {
  it('enrols the first admin alone, then only with an admin signature', () => {
    const log = freshLog();
    expect(() => enrolOperator(log, { ...OPERATOR, printedName: 'Anna Jansen', roles: ['operator'] }, undefined, 0)).toThrow('the first operator enrolled must be an admin');
    enrolOperator(log, { ...ADMIN, printedName: 'Sam Admin', roles: ['admin'] }, undefined, 0);
    expect(() => enrolOperator(log, { ...OPERATOR, printedName: 'Anna Jansen', roles: ['operator'] }, undefined, 0)).toThrow('an admin signs each new enrolment');
    expect(() => enrolOperator(log, { ...OPERATOR, printedName: 'Anna Jansen', roles: ['operator'], password: 'short' }, ADMIN, 0)).toThrow('at least 10 characters');
    enrolOperator(log, { ...OPERATOR, printedName: 'Anna Jansen', roles: ['operator'] }, ADMIN, 0);
    // An operator has no authority to enrol: refused, recorded, nothing enrolled.
    expect(() => enrolOperator(log, { ...QA, printedName: 'Li Lee', roles: ['qa'] }, OPERATOR, 0)).toThrow('may not sign approval of an operator enrolment');
    expect(listOperators(log).map((o) => [o.user, o.printedName, o.roles, o.enrolledBy])).toEqual([
      ['it.admin', 'Sam Admin', ['admin'], null],
      ['a.jansen', 'Anna Jansen', ['operator'], 'it.admin'],
    ]);
    expect(refusedSignatures(log).map((e) => [e.data.user, e.data.action])).toEqual([['a.jansen', 'enrol']]);
    expect(() => enrolOperator(log, { ...OPERATOR, printedName: 'Anna J.', roles: ['operator'] }, ADMIN, 0)).toThrow('user a.jansen is already enrolled');
    log.close();
  });

  it('keeps only a salted hash of each password', () => {
    const log = freshLog();
    enrolTestOperators(log);
    const enrolled = log.stream(OPERATORS_STREAM).flatMap((e) => (e.type === 'operator.enrolled' || e.type === 'operator.password-changed' ? [e.data.passwordHash] : []));
    expect(enrolled.every((hash) => hash.startsWith('scrypt$'))).toBe(true);
    expect(new Set(enrolled).size).toBe(3);
    log.close();
    const bytes = readFileSync(log.file).toString('latin1'); // closing checkpointed the WAL into the file
    for (const c of [ADMIN, OPERATOR, QA]) expect(bytes).not.toContain(c.password);
  });

  it("signs an answer with the signer's printed name, meaning and the hash of what was signed, linked to the hold", () => {
    const log = freshLog();
    enrolTestOperators(log);
    heldBatch(log);
    const hold = log.stream('P-001').at(-1)!;
    const entry = resolveHold(log, 'P-001', { action: 'retry', reason: 'connector reseated' }, OPERATOR, 3000);
    expect(entry.data.signature).toMatchObject({ user: 'a.jansen', printedName: 'Anna Jansen', meaning: 'approval to retry the step' });
    const signature = entry.data.signature as { contentHash: string; signedAt: string };
    expect(signature.signedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(signature.contentHash).toBe(contentHashOf({ batchId: 'P-001', step: 'electroporate', holdEntry: hold.hash, action: 'retry', reason: 'connector reseated' }));
    expect(log.verify().breaks).toEqual([]);
    log.close();
  });

  it('refuses a wrong password or a role without authority, records the refusal, and leaves the hold open', () => {
    const log = freshLog();
    enrolTestOperators(log);
    heldBatch(log);
    const before = log.stream('P-001').length;
    expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'x' }, { user: 'a.jansen', password: 'not-her-password' }, 3000)).toThrow(SignatureRefused);
    expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'x' }, { user: 'nobody', password: 'whatever-it-is' }, 3000)).toThrow("unknown user 'nobody' or wrong password");
    expect(() => resolveHold(log, 'P-001', { action: 'abort', reason: 'x' }, OPERATOR, 3000)).toThrow('may not sign approval to abort the batch to quarantine; that needs the role qa');
    expect(() => resolveHold(log, 'P-001', { action: 'skip', reason: 'x' }, OPERATOR, 3000)).toThrow('that needs the role qa');
    expect(log.stream('P-001')).toHaveLength(before);
    expect(refusedSignatures(log).map((e) => [e.data.user, e.data.action])).toEqual([
      ['a.jansen', 'retry'],
      ['nobody', 'retry'],
      ['a.jansen', 'abort'],
      ['a.jansen', 'skip'],
    ]);
    const entry = resolveHold(log, 'P-001', { action: 'abort', reason: 'fault confirmed' }, QA, 3000);
    expect(entry.data).toMatchObject({ action: 'abort', user: 'qa.lee', signature: { printedName: 'Li Lee', meaning: 'approval to abort the batch to quarantine' } });
    log.close();
  });

  it('locks a user id after 5 wrong passwords within 15 min, even for the right password; others sign on', () => {
    const log = freshLog();
    enrolTestOperators(log);
    heldBatch(log);
    const wrong = { user: 'a.jansen', password: 'guess-number-x' };
    for (let i = 0; i < LOCKOUT.attempts; i++) expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'x' }, wrong, 3000)).toThrow('wrong password');
    expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'x' }, OPERATOR, 3000)).toThrow(/a\.jansen is locked after 5 wrong passwords within 15 min, until \d{4}-/);
    expect(refusedSignatures(log).map((e) => e.data.kind)).toEqual([...Array(LOCKOUT.attempts).fill('credentials'), 'locked']);
    expect(log.stream(WORKCELL_STREAM).filter((e) => e.type === 'alarm').map((e) => e.data)).toEqual([{ kind: 'security', message: 'user id a.jansen locked for 15 min after 5 wrong passwords' }]);
    expect(resolveHold(log, 'P-001', { action: 'retry', reason: 'reseated' }, QA, 3000).data.user).toBe('qa.lee');
    log.close();
  });

  it('signs no more for a disabled operator, keeps the last admin, and changes a password only with the current one', () => {
    const log = freshLog();
    enrolTestOperators(log);
    heldBatch(log);
    expect(() => disableOperator(log, 'it.admin', 'leaving', ADMIN, 0)).toThrow('it.admin is the last admin');
    expect(() => disableOperator(log, 'qa.lee', 'left the site', QA, 0)).toThrow("may not sign approval to withdraw an operator's authority to sign");
    disableOperator(log, 'qa.lee', 'left the site', ADMIN, 0);
    expect(listOperators(log).find((o) => o.user === 'qa.lee')?.disabled).toMatchObject({ by: 'it.admin', reason: 'left the site' });
    expect(() => resolveHold(log, 'P-001', { action: 'abort', reason: 'x' }, QA, 3000)).toThrow('qa.lee may no longer sign (disabled by it.admin');

    expect(() => changePassword(log, { user: 'a.jansen', password: 'wrong-password-0' }, 'new-password-123', 0)).toThrow('wrong password');
    expect(() => changePassword(log, OPERATOR, 'short', 0)).toThrow('at least 10 characters');
    changePassword(log, OPERATOR, 'new-password-123', 0);
    expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'x' }, OPERATOR, 3000)).toThrow('wrong password');
    expect(resolveHold(log, 'P-001', { action: 'retry', reason: 'reseated' }, { user: 'a.jansen', password: 'new-password-123' }, 3000).data.user).toBe('a.jansen');
    expect(log.verify().breaks).toEqual([]);
    log.close();
  });

  it("reviews a finished batch's record once, signed by QA over its chain head, after every settle plate of the batch is read", () => {
    const log = freshLog();
    enrolTestOperators(log);
    const schedule = { id: 's', version: '1', contentHash: 'ab'.repeat(32), file: 's.yaml', text: '' };
    log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'l', file: 'l.yaml' }, schedule }) });
    log.append({ stream: WORKCELL_STREAM, type: 'em.plate.batch', at: 1500, data: sample('em.plate.batch', { plateId: 'SP-1', batchId: 'P-001', zone: 'line' }) });
    const review = (decision: 'approved' | 'rejected', signer = QA) => reviewRecord(log, 'P-001', { decision, reason: 'record reviewed by exception' }, signer, 9000);
    expect(() => review('approved')).toThrow('batch P-001 is in progress: only a finished batch');
    const completed = log.append({ stream: 'P-001', type: 'batch.completed', at: 2000, data: sample('batch.completed') });
    expect(() => review('approved')).toThrow('the record of P-001 is not complete: waiting for settle plate(s) SP-1 exposed while it was open to be read');
    expect(awaitingReview(log)).toEqual([{ batchId: 'P-001', status: 'completed', waitingFor: ['settle plate(s) SP-1 exposed while it was open to be read'] }]);
    log.append({ stream: WORKCELL_STREAM, type: 'em.plate.read', at: 8000, data: sample('em.plate.read', { plateId: 'SP-1', colonies: 0 }) });
    expect(() => review('approved', OPERATOR)).toThrow('that needs the role qa');
    expect(awaitingReview(log)).toEqual([{ batchId: 'P-001', status: 'completed', waitingFor: [] }]);
    const entry = review('approved');
    expect(awaitingReview(log)).toEqual([]);
    expect(entry.data).toMatchObject({ decision: 'approved', reviewedHead: completed.hash, signature: { printedName: 'Li Lee', meaning: 'approval of the batch record after review' } });
    expect(() => review('rejected')).toThrow('the record of P-001 was reviewed already: approved by qa.lee');
    const record = buildRecord(log, 'P-001');
    expect(record.review).toMatchObject({ decision: 'approved', reviewedHead: completed.hash });
    expect(formatRecord(record)).toContain('Review: APPROVED (record reviewed by exception)');
    log.close();
  });

  it('refuses a QA review by anyone who signed for the batch before: a hold answer, a skip, a removal, a layout change', () => {
    const log = freshLog();
    enrolTestOperators(log);
    const QA2 = { user: 'qa.two', password: 'second-qa-password' };
    const QA3 = { user: 'qa.three', password: 'third-qa-password' };
    enrolOperator(log, { ...QA2, printedName: 'Q. Two', roles: ['qa'] }, ADMIN, 0);
    enrolOperator(log, { ...QA3, printedName: 'Q. Three', roles: ['qa'] }, ADMIN, 0);
    const schedule = { id: 's', version: '1', contentHash: 'ab'.repeat(32), file: 's.yaml', text: '' };
    for (const batchId of ['P-001', 'P-002', 'P-003']) {
      log.append({ stream: batchId, type: 'batch.started', at: 1000, data: sample('batch.started', { batchId, patient: batchId, chainOfIdentity: `COI-${batchId}`, bagId: `BAG-${batchId}`, lane: 'lane-1', layout: { id: 'l', file: 'l.yaml' }, schedule }) });
    }
    // P-001: qa.lee approved a retry. P-002: qa.two approved skipping a step.
    log.append({ stream: 'P-001', type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'electroporate', kind: 'command-failed', message: 'HardwareFault', actions: ['retry', 'skip', 'abort'] }) });
    resolveHold(log, 'P-001', { action: 'retry', reason: 'reseated' }, QA, 2100);
    log.append({ stream: 'P-002', type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'wash', kind: 'command-failed', message: 'low volume', actions: ['retry', 'skip', 'abort'] }) });
    resolveHold(log, 'P-002', { action: 'skip', reason: 'wash not needed' }, QA2, 2100);
    // While P-001 to P-003 ran, qa.three accepted a changed layout for them.
    checkLayoutForResume(log, layoutFile(log, 'v2'), { reason: 'endpoint moved', signer: QA3 }, 2200);
    for (const batchId of ['P-001', 'P-002', 'P-003']) log.append({ stream: batchId, type: 'batch.completed', at: 3000, data: sample('batch.completed') });
    const layout = layoutFile(log, 'v2');
    writeFileSync(layout, 'layout: v3\n');
    checkLayoutForResume(log, layout, { reason: 'robot replaced', signer: QA2 }, 3500);
    const review = (batchId: string, signer: Credentials) => reviewRecord(log, batchId, { decision: 'approved', reason: 'reviewed by exception' }, signer, 9000);

    expect(() => review('P-001', QA)).toThrow(/signature refused: qa\.lee may not review the record of P-001: qa\.lee signed approval to retry the step \(at electroporate\) in it at \d{4}-.*; the review needs someone who had no part in the batch/);
    expect(() => review('P-002', QA2)).toThrow(/qa\.two signed approval to skip the step \(at wash\)/);
    expect(() => review('P-003', QA3)).toThrow(/qa\.three signed approval to resume batches on a changed layout .* while P-003 ran/);
    expect(refusedSignatures(log).map((e) => [e.data.user, e.data.action, e.data.kind])).toEqual([
      ['qa.lee', 'approve', 'independence'],
      ['qa.two', 'approve', 'independence'],
      ['qa.three', 'approve', 'independence'],
    ]);
    expect(log.ofType('record.reviewed')).toEqual([]);
    // A layout change accepted after a batch finished is no part of it; others review.
    expect(review('P-001', QA2).data.user).toBe('qa.two');
    expect(review('P-002', QA).data.user).toBe('qa.lee');
    expect(review('P-003', QA).data.user).toBe('qa.lee');
    log.close();
  });

  it('refuses a removal signer as reviewer of the quarantined batch', () => {
    const log = freshLog();
    enrolTestOperators(log);
    const schedule = { id: 's', version: '1', contentHash: 'ab'.repeat(32), file: 's.yaml', text: '' };
    log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1', layout: { id: 'l', file: 'l.yaml' }, schedule }) });
    log.append({ stream: 'P-001', type: 'batch.quarantined', at: 2000, data: sample('batch.quarantined', { stuck: true, location: 'ep-1', bagId: 'BAG-P-001' }) });
    recordRemoval(log, 'P-001', { reason: 'taken out by hand' }, QA, 2500);
    expect(() => reviewRecord(log, 'P-001', { decision: 'rejected', reason: 'quarantined' }, QA, 9000)).toThrow(/qa\.lee signed responsibility for taking the material out by hand in it/);
    log.close();
  });

  it('refuses the requester of a batch as its reviewer, also where its batch.started entry does not name the request (a log of before)', () => {
    const log = freshLog();
    enrolTestOperators(log);
    const both = { user: 'm.both', password: 'both-roles-password-1' };
    enrolOperator(log, { ...both, printedName: 'Mo Both', roles: ['operator', 'qa'] }, ADMIN, 0);
    const signature = { user: both.user, printedName: 'Mo Both', meaning: 'responsibility for starting the batch', signedAt: '2026-01-01T00:00:00.000Z', contentHash: 'ab'.repeat(32) };
    const identity = { batchId: 'P-001', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001', lane: 'lane-1' };
    log.append({ stream: WORKCELL_STREAM, type: 'batch.requested', at: 900, data: { ...identity, schedule: { file: 's.yaml', text: '' }, reason: 'MES order', user: both.user, signature } });
    log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', identity) });
    log.append({ stream: 'P-001', type: 'batch.completed', at: 2000, data: sample('batch.completed') });
    expect(() => reviewRecord(log, 'P-001', { decision: 'approved', reason: 'reviewed' }, both, 9000)).toThrow(/m\.both signed responsibility for starting the batch of P-001 at 2026-01-01T00:00:00\.000Z/);
    expect(reviewRecord(log, 'P-001', { decision: 'approved', reason: 'reviewed' }, QA, 9000).data.user).toBe('qa.lee');
    log.close();
  });

  it('refuses passwords shorter than the minimum, all blank, or padded with spaces, saying the rule', () => {
    const log = freshLog();
    const admin = (password: string) => () => enrolOperator(log, { user: 'it.admin', printedName: 'Sam Admin', roles: ['admin'], password }, undefined, 0);
    expect(admin(' '.repeat(MIN_PASSWORD_LENGTH))).toThrow(`a password has at least ${MIN_PASSWORD_LENGTH} characters other than spaces`);
    expect(admin(`\t${' '.repeat(20)}\t`)).toThrow('other than spaces');
    expect(admin('short   ')).toThrow('does not begin or end with a space');
    expect(admin('   long-enough-password')).toThrow('does not begin or end with a space');
    expect(admin('ok')).toThrow(`at least ${MIN_PASSWORD_LENGTH} characters`);
    expect(listOperators(log)).toEqual([]);
    admin('correct horse battery staple')();
    expect(() => changePassword(log, { user: 'it.admin', password: 'correct horse battery staple' }, ' '.repeat(12), 0)).toThrow('other than spaces');
    log.close();
  });

  it('enrols, lists and signs from the CLI; a wrong password exits non-zero and is listed', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'workcell-sign-cli-')), 'records.db');
    const first = await runCli(['operators', 'add', 'it.admin', '--name', 'Sam Admin', '--role', 'admin', '--db', db], { env: { WORKCELL_NEW_PASSWORD: ADMIN.password } });
    expect(first.stderr).toBe('');
    expect(first.stdout).toContain('Enrolled Sam Admin (it.admin) as admin (the first admin)');
    const second = await runCli(['operators', 'add', 'a.jansen', '--name', 'Anna Jansen', '--role', 'operator', '--by', 'it.admin', '--db', db], { env: { WORKCELL_NEW_PASSWORD: OPERATOR.password, ...signingAs(ADMIN) } });
    expect(second.stdout).toContain('Enrolled Anna Jansen (a.jansen) as operator, signed by it.admin');
    const noPassword = await runCli(['operators', 'add', 'b.ode', '--name', 'B. Ode', '--role', 'qa', '--by', 'it.admin', '--db', db], { env: { WORKCELL_NEW_PASSWORD: 'long-enough-1' } });
    expect(noPassword.status).toBe(2);
    expect(noPassword.stderr).toContain('give the password with --password-env VAR or --password-file FILE (or set WORKCELL_PASSWORD)');

    const log = new EventLog(db);
    heldBatch(log);
    log.close();
    const wrong = await runCli(['resolve', 'P-001', '--action', 'retry', '--reason', 'reseated', '--user', 'a.jansen', '--db', db], { env: { WORKCELL_PASSWORD: 'guessed-password' } });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("signature refused: unknown user 'a.jansen' or wrong password");
    const right = await runCli(['resolve', 'P-001', '--action', 'retry', '--reason', 'reseated', '--user', 'a.jansen', '--db', db], { env: signingAs(OPERATOR) });
    expect(right.stderr).toBe('');
    expect(right.stdout).toMatch(/Signed by Anna Jansen \(a\.jansen\) at \d{4}-.*Z: approval to retry the step\./);
    const changed = await runCli(['operators', 'passwd', 'a.jansen', '--db', db], { env: { ...signingAs(OPERATOR), WORKCELL_NEW_PASSWORD: 'changed-password-1' } });
    expect(changed.stdout).toContain('Password of a.jansen changed.');
    const disabled = await runCli(['operators', 'disable', 'a.jansen', '--reason', 'moved to another site', '--by', 'it.admin', '--db', db], { env: signingAs(ADMIN) });
    expect(disabled.stdout).toContain('a.jansen may no longer sign (moved to another site); signed by it.admin.');
    const listed = await runCli(['operators', 'list', '--db', db]);
    expect(listed.stdout).toMatch(/a\.jansen .*; DISABLED .* by it\.admin: moved to another site/);
    expect(listed.stdout).toMatch(/a\.jansen\s+Anna Jansen\s+operator\s+enrolled .* by it\.admin/);
    expect(listed.stdout).toContain('Refused signatures (1):');
    expect(listed.stdout).toContain("a.jansen retry: signature refused: unknown user 'a.jansen' or wrong password");
  }, 60_000);
});

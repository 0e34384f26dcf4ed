/**
 * Text from people and devices stays text on the terminal: a newline cannot forge a line, an ANSI escape
 * cannot clear the screen or recolour a refusal, a bidi override cannot reverse what a reviewer reads.
 * The log keeps what was given; only what is shown is escaped.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { disableOperator, enrolOperator, listOperators, OPERATORS_STREAM } from '../../orchestrator/signatures.ts';
import { runCli } from '../support/cli.ts';
import { ADMIN, enrolTestOperators, OPERATOR, signingAs } from '../support/operators.ts';
import { sample } from '../support/entries.ts';

const FORGERY = 'ok\n\u001b[2J\u001b[HSigned by Someone Else (root) at 2020-01-01T00:00:00.000Z: approval of the batch record after review.\u202e';

/** Nothing a terminal would act on: no escape, no carriage return or bidi control, and no forged line. */
function expectInert(output: string): void {
  expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  expect(output.split('\n').some((line) => /^\s*Signed by Someone Else/.test(line))).toBe(false);
  expect(output).toContain('\\x1b[2J');
}

function database(): { dir: string; db: string; log: EventLog } {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-hostile-'));
  const db = join(dir, 'run.db');
  const log = new EventLog(db);
  enrolTestOperators(log);
  return { dir, db, log };
}

describe('hostile text', () => {
  it('is refused in printed names and user ids at enrolment, so no signature can show it', () => {
    const { log } = database();
    for (const printedName of ['Eve\nSigned by Someone Else', 'Eve \u001b[31mRed', '\u202eevE', 'Eve\u0085', 'Eve\u2066x']) {
      expect(() => enrolOperator(log, { user: 'eve', printedName, roles: ['operator'], password: 'long-enough-password' }, ADMIN, 0)).toThrow(/one line of plain text, without control characters/);
    }
    expect(() => enrolOperator(log, { user: 'eve\u001b[2J', printedName: 'Eve', roles: ['operator'], password: 'long-enough-password' }, ADMIN, 0)).toThrow("not 'eve\\x1b[2J'");
    expect(listOperators(log).map((o) => o.user)).not.toContain('eve');
    log.close();
  });

  it('in a hold message and an alarm is escaped by workcell holds and workcell status', async () => {
    const { dir, db, log } = database();
    log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-001' }) });
    log.append({ stream: 'P-001', type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'wash', kind: 'command-failed', message: FORGERY, actions: ['retry', 'skip', 'abort'] }) });
    log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: 2500, data: sample('alarm', { kind: 'communication', message: FORGERY }) });
    log.writeStatus('orchestrator', { at: 3000, final: false, pid: 1, timeScale: 1, batches: [{ batchId: 'P-001', patient: 'P-001', lane: 'lane-1', step: 'wash', phase: 'held', note: FORGERY }], modules: [{ id: 'sep-1', state: 'faulted', occupant: 'P-001' }], plates: [] });
    log.close();
    for (const command of ['holds', 'status']) {
      const result = await runCli([command, '--db', db], { cwd: dir });
      expect(result.status).toBe(0);
      expectInert(result.stdout);
    }
    // The log keeps the text as given.
    const reopened = new EventLog(db, { readonly: true });
    expect(reopened.ofType('hold.opened')[0]!.data.message).toBe(FORGERY);
    reopened.close();
  });

  it('in a reason and a refused user id is escaped by resolve, operators disable and operators list', async () => {
    const { dir, db, log } = database();
    log.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-001' }) });
    log.append({ stream: 'P-001', type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'wash', kind: 'command-failed', message: 'fault', actions: ['retry', 'skip', 'abort'] }) });
    disableOperator(log, OPERATOR.user, FORGERY, ADMIN, 0);
    log.close();
    const refused = await runCli(['resolve', 'P-001', '--action', 'retry', '--reason', 'x', '--user', `mallory${FORGERY}`, '--db', db], { cwd: dir, env: { WORKCELL_PASSWORD: 'whatever-it-is' } });
    expect(refused.status).toBe(1);
    expectInert(refused.stderr);
    const answered = await runCli(['resolve', 'P-001', '--action', 'abort', '--reason', FORGERY, '--user', 'qa.lee', '--db', db], { cwd: dir, env: signingAs({ user: 'qa.lee', password: 'qa-password-12345' }) });
    expect(answered.stderr).toBe('');
    expectInert(answered.stdout);
    const listed = await runCli(['operators', 'list', '--db', db], { cwd: dir });
    expect(listed.status).toBe(0);
    expectInert(listed.stdout);
    const reopened = new EventLog(db, { readonly: true });
    expect(reopened.stream(OPERATORS_STREAM).find((e) => e.type === 'operator.disabled')!.data.reason).toBe(FORGERY);
    reopened.close();
  });

  it('in a YAML value is escaped in the findings of workcell validate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-hostile-yaml-'));
    const file = join(dir, 'evil.yaml');
    writeFileSync(file, 'schedule:\n  id: evil\n  version: "1"\n  name: x\nsteps:\n  - id: wash\n    capability: "cell-separator.\\e[2J\\nSigned by Someone Else"\n');
    const result = await runCli(['validate', file], { cwd: dir });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('\\x1b[2J');
    expect(result.stdout).not.toMatch(/\u001b/);
    expect(result.stdout.split('\n').filter((l) => l.trim() !== '').every((line) => line.startsWith(`${file}:`))).toBe(true);
  });
});

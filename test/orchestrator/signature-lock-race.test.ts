import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM, type LogEntry, type NewEntry } from '../../orchestrator/event-log.ts';
import { isEntry } from '../../orchestrator/entries.ts';
import { resolveHold } from '../../orchestrator/orchestrator.ts';
import { LOCKOUT, OPERATORS_STREAM, refusedSignatures } from '../../orchestrator/signatures.ts';
import { enrolTestOperators } from '../support/operators.ts';
import { sample } from '../support/entries.ts';

/**
 * A log on which another connection (another process: a CLI beside the server) writes at a chosen moment:
 * just before or just after this connection appends a refusal. Outside a transaction it can, as another
 * process could; inside one it would wait for the commit, so the race runs then instead.
 */
class RacedLog extends EventLog {
  private race: { when: 'before' | 'after'; run: () => void } | undefined;

  raceOnRefusal(when: 'before' | 'after', run: () => void): void {
    this.race = { when, run };
  }

  /** Runs a race that could not run in between (the look and the append were one transaction). */
  settle(): boolean {
    const race = this.race;
    this.race = undefined;
    race?.run();
    return race !== undefined;
  }

  override appendAll(entries: readonly NewEntry[]): LogEntry[] {
    const race = entries.some((e) => e.type === 'signature.refused') && !this.db.inTransaction ? this.race : undefined;
    if (race) this.race = undefined;
    if (race?.when === 'before') race.run();
    const written = super.appendAll(entries);
    if (race?.when === 'after') race.run();
    return written;
  }
}

const WRONG = { user: 'a.jansen', password: 'guess-number-x' };
const LOCKED_NOW = /a\.jansen is locked after 5 wrong passwords/;

/** Two connections on one file, an operator enrolled and a batch at a hold, `wrongSoFar` wrong passwords of a.jansen on record. */
function twoConnections(wrongSoFar: number): { server: RacedLog; cli: EventLog } {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-lock-race-')), 'records.db');
  const server = new RacedLog(file);
  enrolTestOperators(server);
  server.append({ stream: 'P-001', type: 'batch.started', at: 1000, data: sample('batch.started', { batchId: 'P-001' }) });
  server.append({ stream: 'P-001', type: 'hold.opened', at: 2000, data: sample('hold.opened', { step: 'electroporate', kind: 'command-failed', message: 'HardwareFault', actions: ['retry', 'skip', 'abort'] }) });
  for (let i = 0; i < wrongSoFar; i++) signAs(server, WRONG, 'wrong password');
  return { server, cli: new EventLog(file) };
}

function signAs(log: EventLog, who: typeof WRONG, refused: string | RegExp): void {
  expect(() => resolveHold(log, 'P-001', { action: 'retry', reason: 'reseated' }, who, 3000)).toThrow(refused);
}

const lockAlarms = (log: EventLog) => log.stream(WORKCELL_STREAM).filter(isEntry('alarm')).filter((e) => e.data.kind === 'security');

describe('the lock of a user id, refused on two connections at once', () => {
  it('raises the lock alarm once when the wrong passwords of two connections go past the limit together', () => {
    const { server, cli } = twoConnections(LOCKOUT.attempts - 1);
    // A CLI that compared its wrong password while a.jansen was not locked yet (scrypt takes a while) records it
    // just as the server records the one that reaches the limit: the count goes from 4 to 6. Its append, as it writes it:
    const cliRecordsItsWrongPassword = () => cli.append({ stream: OPERATORS_STREAM, type: 'signature.refused', at: 3000, data: { user: WRONG.user, action: 'retry', kind: 'credentials', reason: "signature refused: unknown user 'a.jansen' or wrong password", signedAt: new Date().toISOString() } });
    server.raceOnRefusal('after', cliRecordsItsWrongPassword);
    signAs(server, WRONG, 'wrong password');
    server.settle();
    expect(refusedSignatures(server).filter((e) => e.data.kind === 'credentials')).toHaveLength(LOCKOUT.attempts + 1);
    expect(lockAlarms(server).map((e) => e.data.message)).toEqual([`user id a.jansen locked for 15 min after ${LOCKOUT.attempts} wrong passwords`]);
    // Further wrong passwords, on either connection, are refused as locked and raise no more alarms.
    signAs(cli, WRONG, LOCKED_NOW);
    expect(lockAlarms(cli)).toHaveLength(1);
    server.close();
    cli.close();
  });

  it('records a locked user id once when the other connection recorded its lock first', () => {
    const { server, cli } = twoConnections(LOCKOUT.attempts);
    // The CLI records the lock between the server's look at what is recorded and its own append.
    server.raceOnRefusal('before', () => signAs(cli, WRONG, LOCKED_NOW));
    signAs(server, WRONG, LOCKED_NOW);
    expect(server.settle()).toBe(true); // the look and the append were one transaction: the CLI came after
    expect(refusedSignatures(server).map((e) => e.data.kind)).toEqual([...Array(LOCKOUT.attempts).fill('credentials'), 'locked']);
    server.close();
    cli.close();
  });
});

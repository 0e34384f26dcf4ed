/**
 * What one connection of the log keeps between appends (each stream's head, the write guard's answer, a
 * journal's projection) holds only while no other connection commits: two connections on one file,
 * appending to one stream by turns, leave an intact chain; the guard runs again once another committed;
 * a journal sees another process's entry at once; and an append rolled back leaves nothing remembered.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { BatchJournal } from '../../orchestrator/entries.ts';
import { sample } from '../support/entries.ts';

const opened: EventLog[] = [];

function connections(): [EventLog, EventLog] {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-connections-')), 'records.db');
  const first = new EventLog(file);
  const second = new EventLog(file);
  opened.push(first, second);
  return [first, second];
}

const alarm = (log: EventLog, message: string) => log.append({ stream: 'P-001', type: 'alarm', at: 1000, data: sample('alarm', { message }) });
/** The alarms of P-001 as the file holds them: position in the stream and message. */
const alarms = (log: EventLog) => log.stream('P-001').map((e) => [e.streamSeq, e.type === 'alarm' ? e.data.message : e.type]);

afterEach(() => {
  for (const log of opened.splice(0)) log.close();
});

describe('the event log beside another connection to its file', () => {
  it('chains a stream both connections append to by turns without a gap or a fork', () => {
    const [orchestrator, operator] = connections();
    for (let i = 0; i < 3; i++) {
      alarm(orchestrator, `orchestrator ${i}`);
      alarm(orchestrator, `orchestrator ${i} again`);
      alarm(operator, `operator ${i}`);
    }
    expect(alarms(orchestrator)).toEqual([
      [1, 'orchestrator 0'], [2, 'orchestrator 0 again'], [3, 'operator 0'],
      [4, 'orchestrator 1'], [5, 'orchestrator 1 again'], [6, 'operator 1'],
      [7, 'orchestrator 2'], [8, 'orchestrator 2 again'], [9, 'operator 2'],
    ]);
    expect(orchestrator.verify().breaks).toEqual([]);
  });

  it('asks its write guard again only once another connection has committed, and refuses the append the guard refuses', () => {
    const [orchestrator, other] = connections();
    let asked = 0;
    let leaseHeld = true;
    orchestrator.guardWrites(() => {
      asked++;
      if (!leaseHeld) throw new Error('the lease was taken over');
    });
    alarm(orchestrator, 'first');
    alarm(orchestrator, 'second');
    expect(asked).toBe(1);
    // Another process takes the lease over: it writes to the database, which this connection sees.
    leaseHeld = false;
    alarm(other, 'taken over');
    expect(() => alarm(orchestrator, 'after the takeover')).toThrow('the lease was taken over');
    expect(asked).toBe(2);
    expect(alarms(orchestrator)).toEqual([[1, 'first'], [2, 'second'], [3, 'taken over']]);
    // A new guard is asked at once, whatever was committed.
    orchestrator.guardWrites(() => asked++);
    alarm(orchestrator, 'guarded anew');
    expect(asked).toBe(3);
  });

  it("gives a journal's state the entries another connection appended since it was last asked", () => {
    const [orchestrator, operator] = connections();
    const journal = new BatchJournal('P-001', orchestrator, () => 1000);
    journal.write('hold.opened', sample('hold.opened'));
    expect(journal.state().pendingHold?.answered).toBe(false);
    expect(journal.state().pendingHold?.answered).toBe(false);
    operator.append({ stream: 'P-001', type: 'hold.resolved', at: 2000, data: sample('hold.resolved') });
    expect(journal.state().pendingHold?.answer?.data.action).toBe('retry');
  });

  it('forgets the head of a stream an append rolled back: the next entry takes its place in the chain', () => {
    const [log] = connections();
    alarm(log, 'kept');
    expect(() =>
      log.atomically(() => {
        alarm(log, 'rolled back');
        throw new Error('the decision failed after its append');
      }),
    ).toThrow('the decision failed');
    alarm(log, 'next');
    expect(alarms(log)).toEqual([[1, 'kept'], [2, 'next']]);
    expect(log.verify().breaks).toEqual([]);
  });
});

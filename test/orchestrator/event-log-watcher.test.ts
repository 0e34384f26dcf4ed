import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WALL_CLOCK } from '../../drivers/clock.ts';
import { EventLog, type LogEntry } from '../../orchestrator/event-log.ts';
import { sample } from '../support/entries.ts';
import { liveStatus } from '../support/live-status.ts';

/** Two connections to one database file, as an orchestrator and an operator's command have. */
function twoConnections(): { mine: EventLog; other: EventLog } {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-watch-')), 'records.db');
  const mine = new EventLog(file);
  return { mine, other: new EventLog(file) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = WALL_CLOCK.now() + 5000;
  while (!check()) {
    if (WALL_CLOCK.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await WALL_CLOCK.sleep(5);
  }
}

/** Lets the watcher look a few times. */
const looks = () => WALL_CLOCK.sleep(60);

describe("the event log's watcher of other processes", () => {
  it('delivers what another connection appends, once, and nothing this connection appended', async () => {
    const { mine, other } = twoConnections();
    const delivered: LogEntry[] = [];
    const subscribed: LogEntry[] = [];
    mine.subscribe((entry) => subscribed.push(entry));
    const stop = mine.watchOthers((entries) => delivered.push(...entries), { clock: WALL_CLOCK, everyMs: 10 });
    try {
      mine.append({ stream: 'P-001', type: 'step.completed', at: 1, data: sample('step.completed', { step: 'a' }) });
      const answer = other.append({ stream: 'P-001', type: 'hold.resolved', at: 2, data: sample('hold.resolved', { step: 'a', action: 'retry' }) });
      mine.append({ stream: 'P-001', type: 'step.completed', at: 3, data: sample('step.completed', { step: 'b' }) });
      await until(() => delivered.length > 0, "the other connection's entry");
      await looks();
      expect(delivered.map((e) => e.seq)).toEqual([answer.seq]);
      expect(delivered[0]).toMatchObject({ type: 'hold.resolved', hash: answer.hash });
      // This connection's own entries reached its subscribers once, and only them.
      expect(subscribed.map((e) => ('step' in e.data ? e.data.step : undefined))).toEqual(['a', 'b']);

      mine.append({ stream: 'P-001', type: 'step.completed', at: 4, data: sample('step.completed', { step: 'c' }) });
      await looks();
      const second = other.append({ stream: 'P-002', type: 'material.removed', at: 5, data: sample('material.removed') });
      await until(() => delivered.length > 1, 'the second entry');
      await looks();
      expect(delivered.map((e) => e.seq)).toEqual([answer.seq, second.seq]);
    } finally {
      stop();
      mine.close();
      other.close();
    }
  });

  it('calls with no entries when another connection commits only its status view, and not at all while nobody else commits', async () => {
    const { mine, other } = twoConnections();
    const calls: LogEntry[][] = [];
    const stop = mine.watchOthers((entries) => calls.push(entries), { clock: WALL_CLOCK, everyMs: 10 });
    try {
      mine.append({ stream: 'P-001', type: 'step.completed', at: 1, data: sample('step.completed') });
      mine.writeStatus('orchestrator', liveStatus({ final: false }));
      await looks();
      expect(calls).toEqual([]);
      other.writeStatus('orchestrator', liveStatus({ final: true }));
      await until(() => calls.length > 0, 'a call');
      expect(calls).toEqual([[]]);
    } finally {
      stop();
      mine.close();
      other.close();
    }
  });

  it('reads the whole log of the given types at its first look when asked to start from 0, and stops when told', async () => {
    const { mine, other } = twoConnections();
    const earlier = other.append({ stream: 'P-001', type: 'hold.resolved', at: 1, data: sample('hold.resolved') });
    other.append({ stream: 'P-001', type: 'telemetry', at: 2, data: sample('telemetry') });
    const delivered: LogEntry[] = [];
    const stop = mine.watchOthers((entries) => delivered.push(...entries), { clock: WALL_CLOCK, everyMs: 10, from: 0, types: ['hold.resolved'] });
    try {
      await until(() => delivered.length > 0, 'the earlier answer');
      expect(delivered.map((e) => e.seq)).toEqual([earlier.seq]);
      stop();
      other.append({ stream: 'P-001', type: 'hold.resolved', at: 3, data: sample('hold.resolved') });
      await looks();
      expect(delivered).toHaveLength(1);
    } finally {
      stop();
      mine.close();
      other.close();
    }
  });
});

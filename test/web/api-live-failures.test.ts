/**
 * A live stream whose session check fails (an operators entry this version's schema refuses, from a hand
 * edit or a newer Workcell) ends, with one line on standard error; the server goes on answering.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { forge } from '../support/forger.ts';
import { OPERATOR } from '../support/operators.ts';
import { databaseWithOperators, startTestServer, type TestServer } from '../support/hmi.ts';

/** Appends to the operators stream an entry whose data its schema refuses (the chain recomputed: only the schema shows it). */
function refusedOperatorsEntry(database: string): void {
  forge(database, (db) => {
    db.prepare("INSERT INTO events (stream, stream_seq, type, at, recorded_at, data, previous_hash, hash, format_version) VALUES ('operators', 1000, 'operator.disabled', 1, 1, ?, '', '', 1)").run(JSON.stringify({ user: 42 }));
  });
}

describe('a live stream whose session check fails', () => {
  let test: TestServer | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await test?.close();
    test = undefined;
  });

  // With the log watcher looking only every 10 minutes, the stream's session is checked by the periodic check (every 2 s) alone.
  for (const [seenBy, watchEveryMs] of [['the periodic session check', 600_000], ['the update after the change', 50]] as const) {
    it(`ends, found by ${seenBy}; the server says why in one line and goes on`, async () => {
      const database = databaseWithOperators();
      test = await startTestServer(database, { watchEveryMs });
      const client = test.client();
      expect((await client.logIn(OPERATOR)).status).toBe(200);
      const stderr: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: any[]) => {
        stderr.push(String(chunk));
        return write(chunk, ...rest);
      });
      let edited = false;
      // Resolves when the server ends the stream (or fails after 30 s).
      const events = await client.events('/api/events', (seen) => {
        if (!edited && seen.some((e) => e.event === 'status')) {
          edited = true;
          refusedOperatorsEntry(database);
        }
        return false;
      });
      expect(edited).toBe(true);
      expect(events.map((e) => e.event)).toContain('status');
      const lines = stderr.filter((line) => line.includes('/api/events'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^workcell serve: a live stream \(\/api\/events\) was ended: entry \d+ of operators \(log position \d+, operator\.disabled\) does not match its schema: .*\n$/);
      expect(lines[0]).not.toMatch(/\n\s+at /);
      // The server still answers.
      expect((await test.client().get('/login')).status).toBe(200);
      expect(test.server.log.lastSeq()).toBeGreaterThan(0);
    }, 60_000);
  }
});

/**
 * Entries read back are checked against their schemas, not cast: a row changed in SQLite so that its data
 * no longer matches its type is refused by name (stream, position, type, field) where a reader needs the
 * entry, and named, not read as what it is not, where a reader must go on (verify, the batch record).
 */
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { EventLog, InvalidStoredEntry } from '../../orchestrator/event-log.ts';
import { buildRecord } from '../../orchestrator/record-build.ts';
import { formatRecord } from '../../orchestrator/record-text.ts';
import { recordHtml } from '../../orchestrator/record-html.ts';
import { runCli } from '../support/cli.ts';
import { editData, forge, recordedBatches } from '../support/forger.ts';

/** The log position of P-001's step.started, and a copy of the recorded batches whose row there was edited. */
function withEditedStepStarted(change: (data: Record<string, unknown>) => void, options: { rechain?: boolean; formatVersion?: number } = {}): { file: string; seq: number } {
  const file = recordedBatches();
  const db = new Database(file, { readonly: true });
  const seq = (db.prepare("SELECT seq FROM events WHERE stream = 'P-001' AND type = 'step.started'").get() as { seq: number }).seq;
  db.close();
  forge(
    file,
    (db) => {
      editData(db, seq, change);
      if (options.formatVersion !== undefined) db.prepare('UPDATE events SET format_version = ? WHERE seq = ?').run(options.formatVersion, seq);
    },
    { rechain: options.rechain },
  );
  return { file, seq };
}

describe('entries read back from the database', () => {
  it('refuses a row whose data its schema does not allow, naming the stream, position, type and field', () => {
    const { file, seq } = withEditedStepStarted((d) => (d.attempt = 'two'));
    const log = new EventLog(file, { readonly: true });
    try {
      const message = new RegExp(`entry 2 of P-001 \\(log position ${seq}, step\\.started\\) does not match its schema: its data field 'attempt' must be integer; the database was changed outside Workcell`);
      expect(() => log.stream('P-001')).toThrow(message);
      expect(() => log.since(0)).toThrow(message);
      expect(() => log.page(0, 1000)).toThrow(message);
      expect(() => log.ofType('step.started')).toThrow(message);
      const thrown = (() => {
        try {
          log.stream('P-001');
        } catch (error) {
          return error;
        }
      })();
      expect(thrown).toBeInstanceOf(InvalidStoredEntry);
      expect(thrown).toMatchObject({ entry: { stream: 'P-001', streamSeq: 2, seq, type: 'step.started' }, problem: "field 'attempt' must be integer" });
      // What the row does not touch still reads.
      expect(log.stream('P-002').map((e) => e.type)).toContain('step.started');
    } finally {
      log.close();
    }
  });

  it('names a missing field and one its schema does not list, and a later format version as such', () => {
    const missing = withEditedStepStarted((d) => delete d.step);
    const extra = withEditedStepStarted((d) => (d.operator = 'someone'), { formatVersion: 7 });
    const expected: Array<[string, RegExp]> = [
      [missing.file, /step\.started\) does not match its schema: its data lacks the field 'step'/],
      [extra.file, /step\.started\) does not match its schema: its data has a field 'operator' its schema does not list; it was written in entry format 7, this version of Workcell reads format 1 and before/],
    ];
    for (const [file, message] of expected) {
      const log = new EventLog(file, { readonly: true });
      expect(() => log.stream('P-001')).toThrow(message);
      log.close();
    }
  });

  it('is reported by verify, the field named, even when every hash was recomputed to fit the edit', async () => {
    const { file, seq } = withEditedStepStarted((d) => (d.attempt = -1.5));
    const log = new EventLog(file, { readonly: true });
    const breaks = log.verify().breaks;
    log.close();
    expect(breaks.filter((b) => ['altered', 'missing', 'reordered'].includes(b.problem))).toEqual([]);
    expect(breaks.filter((b) => b.problem === 'invalid')).toEqual([{ stream: 'P-001', streamSeq: 2, seq, problem: 'invalid', message: expect.stringContaining("its data field 'attempt' must be integer") }]);
    const verified = await runCli(['verify', file]);
    expect(verified.status).toBe(1);
    expect(verified.stderr).toBe('');
    expect(verified.stdout).toContain(`invalid: entry 2 of P-001 (log position ${seq}, step.started) does not match its schema: its data field 'attempt' must be integer`);
  });

  it('is named in the batch record and left out of it, and the rest of the record still builds', async () => {
    const { file } = withEditedStepStarted((d) => (d.attempt = 'two'), { rechain: false });
    const log = new EventLog(file, { readonly: true });
    const record = buildRecord(log, 'P-001');
    const entries = log.rows('P-001');
    log.close();
    expect(record.invalid).toEqual([{ at: expect.any(String), type: 'step.started', streamSeq: 2, problem: "its data field 'attempt' must be integer" }]);
    // Counted and hashed as stored; not read as a step start (the wash's completion still is).
    expect(record).toMatchObject({ entries: entries.length, firstHash: entries[0]!.hash, lastHash: entries.at(-1)!.hash });
    expect(record.steps.find((s) => s.step === 'wash')).toMatchObject({ outcome: 'completed', attempts: 0 });
    expect(record.timeline.map((t) => t.type)).not.toContain('step.started');
    expect(record.deviations).toHaveLength(1);
    const text = formatRecord(record);
    expect(text).toContain('1 entry(ies) not matching their schema');
    expect(text).toMatch(/INVALID +\S.* entry 2, step\.started: its data field 'attempt' must be integer; left out of this record/);
    expect(recordHtml(record)).toContain('entry 2, step.started');
    const printed = await runCli(['record', 'P-001', '--db', file]);
    expect(printed.stderr).toBe('');
    expect(printed.status).toBe(0);
    expect(printed.stdout).toContain("entry 2, step.started: its data field 'attempt' must be integer");
  });

  it("refuses a record whose batch.started entry does not match its schema, naming it (not 'no batch')", async () => {
    const file = recordedBatches();
    forge(file, (db) => {
      const seq = (db.prepare("SELECT seq FROM events WHERE stream = 'P-002' AND type = 'batch.started'").get() as { seq: number }).seq;
      editData(db, seq, (d) => delete d.chainOfIdentity);
    });
    const printed = await runCli(['record', 'P-002', '--db', file]);
    expect(printed.status).toBe(1);
    expect(printed.stderr).toMatch(/^workcell record: entry 1 of P-002 \(log position \d+, batch\.started\) does not match its schema: its data lacks the field 'chainOfIdentity'/);
    expect(printed.stderr).not.toMatch(/\n\s+at /);
  });
});

/**
 * The typed entry as the contract: the log refuses data its type's schema does not allow, every entry
 * carries its format version under its hash, the published schemas are the code's, and a database
 * written before entries carried a version still reads, verifies and renders.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { checkEntry, ENTRY_FORMAT_VERSION, ENTRY_TYPES, entrySchemaDocument, type EntryType } from '../../orchestrator/entries.ts';
import { ENTRY_SCHEMA_FILE, entrySchemaText } from '../../orchestrator/entries/publish.ts';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { keyFileOf } from '../../orchestrator/checkpoints.ts';
import { buildRecord } from '../../orchestrator/record-build.ts';
import { formatRecord } from '../../orchestrator/record-text.ts';
import { runCli } from '../support/cli.ts';
import { sample } from '../support/entries.ts';

const FIXTURE = 'test/fixtures/records/main-format.db';

function freshLog(): EventLog {
  return new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-entries-')), 'records.db'));
}

/** A copy of the database written by the code of before (and its checkpoint key), to open and append to. */
function fixtureCopy(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-main-format-')), 'run.db');
  copyFileSync(FIXTURE, file);
  copyFileSync(keyFileOf(FIXTURE), keyFileOf(file));
  return file;
}

describe('typed entries', () => {
  it("keeps a device's non-finite result as null and drops an undefined one, as JSON stores them, instead of refusing the entry", () => {
    // Refused, the completion of a command the device ran would have become a failure, and a retry would send it again.
    const log = freshLog();
    try {
      const completed = log.append({ stream: 'P-001', type: 'command.completed', at: 1, data: sample('command.completed', { results: { viability: Number.NaN, yield: Number.POSITIVE_INFINITY, volume: 12, note: undefined as unknown as string } }) });
      expect(completed.data.results).toEqual({ viability: null, yield: null, volume: 12 });
      expect(log.stream('P-001')[0]!.data).toEqual(completed.data);
      const control = log.append({ stream: 'P-001', type: 'control.checked', at: 2, data: sample('control.checked', { step: 'wash', result: 'viability', value: Number.NaN, unit: '%', min: 70, max: null, pass: false }) });
      expect(control.data).toMatchObject({ value: null, pass: false });
      expect(log.verify().breaks).toEqual([]);
    } finally {
      log.close();
    }
  });

  it('refuses an entry whose data its schema does not allow, naming the type and the field, and writes nothing', () => {
    const log = freshLog();
    log.append({ stream: 'P-001', type: 'step.started', at: 1, data: { step: 'wash', attempt: 1 } });
    const invalid: Array<[string, unknown, RegExp]> = [
      ['step.started', { step: 'wash' }, /refused a step\.started entry: its data lacks the field 'attempt'/],
      ['step.started', { step: 'wash', attempt: '2' }, /refused a step\.started entry: its data field 'attempt' must be integer/],
      ['step.started', { step: 'wash', attempt: 2, note: 'x' }, /refused a step\.started entry: its data has a field 'note' its schema does not list/],
      ['hold.opened', { ...sample('hold.opened'), holdTime: { after: 'wash' } }, /refused a hold\.opened entry: its data lacks the field 'holdTime\.deadlineMs'/],
      ['alarm', { kind: 'rumour', message: 'x' }, /refused a alarm entry: its data field 'kind' must be equal to constant/],
      ['sensor.recalibrated', {}, /no entry type 'sensor\.recalibrated'/],
    ];
    for (const [type, data, message] of invalid) {
      // Written as a caller that went around the types would (JSON from elsewhere, a cast).
      expect(() => log.appendAll([JSON.parse(JSON.stringify({ stream: 'P-001', type, at: 2, data }))])).toThrow(message);
    }
    // One invalid entry refuses the whole transaction.
    expect(() => log.appendAll([{ stream: 'P-001', type: 'step.started', at: 3, data: { step: 'seed', attempt: 1 } }, JSON.parse('{"stream":"P-001","type":"step.started","at":3,"data":{}}')])).toThrow(/lacks the field 'step'/);
    expect(log.stream('P-001').map((e) => e.type)).toEqual(['step.started']);
    expect(log.verify().breaks).toEqual([]);
    log.close();
  });

  it('gives readers the data of the type they switch on', () => {
    const log = freshLog();
    log.append({ stream: 'P-001', type: 'step.started', at: 1, data: { step: 'wash', attempt: 3 } });
    const attempts = log.stream('P-001').map((e) => (e.type === 'step.started' ? e.data.attempt : 0));
    expect(attempts).toEqual([3]);
    log.close();
  });

  it('writes the format version with every entry, under its hash', () => {
    const log = freshLog();
    const written = log.append({ stream: 'P-001', type: 'step.started', at: 1, data: { step: 'wash', attempt: 1 } });
    log.append({ stream: 'P-001', type: 'step.started', at: 2, data: { step: 'wash', attempt: 2 } });
    expect(written.formatVersion).toBe(ENTRY_FORMAT_VERSION);
    expect(log.stream('P-001').map((e) => e.formatVersion)).toEqual([ENTRY_FORMAT_VERSION, ENTRY_FORMAT_VERSION]);
    log.close();
    // Claiming another format for an entry (or none) breaks its hash.
    for (const version of ['NULL', String(ENTRY_FORMAT_VERSION + 1)]) {
      const copy = join(mkdtempSync(join(tmpdir(), 'workcell-entries-')), 'records.db');
      copyFileSync(log.file, copy);
      const db = new Database(copy);
      db.exec(`DROP TRIGGER events_are_never_updated; UPDATE events SET format_version = ${version} WHERE stream_seq = 1`);
      db.close();
      const altered = new EventLog(copy, { readonly: true });
      expect(altered.verify().breaks.find((b) => b.problem === 'altered')).toMatchObject({ stream: 'P-001', streamSeq: 1 });
      altered.close();
    }
  });
});

describe('a database written before entries carried a format version', () => {
  it('reads, verifies and renders its records as they were', async () => {
    const file = fixtureCopy();
    const log = new EventLog(file, { readonly: true });
    expect(log.verify()).toMatchObject({ breaks: [], checkpoints: { uncovered: 0 } });
    const entries = log.since(0);
    expect(entries.length).toBeGreaterThan(200);
    expect(entries.every((e) => e.formatVersion === undefined)).toBe(true);
    // Its data is what today's schemas describe.
    for (const entry of entries) checkEntry(entry);
    const record = buildRecord(log, 'P-001');
    expect(record).toMatchObject({ status: 'completed', review: { decision: 'approved', signature: { user: 'qa.lee', printedName: 'Li Lee' } } });
    expect(record.steps.map((s) => [s.step, s.outcome])).toEqual(expect.arrayContaining([['wash', 'completed'], ['electroporate', 'completed']]));
    expect(record.environmentalMonitoring).toHaveLength(3);
    const text = formatRecord(record);
    expect(text).toContain('Batch record P-001  (completed)');
    expect(text).toContain('hold-time-exceeded');
    log.close();
    // As the code that wrote it printed it.
    const printed = await runCli(['record', 'P-001', '--db', file]);
    expect(printed.stderr).toBe('');
    expect(printed.stdout).toBe(readFileSync('test/fixtures/records/main-format.P-001.txt', 'utf8'));
  });

  it('takes new entries, versioned, after its unversioned ones, and its chains still verify', async () => {
    const file = fixtureCopy();
    const log = new EventLog(file);
    const before = log.stream(WORKCELL_STREAM).at(-1)!;
    const added = log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: before.at + 1, data: { kind: 'communication', message: 'sep-1 did not answer' } });
    expect(added).toMatchObject({ formatVersion: ENTRY_FORMAT_VERSION, previousHash: before.hash });
    log.close();
    const verified = await runCli(['verify', file]);
    expect(verified.stdout).toMatch(/all intact/);
    expect(verified.status).toBe(0);
    const reopened = new EventLog(file, { readonly: true });
    expect(reopened.stream(WORKCELL_STREAM).slice(-2).map((e) => e.formatVersion)).toEqual([undefined, ENTRY_FORMAT_VERSION]);
    reopened.close();
  });
});

describe('the published entry schemas', () => {
  it('are the ones the code defines (npm run docs:schemas rewrites them)', () => {
    expect(readFileSync(ENTRY_SCHEMA_FILE, 'utf8')).toBe(entrySchemaText());
  });

  it('name every entry type with its meaning, each field described, and the units of numbers that have one', () => {
    const document = entrySchemaDocument() as { $defs: Record<string, { description: string; properties: Record<string, { description?: string }> }> };
    expect(Object.keys(document.$defs).sort()).toEqual(Object.keys(ENTRY_TYPES).sort());
    for (const [type, schema] of Object.entries(document.$defs)) {
      expect(schema.description).toBe(ENTRY_TYPES[type as EntryType]);
      for (const [field, property] of Object.entries(schema.properties)) expect(property.description, `${type}.${field}`).toBeTruthy();
    }
    expect(document.$defs['em.plate.retrieved']!.properties.exposureHours).toMatchObject({ unit: 'h' });
    expect(document.$defs['line-clearance.started']!.properties.until).toMatchObject({ unit: 'ms since the epoch' });
  });

  it('validate the entries of a real database as a consumer would check them, and refuse a wrong one', () => {
    const ajv = new Ajv2020({ keywords: ['unit'] });
    const validate = ajv.compile(entrySchemaDocument());
    const log = new EventLog(fixtureCopy(), { readonly: true });
    const entries = log.since(0);
    log.close();
    for (const entry of entries) expect(validate(entry), `${entry.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    const completed = entries.find((e) => e.type === 'step.completed')!;
    expect(validate({ ...completed, data: { ...completed.data, attempt: 'one' } })).toBe(false);
  });
});

/**
 * The live status view has a schema, as the entries do: what the orchestrator makes is what the schema
 * describes (checked by the type checker), a view that does not match is refused when written and named
 * when read, and the published schema is the code's.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Static } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { BatchStatusSchema, liveStatusSchemaDocument, ModuleStatusSchema, type LiveStatus } from '../../orchestrator/live-status.ts';
import { STATUS_SCHEMA_FILE, statusSchemaText } from '../../orchestrator/entries/publish.ts';
import { workcellNow } from '../../orchestrator/run-settings.ts';
import type { ModuleStatus, WorkcellStatus } from '../../orchestrator/status-view.ts';
import type { BatchStatus } from '../../orchestrator/step-runner.ts';
import { runCli } from '../support/cli.ts';
import { batchStatus, liveStatus } from '../support/live-status.ts';

// Checked by tsc, not at run time: the orchestrator's status and the schema are the same types, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<Static<typeof BatchStatusSchema>, BatchStatus>;
true satisfies Same<Static<typeof ModuleStatusSchema>, ModuleStatus>;
true satisfies Same<Omit<LiveStatus, 'timeScale' | 'final' | 'pid'>, WorkcellStatus>;

function freshLog(): EventLog {
  return new EventLog(join(mkdtempSync(join(tmpdir(), 'workcell-status-')), 'run.db'));
}

const running = (): LiveStatus =>
  liveStatus({ at: 5000, batches: [batchStatus({ batchId: 'P-001', module: 'sep-1', note: undefined, holdTime: { step: 'wash', deadline: 9000 } })], modules: [{ id: 'sep-1', state: 'running', occupant: 'P-001', outOfService: undefined }], plates: ['plate 1 at bsc-1'] });

/** Replaces the stored view by hand, as a database edited outside Workcell (or by another version) would hold it. */
function storeByHand(file: string, value: unknown): void {
  const db = new Database(file);
  db.prepare("UPDATE live_status SET value = ? WHERE key = 'orchestrator'").run(JSON.stringify(value));
  db.close();
}

describe('the live status view', () => {
  it('reads back what was written, as JSON stores it', () => {
    const log = freshLog();
    expect(log.readStatus()).toBeUndefined();
    log.writeStatus('orchestrator', running());
    const read = log.readStatus()!;
    expect(read.problem).toBeUndefined();
    expect(read.value).toEqual(JSON.parse(JSON.stringify(running())));
    expect(read.updatedAt).toBeGreaterThan(0);
    log.close();
  });

  it('refuses a view its schema does not allow, naming the field, and keeps the one before', () => {
    const log = freshLog();
    log.writeStatus('orchestrator', running());
    const invalid: Array<[unknown, RegExp]> = [
      [{ ...running(), pid: 'one' }, /refused a live status: it field 'pid' must be integer/],
      [{ ...running(), batches: [{ ...running().batches[0], phase: 'dreaming' }] }, /refused a live status: it field 'batches\.0\.phase' must be equal to constant/],
      [{ ...running(), modules: [{ id: 'sep-1' }] }, /refused a live status: it lacks the field 'modules\.0\.state'/],
      [{ ...running(), operator: 'x' }, /refused a live status: it has a field 'operator' its schema does not list/],
    ];
    for (const [value, message] of invalid) expect(() => log.writeStatus('orchestrator', value as LiveStatus)).toThrow(message);
    expect(log.readStatus()!.value).toEqual(JSON.parse(JSON.stringify(running())));
    log.close();
  });

  it('names a stored view that does not match, and readers go on without it', async () => {
    const log = freshLog();
    log.writeStatus('orchestrator', running());
    log.close();
    storeByHand(log.file, { ...running(), at: 'soon', timeScale: 3600 });
    const reopened = new EventLog(log.file, { readonly: true });
    const read = reopened.readStatus()!;
    expect(read.value).toBeUndefined();
    expect(read.problem).toMatch(/^the live status written at \d{4}-\d\d-\d\dT.*Z does not match its schema: it field 'at' must be number$/);
    // Another process's clock does not run on from it: the wall clock (never before the log's last entry).
    const wall = Date.now();
    expect(workcellNow(reopened, wall)).toBe(wall);
    reopened.close();
    const printed = await runCli(['status', '--db', log.file]);
    expect(printed.status).toBe(0);
    expect(printed.stderr).toBe('');
    expect(printed.stdout).toMatch(/does not match its schema: it field 'at' must be number: not shown\./);
    const json = await runCli(['status', '--db', log.file, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: null, statusProblem: expect.stringContaining("field 'at' must be number") });
  });
});

describe('the published status schema', () => {
  it('is the one the code defines (npm run docs:schemas rewrites it), and workcell schema status prints it', async () => {
    expect(readFileSync(STATUS_SCHEMA_FILE, 'utf8')).toBe(statusSchemaText());
    const printed = await runCli(['schema', 'status']);
    expect(printed.status).toBe(0);
    expect(printed.stdout).toBe(statusSchemaText());
  });

  it('validates a status as a consumer reads it from MQTT, with its updatedAt, and refuses a wrong one', () => {
    const validate = new Ajv2020({ keywords: ['unit'] }).compile(liveStatusSchemaDocument());
    const published = { ...JSON.parse(JSON.stringify(running())), updatedAt: new Date(0).toISOString() };
    expect(validate(published)).toBe(true);
    expect(validate({ ...published, batches: [{ batchId: 'P-001' }] })).toBe(false);
  });
});

/**
 * The schedules a batch may be started on over the API: the files of one directory, named by file name;
 * a path anywhere else is refused before it is read, and GET /api/schedules lists what may be started.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { layoutHashOf, recordRunSettings } from '../../orchestrator/run-settings.ts';
import { runCli } from '../support/cli.ts';
import { SHORT_SCHEDULE, TWO_LANE_SILA } from '../support/orchestration.ts';
import { enrolTestOperators, OPERATOR } from '../support/operators.ts';
import { startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';
import { ApiError } from '../../web/server/api.ts';
import { listSchedules, scheduleFileIn } from '../../web/server/schedules.ts';

const SECRET = 'TOP-SECRET-NOT-A-SCHEDULE';

/** A database whose last run was on `layoutFile` (no orchestrator runs on it). */
function databaseRunOn(layoutFile: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'workcell-schedules-db-')), 'records.db');
  const log = new EventLog(file);
  enrolTestOperators(log);
  recordRunSettings(log, { layoutFile, timeScale: 1, seed: 1, sim: true, clock: { wallAnchor: Date.now(), simAtAnchor: Date.now() } }, { command: 'run', layoutHash: layoutHashOf(layoutFile) });
  log.close();
  return file;
}

/** A site's files as this repository keeps them: layouts/ and, beside it, schedules/. */
function site(): { root: string; layout: string; schedules: string } {
  const root = mkdtempSync(join(tmpdir(), 'workcell-site-'));
  mkdirSync(join(root, 'layouts'));
  const schedules = join(root, 'schedules');
  mkdirSync(schedules);
  const layout = join(root, 'layouts', 'two-lane.yaml');
  copyFileSync(TWO_LANE_SILA, layout);
  copyFileSync(SHORT_SCHEDULE, join(schedules, 'short.yaml'));
  writeFileSync(join(schedules, 'broken.yaml'), readFileSync(SHORT_SCHEDULE, 'utf8').replace('voltage: 400 V', 'voltage: 400 mL'));
  writeFileSync(join(root, 'secret.yaml'), `secret: ${SECRET}\n`);
  symlinkSync(join(root, 'secret.yaml'), join(schedules, 'link-out.yaml'));
  symlinkSync(join(schedules, 'removed.yaml'), join(schedules, 'link-to-nothing.yaml'));
  return { root, layout, schedules };
}

const start = (batchId: string, schedule: string) => ({ batchId, patient: batchId, schedule, signature: { reason: 'MES order', password: OPERATOR.password } });

describe('the schedules a batch may be started on', () => {
  let files: ReturnType<typeof site>;
  let database: string;
  let test: TestServer;
  let operator: HmiClient;

  beforeAll(async () => {
    files = site();
    database = databaseRunOn(files.layout);
    test = await startTestServer(database);
    operator = test.client();
    expect((await operator.logIn(OPERATOR)).status).toBe(200);
  });
  afterAll(async () => {
    await test?.close();
  });

  it('lists the schedules beside the layout the workcell last ran on, each checked against it', async () => {
    const listed = await operator.get('/api/schedules');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json).toMatchObject({ directory: files.schedules, layout: files.layout });
    // The link out of the directory is no schedule of it, nor is a link to nothing.
    expect(listed.json.schedules.map((s: { name: string }) => s.name)).toEqual(['broken.yaml', 'short.yaml']);
    expect(listed.json.schedules[1]).toEqual({ name: 'short.yaml', id: 'short', version: '1.0.0', title: 'Short process for orchestrator tests', product: null, startable: true, problems: [] });
    expect(listed.json.schedules[0]).toMatchObject({ name: 'broken.yaml', id: 'short', startable: false });
    expect(listed.json.schedules[0].problems).toEqual([expect.stringMatching(/broken\.yaml:\d+:\d+: parameter 'voltage': wrong unit 'mL'/)]);
  });

  it.each([
    ['a path up and out', '../secret.yaml'],
    ['an absolute path elsewhere', 'SECRET'],
    ['a symbolic link out of the directory', 'link-out.yaml'],
    ['a path through a subdirectory', 'sub/../../secret.yaml'],
    ['a system file', '/etc/passwd'],
  ])('refuses %s with 400 naming the directory, reading nothing', async (_what, name) => {
    const answer = await operator.post('/api/batches', start('P-OUT', name === 'SECRET' ? join(files.root, 'secret.yaml') : name));
    expect(answer.status, answer.text).toBe(400);
    expect(answer.json.error).toContain(`is not a schedule of ${files.schedules}: batches are started on the schedules of that directory, named by file name (GET /api/schedules lists them)`);
    expect(answer.text).not.toContain(SECRET);
    const log = new EventLog(database, { readonly: true });
    expect(log.ofType('batch.requested')).toEqual([]);
    log.close();
  });

  it('names a schedule not in the directory, and keeps FILE:LINE:COL for a schedule that does not fit', async () => {
    const missing = await operator.post('/api/batches', start('P-MISSING', 'missing.yaml'));
    expect(missing.status).toBe(400);
    expect(missing.json.error).toBe(`no schedule 'missing.yaml' in ${files.schedules} (GET /api/schedules lists them)`);
    const broken = await operator.post('/api/batches', start('P-BROKEN', 'broken.yaml'));
    expect(broken.status).toBe(409);
    expect(broken.json.error).toMatch(new RegExp(`${join(files.schedules, 'broken.yaml')}:\\d+:\\d+: parameter 'voltage': wrong unit 'mL'`));
  });

  it('starts a batch on a schedule named by file name, or by its path in the directory', async () => {
    for (const [batchId, name] of [['P-001', 'short.yaml'], ['P-002', join(files.schedules, 'short.yaml')]] as const) {
      const answer = await operator.post('/api/batches', start(batchId, name));
      expect(answer.status, answer.text).toBe(202);
    }
    const log = new EventLog(database, { readonly: true });
    expect(log.ofType('batch.requested').map((r) => [r.data.batchId, r.data.schedule.file])).toEqual([
      ['P-001', join(files.schedules, 'short.yaml')],
      ['P-002', join(files.schedules, 'short.yaml')],
    ]);
    log.close();
  });

  it('takes the directory workcell serve --schedules names instead', async () => {
    const approved = mkdtempSync(join(tmpdir(), 'workcell-approved-'));
    copyFileSync(SHORT_SCHEDULE, join(approved, 'short-v1.yaml'));
    const other = await startTestServer(database, { schedules: approved });
    try {
      const client = other.client();
      await client.logIn(OPERATOR);
      expect((await client.get('/api/schedules')).json).toMatchObject({ directory: approved, schedules: [{ name: 'short-v1.yaml', startable: true }] });
      // The schedules beside the layout are not among them.
      const beside = await client.post('/api/batches', start('P-003', join(files.schedules, 'short.yaml')));
      expect(beside.status).toBe(400);
      expect(beside.json.error).toContain(`is not a schedule of ${approved}`);
      expect((await client.post('/api/batches', start('P-003', 'short-v1.yaml'))).status).toBe(202);
      rmSync(approved, { recursive: true });
      const gone = await client.get('/api/schedules');
      expect(gone.status).toBe(409);
      expect(gone.json.error).toBe(`the schedules directory ${approved} (workcell serve --schedules) is not there any more`);
    } finally {
      await other.close();
    }
  });

  // Root reads a directory whatever its mode: there, chmod cannot make one unreadable.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) console.info('api-schedules: running as root, where chmod 000 does not stop reads: the unreadable-directory case is skipped (the replaced-directory cases below run)');
  it.skipIf(asRoot)('answers 409 naming a schedules directory the server may not read, without a stack', async () => {
    const locked = mkdtempSync(join(tmpdir(), 'workcell-locked-'));
    copyFileSync(SHORT_SCHEDULE, join(locked, 'short.yaml'));
    chmodSync(locked, 0o000);
    const other = await startTestServer(database, { schedules: locked });
    try {
      const client = other.client();
      await client.logIn(OPERATOR);
      const listed = await client.get('/api/schedules');
      expect(listed.status, listed.text).toBe(409);
      expect(listed.json.error).toBe(`the schedules directory ${locked} cannot be read: it may not be read by the server (permission denied)`);
      expect(listed.text).not.toMatch(/\n\s+at /);
    } finally {
      await other.close();
      chmodSync(locked, 0o700);
    }
  });

  it('answers 409 for a schedules directory removed, or replaced by a file, after it was looked at', () => {
    const replaced = mkdtempSync(join(tmpdir(), 'workcell-replaced-'));
    const directory = join(replaced, 'schedules');
    writeFileSync(directory, 'no longer a directory\n');
    const refusal = (read: () => unknown) => {
      try {
        read();
      } catch (error) {
        return error instanceof ApiError ? [error.status, error.message] : error;
      }
      return 'read';
    };
    expect(refusal(() => listSchedules(directory, files.layout))).toEqual([409, `the schedules directory ${directory} cannot be read: it is no longer a directory`]);
    rmSync(directory);
    expect(refusal(() => listSchedules(directory, files.layout))).toEqual([409, `the schedules directory ${directory} cannot be read: it is not there any more`]);
    expect(refusal(() => scheduleFileIn(directory, 'short.yaml'))).toEqual([409, `the schedules directory ${directory} cannot be read: it is not there any more`]);
  });

  it('refuses a --schedules that names no directory, saying so', async () => {
    const cli = await runCli(['serve', '--db', database, '--schedules', join(files.root, 'secret.yaml'), '--port', '0']);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toContain(`--schedules names the directory of the schedules batches may be started on; ${join(files.root, 'secret.yaml')} is not a directory`);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('says how to name a directory when there is none beside the layout', async () => {
    const alone = mkdtempSync(join(tmpdir(), 'workcell-line-'));
    const layout = join(alone, 'two-lane.yaml');
    copyFileSync(TWO_LANE_SILA, layout);
    const other = await startTestServer(databaseRunOn(layout));
    try {
      const client = other.client();
      await client.logIn(OPERATOR);
      for (const answer of [await client.get('/api/schedules'), await client.post('/api/batches', start('P-001', 'short.yaml'))]) {
        expect(answer.status).toBe(409);
        expect(answer.json.error).toBe(`no schedules directory beside the layout ${layout} (looked for ${join(alone, 'schedules')}): start workcell serve with --schedules DIR, the directory of the schedules batches may be started on`);
      }
    } finally {
      await other.close();
    }
  });
});

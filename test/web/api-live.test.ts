/**
 * The live stream over real HTTPS: a `status` event when another process writes to the log (seen through
 * the log watcher), `entry` events after the cursor a client gives, and the OpenAPI document.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { ENTRY_SCHEMAS } from '../../orchestrator/entries/index.ts';
import { API_ROUTES } from '../../web/server/app.ts';
import { OPERATOR } from '../support/operators.ts';
import { REPO_ROOT } from '../support/cli.ts';
import { databaseWithOperators, startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';

/** Appends an alarm from a process of its own, as `workcell` commands and the orchestrator do. */
function alarmFromAnotherProcess(database: string, message: string): Promise<void> {
  const script = `import { EventLog } from './orchestrator/event-log.ts';
const log = new EventLog(${JSON.stringify(database)});
log.append({ stream: 'workcell', type: 'alarm', at: Date.now(), data: { kind: 'security', message: ${JSON.stringify(message)} } });
log.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`the writer exited ${status}: ${stderr}`))));
  });
}

describe('the live stream and the API document', () => {
  let database: string;
  let test: TestServer;
  let client: HmiClient;

  beforeAll(async () => {
    database = databaseWithOperators();
    test = await startTestServer(database);
    client = test.client();
    expect((await client.logIn(OPERATOR)).status).toBe(200);
  }, 60_000);
  afterAll(() => test?.close());

  it('sends a status event at once, and another with the entry after another process writes', async () => {
    let wrote = false;
    const events = await client.events('/api/events', (seen) => {
      if (!wrote && seen.some((e) => e.event === 'status')) {
        wrote = true;
        void alarmFromAnotherProcess(database, 'door of the isolator open');
      }
      return seen.some((e) => e.event === 'status' && e.data.alarms.some((a: { message: string }) => a.message === 'door of the isolator open'));
    });
    expect(events[0]!.event).toBe('status');
    expect(events[0]!.data.alarms).toEqual([]);
    const entry = events.find((e) => e.event === 'entry');
    expect(entry?.data).toMatchObject({ stream: WORKCELL_STREAM, type: 'alarm', data: { kind: 'security', message: 'door of the isolator open' } });
    expect(Number(entry!.id)).toBe(entry!.data.seq);
    // The entry comes before the status that shows it: a client that reads both sees them agree.
    expect(events.findIndex((e) => e.event === 'entry')).toBeLessThan(events.length - 1);
  }, 60_000);

  it('sends the entries after the cursor a client gives (Last-Event-ID or ?after), never the operators stream', async () => {
    const log = new EventLog(database);
    const written = [1, 2, 3].map((i) => log.append({ stream: WORKCELL_STREAM, type: 'alarm', at: i, data: { kind: 'security', message: `alarm ${i}` } }));
    log.close();
    const entriesOf = (events: Array<{ event: string; data: any }>) => events.filter((e) => e.event === 'entry').map((e) => e.data.data.message);
    const fromHeader = await client.events('/api/events', (seen) => seen.some((e) => e.event === 'status'), { 'last-event-id': String(written[0]!.seq) });
    expect(entriesOf(fromHeader)).toEqual(['alarm 2', 'alarm 3']);
    const fromQuery = await client.events('/api/events?after=0', (seen) => seen.some((e) => e.event === 'status'));
    expect(fromQuery.filter((e) => e.event === 'entry').map((e) => e.data.stream)).not.toContain('operators');
    expect(entriesOf(fromQuery).slice(-3)).toEqual(['alarm 1', 'alarm 2', 'alarm 3']);
  }, 60_000);

  it('ends the stream when its session ends', async () => {
    const other = test.client();
    await other.logIn(OPERATOR);
    let loggedOut = false;
    /** How many events had come when the logout was done: none may follow it. */
    let seenAtLogout = -1;
    const events = await other.events('/api/events', (seen) => {
      if (!loggedOut && seen.some((e) => e.event === 'status')) {
        loggedOut = true;
        void other.send('DELETE', '/api/session').then(() => {
          seenAtLogout = seen.length;
          return alarmFromAnotherProcess(database, 'after the logout');
        });
      }
      return false;
    });
    expect(loggedOut).toBe(true);
    expect(seenAtLogout).toBeGreaterThan(0);
    // Status events only while the session was open (a change may have brought a second one before the logout).
    expect(new Set(events.slice(0, seenAtLogout).map((e) => e.event))).toEqual(new Set(['status']));
    expect(events.slice(seenAtLogout)).toEqual([]);
  }, 60_000);

  it('describes every route in an OpenAPI 3.1 document whose schemas validate what the server answers', async () => {
    const answer = await client.get('/api/openapi.json');
    expect(answer.status).toBe(200);
    const document = answer.json;
    expect(document.openapi).toBe('3.1.0');
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${path}`, path, operation })));
    expect(operations.map((o) => o.key).sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const key of ['POST /api/session', 'DELETE /api/session', 'GET /api/session', 'GET /api/status', 'GET /api/events', 'GET /api/entries', 'GET /api/batches', 'POST /api/batches', 'GET /api/batches/{id}/record', 'POST /api/batches/{id}/review', 'GET /api/holds', 'POST /api/holds/{batch}/answer', 'GET /api/timeline', 'GET /api/site', 'GET /api/audit', 'GET /api/operators', 'POST /api/operators', 'POST /api/operators/{id}/disable', 'POST /api/operators/me/password']) {
      expect(operations.map((o) => o.key)).toContain(key);
    }
    const ids = operations.map((o) => o.operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { key, path, operation } of operations) {
      expect(operation.summary, key).toEqual(expect.any(String));
      expect(operation.responses['200'] ?? operation.responses['202'], key).toBeDefined();
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) expect(operation.parameters?.some((p: { name: string; in: string }) => p.name === name && p.in === 'path'), `${key} declares {${name}}`).toBe(true);
    }
    // Every reference resolves, and every entry type has its schema.
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    for (const ref of new Set(refs)) expect(document.components.schemas[ref], ref).toBeDefined();
    for (const type of Object.keys(ENTRY_SCHEMAS)) expect(document.components.schemas[`entry.${type}`]?.properties.data, type).toBeDefined();

    // The document's schemas, compiled as JSON Schema 2020-12, accept what the server answers and refuse a wrong entry.
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    ajv.addSchema({ $id: 'https://workcell.invalid/api', components: document.components });
    const schemaOf = (key: string) => {
      const operation = operations.find((o) => o.key === key)!.operation;
      return ajv.compile(JSON.parse(JSON.stringify(operation.responses['200'].content['application/json'].schema).replaceAll('"#/components/', '"https://workcell.invalid/api#/components/')));
    };
    const log = new EventLog(database);
    log.append({ stream: 'P-042', type: 'deviation', at: 1, data: { kind: 'out-of-limit', message: 'viability 61 % below 70 %' } });
    log.close();
    const entries = schemaOf('GET /api/entries');
    const page = (await client.get('/api/entries?after=0&limit=1000')).json;
    expect(page.entries.length).toBeGreaterThan(0);
    expect(entries(page), JSON.stringify(entries.errors)).toBe(true);
    const forged = { ...page, entries: [{ ...page.entries.at(-1), data: { kind: 'out-of-limit' } }] };
    expect(entries(forged)).toBe(false);
    for (const [key, path] of [['GET /api/status', '/api/status'], ['GET /api/holds', '/api/holds'], ['GET /api/session', '/api/session'], ['GET /api/batches', '/api/batches'], ['GET /api/timeline', '/api/timeline']] as const) {
      const validate = schemaOf(key);
      expect(validate((await client.get(path)).json), `${key}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});

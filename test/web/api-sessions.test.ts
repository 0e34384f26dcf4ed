/**
 * When web sessions end, over real HTTPS. Only a person's use restarts the idle time: what the app fetches
 * on its own (marked by the x-workcell-background header) and its event stream do not, so that an
 * unattended screen times out. A password changed or an operator disabled in a terminal (`workcell
 * operators passwd/disable`, another process) ends that user's sessions at their next request.
 * The server runs in this process: faking Date moves its clock too, without waiting out an idle time.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ADMIN, OPERATOR, QA } from '../support/operators.ts';
import { runCli } from '../support/cli.ts';
import { databaseWithOperators, startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';

const IDLE_MS = 60_000;

const inBackground = (client: HmiClient, path: string) => client.send('GET', path, { headers: { 'x-workcell-background': '1' } });

describe('the idle time of a web session', () => {
  let test: TestServer;

  beforeAll(async () => {
    test = await startTestServer(databaseWithOperators(), { sessionLimits: { idleMs: IDLE_MS, lifetimeMs: 3_600_000 } });
  }, 60_000);
  afterAll(() => test?.close());
  beforeEach(() => void vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true }));
  afterEach(() => void vi.useRealTimers());

  it('is not restarted by what the app fetches on its own nor by its event stream: the session ends, and its stream with it', async () => {
    const client = test.client();
    expect((await client.logIn(OPERATOR)).status).toBe(200);
    // Kept open all along: it ends when the session does, though the log does not change.
    const stream = client.events('/api/events', () => false, {}, 15_000);
    for (let i = 1; i <= 5; i++) {
      vi.advanceTimersByTime(11_000);
      const refetch = await inBackground(client, i % 2 ? '/api/batches' : '/api/status');
      expect(refetch.status, `background request ${i}, ${i * 11} s after login`).toBe(200);
      // A stream opened again (as EventSource does after a dropped connection) is no use either.
      if (i === 3) await client.events('/api/events', (events) => events.some((e) => e.event === 'status'));
    }
    vi.advanceTimersByTime(IDLE_MS - 55_000 + 1_000);
    const events = await stream;
    expect(events[0]?.event).toBe('status');
    const ended = await inBackground(client, '/api/status');
    expect(ended.status).toBe(401);
    expect(ended.json.error).toMatch(/the session ended \(logged out, idle too long/);
    expect((await client.get('/api/session')).status).toBe(401);
  }, 30_000);

  it("is restarted by a person's request (without the header), and only by it", async () => {
    const client = test.client();
    expect((await client.logIn(QA)).status).toBe(200);
    vi.advanceTimersByTime(50_000);
    expect((await client.get('/api/holds')).status).toBe(200);
    vi.advanceTimersByTime(50_000);
    expect((await inBackground(client, '/api/status')).status, '100 s after login, 50 s after the last use').toBe(200);
    vi.advanceTimersByTime(IDLE_MS - 50_000 + 1_000);
    expect((await inBackground(client, '/api/status')).status, 'idle time after the last use').toBe(401);
  });
});

describe('a password changed or an operator disabled from the CLI', () => {
  let database: string;
  let test: TestServer;

  beforeAll(async () => {
    database = databaseWithOperators();
    test = await startTestServer(database);
  }, 60_000);
  afterAll(() => test?.close());

  it('ends the sessions opened before it at their next request; a login after it with the new password works', async () => {
    const before = test.client();
    expect((await before.logIn(OPERATOR)).status).toBe(200);
    const unrelated = test.client();
    expect((await unrelated.logIn(QA)).status).toBe(200);
    const passwd = await runCli(['operators', 'passwd', OPERATOR.user, '--db', database], { env: { WORKCELL_PASSWORD: OPERATOR.password, WORKCELL_NEW_PASSWORD: 'operator-password-2' } });
    expect(passwd.status, passwd.stderr).toBe(0);
    const ended = await before.get('/api/status');
    expect(ended.status).toBe(401);
    expect(ended.json.error).toMatch(/the password changed/);
    // The cookie is no longer worth anything, not even for a background request.
    expect((await inBackground(before, '/api/session')).status).toBe(401);
    expect((await unrelated.get('/api/status')).status).toBe(200);
    const after = test.client();
    expect((await after.logIn({ user: OPERATOR.user, password: 'operator-password-2' })).status).toBe(200);
    expect((await after.get('/api/status')).status).toBe(200);
  }, 60_000);

  it('ends the open event stream of a session whose operator was disabled', async () => {
    const client = test.client();
    expect((await client.logIn(QA)).status).toBe(200);
    const stream = client.events('/api/events', () => false, {}, 30_000);
    const disable = await runCli(['operators', 'disable', QA.user, '--reason', 'left the site', '--by', ADMIN.user, '--db', database], { env: { WORKCELL_PASSWORD: ADMIN.password } });
    expect(disable.status, disable.stderr).toBe(0);
    const events = await stream;
    expect(events[0]?.event).toBe('status');
    expect((await client.get('/api/status')).status).toBe(401);
  }, 60_000);
});

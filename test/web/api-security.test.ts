/**
 * The HMI server's security over real HTTPS: sessions (cookie attributes, logout, idle end), the lockout
 * shared with CLI signatures, a session and a role for every route, CSRF, CSP, and no plain HTTP off loopback.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { EventLog } from '../../orchestrator/event-log.ts';
import { changePassword, LOCKOUT, SignatureRefused } from '../../orchestrator/signatures.ts';
import { API_ROUTES, startHmiServer } from '../../web/server/app.ts';
import { SessionStore } from '../../web/server/sessions.ts';
import { ADMIN, OPERATOR, QA } from '../support/operators.ts';
import { REPO_ROOT, runCli } from '../support/cli.ts';
import { startCli } from '../support/background-cli.ts';
import { HmiClient } from '../support/hmi.ts';
import { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { appAssets, databaseWithOperators, startTestServer, type TestServer } from '../support/hmi.ts';

const USERS = { operator: OPERATOR, qa: QA, admin: ADMIN };
/** A path of the route with its parameters filled. */
const pathOf = (path: string) => path.replace('{id}', 'P-001').replace('{batch}', 'P-001');

describe('the HMI server over HTTPS', () => {
  let database: string;
  let test: TestServer;

  beforeAll(async () => {
    database = databaseWithOperators();
    test = await startTestServer(database);
  }, 60_000);
  afterAll(() => test?.close());

  it('logs in with a session cookie (HttpOnly, Secure, SameSite=Strict) and its CSRF token, and out', async () => {
    const client = test.client();
    const login = await client.logIn(OPERATOR);
    expect(login.status).toBe(200);
    expect(login.json).toMatchObject({ user: OPERATOR.user, printedName: 'Anna Jansen', roles: ['operator'] });
    expect(login.json.csrfToken).toMatch(/^[\w-]{40,}$/);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/^__Host-workcell-session=[\w-]{40,};/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect((await client.get('/api/session')).json).toEqual(login.json);
    expect((await client.get('/api/status')).status).toBe(200);
    const token = client.cookie;
    expect((await client.send('DELETE', '/api/session')).status).toBe(200);
    // The old cookie, kept by someone, opens nothing: the session is gone on the server.
    client.cookie = token;
    const after = await client.get('/api/status');
    expect(after.status).toBe(401);
    expect(after.json.error).toMatch(/session ended/);
  });

  it('refuses a wrong password with 401, records it, and locks the user id for logins and CLI signatures alike', async () => {
    const client = test.client();
    const log = new EventLog(database);
    try {
      const refusedBefore = log.ofType('signature.refused').length;
      for (let i = 0; i < LOCKOUT.attempts; i++) {
        const wrong = await client.logIn({ user: OPERATOR.user, password: 'not the password' });
        expect(wrong.status).toBe(401);
        expect(wrong.json.error).toMatch(/unknown user 'a.jansen' or wrong password/);
      }
      const refused = log.ofType('signature.refused').slice(refusedBefore);
      expect(refused.map((e) => [e.data.user, e.data.action, e.data.kind])).toEqual(Array.from({ length: LOCKOUT.attempts }, () => [OPERATOR.user, 'login', 'credentials']));
      const locked = await client.logIn(OPERATOR);
      expect(locked.status).toBe(429);
      expect(locked.json.error).toMatch(/a.jansen is locked after 5 wrong passwords within 15 min, until \d{4}-/);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
      // The same lockout holds for a signature given in a terminal.
      expect(() => changePassword(log, OPERATOR, 'another-password-1', 0)).toThrow(SignatureRefused);
      expect(() => changePassword(log, OPERATOR, 'another-password-1', 0)).toThrow(/locked/);
      // And wrong passwords typed for CLI signatures lock the login page.
      for (let i = 0; i < LOCKOUT.attempts; i++) expect(() => changePassword(log, { user: QA.user, password: 'wrong-password-1' }, 'another-password-1', 0)).toThrow(/wrong password/);
      const qa = await client.logIn(QA);
      expect(qa.status).toBe(429);
      expect(qa.json.error).toMatch(/qa.lee is locked/);
    } finally {
      log.close();
    }
    // Later tests sign in as these two: a fresh database and server for them.
    await test.close();
    database = databaseWithOperators();
    test = await startTestServer(database);
  }, 60_000);

  it('lets an anonymous visitor read nothing but the login page and its assets', async () => {
    const anonymous = test.client();
    for (const route of API_ROUTES.filter((r) => r.access !== 'public')) {
      const answer = await anonymous.send(route.method, pathOf(route.path), { body: route.method === 'GET' ? undefined : {} });
      expect(answer.status, `${route.method} ${route.path}`).toBe(401);
      expect(answer.json.error).toMatch(/log in first/);
    }
    expect((await anonymous.get('/api/openapi.json')).status).toBe(401);
    expect((await anonymous.get('/app.js')).status).toBe(401);
    expect((await anonymous.get('/nothing-here')).status).toBe(401);
    const root = await anonymous.get('/');
    expect(root.status).toBe(303);
    expect(root.headers.location).toBe('/login');
    const login = await anonymous.get('/login');
    expect(login.status).toBe(200);
    expect(login.text).toContain('<script type="module" src="/login.js"></script>');
    expect((await anonymous.get('/login.js')).status).toBe(200);
    expect((await anonymous.get('/app.css')).status).toBe(200);
  });

  it("serves the app's chunks (its plotting code among them) to a session only: each file the build wrote, nothing else", async () => {
    const assets = await appAssets();
    const chunks = readdirSync(join(assets, 'chunks'));
    const plots = chunks.find((c) => c.startsWith('plots-'));
    expect(plots, 'Observable Plot is a chunk of its own').toBeDefined();
    // The app's own script starts without it: every view but the record and the timeline draws no plot.
    expect(readFileSync(join(assets, 'app.js'), 'utf8')).not.toContain('gantt-plot');
    expect(readFileSync(join(assets, 'chunks', plots!), 'utf8')).toContain('gantt-plot');
    const anonymous = test.client();
    const signedIn = test.client();
    expect((await signedIn.logIn(QA)).status).toBe(200);
    for (const chunk of chunks) {
      expect((await anonymous.get(`/chunks/${chunk}`)).status, chunk).toBe(401);
      const served = await signedIn.get(`/chunks/${chunk}`);
      expect(served.status, chunk).toBe(200);
      expect(served.headers['content-type']).toMatch(/^text\/javascript|^application\/javascript/);
      expect(served.text).toBe(readFileSync(join(assets, 'chunks', chunk), 'utf8'));
      // Named by its content's hash: kept by this user's browser, never by a shared cache.
      expect(served.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    }
    // What app.js shares with the plotting code is fetched with app.js; the plotting code only where plots are shown.
    const index = (await signedIn.get('/')).text;
    for (const chunk of chunks) expect(index.includes(`<link rel="modulepreload" href="/chunks/${chunk}">`), chunk).toBe(chunk !== plots);
    expect((await signedIn.get('/chunks/no-such-chunk.js')).status).toBe(404);
    expect((await signedIn.get('/chunks/..%2Fapp.js')).status).toBe(404);
    expect((await signedIn.get('/chunks/')).status).toBe(404);
  });

  it('refuses every route to a user without its role, with 403 and why', async () => {
    const clients = Object.fromEntries(await Promise.all(Object.entries(USERS).map(async ([role, credentials]) => {
      const client = test.client();
      expect((await client.logIn(credentials)).status).toBe(200);
      return [role, client] as const;
    })));
    const guarded = API_ROUTES.filter((r) => Array.isArray(r.access));
    expect(guarded.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['POST /api/holds/{batch}/answer', 'POST /api/batches/{id}/review', 'POST /api/operators', 'POST /api/operators/{id}/disable', 'GET /api/operators', 'GET /api/audit', 'POST /api/batches']));
    for (const route of guarded) {
      const roles = route.access as readonly string[];
      for (const [role, client] of Object.entries(clients)) {
        if (roles.includes(role)) continue;
        const answer = await client.send(route.method, pathOf(route.path), { body: route.method === 'GET' ? undefined : {} });
        expect(answer.status, `${role} ${route.method} ${route.path}`).toBe(403);
        expect(answer.json.error).toContain(`may not do this: it needs the role ${roles.join(' or ')}`);
      }
    }
    // Allowed, the same request gets past the role check to its own validation.
    const review = await clients.qa!.post('/api/batches/P-001/review', {});
    expect(review.status).toBe(400);
    expect(review.json.error).toMatch(/body must have required property/);
  });

  it('refuses a mutating request without the session\'s CSRF token, or with another', async () => {
    const client = test.client();
    await client.logIn(QA);
    const body = { decision: 'approve', reason: 'reviewed', password: QA.password };
    const without = await client.post('/api/batches/P-001/review', body, { csrf: false });
    expect(without.status).toBe(403);
    expect(without.json.error).toMatch(/x-csrf-token/);
    const other = await client.send('POST', '/api/batches/P-001/review', { body, csrf: false, headers: { 'x-csrf-token': 'A'.repeat(43) } });
    expect(other.status).toBe(403);
    expect((await client.send('DELETE', '/api/session', { csrf: false })).status).toBe(403);
    expect((await client.get('/api/session')).status).toBe(200);
    // A cross-site form cannot post JSON: other bodies are refused, the login's too.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const form = await client.send('POST', '/api/session', { raw: `{"user":"${QA.user}","password":"${QA.password}"}`, headers: { 'content-type': type }, csrf: false });
      expect(form.status, type).toBe(415);
    }
    // With it, the request reaches the operation (which has no such batch to review).
    const withToken = await client.post('/api/batches/P-001/review', body);
    expect(withToken.status).toBe(409);
    expect(withToken.json.error).toMatch(/no batch P-001/);
  });

  it('sends a strict Content-Security-Policy and keeps API answers out of caches', async () => {
    const client = test.client();
    for (const path of ['/login', '/api/status']) {
      const answer = await client.get(path);
      const csp = String(answer.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
      expect(answer.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    }
    expect((await client.get('/api/status')).headers['cache-control']).toBe('no-store');
  });

  it('keeps its self-signed certificate beside the database: the same one at the next start', async () => {
    const again = await startTestServer(database);
    try {
      expect(again.ca).toBe(test.ca);
      expect((await again.client().get('/login')).status).toBe(200);
    } finally {
      await again.close();
    }
  });
});

describe('the serve command', () => {
  it('prints the URL and the fingerprint of the certificate it keeps, serves over HTTPS, and stops on SIGTERM', async () => {
    const database = databaseWithOperators();
    const serve = await startCli(['serve', '--db', database, '--port', '0'], { cwd: REPO_ROOT, readyWhen: /Stop with Ctrl-C/ });
    try {
      const url = /at (https:\/\/127\.0\.0\.1:\d+)\//.exec(serve.output())?.[1];
      expect(url, serve.output()).toBeDefined();
      const certificate = readFileSync(`${database}.web/https-cert.pem`, 'utf8');
      expect(serve.output()).toContain(`SHA-256 fingerprint ${new X509Certificate(certificate).fingerprint256}`);
      const client = new HmiClient(url!, certificate);
      expect((await client.get('/login')).status).toBe(200);
      expect((await client.logIn(OPERATOR)).status).toBe(200);
      expect((await client.get('/')).text).toContain('<script type="module" src="/app.js"></script>');
    } finally {
      serve.child.kill('SIGTERM');
    }
    expect(await serve.exited).toBe(0);
  }, 60_000);
});

describe('serving without TLS', () => {
  it('refuses plain HTTP on a non-loopback address, in the server and in the command', async () => {
    const database = databaseWithOperators();
    await expect(startHmiServer({ database, host: '0.0.0.0', port: 0, assets: await appAssets() })).rejects.toThrow(/refusing to serve plain HTTP on 0.0.0.0/);
    const cli = await runCli(['serve', '--db', database, '--insecure', '--host', '0.0.0.0', '--port', '0']);
    expect(cli.status).toBe(2);
    expect(cli.stderr).toMatch(/--insecure serves plain HTTP, on a loopback address only/);
    expect(cli.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it('serves plain HTTP on loopback with --insecure', async () => {
    const database = databaseWithOperators();
    const server = await startHmiServer({ database, host: '127.0.0.1', port: 0, assets: await appAssets() });
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const answer = await fetch(`${server.url}/api/status`);
      expect(answer.status).toBe(401);
    } finally {
      await server.close();
    }
  });
});

describe('sessions', () => {
  it('end after the idle time and after their lifetime, and a copy of the table opens none', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'workcell-sessions-')), 'sessions.db');
      const store = new SessionStore(file, { idleMs: 60_000, lifetimeMs: 180_000 });
      const { token, session } = store.open('a.jansen', 0);
      vi.advanceTimersByTime(59_000);
      expect(store.use(token)?.csrfToken).toBe(session.csrfToken);
      vi.advanceTimersByTime(59_000);
      expect(store.use(token)?.user).toBe('a.jansen');
      vi.advanceTimersByTime(61_000);
      expect(store.use(token)).toBeUndefined();
      const second = store.open('a.jansen', 0);
      for (let i = 0; i < 3; i++) {
        vi.advanceTimersByTime(59_000);
        expect(store.use(second.token)).toBeDefined();
      }
      vi.advanceTimersByTime(59_000);
      expect(store.use(second.token)).toBeUndefined();
      const third = store.open('qa.lee', 0);
      const stored = new Database(file, { readonly: true }).prepare('SELECT token_hash FROM sessions').all() as Array<{ token_hash: string }>;
      expect(stored.map((r) => r.token_hash)).not.toContain(third.token);
      expect(store.use(stored[0]!.token_hash)).toBeUndefined();
      store.shutdown();
    } finally {
      vi.useRealTimers();
    }
  });
});

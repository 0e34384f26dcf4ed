/**
 * POST /api/session under attack, over real HTTPS: passwords are compared off the event loop (a login
 * does not stall the other requests), each client address has a login limit (@fastify/rate-limit: 429
 * and Retry-After), and a locked user id's further attempts are refused with the lock's end but recorded
 * once per lock, so that an anonymous visitor cannot flood the GMP operators stream. The server runs in
 * this process: faking Date moves its clock too.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import { LOCKOUT, refusedSignatures } from '../../orchestrator/signatures.ts';
import { ADMIN, OPERATOR, QA } from '../support/operators.ts';
import { databaseWithOperators, startTestServer, type TestServer } from '../support/hmi.ts';

const WRONG = 'not-the-password-1';

describe('logging in under load and attack', () => {
  let database: string;
  let test: TestServer;

  const refusalsOf = (user: string) => {
    const log = new EventLog(database, { readonly: true });
    try {
      return refusedSignatures(log).filter((e) => e.data.user === user).map((e) => e.data.kind);
    } finally {
      log.close();
    }
  };

  beforeAll(async () => {
    database = databaseWithOperators();
    test = await startTestServer(database);
  }, 60_000);
  afterAll(() => test?.close());
  afterEach(() => void vi.useRealTimers());

  it('compares passwords off the event loop: while logins are in flight, the server is free to answer others', async () => {
    // What one login held the event loop for when scrypt ran on it (the stored hashes' parameters).
    const timings = [0, 1, 2].map(() => {
      const started = performance.now();
      scryptSync('a password', randomBytes(16), 32);
      return performance.now() - started;
    });
    const scryptMs = Math.min(...timings);
    // The first login of a process compiles what it runs (schemas, serialisers, TLS): not what is measured.
    await test.client({ from: '127.0.0.2' }).logIn({ user: 'nobody', password: WRONG });
    // Idle time: the event loop waiting for work, free to take another request. With scrypt on it, the
    // loop is busy from the first login's arrival to the last one's answer (measured: idle 0).
    const before = performance.eventLoopUtilization();
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => test.client({ from: '127.0.0.2' }).logIn({ user: `nobody-${i}`, password: WRONG })));
    const { idle, active } = performance.eventLoopUtilization(before);
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(401));
    expect(idle, `event loop idle ${idle.toFixed(0)} ms, busy ${active.toFixed(0)} ms while 6 logins ran; one scrypt takes ${scryptMs.toFixed(0)} ms`).toBeGreaterThan(2 * scryptMs);
  });

  it('limits login attempts per client address: 429 with Retry-After, before any password is compared, and again after the window', async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const from = '127.0.0.3';
    for (let i = 0; i < 10; i++) {
      const attempt = await test.client({ from }).logIn(i % 2 ? ADMIN : { user: `guess-${i}`, password: WRONG });
      expect(attempt.status, `attempt ${i + 1}`).toBe(i % 2 ? 200 : 401);
    }
    const refusedBefore = refusalsOf('guess-10').length;
    for (const credentials of [{ user: 'guess-10', password: WRONG }, ADMIN]) {
      const limited = await test.client({ from }).logIn(credentials);
      expect(limited.status).toBe(429);
      expect(limited.json.error).toMatch(/^too many login attempts from this address \(10 within 60 s\): try again in \d+ s$/);
      const retryAfter = Number(limited.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(limited.headers['set-cookie']).toBeUndefined();
    }
    // Nothing was compared or recorded for the refused attempt.
    expect(refusalsOf('guess-10').length).toBe(refusedBefore);
    // Another address is not limited by this one's attempts.
    expect((await test.client({ from: '127.0.0.4' }).logIn(ADMIN)).status).toBe(200);
    vi.advanceTimersByTime(61_000);
    expect((await test.client({ from }).logIn(ADMIN)).status).toBe(200);
  });

  it("refuses a locked user id's attempts with the lock's end, recording them once per lock, and locks again after it", async () => {
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    const client = test.client({ from: '127.0.0.5' });
    for (let i = 0; i < LOCKOUT.attempts; i++) expect((await client.logIn({ user: OPERATOR.user, password: WRONG })).status).toBe(401);
    for (const password of [WRONG, OPERATOR.password, WRONG]) {
      const locked = await client.logIn({ user: OPERATOR.user, password });
      expect(locked.status).toBe(429);
      expect(locked.json.error).toMatch(/a\.jansen is locked after 5 wrong passwords within 15 min, until \d{4}-\d\d-\d\dT/);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
    }
    expect(refusalsOf(OPERATOR.user)).toEqual([...Array(LOCKOUT.attempts).fill('credentials'), 'locked']);
    // The lock ends; wrong passwords lock the user id again, and this lock's first refusal is recorded.
    vi.advanceTimersByTime(LOCKOUT.windowMs + 1_000);
    expect((await client.logIn(OPERATOR)).status).toBe(200);
    for (let i = 0; i < LOCKOUT.attempts; i++) expect((await client.logIn({ user: OPERATOR.user, password: WRONG })).status).toBe(401);
    for (let i = 0; i < 3; i++) expect((await client.logIn({ user: OPERATOR.user, password: WRONG })).status).toBe(429);
    const credentials = Array(LOCKOUT.attempts).fill('credentials');
    expect(refusalsOf(OPERATOR.user)).toEqual([...credentials, 'locked', ...credentials, 'locked']);
    const log = new EventLog(database, { readonly: true });
    try {
      const alarms = log.stream(WORKCELL_STREAM).filter((e) => e.type === 'alarm' && e.data.message.includes(`user id ${OPERATOR.user} locked`));
      expect(alarms).toHaveLength(2);
    } finally {
      log.close();
    }
  });

  it('lets no guesses sent all at once past the lockout: the ones compared after the lock count as locked', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => test.client({ from: '127.0.0.6' }).logIn({ user: QA.user, password: WRONG })));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(LOCKOUT.attempts);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(8 - LOCKOUT.attempts);
    expect(refusalsOf(QA.user)).toEqual([...Array(LOCKOUT.attempts).fill('credentials'), 'locked']);
    // The right password, sent now, is refused too: the lock holds.
    expect((await test.client({ from: '127.0.0.6' }).logIn(QA)).status).toBe(429);
  });
});

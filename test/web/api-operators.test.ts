/** Operators over the API: an admin enrols and disables, everyone changes their own password, signed; sessions follow. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../orchestrator/event-log.ts';
import { ADMIN, OPERATOR } from '../support/operators.ts';
import { databaseWithOperators, startTestServer, type HmiClient, type TestServer } from '../support/hmi.ts';

describe('operators over the API', () => {
  let database: string;
  let test: TestServer;
  let admin: HmiClient;

  beforeAll(async () => {
    database = databaseWithOperators();
    test = await startTestServer(database);
    admin = test.client();
    expect((await admin.logIn(ADMIN)).status).toBe(200);
  }, 60_000);
  afterAll(() => test?.close());

  it('enrols, signed by the admin with the password re-entered, and the new operator logs in', async () => {
    const refused = await admin.post('/api/operators', { user: 'b.novak', printedName: 'Bea Novak', roles: ['operator'], initialPassword: 'novak-password-1', password: 'not-the-admin-password' });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatch(/wrong password/);
    const short = await admin.post('/api/operators', { user: 'b.novak', printedName: 'Bea Novak', roles: ['operator'], initialPassword: 'short', password: ADMIN.password });
    expect(short.status).toBe(409);
    expect(short.json.error).toMatch(/at least 10 characters/);
    const enrolled = await admin.post('/api/operators', { user: 'b.novak', printedName: 'Bea Novak', roles: ['operator'], initialPassword: 'novak-password-1', password: ADMIN.password });
    expect(enrolled.status).toBe(200);
    expect(enrolled.json).toMatchObject({ user: 'b.novak', printedName: 'Bea Novak', roles: ['operator'], enrolledBy: ADMIN.user });
    expect(JSON.stringify(enrolled.json)).not.toContain('scrypt');
    const list = await admin.get('/api/operators');
    expect(list.json.map((o: { user: string }) => o.user)).toEqual([ADMIN.user, OPERATOR.user, 'qa.lee', 'b.novak']);
    expect(JSON.stringify(list.json)).not.toContain('passwordHash');
    const novak = test.client();
    expect((await novak.logIn({ user: 'b.novak', password: 'novak-password-1' })).json.roles).toEqual(['operator']);
  });

  it('changes your own password, signed with the current one, and ends your other sessions', async () => {
    const here = test.client();
    const elsewhere = test.client();
    await here.logIn({ user: 'b.novak', password: 'novak-password-1' });
    await elsewhere.logIn({ user: 'b.novak', password: 'novak-password-1' });
    const wrong = await here.post('/api/operators/me/password', { current: 'not-my-password', next: 'novak-password-2' });
    expect(wrong.status).toBe(403);
    const changed = await here.post('/api/operators/me/password', { current: 'novak-password-1', next: 'novak-password-2' });
    expect(changed.status).toBe(200);
    expect((await here.get('/api/session')).status).toBe(200);
    expect((await elsewhere.get('/api/session')).status).toBe(401);
    expect((await test.client().logIn({ user: 'b.novak', password: 'novak-password-1' })).status).toBe(401);
    expect((await test.client().logIn({ user: 'b.novak', password: 'novak-password-2' })).status).toBe(200);
  });

  it("disables an operator, signed by the admin with why: their sessions end and they can log in no more", async () => {
    const novak = test.client();
    await novak.logIn({ user: 'b.novak', password: 'novak-password-2' });
    const noReason = await admin.post('/api/operators/b.novak/disable', { reason: '', password: ADMIN.password });
    expect(noReason.status).toBe(400);
    const disabled = await admin.post('/api/operators/b.novak/disable', { reason: 'left the site', password: ADMIN.password });
    expect(disabled.status).toBe(200);
    expect(disabled.json.disabled).toMatchObject({ by: ADMIN.user, reason: 'left the site' });
    expect((await novak.get('/api/status')).status).toBe(401);
    const again = await test.client().logIn({ user: 'b.novak', password: 'novak-password-2' });
    expect(again.status).toBe(401);
    expect(again.json.error).toMatch(/may no longer sign/);
    const log = new EventLog(database, { readonly: true });
    try {
      expect(log.ofType('operator.disabled').map((e) => [e.data.user, e.data.by, e.data.reason])).toEqual([['b.novak', ADMIN.user, 'left the site']]);
    } finally {
      log.close();
    }
    expect((await admin.post('/api/operators/nobody/disable', { reason: 'typo', password: ADMIN.password })).json.error).toMatch(/no operator nobody/);
  });
});

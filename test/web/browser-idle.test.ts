/**
 * An unattended HMI screen in Chromium times out: a view that fetches its data again on every live event
 * does so in the background (x-workcell-background), so the session's idle time runs out and the page
 * goes to the login page, though the workcell kept changing. Moving to another view is use of the session
 * and restarts it, even for a view that only reads the live stream.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog, WORKCELL_STREAM } from '../../orchestrator/event-log.ts';
import type { HmiServer } from '../../web/server/app.ts';
import { OPERATOR } from '../support/operators.ts';
import { databaseWithOperators } from '../support/hmi.ts';
import { launchChromium, missingBrowser, serveForBrowser, signIn, type HmiPage } from '../support/browser.ts';

const noBrowser = missingBrowser();
const IDLE_MS = 6_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(noBrowser)(`an unattended screen in Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  let database: string;
  let server: HmiServer;
  let browser: Browser;
  /** Another process's writes, as the orchestrator's: each brings a status event and the views' refetches. */
  let writer: EventLog;
  const pages: HmiPage[] = [];

  beforeAll(async () => {
    database = databaseWithOperators();
    server = await serveForBrowser(database, { sessionLimits: { idleMs: IDLE_MS, lifetimeMs: 3_600_000 } });
    browser = await launchChromium();
    writer = new EventLog(database);
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) expect(p.problems, 'no CSP violation or uncaught error in the page').toEqual([]);
    writer?.close();
    await browser?.close();
    await server?.close();
  }, 60_000);

  const change = (message: string) => writer.append({ stream: WORKCELL_STREAM, type: 'alarm', at: Date.now(), data: { kind: 'environmental-monitoring', message } });

  it('goes to the login page once the idle time ran out, though the open view kept fetching on live events', async () => {
    const signedIn = await signIn(browser, server.url, OPERATOR);
    pages.push(signedIn);
    const { page } = signedIn;
    await page.click('nav a[href="#/batches"]');
    await page.waitForSelector('.batches-view');
    const usedAt = Date.now();
    let refetches = 0;
    page.on('response', (response) => {
      if (response.url().endsWith('/api/batches') && response.status() === 200) refetches++;
    });
    // The workcell changes all along, until the page is at the login page or well past the idle time.
    const deadline = usedAt + IDLE_MS + 10_000;
    for (let i = 0; Date.now() < deadline && !page.url().endsWith('/login'); i++) {
      change(`particle count ${i}`);
      await sleep(500);
    }
    expect(refetches, 'the view fetched its data again on live events while the session lasted').toBeGreaterThan(2);
    expect(page.url(), 'the login page, though the view kept fetching').toMatch(/\/login$/);
    expect(Date.now() - usedAt).toBeGreaterThanOrEqual(IDLE_MS);
  }, 60_000);

  it('stays signed in when the operator moves to another view within the idle time', async () => {
    const signedIn = await signIn(browser, server.url, OPERATOR);
    pages.push(signedIn);
    const { page } = signedIn;
    const backgroundStatus = () => page.evaluate(() => fetch('/api/session', { headers: { 'x-workcell-background': '1' } }).then((r) => r.status));
    await sleep(IDLE_MS / 2);
    // The holds view reads only the live stream: the navigation itself is the use.
    await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/session') && r.request().method() === 'GET'), page.click('nav a[href="#/holds"]')]);
    const navigatedAt = Date.now();
    await sleep(IDLE_MS / 2 + 1_000);
    expect(await backgroundStatus(), 'more than the idle time after login, less after the navigation').toBe(200);
    await sleep(navigatedAt + IDLE_MS + 500 - Date.now());
    expect(await backgroundStatus(), 'the idle time after the navigation').toBe(401);
    // The view makes no request of its own: the stream ends with the session, and the page goes to log in.
    await page.waitForURL(/\/login$/, { timeout: 15_000 });
  }, 60_000);
});

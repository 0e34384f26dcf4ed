/**
 * The web HMI in the machine's Chromium: an operator sees a hold appear while the page is open, answers
 * it with a signature and the batch goes on; a user without a role finds the control disabled or absent
 * and the API's refusal shown; QA approves the finished record, signed, and the printed record shows the
 * signatures. One browser for the file; a screenshot of each view lands in a temp dir (printed) to look at.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEntry } from '../../orchestrator/entries.ts';
import { buildRecord } from '../../orchestrator/record.ts';
import type { HmiServer } from '../../web/server/app.ts';
import { SHORT_SCHEDULE, startRun, waitForEntry, type TestRun } from '../support/orchestration.ts';
import { ADMIN, OPERATOR, QA } from '../support/operators.ts';
import { postgresSchema } from '../support/services.ts';
import { PostgresMirror } from '../../orchestrator/postgres-mirror.ts';
import { launchChromium, missingBrowser, serveForBrowser, screenshots, sign, signIn, type HmiPage } from '../support/browser.ts';

const noBrowser = missingBrowser();

describe.skipIf(noBrowser)(`the web HMI in Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  let run: TestRun;
  let server: HmiServer;
  let browser: Browser;
  let operator: HmiPage;
  const pages: HmiPage[] = [];
  const { dir: shots, shoot } = screenshots();

  async function as(who: typeof OPERATOR): Promise<HmiPage> {
    const signedIn = await signIn(browser, server.url, who);
    pages.push(signedIn);
    return signedIn;
  }

  beforeAll(async () => {
    // No batch yet: the hold must open while the operator's page is open.
    run = await startRun({ batches: [], faults: { 'ep-1': [{ kind: 'error', error: 'HardwareFault', message: 'electrode fault', capability: 'electroporate', on: 1 }] } });
    server = await serveForBrowser(run.log.file);
    browser = await launchChromium();
    process.stdout.write(`screenshots of the HMI: ${shots}\n`);
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) expect(p.problems, 'no CSP violation or uncaught error in the page').toEqual([]);
    await browser?.close();
    await server?.close();
    await run?.stop();
  }, 60_000);

  it('shows an operator a hold as it opens, takes the answer signed with user id, password and reason, and the batch goes on', async () => {
    operator = await as(OPERATOR);
    const { page } = operator;
    await shoot(page, '01-workcell-idle');
    // The plotting code (Observable Plot and d3, most of the app's code) is loaded by the views that plot only.
    expect(await page.evaluate("performance.getEntriesByType('resource').some((e) => e.name.includes('/chunks/plots-'))")).toBe(false);
    await page.goto(`${server.url}/#/holds`);
    await page.waitForSelector('.holds-view .empty');

    run.orchestrator.startBatch({ batchId: 'P-001', lane: 'lane-1', patient: 'P-001', chainOfIdentity: 'COI-P-001', bagId: 'BAG-P-001' }, { file: SHORT_SCHEDULE, text: readFileSync(SHORT_SCHEDULE, 'utf8') });
    const card = page.locator('.hold[data-batch="P-001"]');
    await card.waitFor({ timeout: 60_000 });
    await expect(card.locator('.message').textContent()).resolves.toContain('electrode fault');
    // The page never reloaded: the card came with a status event.
    expect(await page.evaluate("performance.getEntriesByType('navigation').length")).toBe(1);
    await expect(card.locator('[data-stake="hold-time"]').textContent()).resolves.toMatch(/after wash: .*(left|exceeded)/);
    // Skipping and aborting are QA's to sign: the operator's menu offers them disabled.
    expect(await card.locator('button[data-option="skip"]').isDisabled()).toBe(true);
    expect(await card.locator('button[data-option="abort"]').isDisabled()).toBe(true);
    await card.locator('button[data-option="retry"]').click();
    await shoot(page, '02-holds-answering');

    // Signing as someone else is refused in the page, before anything is sent.
    await sign(page, '.hold[data-batch="P-001"]', { user: QA.user, password: OPERATOR.password }, 'electrode reseated, checked');
    await expect(card.locator('.problem').textContent()).resolves.toContain(`you are signed in as ${OPERATOR.user}`);
    // A wrong password is the server's refusal, shown as it says it.
    await sign(page, '.hold[data-batch="P-001"]', { user: OPERATOR.user, password: 'not-the-password' }, 'electrode reseated, checked');
    await card.locator('.problem[data-status="403"]').waitFor();
    await sign(page, '.hold[data-batch="P-001"]', OPERATOR, 'electrode reseated, checked');
    await expect(page.locator('.holds-view .done').textContent()).resolves.toContain(`P-001: answered "retry the step" at electroporate, signed by ${OPERATOR.user}`);

    const answer = await waitForEntry(run.log, 'P-001', isEntry('hold.resolved'));
    expect(answer.data).toMatchObject({ action: 'retry', reason: 'electrode reseated, checked', user: OPERATOR.user, signature: { printedName: 'Anna Jansen' } });
    // The hold leaves the page by itself once the log says it is answered.
    await page.waitForSelector('.holds-view .empty', { timeout: 30_000 });
    await waitForEntry(run.log, 'P-001', isEntry('step.completed', (e) => e.data.step === 'electroporate'));
    await page.goto(`${server.url}/#/`);
    await page.waitForSelector('.workcell-view tr[data-batch="P-001"]');
    await shoot(page, '03-workcell-running');
    await run.finished();
    expect(buildRecord(run.log, 'P-001').status).toBe('completed');
  }, 180_000);

  it('refuses a user without the role in the page (the control absent) and shows the API refusing them', async () => {
    const { page } = operator;
    await page.goto(`${server.url}/#/batches/P-001`);
    await page.waitForSelector('.record-view [data-verified]');
    expect(await page.locator('details.decision').count()).toBe(0);
    await expect(page.locator('#review').textContent()).resolves.toContain('Only QA reviews a record');
    // Listing operators is an admin's: the page shows the server's 403 and offers no enrolment.
    await page.goto(`${server.url}/#/operators`);
    const refused = page.locator('.operators-view .problem[data-status="403"]');
    await refused.waitFor();
    await expect(refused.textContent()).resolves.toMatch(/^Refused: .*needs the role admin/);
    expect(await page.locator('input[name="new-user"]').count()).toBe(0);
    await shoot(page, '04-operators-refused');
    // The API refuses the review itself, CSRF token and all, from the operator's own session.
    const review = await page.evaluate(async () => {
      const session = (await (await fetch('/api/session')).json()) as { csrfToken: string };
      const response = await fetch('/api/batches/P-001/review', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrfToken }, body: JSON.stringify({ decision: 'approve', reason: 'looks fine', password: 'operator-password-1' }) });
      return { status: response.status, body: (await response.json()) as { error: string } };
    });
    expect(review.status).toBe(403);
    expect(review.body.error).toMatch(/qa/);
    expect(run.log.ofType('record.reviewed')).toEqual([]);
  }, 60_000);

  it('lets QA review the record by exception and approve it, signed; the printed record shows the signatures', async () => {
    const { page } = await as(QA);
    await page.goto(`${server.url}/#/batches/P-001`);
    await page.waitForSelector('.record-view [data-verified="true"]');
    // The log's signed checkpoints, as the server verified them for this batch.
    await expect(page.locator('#integrity .checkpoints').textContent()).resolves.toMatch(/^\d+ signed checkpoint\(s\) verified; the latest, number \d+, signed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(key [0-9a-f]{16}\), covers the log up to position \d+/);
    const exceptions = await page.locator('#exceptions').textContent();
    expect(exceptions).toContain('electrode fault');
    expect(exceptions).toContain('Signed by Anna Jansen (a.jansen)');
    // Every step's telemetry is plotted as SVG against its limits, the plots drawn after the page is up.
    await page.waitForSelector('.plot-box:not(:has(svg))', { state: 'detached' });
    expect(await page.locator('.plot-box svg').count()).toBeGreaterThan(0);
    expect(await page.evaluate("performance.getEntriesByType('resource').some((e) => e.name.includes('/chunks/plots-'))")).toBe(true);
    await shoot(page, '05-record');
    await page.locator('details.decision-approve summary').click();
    await sign(page, 'details.decision-approve', QA, 'reviewed by exception: the electrode fault retried, deviations assessed');
    await page.locator('#review .review.pass').waitFor();
    const [reviewed] = run.log.ofType('record.reviewed');
    expect(reviewed?.data).toMatchObject({ decision: 'approved', user: QA.user, signature: { printedName: 'Li Lee' } });
    await expect(page.locator('#review').textContent()).resolves.toContain('Signed by Li Lee (qa.lee)');

    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.top').isVisible()).toBe(false);
    expect(await page.locator('#review .signature').isVisible()).toBe(true);
    await shoot(page, '06-record-print');
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    writeFileSync(join(shots, 'record.pdf'), pdf);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await page.emulateMedia({ media: 'screen' });
  }, 60_000);

  it('shows the timeline, batches, audit trail and operators views', async () => {
    const { page } = await as(ADMIN);
    await page.goto(`${server.url}/#/timeline`);
    await page.waitForSelector('.gantt svg');
    // Bars for the modules P-001 held: the separator and the electroporator at least.
    const gantt = await page.locator('.gantt svg').textContent();
    expect(gantt).toContain('sep-1');
    expect(gantt).toContain('ep-1');
    await shoot(page, '07-timeline');
    const before = await page.locator('p.window').textContent();
    await page.locator('.toolbar button', { hasText: 'Zoom in' }).click();
    // The window narrows; what it shows depends on where the run's bars fall: the modules used in it, or none.
    await page.locator('p.window').filter({ hasNotText: before ?? '' }).waitFor();
    await page.locator('.gantt svg').or(page.getByText('No module was used in this window.')).first().waitFor();
    await shoot(page, '08-timeline-zoomed');
    await page.goto(`${server.url}/#/batches`);
    await page.waitForSelector('.batches-view table');
    await expect(page.locator('.batches-view').textContent()).resolves.toContain('P-001');
    await shoot(page, '09-batches');
    await page.goto(`${server.url}/#/audit`);
    await page.waitForSelector('.audit-view table');
    await expect(page.locator('.audit-view').textContent()).resolves.toContain(OPERATOR.user);
    await shoot(page, '10-audit');
    await page.goto(`${server.url}/#/operators`);
    await page.waitForSelector('.operators-view table');
    expect(await page.locator('input[name="new-user"]').count()).toBe(1);
    await shoot(page, '12-operators-admin');
    // Signing out ends the session: the app is behind the login page again.
    await page.locator('header.top button.logout').click();
    await page.waitForURL(/\/login$/);
    // (The redirect keeps the address's fragment, as browsers do.)
    await page.goto(`${server.url}/#/batches`);
    await page.waitForURL(/\/login(#.*)?$/);
    await page.waitForSelector('form.login');
    const login = await browser.newPage({ ignoreHTTPSErrors: true });
    await login.goto(`${server.url}/login`);
    await login.waitForSelector('form.login');
    await shoot(login, '00-login');
    await login.close();
  }, 60_000);

  it('shows the site: the workcell mirrored to PostgreSQL with its batches', async (ctx) => {
    const postgres = await postgresSchema(ctx);
    const mirror = new PostgresMirror(postgres.url);
    const site = await (async () => {
      await mirror.ship(run.log);
      return serveForBrowser(run.log.file, { postgres: postgres.url });
    })().finally(() => mirror.close());
    try {
      const signedIn = await signIn(browser, site.url, QA);
      pages.push(signedIn);
      const { page } = signedIn;
      await page.goto(`${site.url}/#/site`);
      await page.waitForSelector('.site-view table');
      const text = await page.locator('.site-view').textContent();
      expect(text).toContain(run.log.file);
      expect(text).toMatch(/P-001.*completed/);
      await shoot(page, '11-site');
    } finally {
      await site.close();
      await postgres.drop();
    }
  }, 60_000);
});

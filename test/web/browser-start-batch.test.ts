/**
 * Starting a patient's batch from the web HMI in the machine's Chromium: an operator picks a schedule (one
 * that does not fit the layout is offered disabled, with why), types the patient's identity, signs, and
 * sees the batch running in the list once the orchestrator starts it; a refusal (a wrong password, a
 * schedule broken since it was listed) is the server's sentence and keeps what was typed; QA is not
 * offered the form. Screenshots of the form land in a temp dir (printed) to look at.
 */
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isEntry } from '../../orchestrator/entries.ts';
import type { HmiServer } from '../../web/server/app.ts';
import { SHORT_SCHEDULE, startRun, waitForEntry, type TestRun } from '../support/orchestration.ts';
import { OPERATOR, QA } from '../support/operators.ts';
import { launchChromium, missingBrowser, serveForBrowser, screenshots, sign, signIn, type HmiPage } from '../support/browser.ts';

const noBrowser = missingBrowser();

const SHORT = readFileSync(SHORT_SCHEDULE, 'utf8');
const WRONG_UNIT = (text: string) => text.replace('voltage: 400 V', 'voltage: 400 mL');

/** A schedules directory as a site keeps one: the short process, a variant of it, and one with a wrong unit. */
function schedulesDirectory(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'workcell-start-schedules-')));
  writeFileSync(join(dir, 'short.yaml'), SHORT);
  writeFileSync(join(dir, 'variant.yaml'), SHORT.replace('id: short', 'id: short-variant').replace('name: Short process for orchestrator tests', 'name: Short process, variant'));
  writeFileSync(join(dir, 'broken.yaml'), WRONG_UNIT(SHORT));
  return dir;
}

interface Identity {
  schedule: string;
  batchId: string;
  patient: string;
  chainOfIdentity: string;
  bagId: string;
  lane: string;
}

const FIELDS = { batchId: 'batch-id', patient: 'patient', chainOfIdentity: 'chain-of-identity', bagId: 'bag-id' } as const;

describe.skipIf(noBrowser)(`starting a batch from the web HMI in Chromium${noBrowser ? ` (skipped: ${noBrowser})` : ''}`, () => {
  let run: TestRun;
  let server: HmiServer;
  let browser: Browser;
  let schedules: string;
  const pages: HmiPage[] = [];
  const { dir: shots, shoot } = screenshots();

  /** The batches view, signed in as `who`, once its list has come. */
  async function batchesAs(who: typeof OPERATOR): Promise<Page> {
    const signedIn = await signIn(browser, server.url, who);
    pages.push(signedIn);
    await signedIn.page.goto(`${server.url}/#/batches`);
    await signedIn.page.locator('.batches-view h1').waitFor();
    return signedIn.page;
  }

  /** The start form, opened, its schedules and the workcell's lanes come. */
  async function openForm(page: Page): Promise<Locator> {
    const panel = page.locator('details.start-batch');
    await panel.locator('summary').click();
    await panel.locator('select[name=schedule] option[value="short.yaml"]').waitFor({ state: 'attached' });
    await panel.locator('select[name=lane] option[value="lane-2"]').waitFor({ state: 'attached' });
    return panel;
  }

  async function fill(panel: Locator, identity: Identity): Promise<void> {
    await panel.locator('select[name=schedule]').selectOption(identity.schedule);
    for (const [key, name] of Object.entries(FIELDS)) await panel.locator(`input[name=${name}]`).fill(identity[key as keyof typeof FIELDS]);
    await panel.locator('select[name=lane]').selectOption(identity.lane);
  }

  async function typed(panel: Locator): Promise<Identity> {
    const value = (selector: string) => panel.locator(selector).inputValue();
    const identity = { schedule: await value('select[name=schedule]'), lane: await value('select[name=lane]') } as Identity;
    for (const [key, name] of Object.entries(FIELDS)) identity[key as keyof typeof FIELDS] = await value(`input[name=${name}]`);
    return identity;
  }

  beforeAll(async () => {
    // Slow enough that a batch started here is still running when the list is looked at.
    run = await startRun({ batches: [], timeScale: 60 });
    schedules = schedulesDirectory();
    server = await serveForBrowser(run.log.file, { schedules });
    browser = await launchChromium();
    process.stdout.write(`screenshots of the HMI: ${shots}\n`);
  }, 60_000);

  afterAll(async () => {
    for (const p of pages) expect(p.problems, 'no CSP violation or uncaught error in the page').toEqual([]);
    await browser?.close();
    await server?.close();
    await run?.stop();
  }, 60_000);

  it('lets an operator start a patient’s batch, signed, and shows it running in the list once the orchestrator starts it', async () => {
    const page = await batchesAs(OPERATOR);
    await page.locator('.batches-view .empty').waitFor();
    const panel = await openForm(page);
    const schedule = panel.locator('select[name=schedule]');
    // The first schedule that may be started is chosen; the one with a wrong unit is offered disabled, with why.
    expect(await schedule.inputValue()).toBe('short.yaml');
    expect(await schedule.locator('option:disabled').evaluateAll((options) => options.map((o) => o.getAttribute('value')))).toEqual(['broken.yaml']);
    await expect(schedule.locator('option[value="broken.yaml"]').textContent()).resolves.toBe('broken.yaml: Short process for orchestrator tests (short 1.0.0) (cannot be started: see below)');
    await expect(panel.locator('.unfit li[data-schedule="broken.yaml"]').textContent()).resolves.toMatch(new RegExp(`^broken\\.yaml cannot be started:${schedules}/broken\\.yaml:\\d+:\\d+: parameter 'voltage': wrong unit 'mL'`));
    expect(await panel.locator('select[name=lane] option').allTextContents()).toEqual(['fewest unfinished batches', 'lane-1', 'lane-2']);

    await fill(panel, { schedule: 'short.yaml', batchId: 'P-101', patient: 'PAT-101', chainOfIdentity: 'COI-7781', bagId: 'BAG-7781', lane: 'lane-2' });
    await panel.locator('textarea[name=reason]').fill('patient PAT-101 apheresis received, order 4711');
    await panel.locator('input[name=user]').fill(OPERATOR.user);
    await panel.locator('input[name=password]').fill(OPERATOR.password);
    await shoot(page, 'start-batch-01-filled');
    await panel.locator('button[type=submit]').click();

    await expect(panel.locator('p.done[role=status]').textContent()).resolves.toBe('Batch P-101 is queued on lane-2: the running orchestrator starts it within a second');
    // The next patient's identity is typed afresh; the schedule and lane stay as chosen.
    expect(await typed(panel)).toEqual({ schedule: 'short.yaml', batchId: '', patient: '', chainOfIdentity: '', bagId: '', lane: 'lane-2' });
    const started = await waitForEntry(run.log, 'P-101', isEntry('batch.started'));
    expect(started.data).toMatchObject({ patient: 'PAT-101', chainOfIdentity: 'COI-7781', bagId: 'BAG-7781', lane: 'lane-2', schedule: { file: join(schedules, 'short.yaml') }, request: { reason: 'patient PAT-101 apheresis received, order 4711', signature: { user: OPERATOR.user, meaning: 'responsibility for starting the batch' } } });
    // The list shows it as the orchestrator started it, without the page reloading.
    const row = page.locator('.batches-view table tr', { hasText: 'P-101' });
    await row.waitFor({ timeout: 30_000 });
    expect((await row.locator('td').allTextContents()).slice(0, 4)).toEqual(['P-101', 'PAT-101', 'lane-2', 'in progress']);
    expect(await page.evaluate("performance.getEntriesByType('navigation').length")).toBe(1);
    await shoot(page, 'start-batch-02-queued');
  }, 120_000);

  it('shows a refusal as the server says it and keeps what was typed: a wrong password, then a schedule broken since it was listed', async () => {
    const page = await batchesAs(OPERATOR);
    const panel = await openForm(page);
    const identity: Identity = { schedule: 'variant.yaml', batchId: 'P-102', patient: 'PAT-102', chainOfIdentity: 'COI-7782', bagId: 'BAG-7782', lane: 'lane-1' };
    const reason = 'patient PAT-102 apheresis received, order 4712';
    await fill(panel, identity);
    await sign(page, 'details.start-batch', { user: OPERATOR.user, password: 'not-the-password' }, reason);
    const refused = panel.locator('.problem[data-status="403"]');
    await refused.waitFor();
    await expect(refused.textContent()).resolves.toBe(`Signature refused: unknown user '${OPERATOR.user}' or wrong password`);
    expect(await typed(panel)).toEqual(identity);
    expect(await panel.locator('textarea[name=reason]').inputValue()).toBe(reason);
    await shoot(page, 'start-batch-03-refused');

    // The variant gets a wrong unit after the page listed it: the server refuses it with where and what.
    writeFileSync(join(schedules, 'variant.yaml'), WRONG_UNIT(readFileSync(join(schedules, 'variant.yaml'), 'utf8')));
    await sign(page, 'details.start-batch', OPERATOR, reason);
    const conflict = panel.locator('.problem[data-status="409"]');
    await conflict.waitFor();
    await expect(conflict.textContent()).resolves.toMatch(new RegExp(`${schedules}/variant\\.yaml:\\d+:\\d+: parameter 'voltage': wrong unit 'mL'`));
    // The list is asked for again and shows the variant as it is now; what was signed for stays chosen.
    await panel.locator('.unfit li[data-schedule="variant.yaml"]').waitFor();
    expect(await panel.locator('select[name=schedule] option:disabled').evaluateAll((options) => options.map((o) => o.getAttribute('value')))).toEqual(['broken.yaml', 'variant.yaml']);
    expect(await typed(panel)).toEqual(identity);
    expect(run.log.ofType('batch.requested').map((r) => r.data.batchId)).toEqual(['P-101']);

    // Corrected to the schedule that fits, the same typed identity starts.
    await panel.locator('select[name=schedule]').selectOption('short.yaml');
    await sign(page, 'details.start-batch', OPERATOR, reason);
    await expect(panel.locator('p.done[role=status]').textContent()).resolves.toBe('Batch P-102 is queued on lane-1: the running orchestrator starts it within a second');
    expect((await waitForEntry(run.log, 'P-102', isEntry('batch.started'))).data).toMatchObject({ patient: 'PAT-102', chainOfIdentity: 'COI-7782', bagId: 'BAG-7782', lane: 'lane-1' });
    await page.locator('.batches-view table tr', { hasText: 'P-102' }).waitFor({ timeout: 30_000 });
  }, 120_000);

  it('offers QA no form to start a batch: starting one is an operator’s signature', async () => {
    const page = await batchesAs(QA);
    await page.locator('.batches-view table tr', { hasText: 'P-101' }).waitFor();
    expect(await page.locator('details.start-batch').count()).toBe(0);
    expect(await page.locator('input[name=batch-id]').count()).toBe(0);
    await shoot(page, 'start-batch-04-qa');
  }, 60_000);
});

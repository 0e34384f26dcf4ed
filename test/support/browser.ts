/**
 * The web HMI in a real browser, for the browser tests and the page-load benchmark: the app built once
 * per process, `workcell serve`'s server on a port the OS picks over HTTPS with its self-signed
 * certificate, and the machine's Chromium driven by playwright-core. In CI (CI=true) a missing browser
 * fails; elsewhere the caller skips, saying why.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildApp } from '../../web/app/build.ts';
import { startHmiServer, type HmiServer, type HmiServerOptions } from '../../web/server/app.ts';
import { serverCertificate } from '../../web/server/certificate.ts';
import type { Credentials } from '../../orchestrator/signatures.ts';

export const CHROMIUM = process.env.WORKCELL_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or undefined when they can; throws in CI, where they must. */
export function missingBrowser(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const why = `no Chromium at ${CHROMIUM} (Debian's chromium package; .ci/run installs it)`;
  if (process.env.CI) throw new Error(`${why}: CI runs the browser tests`);
  return why;
}

let built: Promise<string> | undefined;

/** The app's files, bundled once per process. */
export function appAssets(): Promise<string> {
  built ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'workcell-app-'));
    await buildApp(dir);
    return dir;
  })();
  return built;
}

/** `workcell serve` on `database`, HTTPS on 127.0.0.1 and a free port. */
export async function serveForBrowser(database: string, options: Pick<HmiServerOptions, 'postgres' | 'sessionLimits' | 'schedules'> = {}): Promise<HmiServer> {
  const tls = await serverCertificate({ database, host: '127.0.0.1' });
  return startHmiServer({ database, host: '127.0.0.1', port: 0, tls, assets: await appAssets(), ...options });
}

/** A directory of screenshots to look at (its path printed once the tests are done), and a full-page shot into it. */
export function screenshots(): { dir: string; shoot(page: Page, name: string): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'workcell-hmi-screens-'));
  return {
    dir,
    async shoot(page, name) {
      await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
    },
  };
}

export function launchChromium(): Promise<Browser> {
  // Root in a container has no user namespace for Chromium's sandbox.
  return chromium.launch({ executablePath: CHROMIUM, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] });
}

export interface HmiPage {
  context: BrowserContext;
  page: Page;
  /** Console messages that report a Content-Security-Policy violation or an uncaught error. */
  problems: string[];
}

/**
 * A fresh browser context (its own cookies) signed in through the login page. The server's certificate
 * is its own self-signed one: this context accepts it, as an operator would after checking its fingerprint.
 */
export async function signIn(browser: Browser, url: string, who: Credentials): Promise<HmiPage> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content.Security.Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  await page.goto(`${url}/`);
  await page.waitForURL(/\/login$/);
  await page.fill('input[name=user]', who.user);
  await page.fill('input[name=password]', who.password);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top .who');
  return { context, page, problems };
}

/** Fills and submits the signature form inside `scope` (a CSS selector): reason, user id, password. */
export async function sign(page: Page, scope: string, who: Credentials, reason: string): Promise<void> {
  const form = page.locator(`${scope} form.signature-form`);
  if ((await form.locator('textarea[name=reason]').count()) > 0) await form.locator('textarea[name=reason]').fill(reason);
  await form.locator('input[name=user]').fill(who.user);
  await form.locator('input[name=password]').fill(who.password);
  await form.locator('button[type=submit]').click();
}

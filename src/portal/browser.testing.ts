/**
 * What the portal's browser tests share: Debian's Chromium driven by playwright-core (no
 * browser is ever downloaded; the suites skip with a message when it is absent), a node
 * listening on a free port, and pages that record every request leaving the node and every
 * script error, console error or failed API answer, so a suite can assert there were none.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ADMIN_SECRET, bearer } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { buildPortal } from './build.js';
import { freePort } from '../platform/testing/ports.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const ARTIFACTS = path.resolve('test-artifacts', 'portal');
/** One backend for the browser: the production-like one when the suite has it. */
export const browserBackend = testBackends().at(-1)!;
/** The `skip` option of a browser suite: a reason when Chromium is not installed. */
export const skipWithoutChromium =
  !existsSync(CHROMIUM) && `${CHROMIUM} is not installed (CI installs the Debian chromium package)`;

/** A built portal and a full node listening on a free port of 127.0.0.1. */
export async function startPortalNode(): Promise<{ node: TestNode; base: string }> {
  await buildPortal();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const node = await startTestNode({
    backend: browserBackend,
    mqtt: 'off',
    env: {
      OCP_PORT: String(port),
      OCP_HOST: '127.0.0.1',
      OCP_PUBLIC_URL: base,
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
    },
  });
  return { node, base };
}

/** A local account (built-in OpenID Provider) in an organisation, with roles. */
export async function createPerson(
  node: TestNode,
  admin: string,
  person: { organisationId: string; username: string; password: string; roles?: string[] },
): Promise<string> {
  const res = await node.app.inject({
    method: 'POST',
    url: '/api/v1/people',
    headers: bearer(admin),
    payload: { displayName: person.username, ...person },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

export interface BrowserSession {
  context: BrowserContext;
  /** Requests to anything but the node (data: URLs aside). */
  offOrigin: string[];
  /** Script errors, console errors and API answers >= 400 not listed as expected. */
  pageErrors: string[];
  /** Opens a portal URL (in `page`, or a new tab) and waits until the page is rendered. */
  open(url: string, page?: Page): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(
  base: string,
  options: { locale?: string; expectedFailures?: RegExp } = {},
): Promise<BrowserSession> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(path.join(tmpdir(), 'ocp-chromium-'));
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    locale: options.locale ?? 'en-CA',
    viewport: { width: 1280, height: 900 },
  });
  // Fail in seconds, not in playwright's default half-minute: everything here is local.
  context.setDefaultTimeout(10_000);
  const offOrigin: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (request) => {
    if (!request.url().startsWith(base) && !request.url().startsWith('data:'))
      offOrigin.push(request.url());
  });
  context.on('weberror', (error) => pageErrors.push(error.error().message));
  context.on('response', (response) => {
    if (response.status() >= 400 && !options.expectedFailures?.test(response.url())) {
      pageErrors.push(`${response.status()} ${response.url()}`);
    }
  });
  context.on('page', (p) =>
    p.on('console', (message) => {
      // Failed loads are reported with their URL by the response listener.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
        pageErrors.push(`${p.url()}: ${message.text()}`);
      }
    }),
  );
  return {
    context,
    offOrigin,
    pageErrors,
    async open(url, page) {
      const p = page ?? (await context.newPage());
      await p.goto(base + url);
      await p.waitForSelector('body[data-ready="true"]', { timeout: 10_000 });
      return p;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const screenshot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Signs in on the built-in OpenID Provider's form the portal's sign-in link leads to. */
export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.waitForSelector('#username');
  await page.fill('#username', username);
  await page.fill('#password', password);
  await page.click('button[type=submit]');
}

/**
 * Reads `read()` until `done` holds or `timeoutMs` passes, and returns the last value, so
 * the caller's assertion shows what the page had instead of a bare timeout.
 */
export async function settled<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

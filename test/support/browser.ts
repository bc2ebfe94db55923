// Headless Chromium (Debian's `chromium`, driven by playwright-core) for the tests and benches that need a real
// browser: the dashboard, the embed player and glass-to-glass. Each launch gets its own HOME and XDG folders (so runs
// never share a profile) and is closed, folders removed, by the caller's `close()` — or by the process exiting.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface HeadlessBrowser {
  browser: Browser;
  /** a fresh context (own cookies and storage) with one page, at the given viewport */
  newPage(options?: { width?: number; height?: number }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Launches Chromium; `launchTimeoutMs` bounds the start (default 30 s). */
export async function launchBrowser(options: { launchTimeoutMs?: number } = {}): Promise<HeadlessBrowser> {
  const home = await mkdtemp(path.join(os.tmpdir(), 'riverhead-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    timeout: options.launchTimeoutMs ?? 30_000,
    // --no-sandbox: tests run as root here. Autoplay without a gesture so players start by themselves (muted).
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-dev-shm-usage'],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_CACHE_HOME: path.join(home, 'cache') },
  });
  let closed = false;
  return {
    browser,
    async newPage({ width = 1280, height = 800 } = {}) {
      const context = await browser.newContext({ viewport: { width, height } });
      return { context, page: await context.newPage() };
    },
    async close() {
      if (closed) return;
      closed = true;
      await browser.close().catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

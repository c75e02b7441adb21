/**
 * Debian's headless Chromium driven by playwright-core (no browser download): the flags keep it off the network and
 * out of the GPU, and every launch gets an empty profile folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Where tests leave files for people to look at (screenshots); git-ignored. */
export const testOutputDir = path.resolve(__dirname, '..', '..', 'test-output');

/** A browser context on an empty profile (playwright's persistent context is how it takes --user-data-dir). */
export async function launchChromium(options: { httpCredentials?: { username: string; password: string } } = {}): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/install-debian-packages.sh --test installs it`);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 't3-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    ...(options.httpCredentials ? { httpCredentials: options.httpCredentials } : {}),
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

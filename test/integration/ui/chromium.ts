import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's Chromium, the browser every UI test and `bench:ui` drive (TOOLING.md). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or false when they can. */
export const chromiumSkipReason: string | false = existsSync(CHROMIUM_PATH)
  ? false
  : `${CHROMIUM_PATH} is absent (apt-get install -y chromium)`;

/** Options that differ between the UI tests and the UI benchmark. */
export interface LaunchChromiumOptions {
  viewport?: { width: number; height: number };
  acceptDownloads?: boolean;
}

// No sandbox (runs as root in CI), no GPU, and nothing that talks to the network on its own, so that a
// test sees only the traffic it causes and a benchmark times only the page.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Headless Chromium with a throwaway profile in `profileDir`. */
export function launchChromium(
  profileDir: string,
  options: LaunchChromiumOptions = {},
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    acceptDownloads: options.acceptDownloads ?? false,
    args: CHROMIUM_ARGS,
  });
}

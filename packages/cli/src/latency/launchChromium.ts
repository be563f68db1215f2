import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { LatencyError } from './errors';

/** How to install what is missing, for the messages of `browser-unavailable`. */
const installHint =
  'install the optional peer playwright-core (npm install -D playwright-core) and Chromium (Debian: apt-get install chromium), ' +
  'and pass executablePath or set CHROMIUM_PATH when it is not /usr/bin/chromium';

/** The `chromium` browser type of playwright-core, imported only when latency is measured. */
type ChromiumType = typeof import('playwright-core').chromium;

/**
 * Checks that a browser can be launched, without launching it: the executable exists and the
 * optional peer `playwright-core` imports. Resolves to a function that launches headless
 * Chromium. Throws `browser-unavailable` (saying what to install) when either is missing.
 */
export async function chromiumLauncher(executablePath: string, where: string): Promise<() => Promise<Browser>> {
  if (!existsSync(executablePath))
    throw new LatencyError(
      'browser-unavailable',
      `${where}: no Chromium executable at ${executablePath} (option executablePath); ${installHint}`,
    );
  let chromium: ChromiumType;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (cause) {
    throw new LatencyError('browser-unavailable', `${where}: the optional peer playwright-core cannot be imported; ${installHint}`, {
      cause,
    });
  }
  return async () => {
    try {
      return await chromium.launch({
        executablePath,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
        ],
      });
    } catch (cause) {
      throw new LatencyError(
        'browser-unavailable',
        `${where}: Chromium at ${executablePath} did not start (${firstLine(cause)}); ${installHint}`,
        {
          cause,
        },
      );
    }
  };
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0]!;
}

import { defineConfig } from '@playwright/test';
import * as os from 'os';
import * as path from 'path';

// The release server built by `cargo leptos build --release --split`, run from the repo root so it finds
// target/site. It embeds the platform on an in-memory SQLite seeded with the Beijing demo city,
// with the clock frozen (Wednesday 12:00 Beijing time) so open/closed states are stable.
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), '.cache', 'jishi', 'target');
const port = Number(process.env.JISHI_E2E_PORT ?? 3210);
export const baseURL = `http://127.0.0.1:${port}`;
// A second shop, the same but for its media server, which does not answer.
export const mediaDownURL = `http://127.0.0.1:${port + 1}`;
// A third, whose clock starts at the same noon and runs (flash-sale countdowns reach zero there).
export const clockRunsURL = `http://127.0.0.1:${port + 2}`;
// A brand's own site on two other origins, embedding the live widget of the media-down shop (or,
// with `?shop=1`, of the first shop, whose video plays): only the first is in those shops'
// JISHI_WIDGET_ORIGINS.
export const brandURL = `http://127.0.0.1:${port + 3}`;
export const unlistedBrandURL = `http://127.0.0.1:${port + 4}`;

/** One release server on `port`, with `extra` environment on top of the test setup. */
function shop(port: number, extra: Record<string, string>) {
  return {
    command: path.join(targetDir, 'release', 'jishi-server'),
    cwd: '..',
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe' as const,
    stderr: 'pipe' as const,
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      JISHI_DB: 'sqlite::memory:',
      JISHI_SEED: 'beijing',
      JISHI_NOW: '2026-11-25T12:00:00+08:00',
      JISHI_TILE_URL: 'none',
      // Deliveries in seconds instead of the demo's two minutes: 15 steps of 300 ms.
      JISHI_DISPATCH_STEP_MS: '300',
      // No shelf comes up short by itself: tests that want a shortage ask for one.
      JISHI_SHORTAGE_PER_MILLE: '0',
      RUST_LOG: 'warn',
      ...extra,
    },
  };
}

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL,
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
        // Live video: a fake camera and microphone (a test pattern and a beep), granted without a
        // prompt, and video that may start by itself.
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        '--autoplay-policy=no-user-gesture-required',
      ],
    },
  },
  webServer: [
    shop(port, { JISHI_WIDGET_ORIGINS: brandURL }),
    // Port 9 (discard) on loopback: nothing listens, every media request fails.
    shop(port + 1, { JISHI_MEDIA_URL: 'http://127.0.0.1:9', JISHI_WIDGET_ORIGINS: brandURL }),
    // No video there: the flash sale needs none, and the demo feeds cost CPU.
    shop(port + 2, { JISHI_NOW_RUNS: '1', JISHI_MEDIA_URL: 'none' }),
    {
      command: `node brand-site.mjs ${port + 3} ${port + 4} ${mediaDownURL} ${baseURL}`,
      url: `${brandURL}/healthz`,
      reuseExistingServer: false,
      timeout: 10_000,
    },
  ],
});

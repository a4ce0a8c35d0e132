import { test, expect, Page } from '@playwright/test';
import * as zlib from 'zlib';
import { brandURL } from '../playwright.config';
import { GUOMAO, homeAt, hydrated } from './helpers';

/** The budgets for the wasm and JavaScript a page loads on a phone, brotli-compressed. Sizes are
 * stable from run to run, unlike timings, so they fail the build. The home page's map (and with it
 * Leaflet, 37 KB) is below the first screen on a phone and loads only when scrolled to. */
const HOME_BUDGET_BYTES = 160_000;
const STORE_BUDGET_BYTES = 150_000;
/** The live widget on a brand's page: its loader, module and wasm. */
const WIDGET_BUDGET_BYTES = 100_000;
/** `SPLIT_DATA_HEADROOM` in `app/src/lib.rs`: bytes the wasm splitter must place in no module. If
 * they ship, the splitter has put every lazy island's data in the main wasm (about +23 KB). */
const SPLIT_HEADROOM = Buffer.alloc(256, 0x4a);
/** A 360×640 phone. */
const PHONE = { width: 360, height: 640 };

/** Loads `url` in a fresh page and returns every script and wasm it fetched, with its size at
 * brotli q11 (what the server sends to browsers that accept br). */
async function scriptWeight(
  page: Page,
  url: string,
): Promise<{ files: Record<string, number>; total: number; headroomShipped: string[] }> {
  const bodies: Promise<[string, number]>[] = [];
  const headroomShipped: string[] = [];
  page.on('response', (res) => {
    const type = res.request().resourceType();
    const path = new URL(res.url()).pathname;
    if (type === 'script' || path.endsWith('.wasm') || path.endsWith('.js')) {
      bodies.push(
        res.body().then((b) => {
          if (path.endsWith('.wasm') && b.includes(SPLIT_HEADROOM)) headroomShipped.push(path);
          return [path, zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length];
        }),
      );
    }
  });
  await page.goto(url);
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  const files = Object.fromEntries(await Promise.all(bodies));
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  return { files, total, headroomShipped };
}

async function firstStoreHref(page: Page): Promise<string> {
  await page.goto(homeAt(GUOMAO));
  // The JS and wasm load at idle, after the load event: let them finish here, or their responses
  // land in the next scriptWeight on this page and can no longer be read once it navigates.
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  const href = await page.getByTestId('store-card').first().getAttribute('href');
  expect(href).toBeTruthy();
  return href!;
}

test('on a phone the home page loads at most 160 KB of wasm and JS and a store page 150 KB (brotli)', async ({ page, browser }) => {
  const storeUrl = await firstStoreHref(page);
  for (const [url, budget] of [[homeAt(GUOMAO), HOME_BUDGET_BYTES], [storeUrl, STORE_BUDGET_BYTES]] as const) {
    const fresh = await (await browser.newContext({ viewport: PHONE })).newPage();
    const { files, total, headroomShipped } = await scriptWeight(fresh, url);
    // The figures, for the closing notes and for whoever pushes the budget next.
    console.log(`page weight ${url}: ${total} B brotli ${JSON.stringify(files)}`);
    expect(Object.keys(files).some((f) => f.endsWith('.wasm'))).toBe(true);
    // Checked before the budget, so a failure names the cause (ARCHITECTURE.md, "Page weight").
    expect(headroomShipped, 'the wasm splitter put all of .rodata in the main module').toEqual([]);
    expect(total).toBeLessThanOrEqual(budget);
    await fresh.context().close();
  }
});

test('Leaflet loads when the home page map is about to show, and never on a store page', async ({ page, browser }) => {
  const storeUrl = await firstStoreHref(page);
  const phone = await (await browser.newContext({ viewport: PHONE })).newPage();
  const leaflet: string[] = [];
  phone.on('request', (r) => {
    if (r.url().includes('/leaflet/')) leaflet.push(new URL(r.url()).pathname);
  });
  await phone.goto(homeAt(GUOMAO));
  await hydrated(phone);
  await phone.waitForLoadState('networkidle');
  expect(leaflet).toEqual([]);
  await expect(phone.getByTestId('store-map')).not.toHaveClass(/leaflet-container/);
  // Scrolled to, the map loads Leaflet and draws the stores.
  await phone.getByTestId('store-map').scrollIntoViewIfNeeded();
  await expect(phone.getByTestId('store-map')).toHaveClass(/leaflet-container/);
  await expect(phone.getByTestId('store-map').locator('path.store-marker').first()).toBeAttached();
  expect(leaflet.some((f) => f.endsWith('.js'))).toBe(true);
  await phone.context().close();

  const fresh = await (await browser.newContext()).newPage();
  const store = await scriptWeight(fresh, storeUrl);
  expect(Object.keys(store.files).some((f) => f.includes('leaflet'))).toBe(false);
  await expect(fresh.locator('link[href*=leaflet]')).toHaveCount(0);
  await fresh.context().close();
});

test('the live widget loads nothing until scrolled into view, then at most 100 KB of wasm and JS (brotli)', async ({ browser }) => {
  const page = await (await browser.newContext({ viewport: PHONE })).newPage();
  const sizes: Promise<[string, number]>[] = [];
  page.on('response', (res) => {
    const path = new URL(res.url()).pathname;
    if (path.startsWith('/widget/') && (path.endsWith('.js') || path.endsWith('.wasm'))) {
      sizes.push(
        res.body().then((b) => [path, zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length]),
      );
    }
  });
  // The widget below a long page: only its loader comes until it is scrolled to.
  await page.goto(`${brandURL}/?room=live_bj1&below=1`);
  await page.waitForLoadState('networkidle');
  expect(Object.keys(Object.fromEntries(await Promise.all(sizes)))).toEqual(['/widget/v1/loader.js']);
  await page.locator('.jishi-live').scrollIntoViewIfNeeded();
  // Running (so its module and wasm came); its event stream stays open, so no `networkidle` here.
  await expect(page.locator('.jishi-live [data-testid=widget-status]')).toBeVisible();
  const files = Object.fromEntries(await Promise.all(sizes));
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  console.log(`page weight widget: ${total} B brotli ${JSON.stringify(files)}`);
  expect(Object.keys(files).some((f) => f.endsWith('.wasm'))).toBe(true);
  expect(total).toBeLessThanOrEqual(WIDGET_BUDGET_BYTES);
  await page.context().close();
});

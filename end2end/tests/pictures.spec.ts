import { test, expect, Page } from '@playwright/test';
import { GUOMAO, homeAt, hydrated, openGroup } from './helpers';

/** A 360×640 phone, where the issue sets the first screen's image budget. */
const PHONE = { width: 360, height: 640 };
const FIRST_SCREEN_IMAGE_BUDGET = 100_000;

async function firstStoreHref(page: Page): Promise<string> {
  await page.goto(homeAt(GUOMAO, '&category=supermarket'));
  const href = await page.getByTestId('store-card').first().getAttribute('href');
  expect(href).toBeTruthy();
  return href!;
}

test('a store page shows product pictures with their sizes set, small files on a phone, lazy below the first screen', async ({ browser }) => {
  const context = await browser.newContext({ viewport: PHONE, deviceScaleFactor: 2 });
  const page = await context.newPage();
  const storeUrl = await firstStoreHref(page);
  const images: { path: string; bytes: number }[] = [];
  page.on('response', async (res) => {
    if (res.request().resourceType() === 'image') {
      const body = await res.body().catch(() => Buffer.alloc(0));
      images.push({ path: new URL(res.url()).pathname, bytes: body.length });
    }
  });
  await page.goto(storeUrl);
  await hydrated(page);
  await page.waitForLoadState('networkidle');

  const pictures = page.locator('[data-testid=product-card] img[data-testid=product-image][width][height]');
  expect(await pictures.count()).toBeGreaterThan(4);
  const first = pictures.first();
  await expect(first).toHaveAttribute('decoding', 'async');
  await expect(first).toHaveAttribute('loading', 'eager');
  await expect(first).toHaveAttribute('sizes', '64px');
  await expect(first).toHaveAttribute('srcset', /-96\.webp 96w, .*-192\.webp 192w, .*-256\.webp 256w$/);
  await expect(pictures.last()).toHaveAttribute('loading', 'lazy');
  // The alt text is the product's name.
  const card = page.getByTestId('product-card').first();
  expect(await first.getAttribute('alt')).toBe(await card.locator('.product-name').textContent());
  // Drawn, and at 2× a 64 px box takes the 192 px file, not the largest.
  expect(await first.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  expect(await first.evaluate((img: HTMLImageElement) => img.currentSrc)).toMatch(/-192\.webp$/);

  // The first screen: the few eager pictures, nothing lazy below it.
  const total = images.reduce((sum, i) => sum + i.bytes, 0);
  console.log(`first screen of ${storeUrl} at 360×640 @2x: ${images.length} images, ${total} B`);
  expect(images.length).toBeGreaterThan(0);
  expect(images.length).toBeLessThan(await pictures.count());
  expect(total).toBeLessThanOrEqual(FIRST_SCREEN_IMAGE_BUDGET);

  // Scrolling down loads the lazy ones.
  await pictures.last().scrollIntoViewIfNeeded();
  await expect.poll(() => pictures.last().evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  await context.close();
});

test('pictures are served like an image CDN: immutable, an ETag, 304 when the browser has it', async ({ page, request }) => {
  await page.goto(await firstStoreHref(page));
  const src = await page.locator('[data-testid=product-image]').first().getAttribute('src');
  expect(src).toMatch(/^\/api\/v1\/images\/[0-9a-f]{16}-192\.webp$/);
  const res = await request.get(src!);
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toBe('image/webp');
  expect(res.headers()['cache-control']).toContain('immutable');
  const etag = res.headers()['etag'];
  expect(etag).toBe(`"${src!.split('/').pop()!.split('-')[0]}"`);
  const again = await request.get(src!, { headers: { 'If-None-Match': etag } });
  expect(again.status()).toBe(304);
  expect((await again.body()).length).toBe(0);
  expect((await request.get('/api/v1/images/0000000000000000-192.webp')).status()).toBe(404);
});

test('search results on a 390 px phone: a picture beside each name, which reads on one or two lines', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`/search?q=${encodeURIComponent('牛奶')}&lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}`);
  const hits = page.getByTestId('search-result');
  await expect(hits.first()).toBeVisible();
  await expect(hits.first().locator('img[data-testid=product-image][width="64"][height="64"]')).toBeVisible();
  const lines = await page.locator('[data-testid=search-result] .product-name').evaluateAll((names) =>
    names.map((n) => {
      const style = getComputedStyle(n);
      const lineHeight = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
      return Math.round(n.getBoundingClientRect().height / lineHeight);
    }),
  );
  expect(lines.length).toBeGreaterThan(0);
  for (const n of lines) expect(n).toBeLessThanOrEqual(2);
  await context.close();
});

test('a shared group carries its picture as og:image, absolute', async ({ page, playwright, baseURL }) => {
  const starter = await playwright.request.newContext({ baseURL });
  const id = await openGroup(starter, '186');
  await page.goto(`/group/${id}`);
  const og = await page.locator('meta[property="og:image"]').getAttribute('content');
  expect(og).toMatch(/^http:\/\/[^/]+\/api\/v1\/images\/[0-9a-f]{16}-192\.webp$/);
  await expect(page.locator('.group-header img[data-testid=product-image]')).toBeVisible();
  expect((await page.request.get(og!)).status()).toBe(200);
  await starter.dispose();
});

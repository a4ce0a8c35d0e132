import { test, expect } from '@playwright/test';
import { GUOMAO, WANGJING, homeAt, hydrated, failOnPageErrors, numbers, storesListedOpenFirst } from './helpers';

test('the server-rendered HTML already has store cards, before any wasm runs', async ({ request, browser }) => {
  const res = await request.get(homeAt(GUOMAO));
  expect(res.status()).toBe(200);
  const html = await res.text();
  expect(html).toContain('<html lang="zh-CN"');
  const cards = html.match(/data-testid="store-card"/g) ?? [];
  expect(cards.length).toBeGreaterThanOrEqual(10);

  // And a browser with JavaScript off sees and can follow them.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(homeAt(GUOMAO));
  await expect(page.getByTestId('store-card').first()).toBeVisible();
  await expect(page.locator('h1')).toHaveCount(1);
  await context.close();
});

test('the page hydrates without errors or CSP violations', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const violations: string[] = [];
  page.on('console', (m) => {
    if (m.text().includes('Content Security Policy')) violations.push(m.text());
  });
  const res = await page.goto(homeAt(GUOMAO));
  expect(res?.headers()['content-security-policy']).toContain("'wasm-unsafe-eval'");
  await hydrated(page);
  // The map loads Leaflet once it is about to show.
  await page.getByTestId('store-map').scrollIntoViewIfNeeded();
  await expect(page.getByTestId('store-map')).toHaveClass(/leaflet-container/);
  expect(errors).toEqual([]);
  expect(violations).toEqual([]);
});

test('with geolocation granted the list shows stores near the shopper, sorted as chosen', async ({ browser }) => {
  const context = await browser.newContext({ geolocation: WANGJING, permissions: ['geolocation'] });
  const page = await context.newPage();
  await page.goto('/');
  await hydrated(page);
  await expect(page).toHaveURL(/lat=39\.9968/);
  await expect(page.getByTestId('location')).toContainText('望京');
  const cards = page.getByTestId('store-card');
  await expect(cards.first()).toBeVisible();
  expect(await cards.count()).toBeGreaterThanOrEqual(10);

  expect(await storesListedOpenFirst(page, 'data-eta-min')).toBe(true);

  await page.getByTestId('sort-distance').click();
  await expect(page).toHaveURL(/sort=distance/);
  await expect(page.locator('[data-testid=store-list][data-sort=distance]')).toBeVisible();
  await expect(page.getByTestId('sort-distance')).toHaveAttribute('aria-current', 'true');
  const distances = await numbers(page, '[data-testid=store-card]', 'data-distance-m');
  expect(distances.length).toBeGreaterThanOrEqual(10);
  expect(await storesListedOpenFirst(page, 'data-distance-m')).toBe(true);
  // Every store listed delivers here: nobody is beyond the largest delivery radius.
  expect(Math.max(...distances)).toBeLessThanOrEqual(6000);
  await context.close();
});

test('a category chip filters the list to that category', async ({ page }) => {
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  await page.locator('[data-testid=category-chip][data-category=pharmacy]').click();
  await expect(page).toHaveURL(/category=pharmacy/);
  await expect(page.locator('[data-testid=store-list][data-category=pharmacy]')).toBeVisible();
  const cards = page.getByTestId('store-card');
  await expect(cards.first()).toBeVisible();
  const categories = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-category')));
  expect(categories.length).toBeGreaterThan(0);
  expect(new Set(categories)).toEqual(new Set(['pharmacy']));
  await expect(page.locator('[data-testid=category-chip][data-category=pharmacy]')).toHaveAttribute('aria-current', 'true');
});

test('"open now" hides closed stores', async ({ page }) => {
  await page.goto(homeAt(GUOMAO, "&sort=distance"));
  await hydrated(page);
  await page.getByTestId('open-now-toggle').click();
  await expect(page).toHaveURL(/open_now=true/);
  await expect(page.locator('[data-testid=store-list][data-open-now=true]')).toBeVisible();
  await expect(page.getByTestId('store-card').first()).toBeVisible();
  const open = await page.getByTestId('store-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-open')));
  expect(new Set(open)).toEqual(new Set(['true']));
});

test('the map shows you and a marker for every listed store', async ({ page }) => {
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  const cards = await page.getByTestId('store-card').count();
  const map = page.getByTestId('store-map');
  await map.scrollIntoViewIfNeeded();
  await expect(map).toHaveClass(/leaflet-container/);
  await expect(map.locator('path.store-marker')).toHaveCount(cards);
  await expect(map.locator('path.you-marker')).toHaveCount(1);
  // A marker opens a popup that links to its store.
  await map.locator('path.store-marker').first().click({ force: true });
  await expect(map.locator('.leaflet-popup a[href^="/store/"]')).toBeVisible();
});

test('when geolocation is denied the shopper can pick an area instead', async ({ browser }) => {
  const context = await browser.newContext({ permissions: [] });
  const page = await context.newPage();
  await page.goto('/');
  await hydrated(page);
  await expect(page.getByTestId('geo-status')).toHaveAttribute('data-state', 'failed');
  await expect(page.getByTestId('geo-status')).toContainText('请选择');
  await page.locator('[data-testid=area-option][data-area=guomao]').click();
  await expect(page).toHaveURL(/lat=39\.9088/);
  await expect(page.getByTestId('store-card').first()).toBeVisible();
  await context.close();
});

test('when geolocation is denied a point can be picked on the map', async ({ browser }) => {
  const context = await browser.newContext({ permissions: [] });
  const page = await context.newPage();
  await page.goto('/');
  await hydrated(page);
  const map = page.getByTestId('pick-map');
  await map.scrollIntoViewIfNeeded();
  await expect(map).toHaveClass(/leaflet-container/);
  await map.click({ position: { x: 150, y: 150 } });
  await expect(page).toHaveURL(/\?lat=\d+\.\d+&lng=\d+\.\d+/);
  await expect(page.locator('h1')).toHaveText('附近门店');
  await context.close();
});

test('clicking a store opens its page with products', async ({ page }) => {
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  const first = page.getByTestId('store-card').first();
  const id = await first.getAttribute('data-store-id');
  const name = (await first.locator('.store-name').textContent())?.trim();
  await first.click();
  await expect(page).toHaveURL(new RegExp(`/store/${id}`));
  await expect(page.locator('h1')).toHaveText(name!);
  await expect(page.getByTestId('product-card').first()).toBeVisible();
  expect(await page.getByTestId('product-card').count()).toBeGreaterThan(5);
});

test('a distance limit narrows the list and an empty result offers to widen it', async ({ page }) => {
  await page.goto(homeAt(GUOMAO, '&sort=distance'));
  await hydrated(page);
  await page.locator('[data-testid=radius-option][data-radius="1000"]').click();
  await expect(page).toHaveURL(/radius_m=1000/);
  await expect(page.locator('[data-testid=store-list][data-radius="1000"]')).toBeVisible();
  await expect(page.getByTestId('store-card').first()).toBeVisible();
  const distances = await numbers(page, '[data-testid=store-card]', 'data-distance-m');
  expect(Math.max(...distances)).toBeLessThanOrEqual(1000);

  // Somewhere no store reaches, limited to 1 km: nothing, with a way to widen the search.
  await page.goto('/?lat=40.3&lng=116.9&radius_m=1000');
  await expect(page.getByTestId('empty-results')).toBeVisible();
  await page.getByRole('link', { name: '扩大搜索范围' }).click();
  await expect(page).not.toHaveURL(/radius_m/);
});

test('an area with no stores explains what to do', async ({ page }) => {
  // The middle of the Taklamakan desert: no store delivers there.
  await page.goto('/?lat=38.9&lng=82.5');
  await expect(page.getByTestId('empty-results')).toBeVisible();
  await expect(page.getByTestId('empty-results').getByRole('link', { name: '换一个区域' })).toBeVisible();
});

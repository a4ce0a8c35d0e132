import { test, expect } from '@playwright/test';
import { GUOMAO, homeAt, hydrated, numbers, isSortedAscending } from './helpers';

test('an unknown store is a real 404 page', async ({ page }) => {
  const res = await page.goto('/store/no-such-store');
  expect(res?.status()).toBe(404);
  await expect(page.locator('h1')).toHaveText('找不到这家门店');
  await expect(page.getByRole('link', { name: '重新选择位置' })).toBeVisible();
});

test('an unknown route is a real 404 page', async ({ page }) => {
  const res = await page.goto('/no/such/page');
  expect(res?.status()).toBe(404);
  await expect(page.locator('h1')).toHaveText('页面不存在');
});

test('a store page has a header, category rail, prices and stock states', async ({ page }) => {
  await page.goto(homeAt(GUOMAO, '&category=supermarket'));
  await page.getByTestId('store-card').first().click();
  await hydrated(page);
  await expect(page.getByTestId('store-header')).toBeVisible();
  await expect(page.getByTestId('store-eta')).toContainText('分钟');
  await expect(page.getByTestId('store-hours')).toContainText('今日');
  const aisles = page.getByTestId('aisle-link');
  await expect(aisles.first()).toBeVisible();
  expect(await aisles.count()).toBeGreaterThan(2);

  const aisle = await aisles.nth(1).getAttribute('data-aisle');
  await aisles.nth(1).click();
  await expect(page).toHaveURL(/category=/);
  await expect(aisles.nth(1)).toHaveAttribute('aria-current', 'true');
  const cards = page.getByTestId('product-card');
  await expect(cards.first()).toBeVisible();
  expect(aisle).toBeTruthy();
  for (const price of await numbers(page, '[data-testid=product-card]', 'data-price-fen')) {
    expect(price).toBeGreaterThan(0);
  }
});

test('searching inside a store narrows the products', async ({ page }) => {
  await page.goto(homeAt(GUOMAO, '&category=supermarket'));
  await page.getByTestId('store-card').first().click();
  await hydrated(page);
  await expect(page.getByTestId('product-card').first()).toBeVisible();
  const before = await page.getByTestId('product-card').count();
  await page.getByTestId('store-search').fill('水');
  await page.getByTestId('store-search').press('Enter');
  await expect(page).toHaveURL(/q=/);
  await expect(page.locator('[data-testid=products][data-q="水"]')).toBeVisible();
  const names = await page.locator('[data-testid=product-card] .product-name').allTextContents();
  expect(names.length).toBeGreaterThan(0);
  expect(names.length).toBeLessThan(before);
  for (const n of names) expect(n).toContain('水');
});

test('product search lists nearby stores that have it in stock, fastest first', async ({ page }) => {
  await page.goto(`/search?q=${encodeURIComponent('牛奶')}&lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}`);
  await hydrated(page);
  const results = page.getByTestId('search-result');
  await expect(results.first()).toBeVisible();
  expect(await results.count()).toBeGreaterThanOrEqual(3);
  const names = await page.locator('[data-testid=search-result] .product-name').allTextContents();
  for (const n of names) expect(n).toContain('牛奶');
  const etas = await numbers(page, '[data-testid=search-result]', 'data-eta-min');
  expect(isSortedAscending(etas)).toBe(true);
  await expect(page.locator('[data-testid=search-result] .stock.sold_out')).toHaveCount(0);
});

test('the header search box finds products from any page', async ({ page }) => {
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  await page.getByTestId('search-input').fill('充电宝');
  await page.getByTestId('search-input').press('Enter');
  await expect(page).toHaveURL(/\/search\?lat=.*q=/);
  await expect(page.getByTestId('search-result').first()).toBeVisible();
});

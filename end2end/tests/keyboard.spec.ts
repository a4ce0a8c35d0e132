// The three journeys that take money, done with the keyboard alone (Tab, Space, Enter): checkout
// and pay, a live-room buy, and joining a group. Every element that takes the focus on the way
// shows it (a ring of at least 2 px). The add-to-cart journey is in a11y.spec.ts.
import { APIRequestContext, expect, Locator, Page, test } from '@playwright/test';
import { addressAtGuomao, GUOMAO, hydrated, openGroup, signInThroughApi } from './helpers';

/** Presses Tab until `target` has the focus (at most `max` times), checking each focus ring. */
async function tabTo(page: Page, target: Locator, max = 120): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      if (!el || el === document.body) return { ok: true, what: 'body' };
      const s = getComputedStyle(el);
      return {
        ok: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
        what: el.outerHTML.slice(0, 100),
      };
    });
    expect(ring.ok, `focus ring on ${ring.what}`).toBe(true);
  }
  throw new Error(`Tab never reached ${target}`);
}

/** An open store near 国贸 and a product whose stock covers the store's minimum order. */
async function storeAndLine(api: APIRequestContext): Promise<{ store: string; sku: string; quantity: number }> {
  const nearby = await (await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=20`)).json();
  const store = nearby.stores.find((s: { open_now: boolean }) => s.open_now);
  const { products } = await (await api.get(`/api/v1/stores/${store.id}/products?limit=200`)).json();
  const product = products.find((p: { stock: number; price_fen: number }) => p.stock >= 10 && p.stock * p.price_fen >= store.min_order_fen);
  return { store: store.id, sku: product.sku, quantity: Math.max(1, Math.ceil(store.min_order_fen / product.price_fen)) };
}

test('checkout and pay with the keyboard alone', async ({ page }) => {
  await signInThroughApi(page.request, '158');
  await addressAtGuomao(page.request);
  const { store, sku, quantity } = await storeAndLine(page.request);
  const put = await page.request.put(`/api/v1/cart/${store}`, { data: { items: [{ sku, quantity }] } });
  expect(put.status()).toBe(200);

  await page.goto(`/checkout/${store}`);
  await hydrated(page);
  // The saved address and "as soon as possible" are chosen already; Space would change them.
  await expect(page.getByTestId('address-option').first().locator('input')).toBeChecked();
  await expect(page.getByTestId('slot-asap')).toBeChecked();
  await tabTo(page, page.getByTestId('place-order'));
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/orders\/ord_/);
  await hydrated(page);
  const status = page.getByTestId('order-status');
  await expect(status).toHaveAttribute('data-status', 'pending_payment');
  await tabTo(page, page.getByTestId('pay'));
  await page.keyboard.press('Enter');
  await expect(status).not.toHaveAttribute('data-status', 'pending_payment');
});

test('buy the pinned product in a live room with the keyboard alone', async ({ page }) => {
  await signInThroughApi(page.request, '159');
  const address = await addressAtGuomao(page.request);
  await page.goto('/live/live_bj2');
  await hydrated(page);
  await tabTo(page, page.getByTestId('buy-now'));
  await page.keyboard.press('Enter');
  const sheet = page.getByTestId('buy-sheet');
  await expect(sheet).toBeVisible();
  const option = sheet.locator(`[data-testid=address-option][data-address-id="${address}"] input`);
  if (!(await option.isChecked())) {
    await tabTo(page, option);
    await page.keyboard.press('Space');
  }
  await expect(option).toBeChecked();
  await expect(sheet.getByTestId('buy-estimate')).toHaveAttribute('data-state', 'ok');
  await tabTo(page, sheet.getByTestId('place-and-pay'));
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/orders\/[^/]+$/);
  await hydrated(page);
  await expect(page.getByTestId('order-status')).not.toHaveAttribute('data-status', 'pending_payment');
});

test('join a group with the keyboard alone', async ({ page, playwright, baseURL }) => {
  // The starter opens a group of three through the API and pays for it.
  const starter = await playwright.request.newContext({ baseURL });
  const group = await openGroup(starter, '157');
  await starter.dispose();

  await signInThroughApi(page.request, '156');
  const address = await addressAtGuomao(page.request);
  await page.goto(`/group/${group}`);
  await hydrated(page);
  await tabTo(page, page.getByTestId('join-group'));
  await page.keyboard.press('Enter');
  const option = page.locator(`[data-testid=address-option][data-address-id="${address}"] input`);
  await expect(option).toBeVisible();
  if (!(await option.isChecked())) {
    await tabTo(page, option);
    await page.keyboard.press('Space');
  }
  await expect(option).toBeChecked();
  await tabTo(page, page.getByTestId('join-confirm'));
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('group-joined')).toBeVisible();
});

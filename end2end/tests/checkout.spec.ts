import { expect, Page, Request } from '@playwright/test';
import { test } from '@playwright/test';
import { failOnPageErrors, GUOMAO, hydrated, submitSignIn, WANGJING } from './helpers';

/** Signs in on /login (demo platform: the code is shown on the page); returns to `next`. */
async function signIn(page: Page, next: string): Promise<void> {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await hydrated(page);
  // Each test signs in with its own number.
  await submitSignIn(page, '139');
  await page.waitForURL((u) => u.pathname + u.search === next);
  await hydrated(page);
}

/** An open supermarket near Guomao, and its product with the most stock (or the `rank`-th most:
 * tests that check stock figures use their own product, as tests run in parallel). */
async function openStoreWithStock(page: Page, rank = 0): Promise<{ storeUrl: string; sku: string }> {
  await page.goto(`/?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&category=supermarket&open_now=1`);
  const href = await page.getByTestId('store-card').first().getAttribute('href');
  expect(href).toBeTruthy();
  await page.goto(href!);
  await hydrated(page);
  const cards = page.locator('[data-testid=product-card]');
  await expect(cards.first()).toBeVisible();
  const best = await cards.evaluateAll((els) =>
    els
      .map((e) => ({ sku: e.getAttribute('data-sku')!, stock: Number(e.getAttribute('data-stock')) }))
      .sort((a, b) => b.stock - a.stock),
  ).then((all) => all[rank]);
  expect(best.stock).toBeGreaterThanOrEqual(25);
  return { storeUrl: href!, sku: best.sku };
}

function plus(page: Page, sku: string) {
  return page.locator(`[data-testid=product-card][data-sku="${sku}"] [data-testid=add-to-cart]`);
}

test('20 quick taps on "+" end at 20, in a few coalesced requests, and survive a reload', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const { sku } = await openStoreWithStock(page);
  // A slow phone network: every cart write takes 400 ms to get through.
  await page.route('**/api/v1/cart/**', async (route) => {
    await new Promise((r) => setTimeout(r, 400));
    await route.continue();
  });
  const puts: Request[] = [];
  // When each write went out and when its answer came back (ms since the first tap).
  const spans = new Map<Request, { sent: number; answered?: number }>();
  const t0 = Date.now();
  page.on('request', (r) => {
    if (r.method() === 'PUT' && r.url().includes('/api/v1/cart/')) {
      puts.push(r);
      spans.set(r, { sent: Date.now() - t0 });
    }
  });
  page.on('requestfinished', (r) => {
    const span = spans.get(r);
    if (span) span.answered = Date.now() - t0;
  });
  const button = plus(page, sku);
  for (let i = 0; i < 20; i++) await button.click();
  const card = page.locator(`[data-testid=product-card][data-sku="${sku}"]`);
  // The count is shown at once (optimistic), while writes are still on their way ...
  await expect(card.getByTestId('item-quantity')).toHaveText('20', { timeout: 300 });
  // ... and settles to the platform's answer.
  await expect(page.getByTestId('cart-bar')).toHaveAttribute('data-syncing', 'false');
  await expect(page.getByTestId('cart-count')).toHaveText('20');
  // ... coalesced: one write in flight at a time (each sent only after the one before was
  // answered), so far fewer writes than taps however fast the taps came, each carrying the
  // latest quantities.
  expect(puts.length).toBeGreaterThan(0);
  expect(puts.length).toBeLessThan(20);
  for (let i = 1; i < puts.length; i++) {
    const before = spans.get(puts[i - 1])!;
    expect(before.answered).toBeDefined();
    expect(spans.get(puts[i])!.sent).toBeGreaterThanOrEqual(before.answered!);
  }
  expect(puts.at(-1)!.postDataJSON().items).toEqual([{ sku, quantity: 20 }]);
  await page.unroute('**/api/v1/cart/**');

  await page.reload();
  await hydrated(page);
  await expect(card.getByTestId('item-quantity')).toHaveText('20');
  await card.getByTestId('remove-from-cart').click();
  await expect(page.getByTestId('cart-bar')).toHaveAttribute('data-syncing', 'false');
  await expect(page.getByTestId('cart-count')).toHaveText('19');
  await page.goto('/cart');
  await hydrated(page);
  await expect(page.locator(`[data-testid=cart-line][data-sku="${sku}"] [data-testid=item-quantity]`)).toHaveText('19');
  expect(errors).toEqual([]);
});

/** Adds the product until the store's minimum order is met; returns the checkout link. */
async function fillCartToMinimum(page: Page, sku: string): Promise<string> {
  const checkout = page.getByTestId('cart-bar').getByTestId('checkout');
  for (let i = 0; i < 40 && !(await checkout.isVisible()); i++) {
    await plus(page, sku).click();
    await expect(page.getByTestId('cart-bar')).toHaveAttribute('data-syncing', 'false');
  }
  await expect(checkout).toBeVisible();
  return (await checkout.getAttribute('href'))!;
}

test('shop before signing in, sign in, check out ASAP, pay, and watch the rider deliver', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const refused: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) refused.push(m.text());
  });
  const { sku } = await openStoreWithStock(page);
  const checkoutUrl = await fillCartToMinimum(page, sku);
  const count = await page.getByTestId('cart-count').textContent();

  await page.getByTestId('cart-bar').getByTestId('checkout').click();
  await expect(page.getByTestId('sign-in-first')).toBeVisible();
  await signIn(page, checkoutUrl);
  // The anonymous cart came along.
  const line = page.locator(`[data-testid=checkout-line][data-sku="${sku}"]`);
  await expect(line).toContainText(`× ${count}`);

  await page.getByTestId('address-detail').fill('建国门外大街 1 号 2 单元 301');
  await page.getByTestId('save-address').click();
  const option = page.getByTestId('address-option').first();
  await expect(option).toHaveAttribute('data-delivers', 'true');
  await expect(option.locator('input')).toBeChecked();
  await expect(page.getByTestId('slot-asap')).toBeChecked();
  await expect(page.getByTestId('slot-asap').locator('..')).toContainText(/约 \d+ 分钟/);
  const items = Number(await page.getByTestId('price-items').getAttribute('data-fen'));
  const fee = Number(await page.getByTestId('price-fee').getAttribute('data-fen'));
  const total = Number(await page.getByTestId('price-total').getAttribute('data-fen'));
  expect(items).toBeGreaterThan(0);
  expect(total).toBe(items + fee);

  // A note that hides text is refused before anything is sent; a plain one travels with the order.
  const note = page.getByTestId('order-note');
  await note.fill('放门口 \u202egnp.exe');
  await page.getByTestId('place-order').click();
  await expect(page.getByTestId('checkout-error')).toBeVisible();
  await expect(page).toHaveURL(/\/checkout\//);
  await note.fill('放门口，别按门铃');
  await page.getByTestId('place-order').click();
  await page.waitForURL(/\/orders\/ord_/);
  await expect(page.getByTestId('order-note')).toHaveText('备注：放门口，别按门铃');
  const status = page.getByTestId('order-status');
  await expect(status).toHaveAttribute('data-status', 'pending_payment');
  // A live region: each new status is read out.
  await expect(status).toHaveAttribute('role', 'status');
  await hydrated(page);

  const riderLats = new Set<string>();
  const riderDrawn = new Set<string>();
  const map = page.getByTestId('order-map');
  await page.getByTestId('pay').click();
  // Sample the rider while the order moves: its reported position and where Leaflet draws it.
  for (let i = 0; i < 200; i++) {
    const lat = await map.getAttribute('data-rider-lat');
    if (lat) riderLats.add(lat);
    const drawn = await page.locator('.rider-marker').evaluateAll((els) => els.map((e) => e.getAttribute('d')));
    if (drawn[0]) riderDrawn.add(drawn[0]);
    if ((await status.getAttribute('data-status')) === 'delivered') break;
    await page.waitForTimeout(50);
  }
  await expect(status).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
  await expect(page.getByTestId('order-eta')).toHaveText('已送达');
  expect(riderLats.size).toBeGreaterThanOrEqual(3);
  expect(riderDrawn.size).toBeGreaterThanOrEqual(3);
  await expect(page.locator('[data-testid=timeline-step].done')).toHaveCount(8);
  // Each step shows when it happened (Beijing time; the e2e platform's clock is frozen at 12:00).
  await expect(page.locator('[data-testid=timeline-step][data-status=delivered] time')).toHaveText('12:00');
  await expect(page.locator('.rider-marker')).toHaveCount(1);

  // The ordered product left the cart; the order is listed under /me.
  await page.goto('/me');
  await expect(page.getByTestId('order-row').first()).toHaveAttribute('data-status', 'delivered');
  await expect(page.getByTestId('address-row')).toHaveCount(1);
  expect(errors).toEqual([]);
  expect(refused).toEqual([]);
});

test('cancelling an unpaid order returns its stock', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const { storeUrl, sku } = await openStoreWithStock(page, 1);
  const card = page.locator(`[data-testid=product-card][data-sku="${sku}"]`);
  const checkoutUrl = await fillCartToMinimum(page, sku);
  const ordered = Number(await card.getByTestId('item-quantity').textContent());
  await signIn(page, checkoutUrl);
  await page.getByTestId('address-detail').fill('光华路 9 号');
  await page.getByTestId('save-address').click();
  // A scheduled slot this time: the second one offered (store hours decide which exist).
  const slots = page.getByTestId('slot-select');
  const second = await slots.locator('option').nth(1).getAttribute('value');
  await slots.selectOption(second!);
  await expect(page.getByTestId('slot-scheduled')).toBeChecked();
  await page.getByTestId('place-order').click();
  await page.waitForURL(/\/orders\/ord_/);
  await hydrated(page);
  await expect(page.getByTestId('order-slot')).toContainText('预约');

  await page.goto(storeUrl);
  const reserved = Number(await card.getAttribute('data-stock'));
  await page.goBack();
  await hydrated(page);
  await page.getByTestId('cancel-order').click();
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('cancel-order')).toHaveCount(0);
  await page.goto(storeUrl);
  expect(Number(await card.getAttribute('data-stock'))).toBe(reserved + ordered);
  expect(errors).toEqual([]);
});

test('an address outside the store\'s delivery radius is refused', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const { sku } = await openStoreWithStock(page);
  const checkoutUrl = await fillCartToMinimum(page, sku);
  await signIn(page, checkoutUrl);
  // The shopper's point is 30 km north-west of the store: the new address starts there.
  const far = checkoutUrl.replace(/lat=[^&]+/, 'lat=40.15').replace(/lng=[^&]+/, 'lng=116.25');
  await page.goto(far);
  await hydrated(page);
  await page.getByTestId('address-detail').fill('昌平区某小区');
  await page.getByTestId('save-address').click();
  const option = page.getByTestId('address-option').first();
  await expect(option).toHaveAttribute('data-delivers', 'false');
  await expect(option.getByTestId('address-out-of-range')).toContainText('超出门店配送范围');
  await expect(page.getByTestId('place-order')).toBeDisabled();

  // The platform refuses it too, whatever the page allows.
  const addressId = await option.getAttribute('data-address-id');
  const storeId = await page.getByTestId('checkout').getAttribute('data-store-id');
  const refused = await page.request.post('/api/v1/orders', {
    headers: { 'idempotency-key': `e2e-far-${Date.now()}` },
    data: { store_id: storeId, items: [{ sku, quantity: 1 }], address_id: addressId, slot: 'asap' },
  });
  expect(refused.status()).toBe(422);
  expect((await refused.json()).error.code).toBe('out_of_delivery_range');
  expect(errors).toEqual([]);
});

test('a closed store takes scheduled orders only', async ({ page }) => {
  const errors = failOnPageErrors(page);
  // Most stores are open at the frozen noon; one near Wangjing is not.
  let closedId: string | undefined;
  let cursor = '';
  for (let i = 0; i < 10 && !closedId; i++) {
    const res = await page.request.get(
      `/api/v1/stores/nearby?lat=${WANGJING.latitude}&lng=${WANGJING.longitude}&limit=100${cursor}`,
    );
    const body = await res.json();
    closedId = body.stores.find((s: { open_now: boolean }) => !s.open_now)?.id;
    if (!body.next_cursor) break;
    cursor = `&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
  expect(closedId).toBeTruthy();
  await page.goto(`/store/${closedId}?lat=${WANGJING.latitude}&lng=${WANGJING.longitude}`);
  await hydrated(page);
  // The dearest product with some stock reaches the minimum order in the fewest taps.
  const sku = await page.locator('[data-testid=product-card]').evaluateAll((els) =>
    els
      .filter((e) => Number(e.getAttribute('data-stock')) >= 10)
      .sort((a, b) => Number(b.getAttribute('data-price-fen')) - Number(a.getAttribute('data-price-fen')))[0]
      ?.getAttribute('data-sku'),
  );
  expect(sku).toBeTruthy();
  const checkoutUrl = await fillCartToMinimum(page, sku!);
  await signIn(page, checkoutUrl);
  await page.getByTestId('address-detail').fill('国贸 3 期');
  await page.getByTestId('save-address').click();
  await expect(page.getByTestId('slot-asap')).toBeDisabled();
  await expect(page.getByTestId('slot-scheduled')).toBeChecked();
  await page.getByTestId('place-order').click();
  await page.waitForURL(/\/orders\/ord_/);
  await expect(page.getByTestId('order-slot')).toContainText('预约');
  expect(errors).toEqual([]);
});

test('with JavaScript off, "+" and "−" on a store page still change the cart, through plain forms', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`/?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&category=supermarket&open_now=1`);
  const href = await page.getByTestId('store-card').first().getAttribute('href');
  await page.goto(href!);
  const card = page.locator('[data-testid=product-card]:not(.sold-out)').first();
  const sku = await card.getAttribute('data-sku');
  const url = page.url();
  await card.getByTestId('add-to-cart').click();
  await page.waitForURL(url);
  const same = page.locator(`[data-testid=product-card][data-sku="${sku}"]`);
  await expect(same.getByTestId('item-quantity')).toHaveText('1');
  await same.getByTestId('add-to-cart').click();
  await expect(same.getByTestId('item-quantity')).toHaveText('2');
  await expect(page.getByTestId('cart-count')).toHaveText('2');
  await same.getByTestId('remove-from-cart').click();
  await expect(same.getByTestId('item-quantity')).toHaveText('1');
  // Back on the page it came from, with its point.
  expect(page.url()).toBe(url);
  await page.goto('/cart');
  await expect(page.locator(`[data-testid=cart-line][data-sku="${sku}"] [data-testid=item-quantity]`)).toHaveText('1');
  await context.close();
});

// When the shelf is short (缺货), and reorder (再来一单), in the browser and in both languages: the
// shopper's choice at checkout, the refund or the substitute offer arriving live on the order page
// (no reload), and reorder naming what is now sold out. The e2e platform finds no shortage by
// itself (JISHI_SHORTAGE_PER_MILLE=0); each test makes its own line short through the demo route.
import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { addressAtGuomao, expectAccessible, failOnPageErrors, GUOMAO, hydrated, signInThroughApi } from './helpers';

type Product = { sku: string; name: string; category: string; price_fen: number; stock: number };

/** An open store near 国贸 and a product of it that has a cheaper (or equal) one in the same
 * aisle with stock: the product, how many to order to reach the minimum, and the store. */
async function productWithSubstitute(api: APIRequestContext, skip = 0): Promise<{ store: string; product: Product; quantity: number }> {
  const nearby = await (
    await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=50`)
  ).json();
  const found = [];
  for (const s of nearby.stores.filter((s: { open_now: boolean }) => s.open_now)) {
    const { products } = (await (await api.get(`/api/v1/stores/${s.id}/products?limit=200`)).json()) as { products: Product[] };
    for (const p of products) {
      const quantity = Math.max(2, Math.ceil(s.min_order_fen / p.price_fen));
      if (quantity > 10 || p.stock < quantity + 5) continue;
      const substitute = products.some(
        (o) => o.sku !== p.sku && o.category === p.category && o.price_fen <= p.price_fen && o.stock >= 5,
      );
      if (substitute) found.push({ store: s.id as string, product: p, quantity });
      if (found.length > skip) return found[skip];
    }
  }
  throw new Error('no product with a substitute near 国贸 in the demo city');
}

/** Signs in a new shopper on the page's context, with an address at 国贸; the address id. */
async function shopper(page: Page, prefix: string): Promise<string> {
  await signInThroughApi(page.request, prefix);
  return addressAtGuomao(page.request);
}

async function placeViaApi(
  api: APIRequestContext,
  address: string,
  store: string,
  items: { sku: string; quantity: number }[],
  shortage: string,
): Promise<string> {
  const placed = await api.post('/api/v1/orders', {
    data: { store_id: store, items, address_id: address, slot: 'asap', shortage },
    headers: { 'Idempotency-Key': `short-${Date.now()}-${Math.random()}` },
  });
  expect(placed.status(), await placed.text()).toBe(201);
  return (await placed.json()).id;
}

/** The store will find `sku` one unit short when it picks the order. */
async function planShort(api: APIRequestContext, order: string, sku: string): Promise<void> {
  const planned = await api.post(`/api/v1/demo/orders/${order}/short`, { data: { sku, missing: 1 } });
  expect(planned.status(), await planned.text()).toBe(200);
}

for (const lang of ['zh-CN', 'en'] as const) {
  const zh = lang === 'zh-CN';
  test.describe(`in ${lang}`, () => {
    test.use({ locale: lang });

    test('ship the rest: a line comes up short while picking and its refund shows live', async ({ page }) => {
      const errors = failOnPageErrors(page);
      const address = await shopper(page, zh ? '151' : '152');
      const { store, product, quantity } = await productWithSubstitute(page.request, zh ? 0 : 1);
      const order = await placeViaApi(page.request, address, store, [{ sku: product.sku, quantity }], 'ship_rest');
      await planShort(page.request, order, product.sku);
      await page.goto(`/orders/${order}`);
      await hydrated(page);
      await expect(page.getByTestId('order-shortage')).toHaveAttribute('data-shortage', 'ship_rest');
      await expect(page.getByTestId('order-refund')).toHaveCount(0);
      await page.getByTestId('pay').click();
      // No reload: the picking step's event carries the refund.
      const refund = page.getByTestId('order-refund');
      await expect(refund).toHaveCount(1, { timeout: 15_000 });
      await expect(refund).toHaveAttribute('data-fen', String(product.price_fen));
      await expect(refund).toHaveAttribute('data-reason', 'short');
      await expect(page.getByTestId('line-short')).toContainText(zh ? '缺货 1 件' : '1 out of stock');
      await expect(page.getByTestId('order-kept')).toHaveAttribute('data-fen', /\d+/);
      // The rest is delivered.
      await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
      await expectAccessible(page, 'order page with a refund');
      await page.goto('/me');
      await expect(page.getByTestId('order-row-refunded').first()).toHaveAttribute('data-fen', String(product.price_fen));
      expect(errors).toEqual([]);
    });

    test('ask me: the choice made at checkout, a substitute offered live and taken', async ({ page }) => {
      const errors = failOnPageErrors(page);
      await shopper(page, zh ? '153' : '154');
      const { store, product, quantity } = await productWithSubstitute(page.request, zh ? 2 : 3);
      const cart = await page.request.put(`/api/v1/cart/${store}`, {
        data: { items: [{ sku: product.sku, quantity }] },
      });
      expect(cart.status()).toBe(200);
      await page.goto(`/checkout/${store}`);
      await hydrated(page);
      const choice = page.getByTestId('shortage-choice');
      await expect(choice.locator('input[value=ship_rest]')).toBeChecked();
      await choice.locator('input[value=ask_me]').check();
      await expectAccessible(page, 'checkout with the shortage choice');
      await page.getByTestId('place-order').click();
      await page.waitForURL(/\/orders\/ord_/);
      const order = new URL(page.url()).pathname.split('/').pop()!;
      await planShort(page.request, order, product.sku);
      await hydrated(page);
      await expect(page.getByTestId('order-shortage')).toHaveAttribute('data-shortage', 'ask_me');
      await page.getByTestId('pay').click();
      const status = page.getByTestId('order-status');
      await expect(status).toHaveAttribute('data-status', 'awaiting_shopper', { timeout: 15_000 });
      const offers = page.getByTestId('substitute-offer');
      await expect(offers.first()).toBeVisible();
      expect(await offers.count()).toBeLessThanOrEqual(3);
      await expectAccessible(page, 'order page asking about a short line');
      const taken = await offers.first().getAttribute('data-sku');
      await offers.first().click();
      await expect(page.getByTestId('substitute-offer')).toHaveCount(0);
      await expect(page.locator(`.checkout-lines li[data-sku="${taken}"]`)).toBeVisible();
      await expect(page.getByTestId('line-short')).toContainText(zh ? '已换成' : 'replaced with');
      await expect(status).toHaveAttribute('data-status', 'delivered', { timeout: 20_000 });
      expect(errors).toEqual([]);
    });

    test('reorder fills the cart and names the line that is now sold out', async ({ page }) => {
      const errors = failOnPageErrors(page);
      const address = await shopper(page, zh ? '155' : '156');
      // A product this shopper buys out, beside one that stays in stock.
      const nearby = await (
        await page.request.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=50`)
      ).json();
      let picked: { store: string; last: Product; plenty: Product; more: number } | undefined;
      for (const s of nearby.stores.filter((s: { open_now: boolean }) => s.open_now)) {
        const { products } = (await (await page.request.get(`/api/v1/stores/${s.id}/products?limit=200`)).json()) as { products: Product[] };
        const last = products.filter((p) => p.stock >= 1 && p.stock <= 5)[zh ? 0 : 1];
        if (!last) continue;
        // Enough of another product to reach the store's minimum order.
        const more = (p: Product) => Math.max(1, Math.ceil((s.min_order_fen - last.price_fen * last.stock) / p.price_fen));
        const plenty = products.find((p) => p.sku !== last.sku && more(p) <= 10 && p.stock >= more(p) + 20);
        if (plenty) {
          picked = { store: s.id, last, plenty, more: more(plenty) };
          break;
        }
      }
      expect(picked, 'a store near 国贸 with a product nearly sold out').toBeTruthy();
      const { store, last, plenty, more } = picked!;
      const order = await placeViaApi(
        page.request,
        address,
        store,
        [{ sku: last.sku, quantity: last.stock }, { sku: plenty.sku, quantity: more }],
        'ship_rest',
      );
      await page.goto(`/orders/${order}`);
      await hydrated(page);
      await page.getByTestId('pay').click();
      await expect(page.getByTestId('order-status')).not.toHaveAttribute('data-status', 'pending_payment');
      await page.getByTestId('reorder').click();
      const changes = page.getByTestId('reorder-changes');
      await expect(changes).toBeVisible();
      const soldOut = changes.locator(`[data-testid=reorder-change][data-sku="${last.sku}"]`);
      await expect(soldOut).toHaveAttribute('data-change', 'sold_out');
      await expect(soldOut).toContainText(last.name);
      await expectAccessible(page, 'order page after reorder');
      await changes.getByRole('link').click();
      await page.waitForURL(/\/cart/);
      await expect(page.locator(`[data-testid=cart-line][data-sku="${plenty.sku}"]`)).toBeVisible();
      await expect(page.locator(`[data-testid=cart-line][data-sku="${last.sku}"]`)).toHaveCount(0);
      expect(errors).toEqual([]);
    });
  });
}

test('inside a mini-program (embed mode) a short line is asked about and answered the same way', async ({ page }) => {
  const errors = failOnPageErrors(page);
  const address = await shopper(page, '187');
  const { store, product, quantity } = await productWithSubstitute(page.request, 4);
  const order = await placeViaApi(page.request, address, store, [{ sku: product.sku, quantity }], 'ask_me');
  await planShort(page.request, order, product.sku);
  // Paid (in a mini-program the host pays: embed.spec.ts covers that hand-off).
  expect((await page.request.post(`/api/v1/orders/${order}/pay`, { data: { method: 'sandbox' } })).status()).toBe(200);
  // ?embed=miniprogram in a plain browser: embed pages, the host's bridge a no-op.
  await page.goto(`/orders/${order}?embed=miniprogram`);
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('data-embed', 'miniprogram');
  const offers = page.getByTestId('substitute-offer');
  await expect(offers.first()).toBeVisible({ timeout: 20_000 });
  await expectAccessible(page, 'embed order page asking about a short line');
  await page.getByTestId('substitute-refuse').first().click();
  await expect(offers).toHaveCount(0);
  await expect(page.locator('[data-testid=order-refund][data-reason=short]')).toHaveAttribute('data-fen', String(product.price_fen));
  expect(errors).toEqual([]);
});

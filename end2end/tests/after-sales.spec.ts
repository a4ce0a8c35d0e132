// After-sales (售后) in the browser, in both languages: after delivery the shopper picks a line, a
// reason and a photo (generated here, drawn on a canvas), sends it, and the approval and its refund
// show on the order page.
import { expect, test } from '@playwright/test';
import { addressAtGuomao, expectAccessible, failOnPageErrors, GUOMAO, hydrated, signInThroughApi } from './helpers';

type Product = { sku: string; price_fen: number; stock: number };

for (const lang of ['zh-CN', 'en'] as const) {
  const zh = lang === 'zh-CN';
  test.describe(`in ${lang}`, () => {
    test.use({ locale: lang });

    test('after delivery, a request with a photo is approved and its refund shows', async ({ page }) => {
      const errors = failOnPageErrors(page);
      const api = page.request;
      await signInThroughApi(api, zh ? '157' : '158');
      const address = await addressAtGuomao(api);
      // Two of a product under ¥25 (so one unit is within the demo's automatic approval).
      const nearby = await (
        await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=50`)
      ).json();
      let order = '';
      let price = 0;
      for (const s of nearby.stores.filter((s: { open_now: boolean }) => s.open_now)) {
        const { products } = (await (await api.get(`/api/v1/stores/${s.id}/products?limit=200`)).json()) as { products: Product[] };
        const p = products.find((p) => p.price_fen <= 2500 && p.stock >= 10 && p.price_fen * 2 >= s.min_order_fen);
        if (!p) continue;
        const placed = await api.post('/api/v1/orders', {
          data: { store_id: s.id, items: [{ sku: p.sku, quantity: 2 }], address_id: address, slot: 'asap' },
          headers: { 'Idempotency-Key': `as-${lang}-${Date.now()}` },
        });
        expect(placed.status(), await placed.text()).toBe(201);
        order = (await placed.json()).id;
        price = p.price_fen;
        break;
      }
      expect(order).not.toBe('');
      expect((await api.post(`/api/v1/orders/${order}/pay`, { data: { method: 'sandbox' } })).status()).toBe(200);
      await expect
        .poll(async () => (await (await api.get(`/api/v1/orders/${order}`)).json()).status, { timeout: 20_000 })
        .toBe('delivered');

      await page.goto(`/orders/${order}`);
      await hydrated(page);
      const panel = page.getByTestId('after-sales');
      await expect(panel).toBeVisible();
      await expectAccessible(page, 'order page with the after-sales form');
      // Nothing chosen: said plainly, nothing sent.
      await panel.getByTestId('after-sales-submit').click();
      await expect(page.getByTestId('after-sales-error')).toBeVisible();

      await panel.getByTestId('after-sales-quantity').first().selectOption('1');
      await panel.getByTestId('after-sales-reason').selectOption('damaged');
      const png = await page.evaluate(() => {
        const c = document.createElement('canvas');
        c.width = 120;
        c.height = 90;
        const g = c.getContext('2d')!;
        g.fillStyle = '#c33';
        g.fillRect(0, 0, 120, 90);
        g.fillStyle = '#fff';
        g.fillRect(20, 20, 40, 30);
        return c.toDataURL('image/png').split(',')[1];
      });
      await panel.getByTestId('after-sales-photo').setInputFiles({
        name: 'broken.png',
        mimeType: 'image/png',
        buffer: Buffer.from(png, 'base64'),
      });
      await panel.getByTestId('after-sales-submit').click();
      const request = page.getByTestId('after-sales-request');
      await expect(request).toHaveAttribute('data-status', 'approved');
      await expect(request).toHaveAttribute('data-refund-fen', String(price));
      const refund = page.locator('[data-testid=order-refund][data-reason=after_sales]');
      await expect(refund).toHaveAttribute('data-fen', String(price));
      await expectAccessible(page, 'order page after an approved request');

      // The other unit, without a photo: it waits in review, and the decision, taken elsewhere,
      // shows here live, with no reload.
      await panel.getByTestId('after-sales-quantity').first().selectOption('1');
      await panel.getByTestId('after-sales-reason').selectOption('missing');
      await panel.getByTestId('after-sales-submit').click();
      await expect(page.locator('[data-testid=after-sales-request][data-status=reviewing]')).toHaveCount(1);
      const read = await (await api.get(`/api/v1/orders/${order}`)).json();
      const waiting = read.after_sales.find((a: { status: string }) => a.status === 'reviewing');
      const decided = await api.post(`/api/v1/demo/after-sales/${waiting.id}/decision`, { data: { approve: true } });
      expect(decided.status(), await decided.text()).toBe(200);
      await expect(page.locator('[data-testid=after-sales-request][data-status=approved]')).toHaveCount(2, { timeout: 15_000 });
      await expect(page.locator('[data-testid=order-refund][data-reason=after_sales]')).toHaveCount(2);
      expect(errors).toEqual([]);
    });
  });
}

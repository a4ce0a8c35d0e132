// The time left to pay, wherever an unpaid order waits for payment (the order page, a held seat
// on a group page; the live buy sheet in embed.spec.ts): counted on the platform's clock (frozen
// at 12:00 Beijing time in the test server), not the device's, which these tests set years ahead.
import { APIRequestContext, expect, Page, test } from '@playwright/test';
import { addressAtGuomao, GUOMAO, hydrated, signInThroughApi } from './helpers';

/** This device's clock, far from the platform's. */
const DEVICE_TIME = new Date('2031-03-01T00:00:00Z');

/** Signs the context's shopper in through the API and places an unpaid order near 国贸. */
async function unpaidOrder(api: APIRequestContext): Promise<string> {
  const phone = await signInThroughApi(api, '132');
  const address = await addressAtGuomao(api);
  const nearby = await (await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=20`)).json();
  const store = nearby.stores.find((s: { open_now: boolean }) => s.open_now);
  const { products } = await (await api.get(`/api/v1/stores/${store.id}/products?limit=200`)).json();
  const product = products.find((p: { stock: number; price_fen: number }) => p.stock * p.price_fen >= store.min_order_fen);
  const quantity = Math.max(1, Math.ceil(store.min_order_fen / product.price_fen));
  const placed = await api.post('/api/v1/orders', {
    data: { store_id: store.id, items: [{ sku: product.sku, quantity }], address_id: address, slot: 'asap' },
    headers: { 'Idempotency-Key': `pay-${phone}` },
  });
  expect(placed.status()).toBe(201);
  return (await placed.json()).id;
}

/** The countdown shows about 15 minutes (the payment window) left. */
async function expectAboutFifteenMinutes(page: Page): Promise<void> {
  const countdown = page.getByTestId('pay-countdown');
  await expect(countdown).toHaveText(/剩余支付时间 1[45]:\d{2}/);
  const left = Number(await countdown.getAttribute('data-seconds-left'));
  expect(left).toBeGreaterThan(14 * 60);
  expect(left).toBeLessThanOrEqual(15 * 60);
  await expect(countdown).toHaveAttribute('role', 'timer');
}

test('the order page counts down the time left to pay, on the platform clock, and says when it is up', async ({ page }) => {
  const order = await unpaidOrder(page.request);
  await page.clock.install({ time: DEVICE_TIME });
  await page.goto(`/orders/${order}`);
  // Before the browser counts, the page says until when (Beijing time; placed at 12:00).
  await expect(page.getByTestId('pay-countdown')).toContainText('12:15');
  await hydrated(page);
  await expectAboutFifteenMinutes(page);
  await expect(page.getByTestId('pay')).toBeEnabled();

  await page.clock.fastForward('15:01');
  await expect(page.getByTestId('pay-countdown')).toHaveText('支付时间已过，订单将自动取消');
  await expect(page.getByTestId('pay-announcement')).toHaveText('支付时间已过，订单将自动取消');
  await expect(page.getByTestId('pay-announcement')).toHaveAttribute('role', 'status');
});

test('a held seat on a group page counts down the time left to pay it', async ({ page, playwright, baseURL }) => {
  // A group of three, opened by its starter's payment.
  const starter = await playwright.request.newContext({ baseURL });
  const starterPhone = await signInThroughApi(starter, '130');
  const starterAddress = await addressAtGuomao(starter);
  const nearby = await (await starter.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=100`)).json();
  let offer: { store: string; sku: string } | undefined;
  for (const s of nearby.stores.filter((s: { open_now: boolean }) => s.open_now)) {
    const { products } = await (await starter.get(`/api/v1/stores/${s.id}/products?limit=200`)).json();
    const p = products.find((p: { group: { size: number } | null; stock: number }) => p.group && p.group.size === 3 && p.stock >= 5);
    if (p) {
      offer = { store: s.id, sku: p.sku };
      break;
    }
  }
  expect(offer).toBeTruthy();
  const started = await starter.post('/api/v1/groups', {
    data: { store_id: offer!.store, sku: offer!.sku, address_id: starterAddress },
    headers: { 'Idempotency-Key': `pay-group-${starterPhone}` },
  });
  expect(started.status()).toBe(201);
  const { group, order } = await started.json();
  expect((await starter.post(`/api/v1/orders/${order.id}/pay`, { data: { method: 'sandbox' } })).status()).toBe(200);
  await starter.dispose();

  // This shopper takes a seat and has not paid for it yet.
  const phone = await signInThroughApi(page.request, '131');
  const address = await addressAtGuomao(page.request);
  const joined = await page.request.post(`/api/v1/groups/${group.id}/join`, {
    data: { address_id: address },
    headers: { 'Idempotency-Key': `pay-join-${phone}` },
  });
  expect(joined.status()).toBe(201);

  await page.clock.install({ time: DEVICE_TIME });
  await page.goto(`/group/${group.id}`);
  await hydrated(page);
  await expect(page.getByTestId('group-joined')).toBeVisible();
  await expectAboutFifteenMinutes(page);
  await expect(page.getByTestId('pay-group-order')).toBeVisible();
  await page.getByTestId('pay-group-order').click();
  await expect(page.getByTestId('pay-countdown')).toHaveCount(0);
  await expect(page.locator('[data-testid=group-member][data-paid=true]')).toHaveCount(2);
});

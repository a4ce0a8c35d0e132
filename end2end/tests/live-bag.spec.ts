import { expect, Page, test } from '@playwright/test';
import { addressAtGuomao, expectAccessible, failOnPageErrors, hydrated, signInThroughApi } from './helpers';

// live_bj2's host (see the README): no other test signs in with this number, which the platform
// allows one SMS a minute.
const HOST_PHONE = '13900000002';
const ROOM = 'live_bj2';

async function bagOrder(page: Page, testId: string): Promise<string[]> {
  return page.getByTestId(testId).evaluateAll((els) => els.map((e) => e.getAttribute('data-sku') ?? ''));
}

test('the host fills and reorders the shopping bag; a viewer sees it live and buys from it', async ({ browser, baseURL }) => {
  test.setTimeout(90_000);
  const hostCtx = await browser.newContext({ baseURL, locale: 'zh-CN' });
  const viewerCtx = await browser.newContext({ baseURL, locale: 'zh-CN' });
  const host = await hostCtx.newPage();
  const viewer = await viewerCtx.newPage();
  const errors = [...failOnPageErrors(host), ...failOnPageErrors(viewer)];

  const sent = await host.request.post('/api/v1/auth/sms-code', { data: { phone: HOST_PHONE } });
  expect(sent.ok()).toBe(true);
  const login = await host.request.post('/api/v1/auth/login', {
    data: { phone: HOST_PHONE, code: (await sent.json()).demo_code },
  });
  expect(login.status()).toBe(200);
  await host.goto(`/live/${ROOM}/host`);
  await hydrated(host);

  await signInThroughApi(viewer.request, '188');
  const address = await addressAtGuomao(viewer.request);
  await viewer.goto(`/live/${ROOM}`);
  await hydrated(viewer);
  await expect(viewer.getByTestId('live-room')).toHaveAttribute('data-stream', 'open');

  // Two products the room's stores hold enough of, into the bag at the suggested price.
  const skus = await host.getByTestId('catalogue-item').evaluateAll((els) =>
    els
      .filter((e) => Number(e.getAttribute('data-stock')) >= 10)
      .map((e) => e.getAttribute('data-sku') ?? '')
      .slice(0, 2),
  );
  expect(skus).toHaveLength(2);
  const [a, b] = skus;
  for (const [n, sku] of [a, b].entries()) {
    await host.locator(`[data-testid=add-to-bag][data-sku="${sku}"]`).click();
    await expect(host.getByTestId('host-bag-item')).toHaveCount(n + 1);
  }
  expect(await bagOrder(host, 'host-bag-item')).toEqual([a, b]);

  // The viewer's bag fills without a reload, in the host's order...
  await viewer.getByTestId('bag-open').click();
  await expect(viewer.getByTestId('bag-item')).toHaveCount(2);
  expect(await bagOrder(viewer, 'bag-item')).toEqual([a, b]);
  await expectAccessible(viewer, 'the bag open');

  // ... and follows a reorder.
  await host.locator(`[data-testid=bag-up][data-sku="${b}"]`).click();
  await expect.poll(() => bagOrder(host, 'host-bag-item')).toEqual([b, a]);
  await expect.poll(() => bagOrder(viewer, 'bag-item')).toEqual([b, a]);

  // Any item buys with the room's buy sheet, at its live price.
  await viewer.locator(`[data-testid=bag-buy][data-sku="${a}"]`).click();
  const sheet = viewer.getByTestId('buy-sheet');
  await expect(sheet).toBeVisible();
  await sheet.locator(`[data-testid=address-option][data-address-id="${address}"] input`).check();
  await expect(sheet.getByTestId('buy-estimate')).toHaveAttribute('data-state', 'ok');
  await sheet.getByTestId('place-and-pay').click();
  await viewer.waitForURL(/\/orders\/[^/]+$/);
  await hydrated(viewer);
  await expect(viewer.locator(`li[data-sku="${a}"]`).first()).toBeVisible();

  // The host sees the sale.
  await expect(host.locator(`[data-testid=sales-line][data-sku="${a}"]`)).toBeVisible();
  expect(errors).toEqual([]);
  await hostCtx.close();
  await viewerCtx.close();
});

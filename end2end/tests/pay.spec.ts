// The time left to pay, wherever an unpaid order waits for payment (the order page, a held seat
// on a group page; the live buy sheet in embed.spec.ts): counted on the platform's clock (frozen
// at 12:00 Beijing time in the test server), not the device's, which these tests set years ahead.
import { expect, Page, test } from '@playwright/test';
import { addressAtGuomao, hydrated, openGroup, signInThroughApi, unpaidOrder } from './helpers';

/** This device's clock, far from the platform's. */
const DEVICE_TIME = new Date('2031-03-01T00:00:00Z');

/** The countdown shows about `minutes` (the payment window) left. */
async function expectAboutMinutesLeft(page: Page, minutes: number): Promise<void> {
  const countdown = page.getByTestId('pay-countdown');
  const shown = (m: number) => String(m).padStart(2, '0');
  await expect(countdown).toHaveText(
    new RegExp(`剩余支付时间 (${shown(minutes - 1)}|${shown(minutes)}):\\d{2}`),
  );
  const left = Number(await countdown.getAttribute('data-seconds-left'));
  expect(left).toBeGreaterThan((minutes - 1) * 60);
  expect(left).toBeLessThanOrEqual(minutes * 60);
  await expect(countdown).toHaveAttribute('role', 'timer');
}

test('the order page counts down the time left to pay, on the platform clock, and says when it is up', async ({ page }) => {
  const order = await unpaidOrder(page.request, '132');
  // Before the browser counts, the page says until when (Beijing time; placed at 12:00): the
  // server's HTML, read as it is sent rather than raced against hydration.
  const html = await (await page.request.get(`/orders/${order}`)).text();
  expect(html).toMatch(/data-testid="pay-countdown"[^>]*>[^<]*12:15/);
  await page.clock.install({ time: DEVICE_TIME });
  await page.goto(`/orders/${order}`);
  await hydrated(page);
  await expectAboutMinutesLeft(page, 15);
  await expect(page.getByTestId('pay')).toBeEnabled();

  await page.clock.fastForward('15:01');
  await expect(page.getByTestId('pay-countdown')).toHaveText('支付时间已过，订单将自动取消');
  await expect(page.getByTestId('pay-announcement')).toHaveText('支付时间已过，订单将自动取消');
  await expect(page.getByTestId('pay-announcement')).toHaveAttribute('role', 'status');
});

test('a held seat on a group page counts down the time left to pay it', async ({ page, playwright, baseURL }) => {
  // A group of three, opened by its starter's payment.
  const starter = await playwright.request.newContext({ baseURL });
  const group = await openGroup(starter, '130');
  await starter.dispose();

  // This shopper takes a seat and has not paid for it yet.
  const phone = await signInThroughApi(page.request, '131');
  const address = await addressAtGuomao(page.request);
  const joined = await page.request.post(`/api/v1/groups/${group}/join`, {
    data: { address_id: address },
    headers: { 'Idempotency-Key': `pay-join-${phone}` },
  });
  expect(joined.status()).toBe(201);

  await page.clock.install({ time: DEVICE_TIME });
  await page.goto(`/group/${group}`);
  await hydrated(page);
  await expect(page.getByTestId('group-joined')).toBeVisible();
  // A seat is scarce: held for 5 minutes, not an ordinary order's 15.
  await expectAboutMinutesLeft(page, 5);
  await expect(page.getByTestId('pay-group-order')).toBeVisible();
  await page.getByTestId('pay-group-order').click();
  await expect(page.getByTestId('pay-countdown')).toHaveCount(0);
  await expect(page.locator('[data-testid=group-member][data-paid=true]')).toHaveCount(2);
});

import { Browser, BrowserContext, expect, Page, test } from '@playwright/test';
import { addressAtGuomao, failOnPageErrors, GUOMAO, groupOffer, hydrated, openGroup, signInThroughApi, submitSignIn, WANGJING } from './helpers';

async function newShopper(browser: Browser, baseURL: string | undefined): Promise<BrowserContext> {
  return browser.newContext({ baseURL, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
}

/** Signs in with a new number on /login and comes back to `next`. */
async function signInTo(page: Page, next: string): Promise<void> {
  await page.goto(`/login?next=${encodeURIComponent(next)}`);
  await hydrated(page);
  await submitSignIn(page, '135');
  await page.waitForURL((u) => u.pathname + u.search === next);
  await hydrated(page);
}

async function joinAndPay(page: Page, link: string): Promise<void> {
  await signInTo(page, link);
  const address = await addressAtGuomao(page.request);
  await page.reload();
  await hydrated(page);
  await page.getByTestId('join-group').click();
  await page.locator(`[data-testid=address-option][data-address-id="${address}"] input`).check();
  await page.getByTestId('join-confirm').click();
  await expect(page.getByTestId('group-joined')).toBeVisible();
}

test('a group of three: A starts and pays, B and C join from the link, all watch it fill, and each order is delivered', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(90_000);
  const [a, b, c] = [await newShopper(browser, baseURL), await newShopper(browser, baseURL), await newShopper(browser, baseURL)];
  const pages = [await a.newPage(), await b.newPage(), await c.newPage()];
  const errors = pages.map(failOnPageErrors);
  const offer = await groupOffer(pages[0].request);

  // The store page offers it.
  await pages[0].goto(`/store/${offer.store}?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}`);
  const start = pages[0].locator(`[data-testid=product-card][data-sku="${offer.sku}"] [data-testid=start-group]`);
  await expect(start).toContainText('3 人团');
  const startUrl = (await start.getAttribute('href'))!;

  // A signs in, picks an address, starts and pays: the group page, with A as the first member.
  await signInTo(pages[0], startUrl);
  const addressA = await addressAtGuomao(pages[0].request);
  await pages[0].reload();
  await hydrated(pages[0]);
  await pages[0].locator(`[data-testid=address-option][data-address-id="${addressA}"] input`).check();
  await pages[0].getByTestId('start-group-submit').click();
  // The group page itself (the start page's path also ends in /group/:sku).
  await pages[0].waitForURL((u) => /^\/group\/[^/]+$/.test(u.pathname));
  await hydrated(pages[0]);
  const link = new URL(pages[0].url()).pathname;
  const members = (p: Page) => p.getByTestId('group-members');
  await expect(members(pages[0])).toHaveAttribute('data-count', '1');
  await expect(pages[0].getByTestId('group-status')).toHaveAttribute('data-status', 'forming');
  // Counted from the platform's clock (frozen in the test server), not the browser's: a day left.
  await expect(pages[0].getByTestId('group-countdown')).toHaveText(/还剩 2[34]:\d{2}:\d{2}/);
  await expect(pages[0].locator('meta[property="og:title"]')).toHaveAttribute('content', /3 人团/);
  await expect(pages[0].getByTestId('group-member').first()).toHaveAttribute('data-paid', 'true');

  // Anyone with the link sees the page, signed in or not; B and C join and pay.
  await pages[1].goto(link);
  await expect(pages[1].getByTestId('join-group')).toHaveAttribute('href', /^\/login\?next=/);
  await joinAndPay(pages[1], link);
  // A's page fills with no reload.
  await expect(members(pages[0])).toHaveAttribute('data-count', '2');
  await expect(pages[0].getByTestId('group-seat-empty')).toHaveCount(1);
  await joinAndPay(pages[2], link);

  // The last seat paid: the group forms on every page, live.
  for (const p of pages) {
    await expect(members(p)).toHaveAttribute('data-count', '3');
    await expect(p.locator('[data-testid=group-member][data-paid=true]')).toHaveCount(3);
    await expect(p.getByTestId('group-status')).not.toHaveAttribute('data-status', 'forming');
  }
  // Each member follows their own order to delivered (fast dispatch steps in the test server).
  for (const p of pages) {
    await p.reload();
    await hydrated(p);
    await p.getByTestId('my-group-order').click();
    await p.waitForURL(/\/orders\/[^/]+$/);
    await expect(p.getByTestId('order-status')).toHaveAttribute('data-status', 'delivered', { timeout: 30_000 });
  }
  // The group is over; /me lists it.
  await pages[0].goto('/me');
  await expect(pages[0].locator(`[data-testid=my-group][href="${link}"]`)).toHaveAttribute('data-status', /formed|fulfilled/);
  for (const e of errors) expect(e).toEqual([]);
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('a join refused for an address the store does not reach, then another address: the join goes through', async ({
  page,
  playwright,
  baseURL,
}) => {
  const errors = failOnPageErrors(page);
  const starter = await playwright.request.newContext({ baseURL });
  const group = await openGroup(starter, '134');
  await starter.dispose();
  await signInThroughApi(page.request, '133');
  // 望京 is about 10 km from 国贸: outside any store's delivery radius there.
  const far = await page.request.post('/api/v1/me/addresses', {
    data: { label: '公司', detail: '望京街 10 号', lat: WANGJING.latitude, lng: WANGJING.longitude },
  });
  expect(far.status()).toBe(201);
  const farId = (await far.json()).id;
  const near = await addressAtGuomao(page.request);

  await page.goto(`/group/${group}`);
  await hydrated(page);
  await page.getByTestId('join-group').click();
  await page.locator(`[data-testid=address-option][data-address-id="${farId}"] input`).check();
  await page.getByTestId('join-confirm').click();
  await expect(page.getByTestId('group-error')).toBeVisible();
  await expect(page.getByTestId('group-joined')).toHaveCount(0);

  // Another address is another request: it must not be refused as a reused key.
  await page.locator(`[data-testid=address-option][data-address-id="${near}"] input`).check();
  await page.getByTestId('join-confirm').click();
  await expect(page.getByTestId('group-joined')).toBeVisible();
  await expect(page.getByTestId('group-error')).toHaveCount(0);
  await expect(page.getByTestId('group-members')).toHaveAttribute('data-count', '2');
  expect(errors).toEqual([]);
});

test('when the countdown ends the page says so, and a screen reader hears it', async ({ browser, baseURL }) => {
  const ctx = await newShopper(browser, baseURL);
  const page = await ctx.newPage();
  // The browser's clock is the test's, so a day can pass in a moment; the platform's stays frozen.
  await page.clock.install();
  const api = page.request;
  const phone = await signInThroughApi(api, '136');
  const address = await addressAtGuomao(api);
  const offer = await groupOffer(api);
  const started = await api.post('/api/v1/groups', {
    data: { store_id: offer.store, sku: offer.sku, address_id: address },
    headers: { 'Idempotency-Key': `countdown-${phone}` },
  });
  expect(started.status()).toBe(201);
  const { group, order } = await started.json();
  expect((await api.post(`/api/v1/orders/${order.id}/pay`, { data: { method: 'sandbox' } })).status()).toBe(200);

  await page.goto(`/group/${group.id}`);
  await hydrated(page);
  await expect(page.getByTestId('group-countdown')).toHaveText(/还剩 2[34]:/);
  await expect(page.getByTestId('group-announcement')).toHaveText('');
  await page.clock.fastForward('24:00:01');
  await expect(page.getByTestId('group-countdown')).toHaveText('已截止');
  await expect(page.getByTestId('group-announcement')).toHaveText('拼团已截止');
  await expect(page.getByTestId('group-announcement')).toHaveAttribute('role', 'status');
  await ctx.close();
});

test('an unknown group is a plain not-found page', async ({ browser, baseURL }) => {
  const ctx = await newShopper(browser, baseURL);
  const page = await ctx.newPage();
  const res = await page.request.get('/api/v1/groups/grp_does_not_exist');
  expect(res.status()).toBe(404);
  await page.goto('/group/grp_does_not_exist');
  await expect(page.getByRole('heading', { name: '找不到这个拼团' })).toBeVisible();
  await ctx.close();
});

// Inside a mini-program web-view: the server renders embed pages (no site header or footer, the
// host's JS-SDK and our bridge) from the mini-program user agent or ?embed=miniprogram, keeps the
// mode in a cookie, hands payment to the host and posts share data. The host is a stub
// `wx.miniProgram` that records calls; the sandbox's stand-in host pay page completes payment.
import { Browser, BrowserContext, expect, Page, test } from '@playwright/test';
import { addressAtGuomao, GUOMAO, homeAt, hydrated, signInThroughApi, unpaidOrder } from './helpers';

const MINI_PROGRAM_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 ' +
  'MicroMessenger/8.0.40(0x18002831) NetType/WIFI Language/zh_CN miniProgram/wxjishi';

type HostCall = [string, unknown];

/** A context that looks like a mini-program's web-view, with a stub host that records calls. */
async function miniProgram(browser: Browser, baseURL: string | undefined): Promise<BrowserContext> {
  const ctx = await browser.newContext({ baseURL, userAgent: MINI_PROGRAM_UA, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  await ctx.addInitScript(() => {
    const w = window as unknown as Record<string, unknown>;
    const calls: HostCall[] = [];
    w.__hostCalls = calls;
    w.__wxjs_environment = 'miniprogram';
    const miniProgram = {
      getEnv: (cb: (env: { miniprogram: boolean }) => void) => setTimeout(() => cb({ miniprogram: true }), 0),
      navigateTo: (o: { url: string }) => calls.push(['navigateTo', o.url]),
      postMessage: (o: { data: unknown }) => calls.push(['postMessage', o.data]),
    };
    // jweixin leaves an existing jWeixin alone, so the stub stays the host.
    w.wx = w.jWeixin = { miniProgram };
  });
  return ctx;
}

const hostCalls = (page: Page): Promise<HostCall[]> =>
  page.evaluate(() => (window as unknown as { __hostCalls: HostCall[] }).__hostCalls);

async function expectEmbedded(page: Page): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('data-embed', 'miniprogram');
  await expect(page.locator('.site-header')).toHaveCount(0);
  await expect(page.locator('.site-footer')).toHaveCount(0);
  await expect(page.locator('h1')).toHaveCount(1);
}

test('a mini-program user agent gets embed pages: no header or footer, the bridge confirmed, links keep the mode, shares posted', async ({
  browser,
  baseURL,
}) => {
  const ctx = await miniProgram(browser, baseURL);
  const page = await ctx.newPage();
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  await expectEmbedded(page);
  // The SDK and the bridge come from the site itself (the CSP allows nothing else).
  await expect(page.locator('script[src^="/wx/jweixin."]')).toHaveCount(1);
  await expect(page.locator('script[src^="/wx/bridge."]')).toHaveCount(1);
  await expect(page.locator('html')).toHaveAttribute('data-mini-program', 'confirmed');
  // Safe areas: the page extends under them and the bottom bars pad themselves.
  await expect(page.locator('meta[name=viewport]')).toHaveAttribute('content', /viewport-fit=cover/);
  const padded = await page.evaluate(() =>
    [...document.styleSheets].flatMap((s) => [...s.cssRules]).some(
      (r) => r instanceof CSSStyleRule && r.selectorText.includes('.cart-bar') && r.style.paddingBottom.includes('safe-area-inset-bottom'),
    ),
  );
  expect(padded).toBe(true);
  // The page is a share target as soon as it shows.
  await expect.poll(async () => (await hostCalls(page)).filter(([m]) => m === 'postMessage').length).toBeGreaterThan(0);
  const [, share] = (await hostCalls(page)).find(([m]) => m === 'postMessage')!;
  expect(share).toMatchObject({ path: expect.stringContaining('/?lat=') });

  // A link followed inside the web-view stays embedded, and the store page is shared in turn.
  await page.locator('[data-testid=store-card]').first().click();
  await page.waitForURL(/\/store\//);
  await hydrated(page);
  await expectEmbedded(page);
  await expect
    .poll(async () => (await hostCalls(page)).some(([m, d]) => m === 'postMessage' && String((d as { path: string }).path).startsWith('/store/')))
    .toBe(true);
  await ctx.close();
});

test('pay hands over to the host; back in front, the order shows paid', async ({ browser, baseURL }) => {
  const ctx = await miniProgram(browser, baseURL);
  const page = await ctx.newPage();
  const order = await unpaidOrder(page.request, '137');
  await page.goto(`/orders/${order}`);
  await hydrated(page);
  await expectEmbedded(page);
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'pending_payment');
  await page.getByTestId('pay').click();
  await expect.poll(async () => (await hostCalls(page)).filter(([m]) => m === 'navigateTo')).toEqual([
    ['navigateTo', `/pages/pay/pay?order=${order}`],
  ]);
  await expect(page.getByTestId('paying-in-host')).toBeVisible();
  // Not paid here: the host pays.
  await expect(page.getByTestId('order-status')).toHaveAttribute('data-status', 'pending_payment');

  // The host's pay page (the sandbox's stand-in) completes the payment.
  const host = await ctx.newPage();
  await host.goto(`/sandbox/mini-program/pay?order=${order}`);
  await expect(host.getByTestId('host-total')).toContainText('¥');
  await host.getByTestId('host-pay-confirm').click();
  await expect(host.getByTestId('host-paid')).toHaveAttribute('data-order-id', order);
  await host.close();

  // The web-view comes back to the foreground.
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await expect(page.getByTestId('order-status')).not.toHaveAttribute('data-status', 'pending_payment');
  await expect(page.getByTestId('paying-in-host')).toHaveCount(0);
  await ctx.close();
});

test('?embed=miniprogram in a plain browser: embed pages, and every bridge call is a no-op, so paying works here', async ({
  browser,
  baseURL,
}) => {
  const ctx = await browser.newContext({ baseURL });
  const page = await ctx.newPage();
  const order = await unpaidOrder(page.request, '137');
  await page.goto(`/orders/${order}?embed=miniprogram`);
  await hydrated(page);
  await expectEmbedded(page);
  await expect(page.locator('html')).not.toHaveAttribute('data-mini-program', 'confirmed');
  await page.getByTestId('pay').click();
  await expect(page.getByTestId('order-status')).not.toHaveAttribute('data-status', 'pending_payment');
  // The cookie keeps the mode without the query; ?embed=off ends it.
  await page.goto(homeAt(GUOMAO));
  await expectEmbedded(page);
  await page.goto(homeAt(GUOMAO, '&embed=off'));
  await expect(page.locator('.site-header')).toHaveCount(1);
  await page.goto(homeAt(GUOMAO));
  await expect(page.locator('.site-header')).toHaveCount(1);
  await ctx.close();
});

test('a normal browser is unchanged: header, footer, no host scripts', async ({ page }) => {
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  await expect(page.locator('html')).not.toHaveAttribute('data-embed', /.*/);
  await expect(page.locator('.site-header')).toHaveCount(1);
  await expect(page.locator('.site-footer')).toHaveCount(1);
  await expect(page.locator('script[src^="/wx/"]')).toHaveCount(0);
});

test('a live room shares itself with what is pinned, for the host to pass on', async ({ browser, baseURL }) => {
  const ctx = await miniProgram(browser, baseURL);
  const page = await ctx.newPage();
  await page.goto('/live/live_bj1');
  await hydrated(page);
  await expectEmbedded(page);
  const title = (await page.getByTestId('live-title').textContent())!.trim();
  const pinned = page.getByTestId('pinned-product');
  await expect
    .poll(async () =>
      (await hostCalls(page)).some(
        ([m, d]) => m === 'postMessage' && (d as { path: string }).path.startsWith('/live/live_bj1') && (d as { title: string }).title.startsWith(title),
      ),
    )
    .toBe(true);
  if ((await pinned.count()) > 0) {
    const name = (await pinned.locator('.product-name').textContent())!.trim();
    const shares = (await hostCalls(page)).filter(([m]) => m === 'postMessage').map(([, d]) => d as { title: string; imageUrl: string });
    expect(shares.at(-1)!.title).toContain(name);
    // The share card's picture is the pinned product's, as an absolute URL.
    expect(shares.at(-1)!.imageUrl).toMatch(/^http:\/\/[^/]+\/api\/v1\/images\/[0-9a-f]{16}-192\.webp$/);
  }
  await ctx.close();
});

test('a live buy inside a mini-program: the host pays while the sheet shows the time left, then the order', async ({
  browser,
  baseURL,
}) => {
  const ctx = await miniProgram(browser, baseURL);
  const page = await ctx.newPage();
  await signInThroughApi(page.request, '137');
  const address = await addressAtGuomao(page.request);
  await page.goto('/live/live_bj2');
  await hydrated(page);
  await page.getByTestId('buy-now').click();
  const sheet = page.getByTestId('buy-sheet');
  await sheet.locator(`[data-testid=address-option][data-address-id="${address}"] input`).check();
  await expect(sheet.getByTestId('buy-estimate')).toHaveAttribute('data-state', 'ok');
  await sheet.getByTestId('place-and-pay').click();

  // Handed to the host's pay page; meanwhile the sheet shows the order waiting, and for how long.
  await expect.poll(async () => (await hostCalls(page)).filter(([m]) => m === 'navigateTo').length).toBe(1);
  const [, url] = (await hostCalls(page)).find(([m]) => m === 'navigateTo')!;
  const order = new URL(String(url), 'https://host.invalid').searchParams.get('order')!;
  expect(order).toMatch(/^ord_/);
  await expect(sheet.getByTestId('paying-in-host')).toBeVisible();
  await expect(sheet.getByTestId('pay-countdown')).toBeVisible();
  await expect(sheet.getByTestId('pay-countdown')).toHaveAttribute('data-pay-before', /Z$/);

  const host = await ctx.newPage();
  await host.goto(`/sandbox/mini-program/pay?order=${order}`);
  await host.getByTestId('host-pay-confirm').click();
  await expect(host.getByTestId('host-paid')).toHaveAttribute('data-order-id', order);
  await host.close();

  // Back in front: the order is read again, paid, and its page opens.
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await page.waitForURL(`**/orders/${order}`);
  await hydrated(page);
  await expect(page.getByTestId('order-status')).not.toHaveAttribute('data-status', 'pending_payment');
  await ctx.close();
});

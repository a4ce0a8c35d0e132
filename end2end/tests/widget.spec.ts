import { expect, test } from '@playwright/test';
import { brandURL, mediaDownURL, unlistedBrandURL } from '../playwright.config';
import { CatalogueEntry, expectAccessible, failOnPageErrors, hostCatalogue, pinProduct } from './helpers';

// The widget is served by the media-down shop (its JISHI_WIDGET_ORIGINS lists brandURL). live_bj1's
// host: no other test signs in as a host on that shop (one SMS a minute per number).
const HOST_PHONE = '13900000001';
const ROOM = 'live_bj1';

test('a brand page on another origin, under a strict CSP, shows the room and follows the host pins live', async ({ browser }) => {
  const brandCtx = await browser.newContext({ locale: 'zh-CN' });
  const brand = await brandCtx.newPage();
  const errors = failOnPageErrors(brand);
  const blocked: string[] = [];
  brand.on('console', (m) => {
    if (/Content Security Policy|CORS/i.test(m.text())) blocked.push(m.text());
  });

  const hostCtx = await browser.newContext({ baseURL: mediaDownURL });
  const sent = await hostCtx.request.post('/api/v1/auth/sms-code', { data: { phone: HOST_PHONE } });
  expect(sent.ok()).toBe(true);
  const login = await hostCtx.request.post('/api/v1/auth/login', {
    data: { phone: HOST_PHONE, code: (await sent.json()).demo_code },
  });
  expect(login.status()).toBe(200);
  const [a, b] = await hostCatalogue(hostCtx.request, ROOM);
  const pin = (p: CatalogueEntry) => pinProduct(hostCtx.request, ROOM, p);
  await pin(a);

  await brand.goto(`${brandURL}/?room=${ROOM}`);
  // Inside the widget's open Shadow DOM (Playwright's CSS locators pierce it).
  const widget = brand.locator('.jishi-live [data-testid=widget]');
  await expect(widget.getByTestId('widget-status')).toHaveAttribute('data-status', 'live');
  await expect(widget.getByTestId('widget-pinned')).toHaveAttribute('data-sku', a.sku);

  // The host pins another product: the widget follows, through the shop's stream.
  await pin(b);
  const pinned = widget.getByTestId('widget-pinned');
  await expect(pinned).toHaveAttribute('data-sku', b.sku);
  // Buying happens on the shop's own origin, in a new tab.
  const buy = pinned.getByTestId('widget-buy');
  await expect(buy).toHaveAttribute('href', `${mediaDownURL}/live/${ROOM}?buy=${b.sku}`);
  await expect(buy).toHaveAttribute('target', '_blank');

  // The brand's page around it is untouched: its own heading, and nothing else added outside the box.
  await expect(brand.locator('h1')).toHaveText('Brand store');
  // main, h1, p, script and the widget's box (its content is in the shadow root).
  expect(await brand.evaluate(() => document.body.querySelectorAll('*').length)).toBe(5);
  expect(errors).toEqual([]);
  expect(blocked).toEqual([]);
  // axe, into the open shadow root: the widget adds nothing it reports. (After the CSP check:
  // axe itself sets inline styles, which this page's CSP refuses.)
  await expectAccessible(brand, 'with the widget');
  await brandCtx.close();
  await hostCtx.close();
});

test('only listed origins get CORS, never with credentials, and an unlisted page cannot read the room', async ({ page }) => {
  // The headers only (the stream never ends): Node's fetch resolves on them.
  const corsOf = async (path: string, origin: string) => {
    const res = await fetch(`${mediaDownURL}${path}`, { headers: { Origin: origin } });
    expect(res.status, path).toBe(200);
    await res.body?.cancel();
    return {
      allow: res.headers.get('access-control-allow-origin'),
      credentials: res.headers.get('access-control-allow-credentials'),
    };
  };
  for (const path of ['/widget/v1/loader.js', '/widget/v1/jishi-widget.js', `/api/v1/live/rooms/${ROOM}/events`]) {
    expect(await corsOf(path, brandURL), path).toEqual({ allow: brandURL, credentials: null });
    expect(await corsOf(path, unlistedBrandURL), path).toEqual({ allow: null, credentials: null });
  }

  await page.goto(`${unlistedBrandURL}/?room=${ROOM}`);
  const read = await page.evaluate(async (shop) => {
    try {
      const r = await fetch(`${shop}/api/v1/live/rooms/live_bj1/events`);
      return `read ${r.status}`;
    } catch {
      return 'blocked';
    }
  }, mediaDownURL);
  expect(read).toBe('blocked');
  await page.waitForTimeout(1_000);
  await expect(page.locator('[data-testid=widget-pinned]')).toHaveCount(0);
});

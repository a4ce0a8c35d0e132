import AxeBuilder from '@axe-core/playwright';
import { APIRequestContext, expect, Page, test } from '@playwright/test';

export const GUOMAO = { latitude: 39.9088, longitude: 116.4605 };
export const WANGJING = { latitude: 39.9968, longitude: 116.4706 };

/** WeChat's browser on Android, which has no H.264 WebRTC: live video plays over HLS there. */
export const WECHAT_UA =
  'Mozilla/5.0 (Linux; Android 13; V2049A Build/TP1A.220624.014; wv) AppleWebKit/537.36 ' +
  '(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 ' +
  'MMWEBSDK/20240404 MMWEBID/2307 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin';

export function homeAt(p: { latitude: number; longitude: number }, extra = ''): string {
  return `/?lat=${p.latitude}&lng=${p.longitude}${extra}`;
}

/** Waits until the wasm has hydrated the page, then checks the page with axe (every page a test
 * reaches this way is checked). */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1, { timeout: 15_000 });
  await expectAccessible(page);
}

/** axe-core finds no violation, at any impact level, on the page as it is now. */
export async function expectAccessible(page: Page, what = ''): Promise<void> {
  // A page may navigate by itself while axe runs (the home page moves to the shopper's
  // location once geolocation answers): audit the page it lands on instead.
  let results;
  for (let attempt = 1; ; attempt++) {
    try {
      results = await new AxeBuilder({ page }).analyze();
      break;
    } catch (e) {
      if (attempt >= 3 || !/Execution context was destroyed|navigation/i.test(String(e))) throw e;
      await page.waitForLoadState();
    }
  }
  const found = results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n').slice(1).join(' ')}`),
  }));
  if (found.length > 0) {
    await test.info().attach(`axe ${what || new URL(page.url()).pathname}`, {
      body: JSON.stringify(results.violations, null, 2),
      contentType: 'application/json',
    });
  }
  expect(found, `axe violations on ${page.url()} ${what}`).toEqual([]);
}

/** Fails the test on uncaught exceptions in the page (e.g. a wasm that cannot start). */
export function failOnPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

export async function numbers(page: Page, selector: string, attr: string): Promise<number[]> {
  return page.locator(selector).evaluateAll(
    (els, a) => els.map((e) => Number(e.getAttribute(a as string))),
    attr,
  );
}

export function isSortedAscending(xs: number[]): boolean {
  return xs.every((x, i) => i === 0 || xs[i - 1] <= x);
}

/** Whether the store cards come open ones first, then closed ones, each run ascending by `attr`
 * (`data-eta-min` or `data-distance-m`): how the list is sorted. */
export async function storesListedOpenFirst(page: Page, attr: string): Promise<boolean> {
  const cards = await page.locator('[data-testid=store-card]').evaluateAll(
    (els, a) => els.map((e) => ({ open: e.getAttribute('data-open') === 'true', n: Number(e.getAttribute(a as string)) })),
    attr,
  );
  const firstClosed = cards.findIndex((c) => !c.open);
  const open = firstClosed === -1 ? cards : cards.slice(0, firstClosed);
  const closed = firstClosed === -1 ? [] : cards.slice(firstClosed);
  return (
    closed.every((c) => !c.open) &&
    isSortedAscending(open.map((c) => c.n)) &&
    isSortedAscending(closed.map((c) => c.n))
  );
}

/** A phone number no other test uses: `prefix` (one per spec file) plus digits from the clock and
 * a counter. The platform allows one SMS per number per minute. */
let phoneSeq = 0;
export function freshPhone(prefix: string): string {
  const n = (Date.now() % 10_000_000) * 10 + (phoneSeq++ % 10);
  return `${prefix}${String(n).padStart(8, '0').slice(-8)}`;
}

/** Fills in and submits the sign-in form of the current /login page with a new number (the demo
 * platform shows the SMS code on the page). */
export async function submitSignIn(page: Page, prefix: string): Promise<void> {
  await page.getByTestId('phone-input').fill(freshPhone(prefix));
  await page.getByTestId('send-code').click();
  const code = (await page.getByTestId('demo-code').textContent())?.trim() ?? '';
  expect(code).toMatch(/^\d{6}$/);
  await page.getByTestId('code-input').fill(code);
  await page.getByTestId('sign-in').click();
}

/** Signs in a new number (`prefix` as for `freshPhone`) through the API: the request context's
 * cookies (and so its pages') carry the session. The number signed in. */
export async function signInThroughApi(api: APIRequestContext, prefix: string): Promise<string> {
  const phone = freshPhone(prefix);
  const sent = await api.post('/api/v1/auth/sms-code', { data: { phone } });
  expect(await sent.text()).toContain('demo_code');
  const login = await api.post('/api/v1/auth/login', { data: { phone, code: (await sent.json()).demo_code } });
  expect(await login.text()).toContain('phone_masked');
  return phone;
}

/** Saves an address at 国贸 for the request context's shopper; its id. */
export async function addressAtGuomao(api: APIRequestContext, detail = '建国门外大街 1 号'): Promise<string> {
  const saved = await api.post('/api/v1/me/addresses', {
    data: { label: '家', detail, lat: GUOMAO.latitude, lng: GUOMAO.longitude },
  });
  expect(saved.status()).toBe(201);
  return (await saved.json()).id;
}

/** Signs in a new number (`prefix` as for `freshPhone`) and places an unpaid order near 国贸 from
 * the first open store, enough of one product for its minimum order; the order's id. */
export async function unpaidOrder(api: APIRequestContext, prefix: string): Promise<string> {
  const phone = await signInThroughApi(api, prefix);
  const address = await addressAtGuomao(api);
  const nearby = await (await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=20`)).json();
  const store = nearby.stores.find((s: { open_now: boolean }) => s.open_now);
  const { products } = await (await api.get(`/api/v1/stores/${store.id}/products?limit=200`)).json();
  const product = products.find((p: { stock: number; price_fen: number }) => p.stock * p.price_fen >= store.min_order_fen);
  const quantity = Math.max(1, Math.ceil(store.min_order_fen / product.price_fen));
  const placed = await api.post('/api/v1/orders', {
    data: { store_id: store.id, items: [{ sku: product.sku, quantity }], address_id: address, slot: 'asap' },
    headers: { 'Idempotency-Key': `unpaid-${phone}` },
  });
  expect(placed.status()).toBe(201);
  return (await placed.json()).id;
}

/** An open store delivering to 国贸 with a group offer of 3 on a product in stock. */
export async function groupOffer(api: APIRequestContext): Promise<{ store: string; sku: string; size: number }> {
  const nearby = await (
    await api.get(`/api/v1/stores/nearby?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}&limit=100`)
  ).json();
  for (const s of nearby.stores.filter((s: { open_now: boolean }) => s.open_now)) {
    const page = await (await api.get(`/api/v1/stores/${s.id}/products?limit=200`)).json();
    const p = page.products.find(
      (p: { group: { size: number } | null; stock: number }) => p.group && p.group.size === 3 && p.stock >= 5,
    );
    if (p) return { store: s.id, sku: p.sku, size: p.group.size };
  }
  throw new Error('no group offer of 3 near 国贸 in the demo city');
}

/** A group of three near 国贸, started and paid for (so open to others) by a new shopper signed
 * in on `starter` (`prefix` as for `freshPhone`); the group's id. */
export async function openGroup(starter: APIRequestContext, prefix: string): Promise<string> {
  const phone = await signInThroughApi(starter, prefix);
  const address = await addressAtGuomao(starter);
  const offer = await groupOffer(starter);
  const started = await starter.post('/api/v1/groups', {
    data: { store_id: offer.store, sku: offer.sku, address_id: address },
    headers: { 'Idempotency-Key': `open-group-${phone}` },
  });
  expect(started.status()).toBe(201);
  const { group, order } = await started.json();
  expect((await starter.post(`/api/v1/orders/${order.id}/pay`, { data: { method: 'sandbox' } })).status()).toBe(200);
  return group.id;
}

/** A product of a room's host console catalogue. */
export type CatalogueEntry = { sku: string; price_fen: number };

/** The first products of `room`'s catalogue, as its host (signed in on `host`) sees them. */
export async function hostCatalogue(host: APIRequestContext, room: string): Promise<CatalogueEntry[]> {
  const data = await (await host.get(`/api/v1/live/rooms/${room}/host`)).json();
  return data.catalogue as CatalogueEntry[];
}

/** The host (signed in on `host`) pins `p` in `room` at 80 % of its price, 5 to sell. */
export async function pinProduct(host: APIRequestContext, room: string, p: CatalogueEntry): Promise<void> {
  const pinned = await host.post(`/api/v1/live/rooms/${room}/pins`, {
    data: { sku: p.sku, live_price_fen: Math.round(p.price_fen * 0.8), stock_cap: 5 },
  });
  expect(pinned.status()).toBe(201);
}

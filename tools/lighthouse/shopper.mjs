// Makes a signed-in shopper on a running shop, for the Lighthouse pages that need one: signs in
// with a new number (demo SMS code), saves an address at 国贸, fills a cart at `store`, places an
// order from another product, and starts a group buy. Prints one JSON line:
// {"cookie": "jishi_session=…", "cart": "/cart", "checkout": "/checkout/<store>", "order":
// "/orders/<id>", "group": "/group/<id>"}.
//   node tools/lighthouse/shopper.mjs http://127.0.0.1:3000 bj00312
const [base, store] = process.argv.slice(2);
if (!base || !store) {
  console.error('usage: shopper.mjs <base url> <store id>');
  process.exit(2);
}
const GUOMAO = { lat: 39.9088, lng: 116.4605 };
let cookie = '';

async function call(method, path, body, headers = {}) {
  const res = await fetch(base + '/api/v1' + path, {
    method,
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const set = res.headers.get('set-cookie');
  if (set) cookie = set.split(';')[0];
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

const phone = `139${String(Date.now() % 100_000_000).padStart(8, '0')}`;
const sent = await call('POST', '/auth/sms-code', { phone });
await call('POST', '/auth/login', { phone, code: sent.demo_code });
const address = await call('POST', '/me/addresses', { label: '公司', detail: '建国门外大街 1 号', ...GUOMAO });

const { products } = await call('GET', `/stores/${store}/products?limit=200`);
const inStock = products.filter((p) => p.stock >= 3);
const offer = inStock.find((p) => p.group);
const plain = inStock.filter((p) => p !== offer);
if (plain.length < 2 || !offer) throw new Error(`store ${store} lacks products in stock or a group offer`);

await call('PUT', `/cart/${store}`, { items: [{ sku: plain[0].sku, quantity: 2 }] });
// Enough of the other products to pass the store's minimum order.
const minimum = (await call('GET', `/stores/${store}`)).store.min_order_fen;
const items = [];
let total = 0;
for (const p of plain.slice(1)) {
  if (total >= minimum) break;
  const quantity = Math.min(p.stock, 99, Math.max(1, Math.ceil((minimum - total) / p.price_fen)));
  items.push({ sku: p.sku, quantity });
  total += quantity * p.price_fen;
}
const order = await call(
  'POST',
  '/orders',
  { store_id: store, items, address_id: address.id, slot: 'asap' },
  { 'idempotency-key': `lighthouse-${phone}` },
);
const group = await call(
  'POST',
  '/groups',
  { store_id: store, sku: offer.sku, address_id: address.id },
  { 'idempotency-key': `lighthouse-group-${phone}` },
);
console.log(
  JSON.stringify({
    cookie,
    cart: '/cart',
    checkout: `/checkout/${store}`,
    order: `/orders/${order.id}`,
    group: `/group/${group.group.id}`,
  }),
);

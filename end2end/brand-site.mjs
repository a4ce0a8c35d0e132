// A brand's own site for the widget tests: the same page on two origins, `listed` (in the shops'
// JISHI_WIDGET_ORIGINS) and `unlisted`, each under a strict CSP that allows only the shops.
// `?shop=N` embeds the widget of the Nth shop given (the first by default).
//   node brand-site.mjs <listed port> <unlisted port> <shop origin>...
import http from 'node:http';

const [listedPort, unlistedPort, ...shops] = process.argv.slice(2);

function page(url) {
  const room = url.searchParams.get('room') ?? 'live_bj1';
  const shop = shops[Number(url.searchParams.get('shop') ?? 0)] ?? shops[0];
  const lang = url.searchParams.get('lang') ?? 'zh-CN';
  return `<!DOCTYPE html>
<html lang="${lang}">
<head><meta charset="utf-8"><title>Brand</title></head>
<body>
<main>
<h1>Brand store</h1>
<p class="brand-copy">Our own page, with our own styles.</p>
<!-- ?below: a long story first (no inline style: the CSP refuses it), the widget far below. -->
${url.searchParams.has('below') ? `<pre class="brand-story">${'\n'.repeat(200)}</pre>` : ''}
<script src="${shop}/widget/v1/loader.js" data-room="${encodeURIComponent(room)}" async></script>
</main>
</body>
</html>`;
}

// What a strict brand allows: its own page, and the shops' origins for the widget (scripts and
// their wasm, the stream and the video's requests, pictures, styles, HLS video).
const from = shops.join(' ');
const csp = [
  "default-src 'none'",
  `script-src ${from} 'wasm-unsafe-eval'`,
  `connect-src ${from}`,
  `img-src ${from}`,
  `style-src ${from}`,
  `media-src ${from} blob:`,
].join('; ');

for (const port of [listedPort, unlistedPort]) {
  http
    .createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      if (url.pathname !== '/') {
        res.writeHead(404).end();
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp })
        .end(page(url));
    })
    .listen(Number(port), '127.0.0.1');
}

// Manual end-to-end check through a running jishi-media: Chromium (fake camera) publishes over WHIP,
// a second page plays it over WHEP (server offer + PATCH answer), a third plays the HLS.
// A tiny proxy stands in for the shop's server (same-origin pages, /whip /whep /hls forwarded as is).
//   NODE_PATH=/work/media-probe/node_modules node browser-check.js <gateway base> <room> [seconds]
const http = require('http');
const { chromium } = require('playwright-core');
const [GW, ROOM, SECS] = [process.argv[2] || 'http://127.0.0.1:3200', process.argv[3] || 'whip-room', +(process.argv[4] || 20)];
const HLSJS = require('fs').readFileSync(require.resolve('hls.js/dist/hls.min.js'));
const stats = `setInterval(async () => { if (!window.pc) return; const st = await pc.getStats(), c = {};
  st.forEach(r => { if (r.type === 'codec') c[r.id] = r.mimeType; });
  st.forEach(r => { if (r.type === 'inbound-rtp') window.state[r.kind] = c[r.codecId] + ' frames=' + (r.framesDecoded ?? r.packetsReceived); }); }, 500);`;
const ts = `function drawTs(ctx) { const t = Date.now() >>> 0; ctx.fillStyle = '#808080'; ctx.fillRect(0, 0, 640, 360);
  for (let i = 0; i < 32; i++) { ctx.fillStyle = (t >>> (31 - i)) & 1 ? '#fff' : '#000'; ctx.fillRect((i % 16) * 40, 40 + Math.floor(i / 16) * 40, 40, 40); } }
function readTs(v) { if (!v.videoWidth) return; const c = document.createElement('canvas'); c.width = 640; c.height = 360; const ctx = c.getContext('2d'); ctx.drawImage(v, 0, 0, 640, 360);
  const d = ctx.getImageData(0, 0, 640, 360).data; let t = 0, grey = 0;
  for (let i = 0; i < 32; i++) { const x = (i % 16) * 40 + 20, y = 40 + Math.floor(i / 16) * 40 + 20, l = d[(y * 640 + x) * 4 + 1]; if (l > 60 && l < 200) grey++; t = (t * 2 + (l > 128 ? 1 : 0)) >>> 0; }
  if (grey === 0) { const lat = ((Date.now() >>> 0) - t) >>> 0; if (lat < 60000) window.state.lat.push(lat); } }`;
const gather = `pc => new Promise(r => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 3000); })`;
const pages = {
  '/pub': `<video id=v autoplay muted playsinline></video><canvas id=c width=640 height=360 hidden></canvas><script>
window.state = { status: 'init' }; ${ts}
(async () => { const cam = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const ctx = document.getElementById('c').getContext('2d'); setInterval(() => drawTs(ctx), 33); drawTs(ctx);
  const stream = new MediaStream([...document.getElementById('c').captureStream(30).getVideoTracks(), ...cam.getAudioTracks()]);
  const pc = new RTCPeerConnection(); window.pc = pc; for (const t of stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer()); await (${gather})(pc);
  const t0 = performance.now(); const r = await fetch('/whip/${ROOM}', { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  window.state = { status: 'whip ' + r.status, location: r.headers.get('Location'), whipMs: Math.round(performance.now() - t0) };
  await pc.setRemoteDescription({ type: 'answer', sdp: await r.text() }); pc.onconnectionstatechange = () => window.state.pc = pc.connectionState;
})().catch(e => window.state.status = 'error ' + e);</script>`,
  '/view': `<video id=v autoplay muted playsinline></video><script>
window.state = { status: 'init', lat: [] }; ${ts} ${stats} const v = document.getElementById('v'); setInterval(() => readTs(v), 250);
(async () => { const t0 = performance.now(); const r = await fetch('/whep/${ROOM}', { method: 'POST' });
  if (r.status !== 201) { window.state.status = 'whep ' + r.status + ' ' + await r.text(); return; }
  const loc = r.headers.get('Location'), offer = await r.text(); const pc = new RTCPeerConnection(); window.pc = pc;
  pc.ontrack = e => { if (!v.srcObject) v.srcObject = new MediaStream(); v.srcObject.addTrack(e.track); };
  await pc.setRemoteDescription({ type: 'offer', sdp: offer }); await pc.setLocalDescription(await pc.createAnswer()); await (${gather})(pc);
  const r2 = await fetch(loc, { method: 'PATCH', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp });
  window.state.status = 'patch ' + r2.status; window.state.setupMs = Math.round(performance.now() - t0); pc.onconnectionstatechange = () => window.state.pc = pc.connectionState;
})().catch(e => window.state.status = 'error ' + e);</script>`,
  '/hls': `<video id=v autoplay muted playsinline></video><script src=/hls.js></script><script>
window.state = { status: 'hls', lat: [] }; ${ts} const v = document.getElementById('v'); setInterval(() => { readTs(v); window.state.t = v.currentTime; }, 250);
const h = new Hls(); h.loadSource('/hls/${ROOM}/index.m3u8'); h.attachMedia(v); h.on(Hls.Events.ERROR, (e, d) => window.state.err = d.details); v.play().catch(() => {});</script>`,
};
const srv = http.createServer((req, res) => {
  if (pages[req.url]) { res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end('<!doctype html><body>' + pages[req.url]); }
  if (req.url === '/hls.js') { res.writeHead(200, { 'Content-Type': 'application/javascript' }); return res.end(HLSJS); }
  const u = new URL(req.url, GW); // proxy to the gateway, as the shop's server will
  const p = http.request(u, { method: req.method, headers: { 'content-type': req.headers['content-type'] || '' } }, r => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
  p.on('error', e => { res.writeHead(502); res.end(String(e)); }); req.pipe(p);
}).listen(0, '127.0.0.1', async () => {
  const base = `http://127.0.0.1:${srv.address().port}`;
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required'] });
  const ctx = await b.newContext(); const open = async path => { const p = await ctx.newPage(); p.on('console', m => console.log(path, '[console]', m.text())); await p.goto(base + path); return p; };
  const pub = await open('/pub'); await new Promise(r => setTimeout(r, 3000));
  const view = await open('/view'); const hls = await open('/hls');
  for (let i = 0; i < SECS; i += 5) {
    await new Promise(r => setTimeout(r, 5000));
    for (const [name, p] of [['pub', pub], ['view', view], ['hls', hls]]) {
      const s = await p.evaluate(() => { const s = { ...window.state }; if (s.lat) { const l = s.lat.slice(-8); s.lat = l.length ? Math.round(l.reduce((a, b) => a + b) / l.length) + 'ms' : 'none'; } return s; });
      console.log(`t=${i + 5}s ${name}`, JSON.stringify(s));
    }
  }
  await b.close(); srv.close();
});

import { Browser, expect, Page, test } from '@playwright/test';

// Glass-to-glass latency of live video, measured, not asserted (scripts/latency-bench.sh).
//
// The host's page draws Date.now() as a block code on a canvas every frame and publishes the
// canvas over WHIP, exactly as the console publishes a camera (through the shop's /media, as
// the room's host). Two viewers open the room page with the shop's own player: one in
// Chromium (WebRTC, WHEP), one with WeChat's user agent (HLS through hls.js). Each decodes the
// code from every frame its <video> presents and records Date.now() minus the drawn time. Same
// machine, same clock. The figures go to stdout as `latency_<transport>_<stat>_ms <n>`.

const ROOM = 'live_bj2';
const HOST_PHONE = '13900000002';
const SAMPLE_MS = Number(process.env.JISHI_LATENCY_SAMPLE_MS ?? 20_000);
const WECHAT_UA =
  'Mozilla/5.0 (Linux; Android 13; V2049A Build/TP1A.220624.014; wv) AppleWebKit/537.36 ' +
  '(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 ' +
  'MMWEBSDK/20240404 MMWEBID/2307 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin ' +
  'NetType/WIFI Language/zh_CN ABI/arm64';

// The code: 8 × 6 blocks on a 320 × 240 canvas. 32 bits of the time in ms, then 16 check bits
// (the two halves XORed with a constant), so a frame blurred mid-change is refused, not misread.
const COLS = 8;
const ROWS = 6;

async function signIn(browser: Browser, baseURL: string, phone: string, userAgent?: string): Promise<Page> {
  const context = await browser.newContext({ baseURL, userAgent, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  const sent = await page.request.post('/api/v1/auth/sms-code', { data: { phone } });
  expect(sent.status()).toBe(202);
  const code = (await sent.json()).demo_code;
  const login = await page.request.post('/api/v1/auth/login', { data: { phone, code } });
  expect(login.ok()).toBeTruthy();
  return page;
}

/** Starts the block-code canvas and its WHIP publication on the host's page. */
async function publishClock(host: Page): Promise<void> {
  await host.goto(`/live/${ROOM}/host`);
  const state = await host.evaluate(
    async ({ room, cols, rows }) => {
      const canvas = document.createElement('canvas');
      canvas.width = 320;
      canvas.height = 240;
      document.body.prepend(canvas);
      const g = canvas.getContext('2d')!;
      const bw = canvas.width / cols;
      const bh = canvas.height / rows;
      const draw = () => {
        const t = Date.now() % 2 ** 32;
        const hi = Math.floor(t / 65536);
        const lo = t % 65536;
        const check = (hi ^ lo ^ 0xa5a5) & 0xffff;
        const bits: number[] = [];
        for (let i = 31; i >= 0; i--) bits.push(Math.floor(t / 2 ** i) % 2);
        for (let i = 15; i >= 0; i--) bits.push((check >> i) & 1);
        bits.forEach((b, i) => {
          g.fillStyle = b ? '#fff' : '#000';
          g.fillRect((i % cols) * bw, Math.floor(i / cols) * bh, bw, bh);
        });
        requestAnimationFrame(draw);
      };
      draw();
      const stream = canvas.captureStream(30);
      // A tone as the microphone: hosts send sound, and the HLS muxer expects it.
      const audio = new AudioContext();
      const tone = audio.createOscillator();
      const out = audio.createMediaStreamDestination();
      tone.connect(out);
      tone.start();
      stream.addTrack(out.stream.getAudioTracks()[0]);
      const pc = new RTCPeerConnection();
      const tr = pc.addTransceiver(stream.getVideoTracks()[0], { direction: 'sendonly', streams: [stream] });
      pc.addTransceiver(stream.getAudioTracks()[0], { direction: 'sendonly', streams: [stream] });
      const codecs = RTCRtpSender.getCapabilities('video')!.codecs;
      const rank = (c: RTCRtpCodec) =>
        c.mimeType === 'video/H264'
          ? /packetization-mode=1/.test(c.sdpFmtpLine ?? '') && /42e01f/.test(c.sdpFmtpLine ?? '')
            ? 0
            : 1
          : 2;
      tr.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise<void>((done) => {
        if (pc.iceGatheringState === 'complete') return done();
        pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
      });
      const res = await fetch(`/media/whip/${room}`, {
        method: 'POST',
        headers: { 'content-type': 'application/sdp' },
        body: pc.localDescription!.sdp,
      });
      if (res.status !== 201) return `WHIP ${res.status}: ${await res.text()}`;
      await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
      (window as unknown as { __pc: RTCPeerConnection }).__pc = pc;
      return 'publishing';
    },
    { room: ROOM, cols: COLS, rows: ROWS },
  );
  expect(state).toBe('publishing');
}

/** Samples latency from the room page's own player for SAMPLE_MS; returns the samples in ms. */
async function sampleViewer(viewer: Page, transport: string): Promise<number[]> {
  await viewer.goto(`/live/${ROOM}`);
  const area = viewer.getByTestId('live-video-area');
  await expect(area).toHaveAttribute('data-transport', transport, { timeout: 30_000 });
  await expect(area).toHaveAttribute('data-state', 'playing', { timeout: 30_000 });
  return viewer.getByTestId('live-video').evaluate(
    (video: HTMLVideoElement, { ms, cols, rows }) =>
      new Promise<number[]>((done) => {
        const samples: number[] = [];
        const canvas = document.createElement('canvas');
        const g = canvas.getContext('2d', { willReadFrequently: true })!;
        const end = performance.now() + ms;
        const onFrame = () => {
          const now = Date.now();
          const w = video.videoWidth;
          const h = video.videoHeight;
          if (w > 0 && h > 0) {
            canvas.width = w;
            canvas.height = h;
            g.drawImage(video, 0, 0, w, h);
            const px = g.getImageData(0, 0, w, h).data;
            const bits: number[] = [];
            for (let i = 0; i < cols * rows; i++) {
              const x = Math.floor(((i % cols) + 0.5) * (w / cols));
              const y = Math.floor((Math.floor(i / cols) + 0.5) * (h / rows));
              const o = (y * w + x) * 4;
              bits.push(px[o] + px[o + 1] + px[o + 2] > 384 ? 1 : 0);
            }
            let t = 0;
            for (let i = 0; i < 32; i++) t = t * 2 + bits[i];
            let check = 0;
            for (let i = 32; i < 48; i++) check = check * 2 + bits[i];
            const hi = Math.floor(t / 65536);
            const lo = t % 65536;
            if (((hi ^ lo ^ 0xa5a5) & 0xffff) === check) {
              const latency = (now % 2 ** 32) - t;
              if (latency >= 0 && latency < 60_000) samples.push(latency);
            }
          }
          if (performance.now() < end) video.requestVideoFrameCallback(onFrame);
          else done(samples);
        };
        video.requestVideoFrameCallback(onFrame);
      }),
    { ms: SAMPLE_MS, cols: COLS, rows: ROWS },
  );
}

function report(transport: string, samples: number[]): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  console.log(`latency_${transport}_frames ${sorted.length}`);
  for (const [name, q] of [['p50', 0.5], ['p90', 0.9], ['p99', 0.99]] as const) {
    console.log(`latency_${transport}_${name}_ms ${at(q)}`);
  }
}

test('glass-to-glass latency: a canvas clock published over WHIP, watched over WHEP and over HLS', async ({
  browser,
  baseURL,
}) => {
  test.setTimeout(SAMPLE_MS + 120_000);
  const host = await signIn(browser, baseURL!, HOST_PHONE);
  await publishClock(host);
  const whep = await (await browser.newContext({ baseURL })).newPage();
  const hls = await (await browser.newContext({ baseURL, userAgent: WECHAT_UA })).newPage();
  const [overWhep, overHls] = await Promise.all([sampleViewer(whep, 'whep'), sampleViewer(hls, 'hls')]);
  report('whep', overWhep);
  report('hls', overHls);
  // Frames were decoded: the figures describe the stream, not an empty sample.
  expect(overWhep.length).toBeGreaterThan(SAMPLE_MS / 1000);
  expect(overHls.length).toBeGreaterThan(SAMPLE_MS / 1000);
});

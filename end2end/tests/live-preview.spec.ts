import * as fs from 'fs';
import { expect, test } from '@playwright/test';
import { expectAccessible, failOnPageErrors, GUOMAO, hydrated, signInThroughApi } from './helpers';

// The demo's scheduled room and its host (see the README): no other test signs in with this
// number, which the platform allows one SMS a minute.
const ROOM = 'live_bj4';
const HOST_PHONE = '13900000004';

test('a shopper reserves a scheduled room, takes it away as a calendar file, and is told when it goes live', async ({ page, browser, baseURL }) => {
  test.setTimeout(90_000);
  const errors = failOnPageErrors(page);
  await signInThroughApi(page.request, '185');

  // Listed after the live rooms, with its start.
  await page.goto(`/live?lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}`);
  const card = page.locator(`[data-testid=live-room-card][data-room-id="${ROOM}"]`);
  await expect(card).toHaveAttribute('data-status', 'scheduled');
  const startsAt = (await card.getByTestId('live-card-starts').getAttribute('data-starts-at')) ?? '';
  expect(Date.parse(startsAt)).toBeGreaterThan(Date.parse('2026-11-25T04:00:00Z'));
  const statuses = await page.getByTestId('live-room-card').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  expect(statuses.indexOf('scheduled')).toBeGreaterThan(statuses.lastIndexOf('live'));

  // Reserved from the room's page.
  await card.click();
  await hydrated(page);
  const reserve = page.getByTestId('reserve-room');
  await expect(reserve).toHaveAttribute('data-reserved', 'false');
  const count = Number(await page.getByTestId('reservation-count').getAttribute('data-count'));
  await reserve.click();
  await expect(reserve).toHaveAttribute('data-reserved', 'true');
  await expect(page.getByTestId('reservation-count')).toHaveAttribute('data-count', String(count + 1));
  await expectAccessible(page, 'a reserved preview');
  // Still reserved after a reload.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('reserve-room')).toHaveAttribute('data-reserved', 'true');

  // The calendar file: one event at the start, an hour long, linking back to the room here.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('room-calendar').click()]);
  const ics = fs.readFileSync((await download.path())!, 'utf8');
  const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  const lines = ics.split(/\r\n/);
  expect(lines[0]).toBe('BEGIN:VCALENDAR');
  expect(lines).toContain('BEGIN:VEVENT');
  expect(lines).toContain(`DTSTART:${stamp(Date.parse(startsAt))}`);
  expect(lines).toContain(`DTEND:${stamp(Date.parse(startsAt) + 3_600_000)}`);
  expect(lines).toContain(`URL:${baseURL}/live/${ROOM}`);
  expect(lines.filter((l) => l === 'END:VEVENT')).toHaveLength(1);
  expect(lines).toContain('END:VCALENDAR');

  // Listed on /me.
  await page.goto('/me');
  await hydrated(page);
  await expect(page.locator(`[data-testid=my-reservations] [data-room-id="${ROOM}"]`)).toBeVisible();

  // The host goes live: the shopper's open page shows a banner to the room.
  const hostCtx = await browser.newContext({ baseURL });
  const sent = await hostCtx.request.post('/api/v1/auth/sms-code', { data: { phone: HOST_PHONE } });
  const login = await hostCtx.request.post('/api/v1/auth/login', {
    data: { phone: HOST_PHONE, code: (await sent.json()).demo_code },
  });
  expect(login.status()).toBe(200);
  const live = await hostCtx.request.post(`/api/v1/live/rooms/${ROOM}/status`, { data: { status: 'live' } });
  expect(live.status()).toBe(200);
  const banner = page.getByTestId('reservation-live-banner');
  await expect(banner).toHaveAttribute('data-room-id', ROOM, { timeout: 30_000 });
  await expect(banner.locator('a')).toHaveAttribute('href', `/live/${ROOM}`);
  await expectAccessible(page, 'the going-live banner');
  expect(errors).toEqual([]);
  await hostCtx.close();
});

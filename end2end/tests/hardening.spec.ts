import { expect, test } from '@playwright/test';
import { failOnPageErrors, hydrated } from './helpers';

// Its own prefix (checkout.spec.ts uses 139): the platform allows one SMS per number per minute.
let phoneSeq = 0;
function freshPhone(): string {
  const n = (Date.now() % 10_000_000) * 10 + (phoneSeq++ % 10);
  return `137${String(n).padStart(8, '0').slice(-8)}`;
}

// `next` as it appears in the address bar. Browsers drop tabs and newlines from URLs and read `\`
// as `/`, so a prefix check would take both for local paths: `//example.com`, `/\evil.test`.
const tricks = [
  { name: 'a tab between the slashes', next: '/%09/example.com' },
  { name: 'a backslash after the slash', next: '/%5Cevil.test' },
];

for (const { name, next } of tricks) {
  test(`signing in with next=${next} (${name}) stays on the site`, async ({ page, baseURL }) => {
    const errors = failOnPageErrors(page);
    const origin = new URL(baseURL!).origin;
    // Every document the tab loads, and a hard stop for the hosts a redirect would reach.
    const visited: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) visited.push(f.url());
    });
    // Matched on the host only: the login URL itself carries these names in its query.
    await page.route(
      (url) => ['example.com', 'evil.test'].some((h) => url.hostname.endsWith(h)),
      (route) => route.abort(),
    );

    await page.goto(`/login?next=${next}`);
    await hydrated(page);
    await page.getByTestId('phone-input').fill(freshPhone());
    await page.getByTestId('send-code').click();
    const code = (await page.getByTestId('demo-code').textContent())?.trim() ?? '';
    expect(code).toMatch(/^\d{6}$/);
    await page.getByTestId('code-input').fill(code);
    await page.getByTestId('sign-in').click();

    // Not a local path: sign-in lands on the account page, signed in.
    await page.waitForURL((u) => u.pathname === '/me');
    await hydrated(page);
    await expect(page.getByTestId('signed-in')).toBeVisible();
    expect(new URL(page.url()).origin).toBe(origin);
    expect(visited.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(errors).toEqual([]);
  });
}

import { expect, test } from '@playwright/test';
import { failOnPageErrors, hydrated, submitSignIn } from './helpers';

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
    // Its own prefix: checkout.spec.ts signs in with 139 numbers.
    await submitSignIn(page, '137');

    // Not a local path: sign-in lands on the account page, signed in.
    await page.waitForURL((u) => u.pathname === '/me');
    await hydrated(page);
    await expect(page.getByTestId('signed-in')).toBeVisible();
    expect(new URL(page.url()).origin).toBe(origin);
    expect(visited.filter((u) => new URL(u).origin !== origin)).toEqual([]);
    expect(errors).toEqual([]);
  });
}

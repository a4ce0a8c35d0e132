// Accessibility beyond axe (which runs on every page the other tests reach, in `hydrated`): tap
// targets, text at 200 %, the keyboard, reduced motion, and the live regions.
import { expect, Page, test } from '@playwright/test';
import { expectAccessible, GUOMAO, homeAt, hydrated } from './helpers';

const PHONE = { width: 390, height: 844 };

/** Interactive elements smaller than 44 × 44 CSS px. Exempt, as in WCAG 2.5.5: links inside a
 * sentence (inline, with text around them), and radios/checkboxes whose label is the target. */
async function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const targets = document.querySelectorAll<HTMLElement>(
      'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], label:has(input[type=radio]), label:has(input[type=checkbox])',
    );
    for (const el of targets) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue; // not shown
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden') continue;
      if (el.matches('input[type=radio], input[type=checkbox]') && el.closest('label')) continue;
      if (el.closest('.leaflet-control-attribution')) continue; // Leaflet's credit line, inline text
      if (el.tagName === 'A' && style.display === 'inline') {
        const parentText = (el.parentElement?.textContent ?? '').trim();
        if (parentText.length > (el.textContent ?? '').trim().length) continue;
      }
      if (r.width < 44 || r.height < 44) {
        const id = el.getAttribute('data-testid') ?? el.className ?? '';
        out.push(`${el.tagName.toLowerCase()}[${id}] "${(el.textContent ?? '').trim().slice(0, 20)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
      }
    }
    return out;
  });
}

async function firstStore(page: Page): Promise<string> {
  await page.goto(homeAt(GUOMAO));
  const href = await page.locator('[data-testid=store-card]').first().getAttribute('href');
  expect(href).toBeTruthy();
  return href!;
}

test.use({ viewport: PHONE });

test('tap targets are at least 44 × 44 px on the shopper pages', async ({ page }) => {
  const store = await firstStore(page);
  for (const url of [homeAt(GUOMAO), store, `/search?q=${encodeURIComponent('牛奶')}&lat=${GUOMAO.latitude}&lng=${GUOMAO.longitude}`, '/live/live_bj1', '/live', '/login']) {
    await page.goto(url);
    await hydrated(page);
    expect(await smallTargets(page), url).toEqual([]);
  }
});

test('text at 200 % still fits a phone screen: nothing scrolls sideways or is cut off', async ({ page }) => {
  const store = await firstStore(page);
  for (const url of [homeAt(GUOMAO), store, '/live/live_bj1', '/login']) {
    await page.goto(url);
    await hydrated(page);
    // Text zoom as a phone's font-size setting does it: the root size doubles, the viewport stays.
    // (Through the CSSOM: the page's CSP refuses an injected <style>.)
    await page.evaluate(() => document.documentElement.style.setProperty('font-size', '34px', 'important'));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${url} scrolls sideways at 200 %`).toBeLessThanOrEqual(0);
    await expect(page.locator('h1')).toBeVisible();
  }
});

test('the keyboard alone adds to the cart, with the focus always visible', async ({ page }) => {
  const store = await firstStore(page);
  await page.goto(store);
  await hydrated(page);
  const add = page.locator('[data-testid=product-card]:not(.sold-out) [data-testid=add-to-cart]').first();
  // Tab from the top of the page until the first add button has the focus.
  let reached = false;
  for (let i = 0; i < 80 && !reached; i++) {
    await page.keyboard.press('Tab');
    const focused = page.locator(':focus');
    const outline = await focused.evaluate((el) => {
      const s = getComputedStyle(el);
      return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;
    });
    expect(outline, `focus ring on ${await focused.evaluate((el) => el.outerHTML.slice(0, 80))}`).toBe(true);
    reached = await add.evaluate((el) => el === document.activeElement);
  }
  expect(reached).toBe(true);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('cart-count')).toHaveText('1');
  // A live region reads the change out.
  await expect(page.getByTestId('cart-announcement')).toHaveAttribute('role', 'status');
  await expect(page.getByTestId('cart-announcement')).toContainText('购物车 1 件');
});

test('with reduced motion asked for, nothing animates', async ({ page }) => {
  await page.emulateMedia({ reducedMotion: 'reduce' });
  await page.goto(homeAt(GUOMAO));
  await hydrated(page);
  const moving = await page.evaluate(() =>
    [...document.querySelectorAll('*')]
      .filter((el) => {
        const s = getComputedStyle(el);
        const longest = (v: string) => Math.max(...v.split(',').map((d) => parseFloat(d) * (d.trim().endsWith('ms') ? 1 : 1000)));
        return longest(s.transitionDuration) > 10 || (s.animationName !== 'none' && longest(s.animationDuration) > 10);
      })
      .map((el) => el.tagName + '.' + el.className),
  );
  expect(moving).toEqual([]);
});

test('the live room announces a new pin; axe finds nothing with the buy sheet closed', async ({ page }) => {
  await page.goto('/live/live_bj1');
  await hydrated(page);
  const pin = page.getByTestId('pinned-product');
  if ((await pin.count()) > 0) {
    const name = (await pin.locator('.product-name').textContent())!.trim();
    await expect(page.getByTestId('pin-announcement')).toContainText(name);
  }
  await expect(page.getByTestId('pin-announcement')).toHaveAttribute('role', 'status');
  await expectAccessible(page, 'live room');
});

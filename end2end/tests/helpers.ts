import { expect, Page } from '@playwright/test';

export const GUOMAO = { latitude: 39.9088, longitude: 116.4605 };
export const WANGJING = { latitude: 39.9968, longitude: 116.4706 };

export function homeAt(p: { latitude: number; longitude: number }, extra = ''): string {
  return `/?lat=${p.latitude}&lng=${p.longitude}${extra}`;
}

/** Waits until the wasm has hydrated the page, failing on any uncaught page error. */
export async function hydrated(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated]')).toHaveCount(1, { timeout: 15_000 });
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

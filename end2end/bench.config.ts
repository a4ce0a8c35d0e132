import { defineConfig } from '@playwright/test';
import base from './playwright.config';

// Benchmarks that need a browser (scripts/latency-bench.sh): the end-to-end setup (same release
// server, same Chromium flags), one test at a time, figures on stdout.
export default defineConfig({
  ...base,
  testDir: './bench',
  fullyParallel: false,
  workers: 1,
  timeout: 300_000,
});

// Summarizes Lighthouse JSON reports of one page for scripts/lighthouse.sh:
//   node summarize.mjs <page> <report.json>...
// Prints one figure a line (the median over the reports; with several, also each run's value)
// and then, as `#` lines, every audit that cost points in any run: accessibility, best-practices
// and SEO audits scoring below 1, and performance audits with savings (opportunities and
// diagnostics), with the elements or URLs they name.
import { readFileSync } from 'node:fs';

const [page, ...files] = process.argv.slice(2);
if (!page || files.length === 0) {
  console.error('usage: node summarize.mjs <page> <report.json>...');
  process.exit(2);
}
const reports = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const figures = [
  ['performance', (r) => Math.round(r.categories.performance.score * 100)],
  ['accessibility', (r) => Math.round(r.categories.accessibility.score * 100)],
  ['best_practices', (r) => Math.round(r.categories['best-practices'].score * 100)],
  ['seo', (r) => Math.round(r.categories.seo.score * 100)],
  ['fcp_ms', (r) => Math.round(r.audits['first-contentful-paint'].numericValue)],
  ['lcp_ms', (r) => Math.round(r.audits['largest-contentful-paint'].numericValue)],
  ['tbt_ms', (r) => Math.round(r.audits['total-blocking-time'].numericValue)],
  ['cls', (r) => Number(r.audits['cumulative-layout-shift'].numericValue.toFixed(3))],
  ['total_byte_weight', (r) => Math.round(r.audits['total-byte-weight'].numericValue)],
];

for (const [name, get] of figures) {
  const values = reports.map((r) => {
    try {
      return get(r);
    } catch {
      return NaN;
    }
  });
  // A category left out of the run (scripts/lighthouse.sh --only) has no figure.
  if (values.every(Number.isNaN)) continue;
  const runs = values.length > 1 ? `  # runs: ${values.join(' ')}` : '';
  console.log(`lighthouse_${page}_${name}: ${median(values)}${runs}`);
}

const errors = reports.flatMap((r) => (r.runtimeError ? [r.runtimeError.message] : []));
for (const e of new Set(errors)) console.log(`# ${page}: Lighthouse runtime error: ${e}`);
// Audits that could not run (e.g. a Lighthouse too old for this Chromium's traces) hide findings.
const broken = new Set(reports.flatMap((r) => Object.values(r.audits).filter((a) => a.scoreDisplayMode === 'error').map((a) => a.id)));
if (broken.size) console.log(`# ${page}: audits that could not run: ${[...broken].join(', ')}`);

/** What an audit's details name: elements (selector and snippet), URLs, or console messages. */
function items(audit) {
  if (!['table', 'opportunity'].includes(audit.details?.type)) return [];
  const list = audit.details.items ?? [];
  const named = list.map((it) => {
    const node = it.node ?? it.element ?? (it.type === 'node' ? it : undefined);
    if (node?.selector) return `${node.selector} ${node.snippet ?? ''}`.trim();
    if (it.url) return `${it.url}${it.wastedBytes ? ` (${Math.round(it.wastedBytes / 1024)} KiB)` : ''}${it.wastedMs ? ` (${Math.round(it.wastedMs)} ms)` : ''}`;
    if (it.description) return `${it.source ?? ''} ${it.description}`.trim();
    if (it.phase) return `${it.phase}: ${Math.round(it.timing)} ms`;
    return undefined;
  });
  const counts = new Map();
  for (const n of named.filter(Boolean)) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].slice(0, 5).map(([n, c]) => (c > 1 ? `${n} (×${c})` : n));
}

// Audit id → { category, title, runs that failed it, score, savings, items } over all runs.
const failing = new Map();
for (const r of reports) {
  for (const [catId, cat] of Object.entries(r.categories)) {
    for (const ref of cat.auditRefs) {
      const a = r.audits[ref.id];
      if (!a || a.score === null || a.score === undefined) continue;
      if (['notApplicable', 'manual', 'informative', 'error'].includes(a.scoreDisplayMode)) continue;
      let why;
      if (catId === 'performance') {
        // The metrics are the figures above; 'hidden' holds the experimental insights (which repeat
        // the diagnostics) and metrics that no longer count.
        if (ref.group === 'metrics' || ref.group === 'hidden') continue;
        const savingsMs = a.details?.overallSavingsMs ?? 0;
        const savingsBytes = a.details?.overallSavingsBytes ?? 0;
        if (a.score >= 1) continue;
        const parts = [];
        if (savingsMs) parts.push(`saves ~${Math.round(savingsMs)} ms`);
        if (savingsBytes) parts.push(`~${Math.round(savingsBytes / 1024)} KiB`);
        if (a.metricSavings) {
          for (const [m, v] of Object.entries(a.metricSavings)) if (v) parts.push(`${m} −${Math.round(v)}`);
        }
        if (a.displayValue) parts.push(a.displayValue);
        why = parts.join(', ');
      } else {
        if (a.score >= 1) continue;
        why = a.displayValue ?? '';
      }
      const key = `${catId}/${ref.id}`;
      const seen = failing.get(key) ?? { catId, id: ref.id, title: a.title, runs: 0, score: a.score, why, items: items(a) };
      seen.runs += 1;
      failing.set(key, seen);
    }
  }
  // The LCP element and its phases: where the time before it goes.
  const lcp = r.audits['largest-contentful-paint-element'];
  if (lcp?.details?.items && r === reports[reports.length - 1]) {
    const parts = lcp.details.items.flatMap((t) => items({ details: t }));
    if (parts.length) console.log(`# ${page}: LCP element and phases (last run): ${parts.join(' | ')}`);
  }
}

for (const f of failing.values()) {
  const runs = reports.length > 1 ? ` [${f.runs}/${reports.length} runs]` : '';
  console.log(`# ${page}: ${f.catId} ${f.id} (score ${f.score})${runs}: ${f.title}${f.why ? ` — ${f.why}` : ''}`);
  for (const it of f.items) console.log(`#     ${it.replace(/\s+/g, ' ').slice(0, 200)}`);
}
if (failing.size === 0) console.log(`# ${page}: no failing audits`);

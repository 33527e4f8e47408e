/**
 * `npm run bench:ui`: the web UI with 10,000 runs (5 params, 5 metrics, 2 tags each) in one experiment, of
 * which 1,000 are child runs nested under 100 parents (each child also has a 20-step `loss` history), in
 * Debian's Chromium (headless, driven by playwright-core). Measures, from navigation start:
 * - the runs page to its first rows visible (top-level runs, children grouped under their parents): a cold
 *   load (empty browser cache) and the median of warm loads;
 * - the compare view of 100 child runs to fully drawn (bar charts, scatter, parallel coordinates with 100
 *   lines, the step-metric overlay): cold and warm median;
 * then the time to scroll to the end of the server-paged table (all top-level runs fetched page by page)
 * and the number of row elements in the DOM there (virtualisation keeps it small).
 * Targets: first rows < 1 s and compare of 100 runs < 1 s, warm. Wall-clock on a shared 2-core machine.
 *
 * Env: BENCH_RUNS (10000), BENCH_CHILDREN (1000), BENCH_REPEATS (5). Needs `npm run build` (dist-ui/) and
 * /usr/bin/chromium.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startTrackingServer } from '../src/tracking/server/start.js';
import { CHROMIUM_PATH, launchChromium } from '../test/integration/ui/chromium.js';
import { bulkLoadSqlite, createBenchExperiment } from './lib/bulk-runs.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const CHILDREN = Number(process.env.BENCH_CHILDREN ?? 1000);
const PARENTS = Math.max(1, Math.round(CHILDREN / 10));
const STEPS = 20;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const ROOT = resolve(import.meta.dirname, '..');

if (!existsSync(CHROMIUM_PATH)) {
  console.error(`${CHROMIUM_PATH} is absent: apt-get install -y chromium`);
  process.exit(1);
}
if (!existsSync(join(ROOT, 'dist-ui', 'index.html'))) {
  console.error('dist-ui/ is not built: run npm run build (or npm run build:ui) first');
  process.exit(1);
}

const dir = mkdtempSync(join(tmpdir(), 'tassel-bench-ui-'));
const dbPath = join(dir, 'mlflow.db');

/** Schema and experiment through the store, then a bulk load of the runs (bench/lib/bulk-runs.ts). */
async function load(): Promise<{ experimentId: string; seconds: number; children: string[] }> {
  const experimentId = await createBenchExperiment(`sqlite:///${dbPath}`, 'bench-ui');
  const ids: string[] = [];
  const children: string[] = [];
  const base = 1_700_000_000_000;
  const seconds = bulkLoadSqlite(dbPath, experimentId, RUNS, (w, r) => {
    const id = randomUUID().replace(/-/g, '');
    ids.push(id);
    const start = base + r * 1000;
    w.run(id, `run-${r}`, start, start + 900);
    w.tag(id, 'mlflow.runName', `run-${r}`);
    // The last CHILDREN runs are children of the PARENTS runs just before them (as a pipeline logs them).
    const child = r >= RUNS - CHILDREN;
    if (child) {
      children.push(id);
      w.tag(id, 'mlflow.parentRunId', ids[RUNS - CHILDREN - PARENTS + ((r - (RUNS - CHILDREN)) % PARENTS)]!);
      for (let s = 1; s <= STEPS; s++) w.metric(id, 'loss', 1 / (s + (r % 7)), base + r * 1000 + s, s);
      w.latest(id, 'loss', 1 / (STEPS + (r % 7)), base + r * 1000 + STEPS, STEPS);
    } else if (r >= RUNS - CHILDREN - PARENTS) w.param(id, 'selection_metric', 'roc_auc');
    w.tag(id, 'team', r % 2 ? 'a' : 'b');
    for (let p = 0; p < 5; p++) w.param(id, `p${p}`, `v${(r + p) % 7}`);
    for (let m = 0; m < 5; m++) {
      const v = ((r * 7919 + m * 104729) % 1000) / 1000;
      w.metric(id, `m${m}`, v, start, 0);
      w.latest(id, `m${m}`, v, start, 0);
    }
  });
  return { experimentId, seconds, children };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { experimentId, seconds, children } = await load();
  console.log(
    `seeded ${RUNS} runs (${children.length} nested under ${PARENTS} parents) in ${seconds.toFixed(1)} s; load average ${loadavg()[0]!.toFixed(2)}`,
  );
  const server = await startTrackingServer({
    backendStoreUri: `sqlite:///${dbPath}`,
    artifactsDestination: `file://${join(dir, 'artifacts')}`,
    port: 0,
  });
  const context = await launchChromium(join(dir, 'profile'), { viewport: { width: 1280, height: 800 } });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    const url = `${server.url}/#/experiments/${experimentId}`;
    const firstRows = async (): Promise<number> => {
      await page.goto('about:blank');
      const t0 = performance.now();
      await page.goto(url);
      await page.locator('.vbody [role=row]').first().waitFor({ state: 'visible' });
      return performance.now() - t0;
    };
    // The server-side floor: the same first-page search the page sends, straight from Node.
    const api: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const t = performance.now();
      const res = await fetch(`${server.url}/api/2.0/mlflow/runs/search`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          experiment_ids: [experimentId],
          filter: 'tags.mlflow.parentRunId IS NULL',
          max_results: 100,
          order_by: ['attributes.start_time DESC'],
        }),
      });
      await res.json();
      api.push(performance.now() - t);
    }
    // Warm the browser process on a page of the same origin that is not the UI, so "cold" is the UI's
    // own cost with an empty cache (index.html, JS, CSS, API calls), not Chromium's first renderer start.
    await page.goto(`${server.url}/health`);
    const cold = await firstRows();
    const warm: number[] = [];
    for (let i = 0; i < REPEATS; i++) warm.push(await firstRows());
    const total = await page.locator('p.count').first().textContent();

    // The compare view of 100 child runs, until every chart is drawn.
    const compared = children.slice(0, 100);
    const compareUrl = `${server.url}/#/compare?runs=${compared.join(',')}&exp=${experimentId}`;
    const compareView = async (): Promise<number> => {
      await page.goto('about:blank');
      const t0 = performance.now();
      await page.goto(compareUrl);
      await page.waitForFunction(
        `document.querySelectorAll('figure[data-chart=parallel] polyline').length === ${compared.length} &&
         document.querySelectorAll('figure[data-chart=bar] rect[data-series]').length >= ${compared.length} &&
         document.querySelector('.chart canvas') !== null`,
      );
      return performance.now() - t0;
    };
    const compareCold = await compareView();
    const compareWarm: number[] = [];
    for (let i = 0; i < REPEATS; i++) compareWarm.push(await compareView());
    // Where the last warm compare's time went: its API calls (resource timing) and the rest (script, layout).
    const calls = (await page.evaluate(
      `performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/')).map((e) => [e.name.split('/api/2.0/')[1].split('?')[0], Math.round(e.startTime), Math.round(e.duration)])`,
    )) as Array<[string, number, number]>;
    await page.goto(url);
    await page.locator('.vbody [role=row]').first().waitFor({ state: 'visible' });

    // Scroll to the end repeatedly until every page has been fetched.
    const t0 = performance.now();
    for (;;) {
      await page.locator('.vtable').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      const text = (await page.locator('p.count').first().textContent()) ?? '';
      if (text.startsWith(`${RUNS - CHILDREN} top-level runs`)) break;
      await page.waitForTimeout(20);
      if (performance.now() - t0 > 120_000) throw new Error(`paging did not finish: ${text}`);
    }
    const allPaged = performance.now() - t0;
    const domRows = await page.locator('.vbody [role=row]').count();
    console.log(`runs page, first rows visible (empty cache, browser started): ${cold.toFixed(0)} ms`);
    console.log(
      `runs page, first rows visible (warm, median of ${REPEATS}): ${median(warm).toFixed(0)} ms  [${warm.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(`runs/search first page (100 runs) from Node, median: ${median(api).toFixed(0)} ms`);
    console.log(`first page shows: ${total}`);
    console.log(
      `scroll to the end, all ${RUNS - CHILDREN} top-level runs paged in: ${(allPaged / 1000).toFixed(2)} s; row elements in the DOM: ${domRows}`,
    );
    console.log(
      `compare view of ${compared.length} runs, all charts drawn (empty cache): ${compareCold.toFixed(0)} ms`,
    );
    console.log(
      `compare view of ${compared.length} runs, all charts drawn (warm, median of ${REPEATS}): ${median(compareWarm).toFixed(0)} ms  [${compareWarm.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(`  its API calls [path, start ms, duration ms]: ${calls.map((c) => c.join(' ')).join('; ')}`);
    console.log(
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `targets (warm) < 1000 ms: first rows ${median(warm) < 1000 ? 'met' : 'MISSED'}, compare of 100 runs ${median(compareWarm) < 1000 ? 'met' : 'MISSED'}`,
    );
  } finally {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

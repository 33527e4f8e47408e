import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { schemaToJSON } from '../../../src/data/schema.js';
import { parseMonitoringConfig } from '../../../src/monitoring/config.js';
import { runMonitor } from '../../../src/monitoring/monitor.js';
import { createReaderPredictionSource } from '../../../src/monitoring/records.js';
import { createSimulation, type Shift } from '../../../src/monitoring/simulate.js';
import { createMonitoringTracking } from '../../../src/monitoring/tracking.js';
import type { PendingPrediction, PredictionStore } from '../../../src/serving/prediction-sink/port.js';
import { openPredictionStore } from '../../../src/serving/prediction-sink/registry.js';
import { createRegistryClient } from '../../../src/tracking/client/registry-client.js';
import { createTrackingClient } from '../../../src/tracking/client/tracking-client.js';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';
import { chromiumSkipReason, launchChromium } from './chromium.js';

// The Monitoring page in Chromium, on windows `tassel monitor` really checked and logged: three windows from the
// reference distribution, two shifted ones (x0 +0.5 std, c1 re-weighted) with labels for realised performance.

const ROOT = resolve(import.meta.dirname, '../../..');
const SHOTS = join(ROOT, 'test-output', 'ui');
const skip = chromiumSkipReason;
const MODEL = 'sim-model';

function ensureBuilt(): void {
  if (existsSync(join(ROOT, 'dist-ui', 'index.html'))) return;
  execFileSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'ui/vite.config.ts'],
    {
      cwd: ROOT,
      stdio: 'ignore',
    },
  );
}

async function logWindow(
  store: PredictionStore,
  sim: ReturnType<typeof createSimulation>,
  w: number,
  shift: Shift,
) {
  const data = sim.window(1000, 500 + w, shift);
  const names = [...data.numeric.keys(), ...data.categorical.keys()];
  const t0 = Date.UTC(2026, 11, 1) + w * 3_600_000;
  const batch: PendingPrediction[] = [];
  for (let k = 0; k < data.n; k++) {
    const inputs: Record<string, unknown> = {};
    for (const n of names) inputs[n] = data.numeric.get(n)?.[k] ?? data.categorical.get(n)?.[k];
    batch.push({
      request_id: `w${w}-${k}`,
      time: t0 + k,
      model_name: MODEL,
      model_version: '1',
      inputs,
      inputs_json: null,
      probability: data.scores[k]!,
      label: data.scores[k]! >= 0.5 ? 1 : 0,
      fallback: false,
      route: '/predict',
    });
  }
  await store.appendPredictions(batch);
  if (w >= 3)
    await store.appendOutcomes(
      batch.map((b, k) => ({
        request_id: b.request_id,
        outcome: data.outcomes[k] as 0 | 1,
        time: new Date().toISOString(),
      })),
    );
}

describe('Monitoring page in Chromium', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: RunningTrackingServer;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tassel-monitoring-ui-'));
    mkdirSync(SHOTS, { recursive: true });
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
    });
    // a registered version whose run logged a reference profile, as the pipeline does
    const sim = createSimulation(8);
    const tracking = createTrackingClient({ trackingUri: server.url, env: {} });
    const registry = createRegistryClient({ transport: tracking.transport });
    const exp = await tracking.createExperiment({ name: MODEL });
    const run = await tracking.createRun({ experiment_id: exp });
    const profile = { ...sim.profile(30_000, 1), input_schema: schemaToJSON(sim.schema) };
    await tracking.logArtifactContent(
      run.info.run_id,
      'reference_profile.json',
      Buffer.from(JSON.stringify(profile)),
    );
    await registry.createRegisteredModel({ name: MODEL });
    await registry.createModelVersion({
      name: MODEL,
      source: `${run.info.artifact_uri}/model`,
      run_id: run.info.run_id,
    });
    await registry.setRegisteredModelAlias(MODEL, 'production', '1');

    const store = await openPredictionStore(join(dir, 'predictions'));
    const shifted: Shift = { mean: { 0: 0.5 }, weights: { 1: [0.8, 0.1, 0.05, 0.05] } };
    for (let w = 0; w < 5; w++) await logWindow(store, sim, w, w >= 3 ? shifted : {});
    const result = await runMonitor({
      model: MODEL,
      tracking: createMonitoringTracking({ uri: server.url }),
      source: createReaderPredictionSource(store),
      config: parseMonitoringConfig({ window_size: 1000, cooldown_minutes: 0 }),
      includePartial: true,
    });
    await store.close();
    assert.equal(result.windows.length, 5);
    assert.deepEqual(
      result.windows.map((w) => w.decision),
      ['none', 'none', 'none', 'alert', 'alert'],
    );

    context = await launchChromium(join(dir, 'profile'), { viewport: { width: 1280, height: 900 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('drift over time, distributions side by side, estimated vs realised AUC, alerts', async () => {
    await page.goto(`${server.url}/#/monitoring`);
    await page.getByRole('link', { name: 'Monitoring' }).first().waitFor();
    await page.getByRole('link', { name: MODEL }).click();
    await page.getByRole('heading', { name: `Monitoring: ${MODEL}` }).waitFor();
    const summary = await page.locator('.monitoring-summary').textContent();
    assert.match(summary ?? '', /5 window\(s\); 2 with an alert; features that drifted: .*x0/);
    // two uPlot charts: drift per feature, ROC AUC per window (estimated and realised)
    await page.locator('.chart .uplot').nth(1).waitFor();
    const legends = await page.locator('.chart .u-legend').allTextContents();
    assert.ok(
      legends.some((t) => t.includes('x0')),
      legends.join(' | '),
    );
    assert.ok(
      legends.some((t) => t.includes('estimated AUC (CBPE)') && t.includes('realised AUC')),
      legends.join(' | '),
    );
    // the distribution of the drifted feature: reference and window bars, the window visibly moved
    const windowSelect = page.getByLabel('window', { exact: true });
    const options = await windowSelect.locator('option').allTextContents();
    await windowSelect.selectOption({ label: options.find((o) => o.startsWith('window-4'))! });
    await page.getByLabel('feature', { exact: true }).selectOption('x0');
    const figure = page.locator('[data-chart="distribution"][data-feature="x0"]');
    await figure.waitFor();
    assert.ok((await figure.locator('rect[data-series="reference"]').count()) >= 5);
    const ref = await figure
      .locator('rect[data-series="reference"]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    const win = await figure
      .locator('rect[data-series="window"]')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-value'))));
    assert.ok(win[win.length - 1]! > ref[ref.length - 1]! + 0.05, `top bin ${ref.at(-1)} -> ${win.at(-1)}`);
    await page.getByLabel('feature', { exact: true }).selectOption('c1');
    await page
      .locator('[data-chart="distribution"][data-feature="c1"] rect[data-series="window"]')
      .first()
      .waitFor();
    // alerts with the decision and the drifted features
    const rows = page.locator('table.monitoring-alerts tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match((await rows.first().textContent()) ?? '', /alert.*x0: drift/);
    await page.screenshot({ path: join(SHOTS, 'monitoring.png'), fullPage: true });
    assert.ok(existsSync(join(SHOTS, 'monitoring.png')));
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { createRegistryClient } from '../../../src/tracking/client/registry-client.js';
import { createTrackingClient } from '../../../src/tracking/client/tracking-client.js';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';
import { chromiumSkipReason, launchChromium } from './chromium.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const SHOTS = join(ROOT, 'test-output', 'ui');
const TOKEN = 'ui-full-token';
const READ_ONLY = 'ui-read-only-token';
const skip = chromiumSkipReason;

/** The smallest valid 1x1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="120"><rect width="200" height="120" fill="#eef"/><polyline points="0,120 40,50 200,0" stroke="#00f" fill="none"/></svg>';

/** Builds the UI once if `npm run build` has not (the test serves the real build). */
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

describe('web UI in Chromium', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let server: RunningTrackingServer;
  let context: BrowserContext;
  let page: Page;
  const ids: Record<string, string> = {};

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tassel-ui-'));
    mkdirSync(SHOTS, { recursive: true });
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      app: { auth: { token: TOKEN, readOnlyToken: READ_ONLY } },
    });
    const tracking = createTrackingClient({ trackingUri: server.url, token: TOKEN, env: {} });
    const registry = createRegistryClient({ transport: tracking.transport });
    await tracking.createExperiment({ name: 'empty-experiment' });
    const exp = await tracking.createExperiment({ name: 'course-completion' });
    ids.exp = exp;
    const parent = await tracking.createRun({ experiment_id: exp, run_name: 'pipeline' });
    ids.parent = parent.info.run_id;
    const models = ['gbdt', 'logistic', 'dummy'];
    for (const [i, model] of models.entries()) {
      const run = await tracking.createRun({
        experiment_id: exp,
        run_name: `train-${model}`,
        tags: [{ key: 'mlflow.parentRunId', value: ids.parent }],
      });
      ids[model] = run.info.run_id;
      const metrics = [];
      for (let step = 0; step < 10; step++) {
        metrics.push({
          key: 'auc',
          value: 0.5 + (0.04 - i * 0.015) * step,
          timestamp: 1_700_000_000_000 + step,
          step,
        });
        metrics.push({ key: 'loss', value: 1 / (step + 1 + i), timestamp: 1_700_000_000_000 + step, step });
      }
      await tracking.logBatch({
        run_id: run.info.run_id,
        metrics,
        params: [
          { key: 'model', value: model },
          { key: 'seed', value: '7' },
          { key: 'learning_rate', value: String(0.1 * (i + 1)) },
        ],
        tags: [{ key: 'team', value: 'ml' }],
      });
      await tracking.updateRun({ run_id: run.info.run_id, status: 'FINISHED', end_time: Date.now() });
    }
    const gbdt = ids.gbdt;
    await tracking.logInputs(gbdt, [
      {
        tags: [{ key: 'mlflow.data.context', value: 'training' }],
        dataset: { name: 'oulad-train', digest: 'abc123', source_type: 'local', source: 'data/train.csv' },
      },
    ]);
    await tracking.logArtifactContent(gbdt, 'plots/roc.svg', Buffer.from(SVG));
    await tracking.logArtifactContent(gbdt, 'plots/pixel.png', PNG);
    await tracking.logArtifactContent(
      gbdt,
      'metrics.json',
      Buffer.from(JSON.stringify({ auc: 0.86, f1: 0.7 })),
    );
    await tracking.logArtifactContent(gbdt, 'sample.csv', Buffer.from('id,score\n1,0.9\n2,"0.1, low"\n'));
    await tracking.logArtifactContent(gbdt, 'notes.txt', Buffer.from('trained on synthetic data'));

    await registry.createRegisteredModel({ name: 'course-completion' });
    for (const model of ['logistic', 'gbdt']) {
      const v = await registry.createModelVersion({
        name: 'course-completion',
        source: `runs:/${ids[model]}/model`,
        run_id: ids[model],
      });
      ids[`v-${model}`] = v.version;
      await registry.setModelVersionTag(
        'course-completion',
        v.version,
        'tassel.gate.decision',
        model === 'gbdt' ? 'reject' : 'promote',
      );
      await registry.setModelVersionTag(
        'course-completion',
        v.version,
        'tassel.gate.reasons',
        `FAIL auc below production (${model})`,
      );
    }
    await registry.setRegisteredModelAlias('course-completion', 'production', ids['v-logistic']);

    context = await launchChromium(join(dir, 'profile'), { viewport: { width: 1280, height: 800 } });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the UI loads without credentials and asks for a token; with one the experiments list shows', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
    await page.getByLabel('Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('link', { name: 'course-completion' }).waitFor();
    assert.ok(await page.getByRole('link', { name: 'empty-experiment' }).isVisible());
    await page.screenshot({ path: join(SHOTS, 'experiments.png'), fullPage: true });
    // The API keeps answering JSON errors next to the UI.
    const res = await fetch(`${server.url}/api/2.0/mlflow/no-such-endpoint`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error_code: string }).error_code, 'ENDPOINT_NOT_FOUND');
  });

  test('an empty experiment shows an empty state', async () => {
    // By keyboard: focus the link, press Enter.
    await page.getByRole('link', { name: 'empty-experiment' }).focus();
    await page.keyboard.press('Enter');
    await page.getByText('No runs in this experiment yet.').waitFor();
  });

  test('runs table, OR filter, compare two runs', async () => {
    // Flat (nest=0): the three candidates and their parent, each a row.
    await page.goto(`${server.url}/#/experiments/${ids.exp}?nest=0`);
    await page.getByRole('link', { name: 'train-gbdt' }).waitFor();
    assert.equal(await page.locator('.vbody [role=row]').count(), 4);
    // A malformed filter shows the server's error, not a blank table.
    await page.getByLabel('Filter').fill('metrics.auc >>> 1');
    await page.getByLabel('Filter').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'INVALID_PARAMETER_VALUE' }).waitFor();
    await page.getByLabel('Filter').fill("params.model = 'gbdt' OR params.model = 'dummy'");
    await page.getByLabel('Filter').press('Enter');
    await page.getByText('2 runs').waitFor();
    const names = await page.locator('.vbody [role=row] .runname > a:not(.badge)').allTextContents();
    assert.deepEqual(names.sort(), ['train-dummy', 'train-gbdt']);
    // Server-side sort on a metric column, both directions; a tag column chosen in the picker.
    await page.getByRole('button', { name: 'Sort by auc' }).click();
    await page.locator('[aria-sort=descending]', { hasText: 'auc' }).waitFor();
    await page.waitForFunction(
      "document.querySelector('.vbody [role=row] .runname > a')?.textContent === 'train-gbdt'",
    );
    await page.getByRole('button', { name: 'Sort by auc' }).click();
    await page.waitForFunction(
      "document.querySelector('.vbody [role=row] .runname > a')?.textContent === 'train-dummy'",
    );
    await page.getByText('Columns', { exact: true }).click();
    await page.getByRole('checkbox', { name: 'team' }).check();
    await page.getByRole('button', { name: 'Sort by tag team' }).waitFor();
    await page.getByText('Columns', { exact: true }).click();
    await page.screenshot({ path: join(SHOTS, 'runs-filtered.png'), fullPage: true });
    await page.getByLabel('Select train-gbdt').check();
    await page.getByLabel('Select train-dummy').check();
    await page.getByRole('link', { name: 'Compare (2)' }).click();
    await page.getByRole('heading', { name: 'Compare 2 runs' }).waitFor();
    await page.locator('.chart canvas').first().waitFor();
    // Overlaid: the auc chart's legend lists both runs; the diff shows the differing param.
    const legend = await page.locator('.chart').first().locator('.u-legend').textContent();
    assert.match(legend ?? '', /train-gbdt/);
    assert.match(legend ?? '', /train-dummy/);
    const modelRow = page.locator('table.diff tr', { has: page.getByRole('rowheader', { name: 'model' }) });
    assert.match((await modelRow.textContent()) ?? '', /gbdt.*dummy|dummy.*gbdt/);
    assert.equal(await page.getByRole('rowheader', { name: 'seed' }).count(), 0, 'equal params are hidden');
    await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
  });

  test('run page: params, a drawn chart, datasets, children, artifact previews', async () => {
    await page.goto(`${server.url}/#/runs/${ids.gbdt}`);
    await page.getByRole('heading', { name: 'train-gbdt' }).waitFor();
    const canvas = page.locator('.chart canvas').first();
    await canvas.waitFor();
    const box = await canvas.boundingBox();
    assert.ok(box && box.width > 100 && box.height > 50, `chart canvas has a size: ${JSON.stringify(box)}`);
    assert.equal(await page.locator('.chart canvas').count(), 2);
    assert.ok(await page.getByRole('rowheader', { name: 'learning_rate' }).isVisible());
    assert.ok(await page.getByRole('cell', { name: 'oulad-train' }).isVisible());
    assert.ok(await page.getByRole('link', { name: ids.parent }).isVisible());
    await page.getByRole('button', { name: 'metrics.json', exact: true }).click();
    await page.locator('pre.preview-text', { hasText: '"auc": 0.86' }).waitFor();
    await page.getByRole('button', { name: 'sample.csv', exact: true }).click();
    await page.getByRole('cell', { name: '0.1, low' }).waitFor();
    await page.getByRole('button', { name: 'plots' }).click();
    await page.getByRole('button', { name: 'roc.svg', exact: true }).click();
    const img = page.locator('img.preview-img');
    await img.waitFor();
    await page.waitForFunction("document.querySelector('img.preview-img')?.naturalWidth === 200");
    await page.screenshot({ path: join(SHOTS, 'run.png'), fullPage: true });
    await page.getByRole('button', { name: 'pixel.png', exact: true }).click();
    await page.waitForFunction("document.querySelector('img.preview-img')?.naturalWidth === 1");

    await page.goto(`${server.url}/#/runs/${ids.parent}`);
    await page.getByRole('link', { name: 'train-logistic' }).waitFor();
    assert.ok(await page.getByText('No metrics logged.').isVisible());
  });

  test('registry: gate decision, promote moves the alias and the history gains a row, roll back', async () => {
    await page.goto(`${server.url}/#/models`);
    await page.getByRole('link', { name: 'course-completion' }).click();
    const gbdtRow = page.locator(`tr[data-version="${ids['v-gbdt']}"]`);
    await gbdtRow.getByText('reject').waitFor();
    const historyRows = page.locator('table.history tbody tr');
    assert.equal(await historyRows.count(), 1);
    await page.screenshot({ path: join(SHOTS, 'model.png'), fullPage: true });
    await gbdtRow.getByRole('button', { name: `Promote v${ids['v-gbdt']} to @production` }).click();
    await page.locator('[data-alias=production]', { hasText: `v${ids['v-gbdt']}` }).waitFor();
    assert.equal(await historyRows.count(), 2);
    assert.match((await historyRows.first().textContent()) ?? '', /alias_moved/);
    await page.getByRole('button', { name: `Roll back @production to v${ids['v-logistic']}` }).click();
    await page.locator('[data-alias=production]', { hasText: `v${ids['v-logistic']}` }).waitFor();
    assert.equal(await historyRows.count(), 3);
    await page.screenshot({ path: join(SHOTS, 'model-promoted.png'), fullPage: true });
  });

  test('a read-only token is refused with a visible error and the buttons go away', async () => {
    await page.evaluate(`localStorage.setItem('tassel.token', ${JSON.stringify(READ_ONLY)})`);
    await page.reload();
    const button = page.getByRole('button', { name: `Promote v${ids['v-gbdt']} to @production` });
    await button.click();
    await page.getByRole('alert').filter({ hasText: 'PERMISSION_DENIED' }).waitFor();
    assert.equal(await button.count(), 0);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(SHOTS, 'model-phone.png'), fullPage: true });
  });
});

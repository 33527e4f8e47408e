import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { writeCourseCompletionCsv } from '../../../src/data/synthetic.js';
import { parsePipelineConfig } from '../../../src/pipeline/config.js';
import { type PipelineResult, runPipeline } from '../../../src/pipeline/runner.js';
import { createClientTracking } from '../../../src/pipeline/tracking-client-adapter.js';
import { createTrackingClient } from '../../../src/tracking/client/tracking-client.js';
import { type RunningTrackingServer, startTrackingServer } from '../../../src/tracking/server/start.js';
import { chromiumSkipReason, launchChromium } from './chromium.js';

/**
 * The web UI against data made by the real pipeline (two pipeline runs with nested candidate runs, a
 * registered model with two versions, gate decisions, alias history), driven in Debian's Chromium:
 * nesting, default and remembered columns, URL state, compare charts, edits and their round trips through
 * the REST API, artifact download, the model-version page, read-only refusal, axe-core, and screenshots
 * of every page at 1,400 and 800 px in test-output/ui/.
 */

const ROOT = resolve(import.meta.dirname, '../../..');
const SHOTS = join(ROOT, 'test-output', 'ui');
const TOKEN = 'ui-mlflow-full-token';
const READ_ONLY = 'ui-mlflow-read-only-token';
const MODEL = 'course-completion-ui';
const skip = chromiumSkipReason;
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

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

const EXPLANATION = {
  model_kind: 'gbdt',
  base_value: -0.42,
  features: [
    { field: 'Progress_Percentage', mean_abs: 0.91 },
    { field: 'Quiz_Score_Avg', mean_abs: 0.44 },
    { field: 'Video_Completion_Rate', mean_abs: 0.3 },
    { field: 'Assignments_Missed', mean_abs: 0.12 },
  ],
};
/** Bytes no text decoding would keep intact: every byte value, twice. */
const BINARY = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));

describe('web UI: what an MLflow UI user reaches for', { skip, timeout: 600_000 }, () => {
  let dir: string;
  let server: RunningTrackingServer;
  let context: BrowserContext;
  let page: Page;
  let first: PipelineResult;
  let second: PipelineResult;
  let experimentId: string;
  const api = async <T>(
    path: string,
    init?: { method?: string; body?: unknown; token?: string },
  ): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${server.url}/api/2.0/${path}`, {
      method: init?.method ?? (init?.body ? 'POST' : 'GET'),
      headers: {
        authorization: `Bearer ${init?.token ?? TOKEN}`,
        ...(init?.body ? { 'content-type': 'application/json' } : {}),
      },
      body: init?.body ? JSON.stringify(init.body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const runOf = async (id: string) =>
    (
      await api<{
        run: {
          info: { run_name: string; lifecycle_stage: string };
          data: { tags?: Array<{ key: string; value: string }> };
        };
      }>(`mlflow/runs/get?run_id=${id}`)
    ).body.run;
  const tagsOf = (run: { data: { tags?: Array<{ key: string; value: string }> } }) =>
    Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
  const url = (hash: string) => `${server.url}/#${hash}`;
  /** A full-page screenshot at 1,400 and at 800 px width; nothing may be wider than the page (no overlap off-screen). */
  const shoot = async (name: string) => {
    for (const width of [1400, 800]) {
      await page.setViewportSize({ width, height: 900 });
      // From the top, so sticky table headers sit on their tables as a reader scrolling down would see them.
      await page.evaluate('window.scrollTo(0, 0)');
      await page.waitForTimeout(150);
      await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
      const overflow = (await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      )) as number;
      assert.ok(overflow <= 1, `${name} at ${width} px: the page scrolls sideways by ${overflow} px`);
      // "One character per line": no visible text box narrower than two characters and taller than three lines.
      const squeezed = (await page.evaluate(`(() => {
        const bad = [];
        for (const el of document.querySelectorAll('main th, main td, main h1, main h2, main a, main button, main label')) {
          const text = (el.innerText || '').trim();
          const r = el.getBoundingClientRect();
          if (text.length >= 4 && r.width > 0 && r.width < 28 && r.height > 60) bad.push(el.tagName + ' "' + text.slice(0, 20) + '" ' + r.width + 'x' + r.height);
        }
        return bad;
      })()`)) as string[];
      assert.deepEqual(squeezed, [], `${name} at ${width} px: squeezed text`);
    }
    await page.setViewportSize({ width: 1400, height: 900 });
  };
  const axe = async (what: string) => {
    await page.addScriptTag({ path: AXE });
    const violations = (await page.evaluate(`(async () => {
      const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
      return r.violations.map((v) => v.id + ' (' + v.nodes.length + '): ' + v.help);
    })()`)) as string[];
    assert.deepEqual(violations, [], `axe-core on ${what}`);
  };

  before(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'tassel-ui-mlflow-'));
    mkdirSync(SHOTS, { recursive: true });
    server = await startTrackingServer({
      backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
      port: 0,
      app: { auth: { token: TOKEN, readOnlyToken: READ_ONLY } },
    });
    await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 1500, seed: 3 });
    const tracking = createClientTracking({ uri: server.url, token: TOKEN, retries: 1, backoffMs: 20 });
    const cfg = (extra: Record<string, unknown>) =>
      parsePipelineConfig(
        {
          data: { path: 'students.csv', schema: 'builtin:course-completion' },
          model_name: MODEL,
          experiment_name: 'course-completion',
          seed: 5,
          ...extra,
        },
        dir,
      );
    first = await runPipeline({
      config: cfg({
        run_name: 'pipeline-weak',
        data: {
          path: 'students.csv',
          schema: 'builtin:course-completion',
          ignore: ['Progress_Percentage', 'Video_Completion_Rate', 'Quiz_Score_Avg'],
        },
        candidates: [{ kind: 'dummy' }, { kind: 'logistic' }],
      }),
      tracking,
    });
    second = await runPipeline({
      config: cfg({
        run_name: 'pipeline-strong',
        candidates: [
          { kind: 'logistic' },
          { kind: 'gbdt', params: { n_estimators: 25, eta: 0.3, max_depth: 3, max_bin: 32 } },
        ],
      }),
      tracking,
    });
    const client = createTrackingClient({ trackingUri: server.url, token: TOKEN, env: {} });
    await client.logArtifactContent(
      second.runId,
      'explanation/global.json',
      Buffer.from(JSON.stringify(EXPLANATION)),
    );
    await client.logArtifactContent(second.runId, 'bytes.bin', BINARY);
    experimentId = (
      await api<{ experiment: { experiment_id: string } }>(
        'mlflow/experiments/get-by-name?experiment_name=course-completion',
      )
    ).body.experiment.experiment_id;

    context = await launchChromium(join(dir, 'profile'), {
      viewport: { width: 1400, height: 900 },
      acceptDownloads: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    await page.goto(`${server.url}/`);
    await page.evaluate(`localStorage.setItem('tassel.token', ${JSON.stringify(TOKEN)})`);
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('experiments list: rename, delete and restore round trips', async () => {
    await page.goto(url('/experiments'));
    await page.getByRole('link', { name: 'course-completion' }).waitFor();
    await shoot('experiments');
    await axe('the experiments page');
    const scratch = (
      await api<{ experiment_id: string }>('mlflow/experiments/create', { body: { name: 'scratch' } })
    ).body.experiment_id;
    await page.reload();
    await page.getByRole('button', { name: 'Rename scratch' }).click();
    await page.getByLabel('New name for scratch').fill('scratch-renamed');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('link', { name: 'scratch-renamed' }).waitFor();
    const got = async () =>
      (
        await api<{ experiment: { name: string; lifecycle_stage: string } }>(
          `mlflow/experiments/get?experiment_id=${scratch}`,
        )
      ).body.experiment;
    assert.equal((await got()).name, 'scratch-renamed');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete scratch-renamed' }).click();
    await page.getByRole('link', { name: 'scratch-renamed' }).waitFor({ state: 'detached' });
    assert.equal((await got()).lifecycle_stage, 'deleted');
    await page.getByLabel('Deleted experiments').check();
    await page.getByRole('button', { name: 'Restore scratch-renamed' }).click();
    await page.getByText('No deleted experiments.').waitFor();
    assert.equal((await got()).lifecycle_stage, 'active');
  });

  test('runs table: pipeline candidates nested under their pipeline run, key columns by default, state in the URL', async () => {
    await page.goto(url(`/experiments/${experimentId}`));
    await page.locator('.vbody [role=row]').first().waitFor();
    await page.getByRole('button', { name: /Expand 2 child runs of pipeline-strong/ }).waitFor();
    const names = () => page.locator('.vbody [role=row] .runname > a').allTextContents();
    assert.deepEqual(
      await names(),
      ['pipeline-strong', 'pipeline-weak'],
      'only the pipeline runs at the top level',
    );
    const headers = await page.locator('.vhead [role=columnheader]').allTextContents();
    for (const h of [
      'Run',
      'Status',
      'Started',
      'Duration',
      'Source',
      'valid_roc_auc',
      'test_roc_auc',
      'tag tassel.gate.decision',
    ])
      assert.ok(
        headers.some((x) => x.startsWith(h)),
        `default column ${h} in ${headers.join(' | ')}`,
      );
    assert.ok(
      !headers.some((x) => /base_margin|best_iteration/.test(x)),
      'not the alphabetically first metrics',
    );
    await page.getByRole('button', { name: /Expand 2 child runs of pipeline-strong/ }).click();
    assert.equal((await names()).length, 4, 'the two candidates listed under their pipeline run');
    assert.equal((await names())[0], 'pipeline-strong');
    const childRows = page.locator('.vbody .vrow.child');
    assert.equal(await childRows.count(), 2);
    assert.deepEqual(
      (await childRows.locator('.runname > a').allTextContents()).sort(),
      second.trials.map((t) => t.name).sort(),
    );
    const source = await page
      .locator('.vbody [role=row]')
      .first()
      .locator('[role=cell]')
      .nth(5)
      .textContent();
    assert.equal(source, 'tassel pipeline run');
    await shoot('runs-nested');
    await axe('the runs table');

    // Filter, sort and a chosen column survive a reload (the URL holds them) ...
    await page.getByLabel('Filter').fill("params.model_kind = 'logistic'");
    await page.getByLabel('Filter').press('Enter');
    await page.getByText('2 runs').waitFor();
    await page.getByRole('button', { name: 'Sort by valid_roc_auc' }).click();
    await page.locator('[aria-sort=descending]', { hasText: 'valid_roc_auc' }).waitFor();
    await page.getByText('Columns', { exact: true }).click();
    await page.getByRole('group', { name: 'params' }).getByLabel('n_features').check();
    await page.getByText('Columns', { exact: true }).click();
    const shared = page.url();
    const state = new URLSearchParams(shared.slice(shared.indexOf('?') + 1));
    assert.equal(state.get('filter'), "params.model_kind = 'logistic'");
    assert.equal(state.get('sort'), 'metrics:valid_roc_auc~desc');
    assert.deepEqual(state.getAll('cols'), [
      'metrics:valid_roc_auc',
      'metrics:test_roc_auc',
      'tags:tassel.gate.decision',
      'params:n_features',
    ]);
    await page.goto('about:blank');
    await page.goto(shared);
    await page.getByText('2 runs').waitFor();
    assert.equal(await page.getByLabel('Filter').inputValue(), "params.model_kind = 'logistic'");
    await page.locator('[aria-sort=descending]', { hasText: 'valid_roc_auc' }).waitFor();
    await page.getByRole('button', { name: 'Sort by param n_features' }).waitFor();
    // ... and the columns are remembered for the experiment without the URL.
    await page.goto(url(`/experiments/${experimentId}`));
    await page.getByRole('button', { name: 'Sort by param n_features' }).waitFor();
    await page.getByText('Columns', { exact: true }).click();
    await page.getByRole('button', { name: 'Default columns' }).click();
    await page.getByText('Columns', { exact: true }).click();
    assert.equal(await page.getByRole('button', { name: 'Sort by param n_features' }).count(), 0);
    // The experiment's description (its mlflow.note.content tag), edited as Markdown.
    await page.getByText('Description', { exact: true }).click();
    await page.getByRole('button', { name: 'Edit description' }).click();
    await page.getByLabel('Description (Markdown)').fill('Course completion, **weekly** retrain.');
    await page.getByRole('button', { name: 'Save description' }).click();
    await page.locator('.markdown strong', { hasText: 'weekly' }).waitFor();
    const exp = await api<{ experiment: { tags?: Array<{ key: string; value: string }> } }>(
      `mlflow/experiments/get?experiment_id=${experimentId}`,
    );
    assert.equal(
      exp.body.experiment.tags?.find((t) => t.key === 'mlflow.note.content')?.value,
      'Course completion, **weekly** retrain.',
    );
  });

  test('delete and restore runs from the table; a deleted run is listed under Deleted runs', async () => {
    const victim = first.trials[0]!;
    await page.goto(url(`/experiments/${experimentId}?nest=0`));
    await page.getByLabel(`Select ${victim.name}`).first().waitFor();
    await page
      .locator(`[data-run="${victim.name}"]`)
      .filter({ has: page.locator(`a[href="#/runs/${victim.runId}"]`) })
      .getByRole('checkbox')
      .check();
    // The selection is in the URL: a reload keeps it.
    assert.deepEqual(new URLSearchParams(page.url().split('?')[1]).getAll('sel'), [victim.runId]);
    await page.reload();
    await page.getByRole('button', { name: 'Delete (1)' }).waitFor();
    assert.ok(await page.getByLabel(`Select ${victim.name}`).isChecked());
    await page.getByRole('button', { name: 'Delete (1)' }).click();
    await page.locator(`a[href="#/runs/${victim.runId}"]`).waitFor({ state: 'detached' });
    assert.equal((await runOf(victim.runId)).info.lifecycle_stage, 'deleted');
    await page.getByLabel('Deleted runs').check();
    await page.locator(`a[href="#/runs/${victim.runId}"]`).waitFor();
    await page.getByLabel(`Select ${victim.name}`).check();
    await page.getByRole('button', { name: 'Restore (1)' }).click();
    await page.getByText('No deleted runs.').waitFor();
    assert.equal((await runOf(victim.runId)).info.lifecycle_stage, 'active');
  });

  test('compare: gate decisions, bar charts, scatter, parallel coordinates, step overlays, highlighted differences', async () => {
    const runs = [second.runId, first.runId, ...second.trials.map((t) => t.runId)];
    await page.goto(url(`/compare?runs=${runs.join(',')}&exp=${experimentId}`));
    await page.getByRole('heading', { name: 'Compare 4 runs' }).waitFor();
    // Gate decision of each pipeline run.
    const gate = async (name: string) =>
      (await page.locator(`table.runs-head tr[data-run="${name}"] td.gate`).textContent()) ?? '';
    assert.match(await gate('pipeline-strong'), new RegExp(second.gate.decision));
    assert.match(await gate('pipeline-weak'), new RegExp(first.gate.decision));
    // A bar chart per key scalar metric with one bar per run that has it.
    const bars = page.locator('figure[data-chart=bar][data-metric=valid_roc_auc] rect[data-series]');
    assert.deepEqual(
      (await bars.evaluateAll((els) => els.map((e) => e.getAttribute('data-series')))).sort(),
      [...second.trials.map((t) => t.name), 'pipeline-strong', 'pipeline-weak'].sort(),
    );
    const strongAuc = Number(
      await page
        .locator('figure[data-metric=test_roc_auc] rect[data-series=pipeline-strong]')
        .getAttribute('data-value'),
    );
    assert.ok(
      Math.abs(strongAuc - second.test.roc_auc) < 1e-9,
      `bar value ${strongAuc} is the logged ${second.test.roc_auc}`,
    );
    // Scatter: one point per run having both values; the axes come from the URL after a change.
    await page.getByLabel('X axis').selectOption('metrics:valid_log_loss');
    await page.getByLabel('Y axis').selectOption('metrics:valid_roc_auc');
    assert.equal(await page.locator('figure[data-chart=scatter] circle[data-series]').count(), 4);
    // Parallel coordinates: one line per run across the chosen axes.
    const lines = page.locator('figure[data-chart=parallel] polyline[data-series]');
    assert.equal(await lines.count(), 4);
    assert.ok((await page.locator('figure[data-chart=parallel] [data-axis]').count()) >= 2);
    // Step metrics (the GBDT's validation curve) overlaid in a line chart.
    await page.locator('.chart canvas').first().waitFor();
    const gbdtName = second.trials.find((t) => t.kind === 'gbdt')!.name;
    assert.ok(((await page.locator('.chart .u-legend').first().textContent()) ?? '').includes(gbdtName));
    // Differences highlighted: the differing model_kind of the two candidates.
    assert.ok((await page.locator('table.diff tr.differs td.diffcell').count()) > 0);
    await shoot('compare');
    await axe('the compare page');
    const shared = page.url();
    assert.equal(
      new URLSearchParams(shared.slice(shared.indexOf('?') + 1)).get('x'),
      'metrics:valid_log_loss',
    );
    await page.goto('about:blank');
    await page.goto(shared);
    await page.getByRole('heading', { name: 'Compare 4 runs' }).waitFor();
    assert.equal(await page.getByLabel('X axis').inputValue(), 'metrics:valid_log_loss');
  });

  test('run page: rename, notes as sanitised markdown, tag edits, gate, explanation, byte-identical download', async () => {
    await page.goto(url(`/runs/${second.runId}`));
    await page.getByRole('heading', { name: 'pipeline-strong' }).waitFor();
    // Gate and explanation.
    await page.locator(`.gatebox[data-gate="${second.gate.decision}"]`).waitFor();
    const shap = page.locator('figure[data-chart=hbar] rect[data-series]');
    await shap.first().waitFor();
    assert.deepEqual(
      await shap.evaluateAll((els) => els.map((e) => e.getAttribute('data-series'))),
      EXPLANATION.features.map((f) => f.field),
    );
    // Rename round trip.
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New run name').fill('pipeline-strong-2');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('heading', { name: 'pipeline-strong-2' }).waitFor();
    assert.equal((await runOf(second.runId)).info.run_name, 'pipeline-strong-2');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New run name').fill('pipeline-strong');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('heading', { name: 'pipeline-strong', exact: true }).waitFor();
    // Notes: markdown rendered, HTML and script links neutralised.
    const note =
      '## Why\nThe **strong** run with `gbdt`.\n\n- one\n- two\n\n<img src=x onerror="window.pwned=1"> [bad](javascript:alert(1)) [good](https://example.com)';
    await page.getByRole('button', { name: 'Edit notes' }).click();
    await page.getByLabel('Notes (Markdown)').fill(note);
    await page.getByRole('button', { name: 'Save notes' }).click();
    await page.locator('.markdown strong', { hasText: 'strong' }).waitFor();
    assert.equal(tagsOf(await runOf(second.runId))['mlflow.note.content'], note);
    assert.equal(await page.locator('.markdown li').count(), 2);
    assert.equal(await page.locator('.markdown img').count(), 0, 'raw HTML is text');
    assert.equal(await page.locator('.markdown a[href^="javascript"]').count(), 0);
    assert.equal(await page.locator('.markdown a[href="https://example.com"]').count(), 1);
    assert.equal(await page.evaluate('window.pwned'), undefined);
    // Tags: add, edit, delete, each confirmed through the API.
    await page.getByLabel('Tag key').fill('reviewed by');
    await page.getByLabel('Tag value').fill('ana');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.locator('tr[data-tag="reviewed by"]', { hasText: 'ana' }).waitFor();
    assert.equal(tagsOf(await runOf(second.runId))['reviewed by'], 'ana');
    await page.getByRole('button', { name: 'Edit tag reviewed by' }).click();
    await page.getByLabel('Value of reviewed by').fill('bo');
    await page.getByRole('button', { name: 'Save value' }).click();
    await page.locator('tr[data-tag="reviewed by"]', { hasText: 'bo' }).waitFor();
    assert.equal(tagsOf(await runOf(second.runId))['reviewed by'], 'bo');
    // The Tags column is not squeezed: a long key stays on one or two lines at 1,400 px.
    const keyCell = page
      .locator('tr[data-tag="tassel.package_lock_sha256"] th, tr[data-tag="tassel.data.sha256"] th')
      .first();
    const box = await keyCell.boundingBox();
    assert.ok(box && box.width >= 150, `tag key column is ${box?.width} px wide`);
    await shoot('run');
    await axe('the run page');
    await page.getByRole('button', { name: 'Delete tag reviewed by' }).click();
    await page.locator('tr[data-tag="reviewed by"]').waitFor({ state: 'detached' });
    assert.equal(tagsOf(await runOf(second.runId))['reviewed by'], undefined);
    // Artifact download: the saved file is byte for byte what was logged.
    for (const [name, expected] of [
      ['bytes.bin', BINARY],
      ['metrics.json', undefined],
    ] as const) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('button', { name: `Download ${name}` }).click(),
      ]);
      const saved = readFileSync((await download.path())!);
      const root = (
        await api<{ root_uri: string }>(`mlflow/artifacts/list?run_id=${second.runId}`)
      ).body.root_uri.replace(/^mlflow-artifacts:\/*/, '');
      const served = Buffer.from(
        await (
          await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${root}/${name}`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          })
        ).arrayBuffer(),
      );
      assert.ok(saved.equals(expected ?? served), `${name}: ${saved.length} bytes saved`);
      assert.equal(download.suggestedFilename(), name);
    }
    // Delete and restore the run from its page.
    await page.getByRole('button', { name: 'Delete run' }).click();
    await page.locator('.badge.bad', { hasText: 'deleted' }).waitFor();
    assert.equal((await runOf(second.runId)).info.lifecycle_stage, 'deleted');
    await page.getByRole('button', { name: 'Restore run' }).click();
    await page.getByRole('button', { name: 'Delete run' }).waitFor();
    assert.equal((await runOf(second.runId)).info.lifecycle_stage, 'active');
    // A candidate run: step-metric chart, parent link.
    const gbdt = second.trials.find((t) => t.kind === 'gbdt')!;
    await page.goto(url(`/runs/${gbdt.runId}`));
    await page.locator('.chart canvas').first().waitFor();
    assert.ok(await page.getByRole('link', { name: second.runId }).isVisible());
    await shoot('run-child');
  });

  test('keyboard: skip link first, then the header, then the page in reading order; Enter follows links', async () => {
    await page.goto(url(`/experiments/${experimentId}`));
    await page.reload();
    await page.locator('.vbody [role=row]').first().waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
    // Other pages may add header links: the expected order takes the nav as it is.
    const nav = await page.locator('header nav a').allTextContents();
    const expected = ['Tassel', ...nav, 'INPUT', 'Save', 'Experiments', 'Rename', 'Description'];
    const order: string[] = [];
    for (let i = 0; i < expected.length; i++) {
      await page.keyboard.press('Tab');
      order.push(
        (await page.evaluate(
          `(() => { const e = document.activeElement; return e.getAttribute('aria-label') || e.textContent.trim() || e.name || e.tagName; })()`,
        )) as string,
      );
    }
    // Header (brand, nav, token), then the page top to bottom: crumbs, rename, description (then the filter).
    assert.deepEqual(order, expected);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Experiments' }).waitFor();
    // The models list, looked at too.
    await page.goto(url('/models'));
    await page.getByRole('link', { name: MODEL }).waitFor();
    await shoot('models');
    await axe('the models page');
  });

  test('model pages: description edits, version page with signature, input example, source run, alias history', async () => {
    await page.goto(url(`/models/${MODEL}`));
    await page.getByRole('heading', { name: MODEL }).waitFor();
    await page.getByRole('button', { name: 'Edit description' }).click();
    await page.getByLabel('Description (Markdown)').fill('Predicts **course completion**.');
    await page.getByRole('button', { name: 'Save description' }).click();
    await page.locator('.markdown strong', { hasText: 'course completion' }).waitFor();
    assert.equal(
      (await api<{ registered_model: { description: string } }>(`mlflow/registered-models/get?name=${MODEL}`))
        .body.registered_model.description,
      'Predicts **course completion**.',
    );
    await shoot('model');
    await axe('the model page');

    const v = second.version;
    await page.getByRole('link', { name: `v${v}`, exact: true }).click();
    await page.getByRole('heading', { name: `${MODEL} v${v}` }).waitFor();
    // Signature: inputs with required / optional as in MLmodel, outputs probability and label.
    const mlmodel = await fetch(
      `${server.url}/api/2.0/mlflow-artifacts/artifacts/${(await api<{ model_version: { source: string } }>(`mlflow/model-versions/get?name=${MODEL}&version=${v}`)).body.model_version.source.replace(/^mlflow-artifacts:\/*/, '')}/MLmodel`,
      {
        headers: { authorization: `Bearer ${TOKEN}` },
      },
    ).then((r) => r.text());
    const inputsJson = /inputs: '(.*)'/.exec(mlmodel)![1]!.replace(/''/g, "'");
    const inputs = JSON.parse(inputsJson) as Array<{ name: string; required: boolean }>;
    const rows = page.locator('table[data-signature=inputs] tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), inputs.length);
    for (const c of inputs.slice(0, 5)) {
      const row = page.locator('table[data-signature=inputs] tbody tr', {
        has: page.getByRole('rowheader', { name: c.name, exact: true }),
      });
      assert.match((await row.textContent()) ?? '', c.required ? /required/ : /optional/);
    }
    assert.deepEqual(await page.locator('table[data-signature=outputs] tbody th').allTextContents(), [
      'probability',
      'label',
    ]);
    assert.ok((await page.locator('table.example tbody tr').count()) > 0, 'input example rows');
    assert.ok(await page.getByRole('link', { name: 'pipeline-strong' }).isVisible(), 'source run');
    assert.ok(
      await page.locator('.metricgrid dt', { hasText: 'test_roc_auc' }).isVisible(),
      'source run metrics',
    );
    await page.locator('figure[data-chart=hbar] rect[data-series]').first().waitFor();
    // Alias history from the audit trail: who, when, why.
    const history = page.locator('table.history tbody tr');
    if (second.productionVersion === v) {
      assert.ok((await history.count()) >= 1);
      assert.match((await history.first().textContent()) ?? '', /@production/);
      assert.match((await history.first().textContent()) ?? '', /gate passed in pipeline run/);
    }
    await page.getByRole('button', { name: 'Edit description' }).click();
    await page.getByLabel('Description (Markdown)').fill('Reviewed: *ok*');
    await page.getByRole('button', { name: 'Save description' }).click();
    await page.locator('.markdown em', { hasText: 'ok' }).waitFor();
    assert.equal(
      (
        await api<{ model_version: { description: string } }>(
          `mlflow/model-versions/get?name=${MODEL}&version=${v}`,
        )
      ).body.model_version.description,
      'Reviewed: *ok*',
    );
    await page.getByLabel('Tag key').fill('owner');
    await page.getByLabel('Tag value').fill('ml-team');
    await page.getByRole('button', { name: 'Add tag' }).click();
    await page.locator('tr[data-tag=owner]', { hasText: 'ml-team' }).waitFor();
    await shoot('version');
    await axe('the model-version page');
    // Promote v1 on the model page, roll back: the version page's history gains both rows with their reasons.
    await page.goto(url(`/models/${MODEL}`));
    const other = second.productionVersion === second.version ? first.version : second.version;
    await page.getByRole('button', { name: `Promote v${other} to @production` }).click();
    await page.locator('[data-alias=production]', { hasText: `v${other}` }).waitFor();
    await page.goto(url(`/models/${MODEL}/versions/${other}`));
    await page
      .locator('table.history tbody tr', { hasText: `promote v${other} to production (web UI)` })
      .waitFor();
  });

  test('read-only token: every edit is refused with a visible error and nothing changes', async () => {
    await page.evaluate(`localStorage.setItem('tassel.token', ${JSON.stringify(READ_ONLY)})`);
    await page.goto(url(`/runs/${second.runId}`));
    await page.reload();
    await page.getByRole('heading', { name: 'pipeline-strong' }).waitFor();
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New run name').fill('not allowed');
    await page.getByRole('button', { name: 'Save name' }).click();
    await page.getByRole('alert').filter({ hasText: 'PERMISSION_DENIED' }).waitFor();
    assert.equal((await runOf(second.runId)).info.run_name, 'pipeline-strong');
    await page.goto(url(`/models/${MODEL}/versions/${second.version}`));
    await page.reload();
    await page.getByRole('button', { name: 'Edit description' }).click();
    await page.getByLabel('Description (Markdown)').fill('nope');
    await page.getByRole('button', { name: 'Save description' }).click();
    await page.getByRole('alert').filter({ hasText: 'PERMISSION_DENIED' }).waitFor();
    const after = await api<{ model_version: { description: string } }>(
      `mlflow/model-versions/get?name=${MODEL}&version=${second.version}`,
    );
    assert.equal(after.body.model_version.description, 'Reviewed: *ok*');
    // Once refused, the page stops offering edits to this token.
    await page.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.getByRole('button', { name: 'Edit description' }).count(), 0);
    // The API itself refuses the read-only token's writes.
    const refused = await api('mlflow/runs/set-tag', {
      body: { run_id: second.runId, key: 'x', value: 'y' },
      token: READ_ONLY,
    });
    assert.equal(refused.status, 403);
    await page.evaluate(`localStorage.setItem('tassel.token', ${JSON.stringify(TOKEN)})`);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { loadBundle } from '../ml/bundle.js';
import { xgboostSigmoid } from '../ml/gbdt/float32-math.js';
import { GbdtClassifier, gbdtFactory } from '../ml/gbdt/index.js';
import { runCli } from './cli-capture.test-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-explain-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const p = (name: string) => join(dir, name);
const S = ['--schema', 'builtin:course-completion'];

/** A small CSV reader for the files the commands write (no quoted commas in these columns). */
const readCsv = (file: string) => {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, j) => [cols[j]!, v])));
};
const logit = (q: number) => Math.log(q / (1 - q));

before(async () => {
  await writeCourseCompletionCsv(p('students.csv'), { rows: 900, seed: 3 });
  await writeCourseCompletionCsv(p('new.csv'), { rows: 60, seed: 9 });
  for (const model of ['gbdt', 'logistic']) {
    const r = await runCli(
      'train',
      '--data',
      p('students.csv'),
      ...S,
      '--model',
      model,
      '--out',
      p(model),
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
  }
});

/** What float32 summation can move a GBDT's margin by from the float64 sum its contributions add up to. */
async function float32Slack(bundleDir: string): Promise<number> {
  const { model } = await loadBundle(bundleDir, { extraFactories: [gbdtFactory] });
  assert.ok(model instanceof GbdtClassifier);
  return model.ensemble.float32Slack();
}

describe('tassel explain and tassel predict --explain', () => {
  for (const model of ['gbdt', 'logistic']) {
    test(`${model}: per-row values add up to the margin of the predicted probability; global summary sorted`, async () => {
      const r = await runCli(
        'explain',
        '--model',
        p(model),
        '--data',
        p('new.csv'),
        '--out',
        p(`${model}-ex.csv`),
        '--plots',
        p(`${model}-plots`),
        '--json',
      );
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.method, model === 'gbdt' ? 'tree_shap' : 'linear_shap');
      const rows = readCsv(p(`${model}-ex.csv`));
      assert.equal(rows.length, 60);
      const fields = report.global.features.map((f: { field: string }) => f.field);
      const slack = 1e-9 + (model === 'gbdt' ? await float32Slack(p(model)) : 0);
      for (const row of rows) {
        const total = fields.reduce((s: number, f: string) => s + Number(row[f]), Number(row.base_value));
        assert.ok(Math.abs(total - Number(row.margin)) <= slack);
        if (model === 'gbdt') assert.equal(Number(row.probability), xgboostSigmoid(Number(row.margin)));
        else assert.ok(Math.abs(Number(row.margin) - logit(Number(row.probability))) < 1e-6);
      }
      const g = JSON.parse(readFileSync(p(`${model}-ex.global.json`), 'utf8'));
      assert.deepEqual(Object.keys(g), ['model_kind', 'base_value', 'features']);
      assert.equal(g.model_kind, model);
      for (let k = 1; k < g.features.length; k++)
        assert.ok(g.features[k - 1].mean_abs >= g.features[k].mean_abs);
      const top = g.features[0];
      const mean = rows.reduce((s, row) => s + Math.abs(Number(row[top.field])), 0) / rows.length;
      assert.ok(Math.abs(mean - top.mean_abs) < 1e-9);
      const svg = readFileSync(join(p(`${model}-plots`), 'shap_beeswarm.svg'), 'utf8');
      assert.match(svg, /^<svg/);
      assert.ok((svg.match(/<circle/g) ?? []).length > 60, 'dots drawn');
      assert.match(readFileSync(join(p(`${model}-plots`), 'shap_bar.svg'), 'utf8'), new RegExp(top.field));
    });
  }

  test('predict --explain adds shap_ columns that match tassel explain; without it, none', async () => {
    const plain = await runCli(
      'predict',
      '--model',
      p('gbdt'),
      '--data',
      p('new.csv'),
      '--out',
      p('pred.csv'),
      '--quiet',
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.ok(!Object.keys(readCsv(p('pred.csv'))[0]!).some((c) => c.startsWith('shap_')));
    const r = await runCli(
      'predict',
      '--model',
      p('gbdt'),
      '--data',
      p('new.csv'),
      '--out',
      p('pred-ex.csv'),
      '--explain',
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = readCsv(p('pred-ex.csv'));
    const ex = readCsv(p('gbdt-ex.csv'));
    const shapCols = Object.keys(rows[0]!).filter((c) => c.startsWith('shap_') && c !== 'shap_base_value');
    assert.ok(shapCols.length > 5);
    for (const c of shapCols) assert.equal(rows[4]![c], ex[4]![c.slice(5)]);
  });

  test('bad input: a missing data file exits 2 with one line', async () => {
    const r = await runCli('explain', '--model', p('gbdt'), '--data', p('nope.csv'), '--out', p('x.csv'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.csv/);
  });
});

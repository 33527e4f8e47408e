import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { DatasetSchema } from '../data/schema.js';
import { schemaToJSON } from '../data/schema.js';
import { createTable } from '../data/table.js';
import { defaultFeatureSpec, fitTransform } from '../features/index.js';
import { loadBundle } from '../ml/bundle.js';
import { runCli } from './cli-capture.test-helper.js';

const fixtures = new URL('../ml/gbdt/fixtures/', import.meta.url);
const modelPath = new URL('xgboost-1.7.4-model.json', fixtures).pathname;
const cases = JSON.parse(readFileSync(new URL('xgboost-1.7.4-cases.json', fixtures), 'utf8')) as {
  feature_names: string[];
  inputs: Array<Array<number | null>>;
  proba_best: number[];
};
const dir = mkdtempSync(join(tmpdir(), 'tassel-import-xgb-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A raw schema whose numeric columns are the model's features, in another order than XGBoost's.
const order = [...cases.feature_names].reverse();
const schema: DatasetSchema = {
  name: 'xgb-fixture',
  target: 'y',
  positiveLabel: '1',
  negativeLabel: '0',
  columns: [
    ...order.map((name) => ({ name, type: 'numeric' as const, role: 'feature' as const, nullable: true })),
    { name: 'y', type: 'categorical', role: 'target', allowed: ['0', '1'], nullable: false },
  ],
};

describe('tassel models import-xgboost', () => {
  test('wraps the XGBoost model into a bundle whose predictions on raw records match XGBoost within 1e-5', async () => {
    const cols = Object.fromEntries(order.map((n) => [n, Float64Array.of(1, 2, Number.NaN)]));
    const ft = fitTransform(
      defaultFeatureSpec(schema, { preset: 'tree' }),
      createTable({ ...cols, y: ['0', '1', '0'] }),
      schema,
    );
    const spec = join(dir, 'spec.json');
    writeFileSync(spec, JSON.stringify({ schema: schemaToJSON(schema), transform: ft }));
    const out = join(dir, 'bundle');
    const r = await runCli(
      'models',
      'import-xgboost',
      '--model',
      modelPath,
      '--features',
      spec,
      '--out',
      out,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.xgboost_version, '1.7.4');
    assert.equal(report.feature_names_matched, true);
    const b = await loadBundle(out);
    assert.equal(b.kind, 'gbdt');
    const records = cases.inputs
      .slice(0, 300)
      .map((row) => Object.fromEntries(cases.feature_names.map((n, j) => [n, row[j]])));
    const preds = b.predictRecords(records);
    let maxDiff = 0;
    preds.forEach((p, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(p.probability - cases.proba_best[i]!));
    });
    assert.ok(maxDiff <= 1e-5, `max diff ${maxDiff}`);
  });

  test('a transform lacking a model feature is a usage error (exit 2) naming it', async () => {
    const partial: DatasetSchema = { ...schema, columns: schema.columns.filter((c) => c.name !== 'credits') };
    const cols = Object.fromEntries(
      order.filter((n) => n !== 'credits').map((n) => [n, Float64Array.of(1, 2)]),
    );
    const ft = fitTransform(
      defaultFeatureSpec(partial, { preset: 'tree' }),
      createTable({ ...cols, y: ['0', '1'] }),
      partial,
    );
    const spec = join(dir, 'partial.json');
    writeFileSync(spec, JSON.stringify({ schema: schemaToJSON(partial), transform: ft }));
    const r = await runCli(
      'models',
      'import-xgboost',
      '--model',
      modelPath,
      '--features',
      spec,
      '--out',
      join(dir, 'x'),
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /credits/);
    const bad = await runCli(
      'models',
      'import-xgboost',
      '--model',
      spec,
      '--features',
      spec,
      '--out',
      join(dir, 'y'),
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a supported XGBoost model/);
  });
});

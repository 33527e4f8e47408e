import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadBundle } from '../ml/bundle.js';
import { createPrng } from '../ml/gbdt/prng.js';
import { runCli } from './cli-capture.test-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-train-gbdt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** XOR of two numeric features plus a categorical, with missing cells and a 0/1 validation column. */
function writeCsv(path: string, n: number, seed: number): void {
  const rng = createPrng(seed);
  const lines = ['x1,x2,colour,is_val,completed'];
  for (let i = 0; i < n; i++) {
    const a = rng.next() * 2 - 1;
    const b = rng.next() * 2 - 1;
    const colour = ['red', 'green', 'blue'][rng.int(3)]!;
    const p = a > 0 !== b > 0 ? 0.92 : 0.08;
    const y = rng.next() < p ? 'yes' : 'no';
    lines.push(`${i % 17 === 0 ? '' : a.toFixed(4)},${b.toFixed(4)},${colour},${i % 5 === 0 ? 1 : 0},${y}`);
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

describe('tassel train --model gbdt', () => {
  const train = join(dir, 'train.csv');
  const testCsv = join(dir, 'test.csv');
  writeCsv(train, 1500, 1);
  writeCsv(testCsv, 500, 2);

  test('early-stops on --valid-column rows, reports best_iteration, writes a loadable bundle', async () => {
    const out = join(dir, 'bundle');
    const r = await runCli(
      'train',
      '--data',
      train,
      '--test-data',
      testCsv,
      '--target',
      'completed',
      '--positive',
      'yes',
      '--valid-column',
      'is_val',
      '--model',
      'gbdt',
      '--n-estimators',
      '300',
      '--max-depth',
      '3',
      '--eta',
      '0.3',
      '--early-stopping-rounds',
      '5',
      '--max-bin',
      '64',
      '--lambda',
      '2',
      '--json',
      '--quiet',
      '--out',
      out,
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(typeof report.best_iteration, 'number');
    assert.equal(report.summary.n_trees, report.best_iteration + 1);
    assert.ok(report.summary.rounds_run < 300);
    assert.equal(report.rows.valid, 300);
    assert.equal(report.params.max_bin, 64);
    assert.equal(report.params.lambda, 2);
    assert.ok(report.test.roc_auc > 0.8, `auc ${report.test.roc_auc}`);
    const b = await loadBundle(out);
    assert.equal(b.kind, 'gbdt');
    const p = b.predictRecords([
      { x1: 0.5, x2: -0.5, colour: 'red' },
      { x1: null, x2: 0.5, colour: 'blue' },
    ]);
    assert.ok(p[0]!.probability > 0.5);
  });

  test('bad gbdt flag values and gbdt flags on another kind exit 2', async () => {
    const base = [
      'train',
      '--data',
      train,
      '--target',
      'completed',
      '--positive',
      'yes',
      '--out',
      join(dir, 'x'),
    ];
    const a = await runCli(...base, '--model', 'gbdt', '--subsample', '0');
    assert.equal(a.code, 2);
    const b = await runCli(...base, '--model', 'logistic', '--n-estimators', '10');
    assert.equal(b.code, 2);
    assert.match(b.stderr, /--n-estimators applies to --model gbdt/);
  });
});

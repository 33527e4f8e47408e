import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { runCli } from './cli-capture.test-helper.js';

/**
 * The acceptance check: logistic regression (one-hot categoricals, median + standard numerics, C = 1)
 * on the shared OULAD split reaches scikit-learn's test ROC AUC (0.8185, ../shared/anchors/README.md) within 0.002.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.TASSEL_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');
const oulad = join(shared, 'anchors', 'data', 'oulad');
const present = existsSync(join(oulad, 'features_train.csv')) && existsSync(join(oulad, 'features_test.csv'));
const SKLEARN_TEST_ROC_AUC = 0.8185;

const dir = mkdtempSync(join(tmpdir(), 'tassel-oulad-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('OULAD: tassel train --model logistic matches scikit-learn test ROC AUC within 0.002', {
  skip: present ? false : `OULAD feature files not found under ${oulad} (set TASSEL_SHARED_DIR)`,
}, async () => {
  const r = await runCli(
    'train',
    '--data',
    join(oulad, 'features_train.csv'),
    '--test-data',
    join(oulad, 'features_test.csv'),
    '--target',
    'target',
    '--positive',
    '1',
    '--ignore',
    'row_id',
    '--ids',
    'id_student',
    '--valid-column',
    'is_val',
    '--model',
    'logistic',
    '--c',
    '1',
    '--out',
    join(dir, 'model'),
    '--json',
    '--quiet',
  );
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  process.stderr.write(
    `OULAD logistic: test roc_auc ${out.test.roc_auc.toFixed(5)} (sklearn ${SKLEARN_TEST_ROC_AUC}), fit ${out.fit_seconds.toFixed(3)} s wall, ${out.fit_cpu_seconds.toFixed(3)} s CPU\n`,
  );
  assert.equal(out.rows.train, 21088);
  assert.equal(out.rows.test, 5273);
  assert.ok(
    Math.abs(out.test.roc_auc - SKLEARN_TEST_ROC_AUC) <= 0.002,
    `test roc_auc ${out.test.roc_auc} vs scikit-learn ${SKLEARN_TEST_ROC_AUC}`,
  );
  assert.ok(Math.abs(out.test.log_loss - 0.5063) < 0.002, `log_loss ${out.test.log_loss}`);
});

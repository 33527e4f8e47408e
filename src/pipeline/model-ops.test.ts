import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { InputError } from '../errors.js';
import { parsePipelineConfig } from './config.js';
import { prepareData } from './data-step.js';
import { previousHolder } from './model-ops.js';
import { resolveTrackingUri } from './tracking-target.js';

const h = (from: string | null, to: string | null, timestamp: number) => ({
  alias: 'production',
  fromVersion: from,
  toVersion: to,
  timestamp,
});

describe('rollback target from the audit trail', () => {
  test('the version that held production before the current one', () => {
    const history = [h(null, '1', 1), h('1', '3', 2)];
    assert.equal(
      previousHolder(history, '3', () => true),
      '1',
    );
  });
  test('re-pointing the same version is skipped; a deleted version is skipped', () => {
    const history = [h(null, '1', 1), h('1', '2', 2), h('2', '4', 3), h('4', '4', 4)];
    assert.equal(
      previousHolder(history, '4', () => true),
      '2',
    );
    assert.equal(
      previousHolder(history, '4', (v) => v !== '2'),
      null,
    );
  });
  test('out-of-order input is sorted by time; the first holder has nothing to return to', () => {
    assert.equal(
      previousHolder([h('2', '5', 9), h(null, '2', 1)], '5', () => true),
      '2',
    );
    assert.equal(
      previousHolder([h(null, '1', 1)], '1', () => true),
      null,
    );
  });
});

describe('tracking URI precedence', () => {
  test('flag, then TASSEL_TRACKING_URI, then MLFLOW_TRACKING_URI, then the config, else embedded', () => {
    const env = { TASSEL_TRACKING_URI: 'http://t', MLFLOW_TRACKING_URI: 'http://m' };
    assert.equal(resolveTrackingUri({ uri: 'http://flag', configUri: 'http://c', env }), 'http://flag');
    assert.equal(resolveTrackingUri({ configUri: 'http://c', env }), 'http://t');
    assert.equal(
      resolveTrackingUri({ configUri: 'http://c', env: { MLFLOW_TRACKING_URI: 'http://m' } }),
      'http://m',
    );
    assert.equal(resolveTrackingUri({ configUri: 'http://c', env: {} }), 'http://c');
    assert.equal(resolveTrackingUri({ env: {} }), undefined);
  });
});

describe('data step', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-data-step-'));
  const rows = ['id,x,g,is_val,y'];
  for (let i = 0; i < 200; i++)
    rows.push(`${i},${i % 17},${i % 3 ? 'a' : 'b'},${i % 10 === 0 ? 1 : 0},${i % 4 === 0 ? 'yes' : 'no'}`);
  writeFileSync(join(dir, 'd.csv'), `${rows.join('\n')}\n`);

  test('valid_column rows form the validation set and are not a model input', async () => {
    const cfg = parsePipelineConfig(
      { data: { path: 'd.csv', target: 'y', positive: 'yes', ignore: ['id'] }, valid_column: 'is_val' },
      dir,
    );
    const d = await prepareData(cfg);
    // The test split comes first (stratified over the file); of the rest, the is_val=1 rows validate.
    assert.equal(d.train.y.length + d.valid.y.length + d.test.y.length, 200);
    assert.ok(d.valid.y.length > 10 && d.valid.y.length <= 20);
    assert.ok((d.valid.table.columns.is_val as string[]).every((v) => v === '1'));
    assert.ok((d.train.table.columns.is_val as string[]).every((v) => v === '0'));
    assert.equal(d.modelSchema.columns.find((c) => c.name === 'is_val')?.role, 'ignore');
    assert.match(d.sha256[0]!, /^[0-9a-f]{64}$/);
  });

  test('the same seed gives the same split; another seed another', async () => {
    const a = await prepareData(
      parsePipelineConfig({ data: { path: 'd.csv', target: 'y', positive: 'yes' }, seed: 1 }, dir),
    );
    const b = await prepareData(
      parsePipelineConfig({ data: { path: 'd.csv', target: 'y', positive: 'yes' }, seed: 1 }, dir),
    );
    const c = await prepareData(
      parsePipelineConfig({ data: { path: 'd.csv', target: 'y', positive: 'yes' }, seed: 2 }, dir),
    );
    assert.deepEqual(a.test.table.columns.id, b.test.table.columns.id);
    assert.notDeepEqual(a.test.table.columns.id, c.test.table.columns.id);
  });

  test('a positive label that never occurs leaves a part with one class: a clear InputError', async () => {
    await assert.rejects(
      prepareData(parsePipelineConfig({ data: { path: 'd.csv', target: 'y', positive: 'maybe' } }, dir)),
      (e: unknown) => e instanceof InputError && /maybe/.test(e.message),
    );
  });

  test('builtin schema: ignore must name its columns', async () => {
    await assert.rejects(
      prepareData(
        parsePipelineConfig(
          { data: { path: 'd.csv', schema: 'builtin:course-completion', ignore: ['nope'] } },
          dir,
        ),
      ),
      /schema course-completion has no column\(s\) nope/,
    );
  });
});

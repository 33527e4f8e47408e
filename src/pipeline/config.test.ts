import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { InputError } from '../errors.js';
import { expandSearch, loadPipelineConfig, parsePipelineConfig } from './config.js';

describe('pipeline config', () => {
  test('the minimal built-in config fills every default', () => {
    const c = parsePipelineConfig(
      { data: { path: 'students.csv', schema: 'builtin:course-completion' } },
      '/base',
    );
    assert.equal(c.data.path, '/base/students.csv');
    assert.equal(c.model_name, 'course-completion');
    assert.equal(c.experiment_name, 'course-completion');
    assert.equal(c.seed, 42);
    assert.equal(c.gate.min_delta, 0);
    assert.equal(c.promote, true);
    assert.deepEqual(
      c.candidates.map((x) => x.kind),
      ['dummy', 'logistic', 'gbdt'],
    );
    assert.equal(c.tracking.data_dir, join(process.cwd(), 'tassel-data'));
    const d = parsePipelineConfig(
      { data: { path: 's.csv', schema: 'x' }, tracking: { data_dir: 'td' } },
      '/base',
    );
    assert.equal(d.tracking.data_dir, '/base/td');
  });

  test('the minimal other-CSV config works; top-level test_data/valid_column land in data', () => {
    const c = parsePipelineConfig(
      {
        data: { path: 'x.csv', target: 'col', positive: '1', ignore: ['id'] },
        test_data: 't.csv',
        valid_column: 'v',
      },
      '/b',
    );
    assert.equal(c.data.target, 'col');
    assert.deepEqual(c.data.ignore, ['id']);
    assert.equal(c.data.test_data, '/b/t.csv');
    assert.equal(c.data.valid_column, 'v');
  });

  const bad: Array<[unknown, RegExp]> = [
    [{ data: { path: 1, schema: 'builtin:course-completion' } }, /data\.path: Expected string/],
    [{ data: { path: 'x', schema: 's' }, bogus: 1 }, /bogus: Unexpected property.*unknown field/],
    [{ data: { path: 'x', schema: 's' }, gate: { min_roc_auc: 2 } }, /gate\.min_roc_auc/],
    [{ data: { path: 'x', target: 'a' } }, /either "schema".*or both "target" and "positive"/],
    [
      { data: { path: 'x', schema: 's' }, candidates: [{ params: {} }] },
      /candidates\[0\]: give exactly one of "kind" or "module"/,
    ],
    [
      { data: { path: 'x', schema: 's' }, candidates: [{ kind: 'gbdt', search: { max_depth: [] } }] },
      /candidates\[0\]\.search\.max_depth/,
    ],
    [
      { data: { path: 'x', schema: 's' }, candidates: [{ kind: 'dummy' }, { kind: 'dummy' }] },
      /duplicate name "dummy"/,
    ],
    [{ data: { path: 'x', schema: 's' }, seed: 1.5 }, /seed: Expected integer/],
  ];
  for (const [raw, re] of bad) {
    test(`rejects ${JSON.stringify(raw)} naming the field`, () => {
      assert.throws(
        () => parsePipelineConfig(raw),
        (e: unknown) => e instanceof InputError && re.test(e.message),
      );
    });
  }

  test('YAML and JSON files load; paths resolve against the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tassel-cfg-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      'data:\n  path: d/students.csv\n  schema: builtin:course-completion\nseed: 7\n',
    );
    const y = loadPipelineConfig(join(dir, 'p.yaml'));
    assert.equal(y.data.path, join(dir, 'd/students.csv'));
    assert.equal(y.seed, 7);
    writeFileSync(join(dir, 'p.json'), '{"data": {"path": "s.csv", "schema": "builtin:course-completion"}, ');
    assert.throws(() => loadPipelineConfig(join(dir, 'p.json')), /not valid JSON/);
    assert.throws(() => loadPipelineConfig(join(dir, 'missing.json')), /cannot read \(ENOENT\)/);
  });

  test('a search grid expands into every combination over params', () => {
    const sets = expandSearch({
      kind: 'gbdt',
      params: { eta: 0.1, max_depth: 3 },
      search: { max_depth: [4, 6], lambda: [1, 2] },
    });
    assert.equal(sets.length, 4);
    assert.deepEqual(sets[0], { eta: 0.1, max_depth: 4, lambda: 1 });
    assert.deepEqual(sets[3], { eta: 0.1, max_depth: 6, lambda: 2 });
  });
});

describe('pipeline config: tune (hyperparameter search)', () => {
  const base = { data: { path: 'x.csv', schema: 'builtin:course-completion' } };
  test('a tune block gets its defaults; pipeline/oulad-search.json and oulad.json load', () => {
    const c = parsePipelineConfig({
      ...base,
      candidates: [{ kind: 'gbdt', tune: { space: { max_depth: { int: [2, 6] } } } }],
    });
    assert.deepEqual(
      { ...c.candidates[0]!.tune, space: undefined },
      {
        strategy: 'tpe',
        trials: 50,
        workers: 2,
        batch: 4,
        pruning: 'halving',
        min_rounds: 20,
        eta: 3,
        space: undefined,
      },
    );
    const oulad = loadPipelineConfig(
      join(import.meta.dirname ?? '.', '..', '..', 'pipeline', 'oulad-search.json'),
    );
    const tuned = oulad.candidates.find((x) => x.tune)!;
    assert.equal(tuned.tune!.strategy, 'tpe');
    assert.ok(tuned.tune!.max_seconds! <= 300);
    // the default OULAD pipeline: its feature step, and a search whose best five trials are averaged
    const main = loadPipelineConfig(join(import.meta.dirname ?? '.', '..', '..', 'pipeline', 'oulad.json'));
    assert.match(main.feature_steps[0]!.module, /pipeline[/\\]features[/\\]oulad-context\.ts$/);
    const mainTuned = main.candidates.find((x) => x.tune)!;
    assert.equal(mainTuned.tune!.ensemble_top, 5);
    assert.ok(mainTuned.tune!.max_seconds! <= 240, 'a budget that leaves the run within 5 minutes');
  });
  test('grid and search together, a bad range or an unknown field are refused naming the field', () => {
    const tune =
      (t: unknown, extra: Record<string, unknown> = {}) =>
      () =>
        parsePipelineConfig({ ...base, candidates: [{ kind: 'gbdt', tune: t, ...extra }] });
    assert.throws(
      tune({ space: { eta: { float: [0.1, 0.3] } } }, { search: { max_depth: [3, 4] } }),
      (e: unknown) => e instanceof InputError && /give "search" \(a grid\) or "tune"/.test(e.message),
    );
    assert.throws(
      tune({ space: { eta: { float: [0, 0.3], log: true } } }),
      /candidates\[0\]\.tune\.space\.eta: a log scale needs low > 0/,
    );
    assert.throws(tune({ space: { eta: { float: [0.1, 0.3] } }, budget: 3 }), /candidates\[0\]\.tune/);
  });
});

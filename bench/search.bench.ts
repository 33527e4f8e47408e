/**
 * `npm run bench:search`: Tassel's hyperparameter search (TPE with successive halving on two worker threads,
 * and random search with halving) against Optuna's TPE over XGBoost and scikit-learn's HalvingRandomSearchCV
 * over XGBoost (through /usr/bin/python3), on OULAD's exact matrices (prepared as bench:gbdt does), each with
 * the same time budget. Reports trials run, the best validation ROC AUC, and that model's test ROC AUC (the
 * test rows are scored once, after each search).
 *
 * Env: SEARCH_BENCH_SECONDS (120 per system), SEARCH_BENCH_SEED (42), SEARCH_BENCH_WORKERS (2),
 * SEARCH_BENCH_SYSTEMS (tassel-tpe,tassel-random,optuna,halving), SEARCH_BENCH_KEEP (matrix folder to reuse).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findModelFactory } from '../src/ml/model-kinds.js';
import { createMatrix, type Matrix } from '../src/ml/matrix.js';
import { evaluateBinary } from '../src/ml/metrics.js';
import { parseSearchSpace, type DimensionConfig } from '../src/ml/search/space.js';
import { halvingRungs, runSearch, type SearchPlan } from '../src/pipeline/search/run-search.js';
import { createTrialPool } from '../src/pipeline/search/trial-pool.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PY = '/usr/bin/python3';
const SECONDS = Number(process.env.SEARCH_BENCH_SECONDS ?? 120);
const SEED = Number(process.env.SEARCH_BENCH_SEED ?? 42);
const WORKERS = Number(process.env.SEARCH_BENCH_WORKERS ?? 2);
const SYSTEMS = (process.env.SEARCH_BENCH_SYSTEMS ?? 'tassel-tpe,tassel-random,optuna,halving').split(',');
/** The search space of pipeline/oulad.json's tuned GBDT. */
const SPACE: Record<string, DimensionConfig> = {
  max_depth: { int: [2, 8] },
  eta: { float: [0.02, 0.2], log: true },
  min_child_weight: { float: [0.5, 60], log: true },
  subsample: { float: [0.5, 1] },
  colsample_bytree: { float: [0.3, 1] },
  lambda: { float: [0.1, 50], log: true },
};
const BASE = { n_estimators: 600, max_bin: 256, early_stopping_rounds: 40 };

interface Row {
  system: string;
  trials: number;
  best_valid_auc: number;
  test_auc: number;
  seconds: number;
}

function matrices(dir: string) {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as {
    cols: number;
    feature_names: string[];
  };
  const load = (part: string): { X: Matrix; y: Uint8Array } => {
    const bytes = readFileSync(join(dir, `${part}.f64`));
    const data = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return {
      X: createMatrix(data.length / meta.cols, meta.cols, data),
      y: new Uint8Array(readFileSync(join(dir, `${part}.y`))),
    };
  };
  return { fit: load('fit'), valid: load('valid'), test: load('test'), names: meta.feature_names };
}

async function tassel(dir: string, strategy: 'tpe' | 'random'): Promise<Row> {
  const { fit, valid, test, names } = matrices(dir);
  const plan: SearchPlan = {
    strategy,
    space: parseSearchSpace(SPACE, 'space'),
    base: BASE,
    trials: 10_000,
    maxSeconds: SECONDS,
    batch: 4,
    seed: SEED,
    pruning: { rungs: halvingRungs(30, 3, BASE.n_estimators), keep: 1 / 3, minTrials: 4 },
  };
  const pool = await createTrialPool(
    {
      kind: 'gbdt',
      matrices: { train: fit.X, valid: valid.X, featureNames: names },
      labels: { train: fit.y, valid: valid.y },
      seed: SEED,
    },
    WORKERS,
  );
  const t0 = performance.now();
  try {
    const trials = await runSearch(
      plan,
      pool,
      (o) => o.fit!.valid.roc_auc,
      async () => {},
      (n) => `t${n}`,
    );
    const seconds = (performance.now() - t0) / 1000;
    const complete = trials.filter((t) => t.outcome.fit);
    if (complete.length === 0)
      throw new Error(`no trial completed: ${trials[0]?.outcome.error ?? 'all pruned'}`);
    const best = complete.reduce((a, b) =>
      b.outcome.fit!.valid.roc_auc > a.outcome.fit!.valid.roc_auc ? b : a,
    );
    const model = findModelFactory('gbdt').fromJSON(best.outcome.fit!.model);
    const testAuc = evaluateBinary(test.y, model.predictProba(test.X), 0.5).roc_auc;
    return {
      system: `tassel ${strategy} + halving, ${WORKERS} workers`,
      trials: trials.length,
      best_valid_auc: best.outcome.fit!.valid.roc_auc,
      test_auc: testAuc,
      seconds,
    };
  } finally {
    await pool.close();
  }
}

function python(dir: string, mode: 'optuna' | 'halving'): Row | string {
  const r = spawnSync(
    PY,
    [
      join(HERE, 'search-python.py'),
      dir,
      mode,
      String(SECONDS),
      String(SEED),
      JSON.stringify(SPACE),
      JSON.stringify(BASE),
    ],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  if (r.status !== 0) return `failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`;
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Omit<Row, 'system'>;
  const system =
    mode === 'optuna'
      ? 'optuna TPE (xgboost, 2 parallel trials)'
      : 'sklearn HalvingRandomSearchCV (xgboost, cv 3, n_jobs 2)';
  return { system, ...out };
}

async function main(): Promise<void> {
  const keep = process.env.SEARCH_BENCH_KEEP;
  const base = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'tassel-bench-search-'));
  const dir = join(base, 'oulad');
  if (!existsSync(join(dir, 'meta.json'))) {
    // bench:gbdt's preparation writes the matrices (no fits: no sides)
    spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'gbdt.bench.ts')], {
      env: { ...process.env, GBDT_BENCH_KEEP: base, GBDT_BENCH_DATASETS: 'oulad', GBDT_BENCH_SIDES: 'none' },
      stdio: 'ignore',
    });
  }
  if (!existsSync(join(dir, 'meta.json'))) {
    console.log('OULAD matrices could not be prepared (../shared/anchors/data/oulad missing?)');
    return;
  }
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(
    `# bench:search: OULAD day 60, ${SECONDS} s per system, seed ${SEED}; load average at start ${load}`,
  );
  console.log('| system | trials | best validation ROC AUC | its test ROC AUC | seconds |');
  console.log('|---|---:|---:|---:|---:|');
  const rows: Row[] = [];
  for (const s of SYSTEMS) {
    const r =
      s === 'tassel-tpe'
        ? await tassel(dir, 'tpe')
        : s === 'tassel-random'
          ? await tassel(dir, 'random')
          : python(dir, s === 'optuna' ? 'optuna' : 'halving');
    if (typeof r === 'string') {
      console.log(`| ${s} | ${r} | | | |`);
      continue;
    }
    rows.push(r);
    console.log(
      `| ${r.system} | ${r.trials} | ${r.best_valid_auc.toFixed(4)} | ${r.test_auc.toFixed(4)} | ${r.seconds.toFixed(1)} |`,
    );
  }
  const ours = rows.find((r) => r.system.startsWith('tassel tpe'));
  for (const r of rows.filter((x) => !x.system.startsWith('tassel')))
    if (ours)
      console.log(
        `tassel tpe vs ${r.system}: test ROC AUC ${(ours.test_auc - r.test_auc >= 0 ? '+' : '') + (ours.test_auc - r.test_auc).toFixed(4)}`,
      );
  console.log(
    `load average at end ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
  );
  if (!keep) rmSync(base, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

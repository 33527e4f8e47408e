/**
 * `npm run bench:gbdt`: Tassel's GBDT against XGBoost (tree_method="hist") on identical rows.
 *
 * Datasets: OULAD (../shared/anchors/data/oulad: features_train.csv with is_val=1 as the early-stopping
 * set, features_test.csv scored) and 100,000 generated course-completion rows (+ 10,000 validation and
 * 25,000 test rows from other seeds). Features through Tassel's own 'tree' transform (numeric as is, NaN
 * missing, one-hot categoricals); the exact float64 matrices go to a temp folder so both sides see the same
 * numbers. Each side fits REPS times (median reported) in its own process, so peak RSS is its own.
 *
 * Env: TASSEL_SHARED_DIR (../shared: where anchors/data/oulad is), GBDT_BENCH_REPS (3), GBDT_BENCH_NTHREAD (2), GBDT_BENCH_DATASETS (oulad,synthetic), GBDT_BENCH_ROWS (100000),
 * GBDT_BENCH_SIDES (tassel,xgboost), GBDT_BENCH_TASSEL_PARAMS (JSON merged into Tassel's params),
 * GBDT_BENCH_KEEP (folder to keep the matrices in; reused when it already holds them).
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const OULAD_DIR = resolve(process.env.TASSEL_SHARED_DIR ?? resolve(ROOT, '../shared'), 'anchors/data/oulad');
const PY = '/usr/bin/python3';
const REPS = Number(process.env.GBDT_BENCH_REPS ?? 3);
const NTHREAD = Number(process.env.GBDT_BENCH_NTHREAD ?? 2);
const SYN_ROWS = Number(process.env.GBDT_BENCH_ROWS ?? 100_000);
const PARAMS = {
  n_estimators: 300,
  max_depth: 6,
  eta: 0.1,
  max_bin: 256,
  early_stopping_rounds: 30,
  seed: 42,
  // XGBoost 1.7.4 starts from 0.5 (2.x, and Tassel by default, from the class prior): pinned so both sides match.
  base_score: 0.5,
};
/** Extra Tassel-only params for experiments (JSON), e.g. {"base_score":0.5}. */
const TASSEL_EXTRA = JSON.parse(process.env.GBDT_BENCH_TASSEL_PARAMS ?? '{}') as Record<string, unknown>;
const KEEP = process.env.GBDT_BENCH_KEEP;

interface Side {
  fit_s: number[];
  cpu_s: number[];
  auc: number;
  logloss: number;
  best_iteration: number;
  n_trees: number;
  peak_rss_kb: number;
  rss_before_data_kb: number;
}

interface Meta {
  name: string;
  cols: number;
  rows: { fit: number; valid: number; test: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------- data preparation (parent process)

async function prepare(name: string, dir: string): Promise<Meta | null> {
  const { readCsvTable } = await import('../src/data/read-csv.js');
  const { takeRows } = await import('../src/data/table.js');
  const { splitByColumn } = await import('../src/data/split.js');
  const { defaultFeatureSpec, fitTransform, transformTable } = await import('../src/features/index.js');
  type Tbl = Awaited<ReturnType<typeof readCsvTable>>;
  let fit: Tbl['table'];
  let valid: Tbl['table'];
  let test: Tbl['table'];
  let yFit: Uint8Array;
  let yValid: Uint8Array;
  let yTest: Uint8Array;
  let schema: Tbl['schema'];
  if (name === 'oulad') {
    const { ouladSchema } = await import('../src/data/oulad.js');
    const base = ouladSchema();
    schema = { ...base, columns: [...base.columns, { name: 'is_val', type: 'id', role: 'id' }] };
    let train: Tbl;
    let tst: Tbl;
    try {
      train = await readCsvTable(join(OULAD_DIR, 'features_train.csv'), { schema });
      tst = await readCsvTable(join(OULAD_DIR, 'features_test.csv'), { schema: base });
    } catch (e) {
      console.log(`OULAD: skipped (${(e as Error).message.split('\n')[0]})`);
      return null;
    }
    const split = splitByColumn(train.table, 'is_val');
    fit = takeRows(train.table, split.train);
    valid = takeRows(train.table, split.test);
    yFit = Uint8Array.from(split.train, (i) => train.y![i]!);
    yValid = Uint8Array.from(split.test, (i) => train.y![i]!);
    test = tst.table;
    yTest = tst.y!;
  } else {
    const { generateCourseCompletion } = await import('../src/data/synthetic.js');
    const read = async (rows: number, seed: number) => {
      const path = join(dir, `syn-${seed}.csv`);
      writeFileSync(path, generateCourseCompletion({ rows, seed, missingRate: 0.05 }));
      const r = await readCsvTable(path, { schema: 'builtin:course-completion' });
      rmSync(path);
      return r;
    };
    const a = await read(SYN_ROWS, 1);
    const b = await read(Math.round(SYN_ROWS / 10), 2);
    const c = await read(Math.round(SYN_ROWS / 4), 3);
    schema = a.schema;
    fit = a.table;
    valid = b.table;
    test = c.table;
    yFit = a.y!;
    yValid = b.y!;
    yTest = c.y!;
  }
  const ft = fitTransform(defaultFeatureSpec(schema, { preset: 'tree' }), fit, schema);
  const write = (part: string, t: typeof fit, y: Uint8Array) => {
    const X = transformTable(ft, t);
    writeFileSync(
      join(dir, `${part}.f64`),
      new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength),
    );
    writeFileSync(join(dir, `${part}.y`), y);
    return X.rows;
  };
  const meta: Meta = {
    name,
    cols: ft.width,
    rows: {
      fit: write('fit', fit, yFit),
      valid: write('valid', valid, yValid),
      test: write('test', test, yTest),
    },
  };
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...meta, feature_names: ft.feature_names }));
  return meta;
}

// ---------------------------------------------------------------- Tassel side (child process)

function rssKb(): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : Math.round(process.memoryUsage().rss / 1024);
}

async function child(dir: string, reps: number, nthread: number): Promise<void> {
  const { GbdtClassifier } = await import('../src/ml/gbdt/index.js');
  const { aucScore, logLoss } = await import('../src/ml/gbdt/metrics.js');
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta & { feature_names: string[] };
  const rssBefore = rssKb();
  // Read straight into the matrix (no intermediate Buffer copy), so RSS growth is the model's.
  const load = (part: string) => {
    const y = new Uint8Array(readFileSync(join(dir, `${part}.y`)));
    const data = new Float64Array(y.length * meta.cols);
    const fd = openSync(join(dir, `${part}.f64`), 'r');
    const bytes = new Uint8Array(data.buffer);
    for (let at = 0; at < bytes.length; ) at += readSync(fd, bytes, at, bytes.length - at, at);
    closeSync(fd);
    return { X: { data, rows: y.length, cols: meta.cols }, y };
  };
  const fit = load('fit');
  const valid = load('valid');
  const test = load('test');
  const times: number[] = [];
  const cpu: number[] = [];
  let model = new GbdtClassifier({ ...PARAMS, ...TASSEL_EXTRA, nthread });
  for (let r = 0; r < reps; r++) {
    model = new GbdtClassifier({ ...PARAMS, ...TASSEL_EXTRA, nthread });
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await model.fit(fit.X, fit.y, { validation: valid, featureNames: meta.feature_names });
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  const p = model.predictProba(test.X);
  const s = model.summary();
  const out: Side = {
    fit_s: times,
    cpu_s: cpu,
    auc: aucScore(test.y, p),
    logloss: logLoss(test.y, p),
    best_iteration: s.best_iteration as number,
    n_trees: s.n_trees as number,
    peak_rss_kb: process.resourceUsage().maxRSS,
    rss_before_data_kb: rssBefore,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------- orchestration

function runSide(cmd: string, args: string[]): Side | string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24 });
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Side;
  } catch {
    return `failed (${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`;
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;

type Run = { label: string; system: 'tassel' | 'xgboost'; nthread: number; result: Side | string | null };

function report(meta: Meta, runs: Run[], memory: Side | string | null): Record<string, unknown> {
  const rawBytes = (meta.rows.fit + meta.rows.valid + meta.rows.test) * meta.cols * 8;
  const rawFitBytes = meta.rows.fit * meta.cols * 8;
  console.log(
    `\n## ${meta.name}: ${meta.rows.fit} fit / ${meta.rows.valid} early-stopping / ${meta.rows.test} test rows, ${meta.cols} features`,
  );
  console.log(
    `raw float64 matrices: fit ${(rawFitBytes / 2 ** 20).toFixed(1)} MB, all three ${(rawBytes / 2 ** 20).toFixed(1)} MB`,
  );
  console.log(
    '| system | test ROC AUC | log loss | trees (best it.) | fit s median | fit s all | CPU s median | peak RSS | RSS growth (data + fits) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const { label, result: s } of runs) {
    if (s === null) {
      console.log(`| ${label} | XGBoost not available (${PY} -c "import xgboost" failed) | | | | | | | |`);
      continue;
    }
    if (typeof s === 'string') {
      console.log(`| ${label} | ${s} | | | | | | | |`);
      continue;
    }
    console.log(
      `| ${label} | ${s.auc.toFixed(4)} | ${s.logloss.toFixed(4)} | ${s.n_trees} (${s.best_iteration}) | ${median(s.fit_s).toFixed(3)} | ${s.fit_s.map((t) => t.toFixed(2)).join(', ')} | ${median(s.cpu_s).toFixed(3)} | ${mb(s.peak_rss_kb)} | ${mb(s.peak_rss_kb - s.rss_before_data_kb)} |`,
    );
  }
  const out: Record<string, unknown> = { dataset: meta.name, rows: meta.rows, cols: meta.cols, runs };
  if (memory && typeof memory !== 'string') {
    const growth = (memory.peak_rss_kb - memory.rss_before_data_kb) * 1024;
    console.log(
      `tassel memory (one fit, nthread ${NTHREAD}, own process): RSS growth ${mb(growth / 1024)} = ${(growth / rawBytes).toFixed(2)}x the raw matrices it loaded (target <= 3x); peak RSS incl. the Node runtime ${mb(memory.peak_rss_kb)}`,
    );
    out.memory = { peak_rss_kb: memory.peak_rss_kb, growth_bytes: growth, ratio_to_raw: growth / rawBytes };
  }
  const ok = (r: Run | undefined): Side | null =>
    r?.result && typeof r.result !== 'string' ? r.result : null;
  const ratios: Record<string, unknown> = {};
  for (const nt of [...new Set(runs.map((r) => r.nthread))]) {
    const t = ok(runs.find((r) => r.system === 'tassel' && r.nthread === nt));
    const x = ok(runs.find((r) => r.system === 'xgboost' && r.nthread === nt));
    if (!t || !x) continue;
    const ratio = median(t.fit_s) / median(x.fit_s);
    const cpuRatio = median(t.cpu_s) / median(x.cpu_s);
    const dAuc = t.auc - x.auc;
    console.log(
      `nthread ${nt}: tassel/xgboost fit time ${ratio.toFixed(2)}x (target <= 1.5x), CPU time ${cpuRatio.toFixed(2)}x; ` +
        `AUC difference ${dAuc >= 0 ? '+' : ''}${dAuc.toFixed(4)} (target >= -0.002)`,
    );
    ratios[`nthread_${nt}`] = { fit_ratio: ratio, cpu_ratio: cpuRatio, auc_diff: dAuc };
  }
  const bestOf = (system: string) =>
    runs
      .filter((r) => r.system === system)
      .map(ok)
      .filter((r): r is Side => r !== null)
      .map((r) => median(r.fit_s))
      .sort((a, b) => a - b)[0];
  const bt = bestOf('tassel');
  const bx = bestOf('xgboost');
  if (bt !== undefined && bx !== undefined) {
    console.log(`best configuration of each: tassel/xgboost fit time ${(bt / bx).toFixed(2)}x`);
    ratios.best = bt / bx;
  }
  out.ratios = ratios;
  return out;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
    return;
  }
  const datasets = (process.env.GBDT_BENCH_DATASETS ?? 'oulad,synthetic').split(',');
  const hasXgb = spawnSync(PY, ['-c', 'import xgboost, sklearn'], { encoding: 'utf8' }).status === 0;
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const threads = [...new Set([NTHREAD, 1])];
  console.log(
    `# bench:gbdt — Tassel GBDT vs XGBoost (hist), median of ${REPS} fits, nthread ${threads.join(' and ')}`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average at start ${load}`,
  );
  console.log(`params: ${JSON.stringify(PARAMS)}`);
  if (!hasXgb) console.log('XGBoost not available: Tassel figures only');
  const results: unknown[] = [];
  const base = KEEP ? resolve(KEEP) : mkdtempSync(join(tmpdir(), 'tassel-bench-gbdt-'));
  const sides = (process.env.GBDT_BENCH_SIDES ?? 'tassel,xgboost').split(',');
  const tasselChild = (dir: string, reps: number, nt: number) =>
    runSide(process.execPath, [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      dir,
      String(reps),
      String(nt),
    ]);
  try {
    for (const name of datasets) {
      const dir = join(base, name);
      mkdirSync(dir, { recursive: true });
      const metaFile = join(dir, 'meta.json');
      const meta =
        KEEP && existsSync(metaFile)
          ? (JSON.parse(readFileSync(metaFile, 'utf8')) as Meta)
          : await prepare(name, dir);
      if (!meta) continue;
      const runs: Run[] = [];
      for (const nt of threads) {
        if (sides.includes('tassel')) {
          runs.push({
            label: `tassel, nthread ${nt}`,
            system: 'tassel',
            nthread: nt,
            result: tasselChild(dir, REPS, nt),
          });
        }
        if (sides.includes('xgboost')) {
          const result = hasXgb
            ? runSide(PY, [
                join(HERE, 'gbdt-xgboost.py'),
                dir,
                String(REPS),
                String(nt),
                JSON.stringify(PARAMS),
              ])
            : null;
          runs.push({ label: `xgboost, nthread ${nt}`, system: 'xgboost', nthread: nt, result });
        }
      }
      // Peak memory of a single fit in a fresh process (several fits in one process also measure garbage).
      const memory = sides.includes('tassel') ? tasselChild(dir, 1, NTHREAD) : null;
      results.push(report(meta, runs, memory));
    }
  } finally {
    if (!KEEP) rmSync(base, { recursive: true, force: true });
  }
  const outFile = join(tmpdir(), 'tassel-bench-gbdt.json');
  writeFileSync(
    outFile,
    JSON.stringify({ params: PARAMS, reps: REPS, nthread: NTHREAD, load, results }, null, 1),
  );
  console.log(`\nfigures also in ${outFile}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

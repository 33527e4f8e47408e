/**
 * `npm run bench:gbdt`: Tassel's GBDT against XGBoost (tree_method="hist") on identical rows.
 *
 * Datasets: OULAD (../shared/anchors/data/oulad: features_train.csv with is_val=1 as the early-stopping
 * set, features_test.csv scored), 100,000 generated course-completion rows (+ 10,000 validation and
 * 25,000 test rows from other seeds) and, with `--large` (`npm run bench:gbdt -- --large`), 1,000,000
 * generated rows (+ 100,000 / 250,000). Features through Tassel's own 'tree' transform (numeric as is, NaN
 * missing, one-hot categoricals); the exact float64 matrices go to a temp folder so both sides see the same
 * numbers (the large table's stay in GBDT_BENCH_LARGE_DIR and are reused: generating them takes minutes).
 * Each side fits REPS times (median reported) in its own process, so peak RSS is its own; with ROUNDS > 1
 * the Tassel and XGBoost processes alternate round after round and the ratio is the median of the rounds'
 * ratios (paired, so a load change on a shared machine hits both sides of a round alike). Memory: one fit
 * per nthread in a fresh process, for each side alike, the median of GBDT_BENCH_MEM_REPS such processes (one
 * process's figure spread 1.8-2.3x on OULAD at load 4: where glibc's arenas and V8's compiler zones happen to
 * stand at the baseline moves it by MBs). The Tassel process settles 1 s before its baseline at every nthread;
 * when the fit runs worker threads (tables from MIN_THREADED_CELLS at nthread > 1) the worker pool is started
 * first, as a long-lived process holds it: the pool's own RSS is printed apart, and the total with it. Memory is
 * also measured, both sides alike, in processes that fitted 500 rows before their baseline ("after a first
 * fit"): the runtime's one-time costs of a first fit are then not counted.
 *
 * Env: TASSEL_SHARED_DIR (../shared: where anchors/data/oulad is), GBDT_BENCH_REPS (3), GBDT_BENCH_ROUNDS (1),
 * GBDT_BENCH_NTHREAD (2), GBDT_BENCH_THREADS (the nthreads to run, default "<GBDT_BENCH_NTHREAD>,1"; "2" alone
 * halves a large-table run), GBDT_BENCH_DATASETS (oulad,synthetic; `--large` appends large), GBDT_BENCH_ROWS
 * (100000), GBDT_BENCH_LARGE_ROWS (1000000), GBDT_BENCH_LARGE_REPS (1), GBDT_BENCH_MEM_REPS (3; 1 for the large
 * table), GBDT_BENCH_MEM_WARM (1; 0: no "after a first fit" processes), GBDT_BENCH_LARGE_DIR
 * (/tmp/tassel-bench-gbdt-large), GBDT_BENCH_SIDES (tassel,xgboost), GBDT_BENCH_TASSEL_PARAMS (JSON merged
 * into Tassel's params), GBDT_BENCH_KEEP (folder to keep the matrices in; reused when it already holds them).
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
import { getHeapSpaceStatistics } from 'node:v8';
import { aucScore } from '../src/ml/gbdt/metrics.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const OULAD_DIR = resolve(process.env.TASSEL_SHARED_DIR ?? resolve(ROOT, '../shared'), 'anchors/data/oulad');
const PY = '/usr/bin/python3';
const REPS = Number(process.env.GBDT_BENCH_REPS ?? 3);
const NTHREAD = Number(process.env.GBDT_BENCH_NTHREAD ?? 2);
const ROUNDS = Number(process.env.GBDT_BENCH_ROUNDS ?? 1);
const SYN_ROWS = Number(process.env.GBDT_BENCH_ROWS ?? 100_000);
const LARGE = process.argv.includes('--large');
const LARGE_ROWS = Number(process.env.GBDT_BENCH_LARGE_ROWS ?? 1_000_000);
const LARGE_REPS = Number(process.env.GBDT_BENCH_LARGE_REPS ?? 1);
const MEM_REPS = Number(process.env.GBDT_BENCH_MEM_REPS ?? 3);
/** Whether memory is also measured after a first small fit in the process (GBDT_BENCH_MEM_WARM, default 1). */
const MEM_WARM = process.env.GBDT_BENCH_MEM_WARM !== '0';
const LARGE_DIR = resolve(process.env.GBDT_BENCH_LARGE_DIR ?? join(tmpdir(), 'tassel-bench-gbdt-large'));
/** Targets of issue 20: fit time at most XGBoost's, memory of one fit at most 2x the raw matrices. */
const TIME_TARGET = 1.0;
const MEMORY_TARGET = 2;
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
  /** Tassel at nthread > 1: RSS of the worker pool started before the data (not in the growth figure). */
  pool_rss_kb?: number;
  /** Tassel: V8's young generation at the baseline and after the fits (kB). */
  new_space_kb?: [number, number];
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
    const { writeCourseCompletionCsv } = await import('../src/data/synthetic.js');
    const rowsOf = name === 'large' ? LARGE_ROWS : SYN_ROWS;
    const read = async (rows: number, seed: number) => {
      const path = join(dir, `syn-${seed}.csv`);
      await writeCourseCompletionCsv(path, { rows, seed, missingRate: 0.05 });
      const r = await readCsvTable(path, { schema: 'builtin:course-completion' });
      rmSync(path);
      return r;
    };
    const a = await read(rowsOf, 1);
    const b = await read(Math.round(rowsOf / 10), 2);
    const c = await read(Math.round(rowsOf / 4), 3);
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

/**
 * A first fit of 500 rows x `cols` (20 trees) at `nthread`, before the baseline of a `warm` memory process: the
 * runtime's one-time costs (compiled code, heap and allocator sizing, thread pools) are then not in the figure.
 * XGBoost's side does the same (gbdt-xgboost.py, WARM).
 */
async function warmUpFit(cols: number, nthread: number): Promise<void> {
  const { GbdtClassifier } = await import('../src/ml/gbdt/index.js');
  const n = 500;
  const data = new Float64Array(n * cols);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 16807) % 2147483647;
    data[i] = (s % 1000) / 100;
  }
  const y = Uint8Array.from({ length: n }, (_, i) => (data[i * cols]! + data[i * cols + 1]! > 10 ? 1 : 0));
  const model = new GbdtClassifier({ ...PARAMS, n_estimators: 20, early_stopping_rounds: 5, nthread });
  const valid = { X: { data: data.subarray(0, 100 * cols), rows: 100, cols }, y: y.subarray(0, 100) };
  await model.fit({ data, rows: n, cols }, y, { validation: valid });
}

/** V8's young generation (both semi-spaces), in kB. */
function newSpaceKb(): number {
  const s = getHeapSpaceStatistics().find((x) => x.space_name === 'new_space');
  return Math.round((s?.space_size ?? 0) / 1024);
}

/**
 * The young generation's first scavenges after start-up, before the baseline: they promote the objects module
 * loading left in it, V8 then doubles it (4 to 8 MB), and the next allocations touch its new pages, whatever
 * allocates: arrays of short-lived objects do it just as a fit does (measured 6 Dec 2026: an OULAD fit grew
 * the RSS by 4.2-4.5 MB of V8 pages without this, 0.2-0.4 MB with it), so those MBs are the runtime's.
 */
function settleYoungGeneration(): void {
  const garbage = () => Array.from({ length: 1000 }, (_, k) => ({ k })).length;
  const start = newSpaceKb();
  let sink = 0;
  for (let i = 0; i < 2000 && newSpaceKb() <= start; i++) sink += garbage();
  // About three times the grown young generation more (each array and its objects are ~24 kB).
  for (let i = 0; i < 1000; i++) sink += garbage();
  if (sink < 0) console.log(sink);
}

async function child(dir: string, reps: number, nthread: number, warm: boolean): Promise<void> {
  const { GbdtClassifier } = await import('../src/ml/gbdt/index.js');
  const { logLoss } = await import('../src/ml/gbdt/metrics.js');
  const { prestartGbdtThreads, usesThreads } = await import('../src/ml/gbdt/threads.js');
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta & { feature_names: string[] };
  if (warm) await warmUpFit(meta.cols, nthread);
  // The worker pool is started (and given time to boot) before the measured fits, as a long-lived process
  // would hold it; its own RSS is reported apart (pool_rss_kb), never hidden. Only when the fit uses it: a
  // table under MIN_THREADED_CELLS fits in the calling thread at any nthread, and starts no worker.
  const poolBefore = rssKb();
  const pooled = usesThreads(nthread, meta.rows.fit, meta.cols);
  if (pooled) prestartGbdtThreads(nthread);
  settleYoungGeneration();
  // The same settling second before the baseline at every nthread (start-up compilation and the tsx loader
  // thread finish, a pool boots), so the baseline is taken alike whatever nthread says.
  await new Promise((r) => setTimeout(r, 1000));
  const rssBefore = rssKb();
  const newSpaceBefore = newSpaceKb();
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
    pool_rss_kb: pooled ? rssBefore - poolBefore : undefined,
    new_space_kb: [newSpaceBefore, newSpaceKb()],
  };
  // after the peak was read: the test probabilities, for the one-AUC-function check (sameTreesCheck)
  writeFileSync(join(dir, `proba-tassel-nt${nthread}.f64`), Float64Array.from(p));
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------- orchestration

function runSide(cmd: string, args: string[], env = process.env): Side | string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 24, env });
  const line = r.stdout?.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Side;
  } catch {
    return `failed (${r.status}): ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}`;
  }
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const fmt = (x: number) => x.toFixed(2);

/** One fit per fresh process, `samples` of them, of one system at one nthread (null = XGBoost not installed). */
type MemoryRun = {
  system: 'tassel' | 'xgboost';
  nthread: number;
  /** Whether the process fitted a 500-row table before its baseline (the runtime's one-time costs excluded). */
  warm: boolean;
  samples: (Side | string | null)[];
};

/** One system at one nthread: a result per paired round (null = XGBoost not installed). */
type Run = { label: string; system: 'tassel' | 'xgboost'; nthread: number; rounds: (Side | string | null)[] };

const okSides = (r: Run | undefined): Side[] =>
  (r?.rounds ?? []).filter((s): s is Side => s !== null && typeof s !== 'string');

function printRunTable(runs: Run[], rawBytes: number): void {
  console.log(
    '| system | test ROC AUC | log loss | trees (best it.) | fit s median | fit s all | CPU s median | peak RSS | RSS growth (data + fits) / raw |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const run of runs) {
    const sides = okSides(run);
    const failed = run.rounds.find((s) => s === null || typeof s === 'string');
    if (sides.length === 0) {
      const why = failed === null ? `XGBoost not available (${PY} -c "import xgboost" failed)` : failed;
      console.log(`| ${run.label} | ${why} | | | | | | | |`);
      continue;
    }
    const s = sides[0]!;
    const fits = sides.flatMap((x) => x.fit_s);
    const cpus = sides.flatMap((x) => x.cpu_s);
    const growth = s.peak_rss_kb - s.rss_before_data_kb;
    console.log(
      `| ${run.label} | ${s.auc.toFixed(5)} | ${s.logloss.toFixed(4)} | ${s.n_trees} (${s.best_iteration}) | ${median(fits).toFixed(3)} | ${fits.map((t) => t.toFixed(2)).join(', ')} | ${median(cpus).toFixed(3)} | ${mb(s.peak_rss_kb)} | ${mb(growth)} = ${fmt((growth * 1024) / rawBytes)}x |`,
    );
  }
}

/** Per nthread: the median over paired rounds of Tassel's fit (and CPU) time over XGBoost's. */
function printRatios(runs: Run[]): Record<string, unknown> {
  const ratios: Record<string, unknown> = {};
  for (const nt of [...new Set(runs.map((r) => r.nthread))]) {
    const t = runs.find((r) => r.system === 'tassel' && r.nthread === nt);
    const x = runs.find((r) => r.system === 'xgboost' && r.nthread === nt);
    const pairs = (t?.rounds ?? []).flatMap((ts, i) => {
      const xs = x?.rounds[i];
      return ts && typeof ts !== 'string' && xs && typeof xs !== 'string' ? [[ts, xs] as const] : [];
    });
    if (pairs.length === 0) continue;
    const fitRatios = pairs.map(([a, b]) => median(a.fit_s) / median(b.fit_s));
    const cpuRatios = pairs.map(([a, b]) => median(a.cpu_s) / median(b.cpu_s));
    const ratio = median(fitRatios);
    const cpuRatio = median(cpuRatios);
    const dAuc = pairs[0]![0].auc - pairs[0]![1].auc;
    const perRound = pairs.length > 1 ? ` (rounds: ${fitRatios.map(fmt).join(', ')})` : '';
    console.log(
      `nthread ${nt}: tassel/xgboost fit time ${fmt(ratio)}x${perRound} (target <= ${TIME_TARGET.toFixed(1)}x), ` +
        `CPU time ${fmt(cpuRatio)}x; AUC difference ${dAuc >= 0 ? '+' : ''}${dAuc.toFixed(5)} (target >= 0)`,
    );
    ratios[`nthread_${nt}`] = {
      fit_ratio: ratio,
      fit_ratios: fitRatios,
      cpu_ratio: cpuRatio,
      auc_diff: dAuc,
    };
  }
  return ratios;
}

function report(meta: Meta, dir: string, runs: Run[], memory: MemoryRun[]): Record<string, unknown> {
  const rawBytes = (meta.rows.fit + meta.rows.valid + meta.rows.test) * meta.cols * 8;
  const rawFitBytes = meta.rows.fit * meta.cols * 8;
  console.log(
    `\n## ${meta.name}: ${meta.rows.fit} fit / ${meta.rows.valid} early-stopping / ${meta.rows.test} test rows, ${meta.cols} features`,
  );
  console.log(
    `raw float64 matrices: fit ${(rawFitBytes / 2 ** 20).toFixed(1)} MB, all three ${(rawBytes / 2 ** 20).toFixed(1)} MB`,
  );
  printRunTable(runs, rawBytes);
  const out: Record<string, unknown> = { dataset: meta.name, rows: meta.rows, cols: meta.cols, runs };
  const mem: Record<string, unknown> = {};
  for (const { system, nthread: nt, warm, samples } of memory) {
    const which = warm ? 'after a first 500-row fit' : 'first fit';
    const key = `${system}_nthread_${nt}${warm ? '_warm' : ''}`;
    const ok = samples.filter((m): m is Side => m !== null && typeof m !== 'string');
    if (ok.length === 0) {
      const why = samples.find((m) => typeof m === 'string') ?? 'not available';
      console.log(`${system} memory (${which}), nthread ${nt}: ${why}`);
      continue;
    }
    const growthOf = (m: Side) => (m.peak_rss_kb - m.rss_before_data_kb) * 1024;
    const m = [...ok].sort((a, b) => growthOf(a) - growthOf(b))[Math.floor(ok.length / 2)]!;
    const growth = growthOf(m);
    const all =
      ok.length > 1 ? ` (median of ${ok.length}: ${ok.map((x) => fmt(growthOf(x) / rawBytes)).join(', ')})` : '';
    const pool = (m.pool_rss_kb ?? 0) * 1024;
    const withPool =
      pool > 0
        ? `; with the worker pool started before it (+${mb(pool / 1024)}) ${fmt((growth + pool) / rawBytes)}x`
        : '';
    const target = system === 'tassel' ? ` (target <= ${MEMORY_TARGET}x)` : '';
    console.log(
      `${system} memory (one fit, ${which}, nthread ${nt}, own process): RSS growth of data + fit ${mb(growth / 1024)} = ${fmt(growth / rawBytes)}x the raw matrices it loaded${all}${target}${withPool}; peak RSS incl. the runtime ${mb(m.peak_rss_kb)}`,
    );
    mem[key] = {
      peak_rss_kb: m.peak_rss_kb,
      growth_bytes: growth,
      ratio_to_raw: growth / rawBytes,
      ratios_to_raw: ok.map((x) => growthOf(x) / rawBytes),
      pool_bytes: pool,
      ratio_with_pool: (growth + pool) / rawBytes,
    };
  }
  out.memory = mem;
  const ratios = printRatios(runs);
  ratios.same_precision = sameTreesCheck(dir, [...new Set(runs.map((r) => r.nthread))]);
  const bestOf = (system: string) =>
    runs
      .filter((r) => r.system === system)
      .map((r) => okSides(r).flatMap((s) => s.fit_s))
      .filter((f) => f.length > 0)
      .map(median)
      .sort((a, b) => a - b)[0];
  const bt = bestOf('tassel');
  const bx = bestOf('xgboost');
  if (bt !== undefined && bx !== undefined) {
    console.log(`best configuration of each: tassel/xgboost fit time ${fmt(bt / bx)}x`);
    ratios.best = bt / bx;
  }
  out.ratios = ratios;
  return out;
}

/**
 * Tassel's and XGBoost's test probabilities scored by one AUC function, and the rows whose probabilities differ.
 * Tassel scores its models in XGBoost's float32 arithmetic (float32 margins, XGBoost's float32 sigmoid), so with
 * the same trees and the same float32 leaves the probabilities are the same bits; what differs is the trees'
 * leaves (or a model saved in float64, which the line then says).
 */
function sameTreesCheck(dir: string, nthreads: number[]): Record<string, unknown> {
  const y = new Uint8Array(readFileSync(join(dir, 'test.y')));
  const out: Record<string, unknown> = {};
  for (const nt of nthreads) {
    const tFile = join(dir, `proba-tassel-nt${nt}.f64`);
    const xFile = join(dir, `proba-xgboost-nt${nt}.f32`);
    if (!existsSync(tFile) || !existsSync(xFile)) continue;
    const tb = readFileSync(tFile);
    const xb = readFileSync(xFile);
    const t = new Float64Array(tb.buffer, tb.byteOffset, tb.length / 8);
    const x = new Float32Array(xb.buffer, xb.byteOffset, xb.length / 4);
    if (t.length !== y.length || x.length !== y.length) continue;
    let differ = 0;
    let maxDiff = 0;
    let float32 = true;
    for (let i = 0; i < y.length; i++) {
      if (!Object.is(t[i], x[i])) differ++;
      if (t[i] !== Math.fround(t[i]!)) float32 = false;
      maxDiff = Math.max(maxDiff, Math.abs(t[i]! - x[i]!));
    }
    const r = { tassel: aucScore(y, t), xgboost: aucScore(y, x), tassel_float32: float32, differ, maxDiff };
    console.log(
      `nthread ${nt}, one AUC function: tassel ${r.tassel.toFixed(9)}${float32 ? '' : ' (float64 probabilities)'}, ` +
        `xgboost ${r.xgboost.toFixed(9)}; rows whose probabilities differ: ${differ} of ${y.length}, ` +
        `largest difference ${maxDiff.toExponential(2)}`,
    );
    out[`nthread_${nt}`] = r;
  }
  return out;
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The dataset's matrices: reused from a kept folder (or the large table's), else prepared. */
async function datasetMeta(name: string, dir: string, reuse: boolean): Promise<Meta | null> {
  mkdirSync(dir, { recursive: true });
  const metaFile = join(dir, 'meta.json');
  if (reuse && existsSync(metaFile)) return JSON.parse(readFileSync(metaFile, 'utf8')) as Meta;
  const t0 = performance.now();
  const meta = await prepare(name, dir);
  if (meta)
    console.log(`(${name}: matrices written to ${dir} in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return meta;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), process.argv[6] === 'warm');
    return;
  }
  const datasets = (process.env.GBDT_BENCH_DATASETS ?? 'oulad,synthetic').split(',');
  if (LARGE && !datasets.includes('large')) datasets.push('large');
  const hasXgb = spawnSync(PY, ['-c', 'import xgboost, sklearn'], { encoding: 'utf8' }).status === 0;
  const load = loadAverage();
  const threads = process.env.GBDT_BENCH_THREADS
    ? process.env.GBDT_BENCH_THREADS.split(',').map(Number)
    : [...new Set([NTHREAD, 1])];
  console.log(
    `# bench:gbdt — Tassel GBDT vs XGBoost (hist), median of ${REPS} fits (large table: ${LARGE_REPS}), ${ROUNDS} paired round(s), nthread ${threads.join(' and ')}`,
  );
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; load average at start ${load}`,
  );
  console.log(`params: ${JSON.stringify(PARAMS)}`);
  if (!hasXgb) console.log('XGBoost not available: Tassel figures only');
  const results: unknown[] = [];
  const base = KEEP ? resolve(KEEP) : mkdtempSync(join(tmpdir(), 'tassel-bench-gbdt-'));
  const sides = (process.env.GBDT_BENCH_SIDES ?? 'tassel,xgboost').split(',');
  const tasselChild = (dir: string, reps: number, nt: number, warm = false) =>
    runSide(process.execPath, [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      dir,
      String(reps),
      String(nt),
      warm ? 'warm' : 'cold',
    ]);
  const xgboostChild = (dir: string, reps: number, nt: number, warm = false) =>
    hasXgb
      ? runSide(PY, [join(HERE, 'gbdt-xgboost.py'), dir, String(reps), String(nt), JSON.stringify(PARAMS)], {
          ...process.env,
          WARM: warm ? '1' : '',
        })
      : null;
  try {
    for (const name of datasets) {
      const large = name === 'large';
      const dir = large ? LARGE_DIR : join(base, name);
      const meta = await datasetMeta(name, dir, large || Boolean(KEEP));
      if (!meta) continue;
      const reps = large ? LARGE_REPS : REPS;
      const runs: Run[] = [];
      const runOf = (system: Run['system'], nt: number) => {
        let run = runs.find((r) => r.system === system && r.nthread === nt);
        if (!run) {
          run = { label: `${system}, nthread ${nt}`, system, nthread: nt, rounds: [] };
          runs.push(run);
        }
        return run;
      };
      for (let round = 0; round < ROUNDS; round++) {
        for (const nt of threads) {
          if (sides.includes('tassel')) runOf('tassel', nt).rounds.push(tasselChild(dir, reps, nt));
          if (sides.includes('xgboost')) runOf('xgboost', nt).rounds.push(xgboostChild(dir, reps, nt));
        }
        if (ROUNDS > 1)
          console.log(`(${name}: round ${round + 1} of ${ROUNDS} done, load average ${loadAverage()})`);
      }
      // Peak memory of a single fit in a fresh process (several fits in one process also measure garbage),
      // the sides alternating; a timing process that fitted once is one of the samples. Also (MEM_WARM, not on
      // the large table, where they are negligible) after a first small fit in the process, both sides alike:
      // on OULAD a first fit's one-time runtime costs (V8's young generation doubling, compiled code,
      // compiler and allocator arenas: 6-10 MB) are half the raw matrices.
      const memory: MemoryRun[] = [];
      const memReps = large ? 1 : MEM_REPS;
      for (const warm of MEM_WARM && !large ? [false, true] : [false]) {
        for (const system of ['tassel', 'xgboost'] as const) {
          if (!sides.includes(system)) continue;
          for (const nt of threads) {
            const timed = reps === 1 && !warm ? okSides(runOf(system, nt))[0] : undefined;
            memory.push({ system, nthread: nt, warm, samples: timed ? [timed] : [] });
          }
        }
      }
      for (let k = 0; k < memReps; k++) {
        for (const m of memory) {
          if (m.samples.length > k) continue;
          const one = m.system === 'tassel' ? tasselChild : xgboostChild;
          m.samples.push(one(dir, 1, m.nthread, m.warm));
        }
      }
      results.push(report(meta, dir, runs, memory));
      console.log(`load average after ${name}: ${loadAverage()}`);
    }
  } finally {
    if (!KEEP) rmSync(base, { recursive: true, force: true });
  }
  const outFile = join(tmpdir(), 'tassel-bench-gbdt.json');
  writeFileSync(
    outFile,
    JSON.stringify({ params: PARAMS, reps: REPS, rounds: ROUNDS, nthread: NTHREAD, load, results }, null, 1),
  );
  console.log(`\nfigures also in ${outFile}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});

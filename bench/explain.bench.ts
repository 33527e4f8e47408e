/**
 * `npm run bench:explain`: exact TreeSHAP on the OULAD GBDT (trained here as bench:serving does: 'tree'
 * transform, depth 6, eta 0.1, early stopping on is_val, about 73 trees), beside XGBoost's
 * `pred_contribs` on the same trees (the model exported to XGBoost's model.json), one thread each.
 *
 *  - batch: contributions of every OULAD test row (5,273) from the encoded matrix, median of REPS;
 *  - per record: encode one raw record, explain it, group to raw fields, build the response object and
 *    serialize it, over the test records; the explain-only part is what an explained /predict adds to a
 *    plain one (encoding and scoring are shared).
 * Also checks Tassel's contributions against XGBoost's on every test row (float64 vs float32: about 1e-6).
 *
 * Env: EXPLAIN_BENCH_REPS (5), EXPLAIN_BENCH_SINGLE (2000 records for XGBoost's one-row loop),
 * EXPLAIN_BENCH_HTTP_ROUNDS (7 paired plain / explained rounds over HTTP with the client in a child process), ANCHORS_DIR.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ouladSchema } from '../src/data/oulad.js';
import { readCsvTable } from '../src/data/read-csv.js';
import type { DatasetSchema } from '../src/data/schema.js';
import { isNumericData, type RawRecord, type Table, takeRows } from '../src/data/table.js';
import { defaultFeatureSpec } from '../src/features/spec.js';
import { createRecordEncoder, fitTransform, transformTable } from '../src/features/transform.js';
import { GbdtClassifier, TreeShapExplainer } from '../src/ml/gbdt/index.js';
import { createRecordExplainer } from '../src/ml/record-explainer.js';
import { createServingApp } from '../src/serving/app.js';
import { createServedModel } from '../src/serving/bundle-model.js';
import { createModelHolder } from '../src/serving/model-holder.js';

const ROOT = resolve(import.meta.dirname, '..');
// ../shared/anchors beside the checkout (or beside the main checkout, from a git worktree under wt/)
const ANCHORS = resolve(
  process.env.ANCHORS_DIR ??
    [join(ROOT, '..', 'shared', 'anchors'), join(ROOT, '..', '..', 'shared', 'anchors')].find((d) =>
      existsSync(d),
    ) ??
    join(ROOT, '..', 'shared', 'anchors'),
);
const OULAD = join(ANCHORS, 'data', 'oulad');
const PY = '/usr/bin/python3';
const REPS = Number(process.env.EXPLAIN_BENCH_REPS ?? 5);
const SINGLE = Number(process.env.EXPLAIN_BENCH_SINGLE ?? 2000);
const HTTP_ROUNDS = Number(process.env.EXPLAIN_BENCH_HTTP_ROUNDS ?? 7);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** CPU seconds of this process (user + system): on a shared machine wall time mostly measures the neighbours. */
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

function records(table: Table, columns: string[]): RawRecord[] {
  const out: RawRecord[] = [];
  for (let i = 0; i < table.nRows; i++) {
    const r: RawRecord = {};
    for (const name of columns) {
      const col = table.columns[name]!;
      r[name] = isNumericData(col) ? (Number.isNaN(col[i]!) ? null : col[i]!) : (col[i] ?? null);
    }
    out.push(r);
  }
  return out;
}

/**
 * A keep-alive client in a child process: posts `bodiesFile`'s JSON bodies to `url` one at a time (300 first to
 * warm up, then all) and prints "start"/"done" around the measured ones.
 */
const CHILD_CLIENT = `
import { Agent, request } from 'node:http';
import { readFileSync } from 'node:fs';
const [base, url, file] = process.argv.slice(1);
const bodies = JSON.parse(readFileSync(file, 'utf8'));
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const post = (body) => new Promise((done, fail) => {
  const req = request(base + url, { method: 'POST', agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
    (res) => { if (res.statusCode !== 200) fail(new Error('status ' + res.statusCode)); res.resume(); res.on('end', done); });
  req.on('error', fail);
  req.end(body);
});
for (let i = 0; i < 300; i++) await post(bodies[i]);
process.stdout.write('start\\n');
for (const b of bodies) await post(b);
process.stdout.write('done\\n');
agent.destroy();
`;

/**
 * CPU (user + system) this process spends per request while a client in a child process sends them: the
 * server's own cost, without the client's (parsing the longer explained response is then not counted).
 */
function childClientServerCpu(base: string, url: string, bodiesFile: string): Promise<number> {
  const n = (JSON.parse(readFileSync(bodiesFile, 'utf8')) as string[]).length;
  return new Promise((resolveCpu, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', CHILD_CLIENT, base, url, bodiesFile],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let c0 = Number.NaN;
    let perRequest = Number.NaN;
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (Number.isNaN(c0) && out.includes('start')) c0 = cpuSeconds();
      if (Number.isNaN(perRequest) && out.includes('done')) perRequest = ((cpuSeconds() - c0) * 1e6) / n;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 && !Number.isNaN(perRequest)
        ? resolveCpu(perRequest)
        : reject(new Error(`bench client exited with code ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(OULAD, 'features_train.csv'))) {
    console.log(`OULAD features not found in ${OULAD} (set ANCHORS_DIR): skipped`);
    return;
  }
  const schema = ouladSchema(false);
  const withVal: DatasetSchema = {
    ...schema,
    columns: [...schema.columns, { name: 'is_val', type: 'id', role: 'id', nullable: false }],
  };
  const train = await readCsvTable(join(OULAD, 'features_train.csv'), { schema: withVal });
  const test = await readCsvTable(join(OULAD, 'features_test.csv'), { schema });
  const isVal = train.table.columns.is_val as (string | null)[];
  const fitIdx: number[] = [];
  const valIdx: number[] = [];
  isVal.forEach((v, i) => {
    (v === '1' ? valIdx : fitIdx).push(i);
  });
  const fitTable = takeRows(train.table, fitIdx);
  const transform = fitTransform(defaultFeatureSpec(schema, { preset: 'tree' }), fitTable, schema);
  const model = new GbdtClassifier({
    n_estimators: 300,
    max_depth: 6,
    eta: 0.1,
    early_stopping_rounds: 30,
    eval_metric: 'logloss',
  });
  await model.fit(
    transformTable(transform, fitTable),
    Uint8Array.from(fitIdx, (i) => train.y![i]!),
    {
      validation: {
        X: transformTable(transform, takeRows(train.table, valIdx)),
        y: Uint8Array.from(valIdx, (i) => train.y![i]!),
      },
      featureNames: transform.feature_names,
    },
  );
  const X = transformTable(transform, test.table);
  const nTrees = model.ensemble.nTrees;
  const shap = new TreeShapExplainer(model.ensemble);
  console.log(
    `OULAD GBDT: ${nTrees} trees (${shap.blockTrees} through block tables, ${shap.tabulatedTrees - shap.blockTrees} through per-leaf tables), depth <= 6, ${X.cols} encoded columns, ${X.rows} test rows; load ${load()}`,
  );
  if (process.env.EXPLAIN_BENCH_SAVE) {
    writeFileSync(join(process.env.EXPLAIN_BENCH_SAVE, 'model.json'), JSON.stringify(model.toJSON()));
    writeFileSync(
      join(process.env.EXPLAIN_BENCH_SAVE, 'test.f64'),
      new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength),
    );
    writeFileSync(join(process.env.EXPLAIN_BENCH_SAVE, 'meta.json'), JSON.stringify({ cols: X.cols }));
  }

  // batch
  shap.contributionsMatrix(X);
  const batch: number[] = [];
  let contribs: Float64Array = new Float64Array(0);
  for (let r = 0; r < REPS; r++) {
    const t0 = cpuSeconds();
    contribs = shap.contributionsMatrix(X);
    batch.push(cpuSeconds() - t0);
  }
  const tasselBatch = median(batch);

  // per record
  const features = schema.columns.filter((c) => c.role === 'feature').map((c) => c.name);
  const recs = records(test.table, features);
  const encoder = createRecordEncoder(transform);
  const row = new Float64Array(transform.width);
  const explainer = createRecordExplainer({ model, transform });
  const fieldOut = new Float64Array(explainer.fields.length);
  const encoded = new Float64Array(transform.width);
  const time = (f: (r: RawRecord) => void): number => {
    for (const r of recs.slice(0, 500)) f(r);
    const per: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const t0 = cpuSeconds();
      for (const r of recs) f(r);
      per.push(((cpuSeconds() - t0) * 1e6) / recs.length);
    }
    return median(per);
  };
  let sink = 0;
  const predictUs = time((r) => {
    encoder.encode(r, row);
    sink += model.marginOne(row);
  });
  const shapUs = time((r) => {
    encoder.encode(r, row);
    shap.featureContributions(row, encoded);
    sink += encoded[0]!;
  });
  const fieldsUs = time((r) => {
    encoder.encode(r, row);
    sink += explainer.explainFields(row, fieldOut, r);
  });
  const fullUs = time((r) => {
    encoder.encode(r, row);
    sink += JSON.stringify(explainer.explain(row, r)).length;
  });
  // interaction values (?explain=interactions): a few hundred records are enough
  const fewer = recs.slice(0, 300);
  const c0 = cpuSeconds();
  for (const r of fewer) {
    encoder.encode(r, row);
    sink += explainer.fieldInteractions(row, r).values.length;
  }
  const interactionsUs = ((cpuSeconds() - c0) * 1e6) / fewer.length;

  // the server: CPU per POST /predict through the Fastify route, with and without ?explain=true
  const served = createServedModel({
    identity: { name: 'oulad', version: '1', runId: null, uri: 'bench' },
    schema,
    transform,
    model,
    threshold: 0.5,
    prior: 0.58,
  });
  const app = await createServingApp({ holder: createModelHolder(served), docs: false });
  const t0 = performance.now();
  await app.inject({ method: 'POST', url: '/predict?explain=true', payload: recs[0]! });
  const firstMs = performance.now() - t0;
  // the same model with the exact (float64) TreeSHAP tables, for the compact tables' share of the saving
  const exactApp = await createServingApp({
    holder: createModelHolder(
      createServedModel({
        identity: { name: 'oulad', version: '1', runId: null, uri: 'bench' },
        schema,
        transform,
        model,
        threshold: 0.5,
        prior: 0.58,
        compactExplanations: false,
      }),
    ),
    docs: false,
  });
  const n = Math.min(recs.length, 3000);
  const serverCpu = async (url: string, on = app): Promise<number> => {
    for (let i = 0; i < 300; i++) await on.inject({ method: 'POST', url, payload: recs[i]! });
    const per: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const c0 = cpuSeconds();
      for (let i = 0; i < n; i++) await on.inject({ method: 'POST', url, payload: recs[i]! });
      per.push(((cpuSeconds() - c0) * 1e6) / n);
    }
    return median(per);
  };
  // alternate the two so drifting machine load hits both alike
  const plainCpu: number[] = [];
  const explainCpu: number[] = [];
  const exactCpu: number[] = [];
  for (let round = 0; round < 3; round++) {
    plainCpu.push(await serverCpu('/predict'));
    explainCpu.push(await serverCpu('/predict?explain=true'));
    exactCpu.push(await serverCpu('/predict?explain=true', exactApp));
  }
  // over a socket, where both requests take the fast lane: this process's CPU is server + a keep-alive client
  // (the client's share is about the same for both, bar parsing the longer explained response)
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const bodies = recs.slice(0, n).map((r) => JSON.stringify(r));
  const post = (url: string, body: string) =>
    new Promise<void>((done, fail) => {
      const req = httpRequest(
        `${base}${url}`,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => done());
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  const socketCpu = async (url: string): Promise<number> => {
    for (let i = 0; i < 300; i++) await post(url, bodies[i]!);
    const c0 = cpuSeconds();
    for (let i = 0; i < n; i++) await post(url, bodies[i]!);
    return ((cpuSeconds() - c0) * 1e6) / n;
  };
  const plainHttp: number[] = [];
  const explainHttp: number[] = [];
  for (let round = 0; round < 3; round++) {
    plainHttp.push(await socketCpu('/predict'));
    explainHttp.push(await socketCpu('/predict?explain=true'));
  }
  // the same requests from a client in a child process: this process's CPU is then the server's alone
  const bodiesFile = join(tmpdir(), `tassel-explain-bodies-${process.pid}.json`);
  writeFileSync(bodiesFile, JSON.stringify(bodies));
  const serverOnlyCpu = (url: string) => childClientServerCpu(base, url, bodiesFile);
  const plainServer: number[] = [];
  const explainServer: number[] = [];
  try {
    for (let round = 0; round < HTTP_ROUNDS; round++) {
      plainServer.push(await serverOnlyCpu('/predict'));
      explainServer.push(await serverOnlyCpu('/predict?explain=true'));
    }
  } finally {
    rmSync(bodiesFile, { force: true });
  }
  // a load change between rounds moves both runs of a round, so the per-round differences are the steadier figure
  const pairedAdds = explainServer.map((e, i) => e - plainServer[i]!);
  agent.destroy();
  await app.close();
  await exactApp.close();

  // XGBoost on the same trees, same rows
  let xgb: {
    batch_s: number[];
    batch_cpu_s: number[];
    single_us_median: number;
    single_cpu_us: number;
    xgboost_version: string;
  } | null = null;
  let maxDiff = Number.NaN;
  const dir = mkdtempSync(join(tmpdir(), 'tassel-explain-bench-'));
  try {
    if (existsSync(PY)) {
      writeFileSync(join(dir, 'model.json'), JSON.stringify(model.toJSON()));
      writeFileSync(join(dir, 'meta.json'), JSON.stringify({ cols: X.cols }));
      writeFileSync(
        join(dir, 'test.f64'),
        new Uint8Array(X.data.buffer, X.data.byteOffset, X.data.byteLength),
      );
      const p = spawnSync(
        PY,
        [join(ROOT, 'bench', 'explain-xgboost.py'), dir, String(REPS), String(SINGLE)],
        {
          encoding: 'utf8',
          env: { ...process.env, OMP_NUM_THREADS: '1' },
        },
      );
      if (p.status === 0) {
        xgb = JSON.parse(p.stdout.trim().split('\n').at(-1)!);
        const buf = readFileSync(join(dir, 'xgb-contribs.f64'));
        const theirs = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
        maxDiff = 0;
        for (let k = 0; k < theirs.length; k++)
          maxDiff = Math.max(maxDiff, Math.abs(theirs[k]! - contribs[k]!));
      } else console.log(`XGBoost side failed: ${p.stderr.split('\n').slice(-3).join(' ')}`);
    } else console.log(`${PY} not found: XGBoost side skipped`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rowsPerS = (s: number) => Math.round(X.rows / s).toLocaleString('en');
  console.log('\nCPU time (user + system) of each side, one thread each:');
  console.log('\n| | Tassel | XGBoost pred_contribs (nthread 1) | ratio |');
  console.log('|---|---:|---:|---:|');
  const xb = xgb ? median(xgb.batch_cpu_s) : Number.NaN;
  console.log(
    `| batch, ${X.rows} test rows | ${(tasselBatch * 1000).toFixed(1)} ms (${rowsPerS(tasselBatch)} rows/s) | ${xgb ? `${(xb * 1000).toFixed(1)} ms (${rowsPerS(xb)} rows/s)` : 'n/a'} | ${xgb ? `Tassel ${(xb / tasselBatch).toFixed(2)}x XGBoost's throughput` : ''} |`,
  );
  console.log(
    `| one record (encode + explain) | ${shapUs.toFixed(1)} us | ${xgb ? `${xgb.single_cpu_us.toFixed(1)} us (one-row DMatrix + predict)` : 'n/a'} | |`,
  );
  console.log(
    `\nper record, Tassel: predict only ${predictUs.toFixed(1)} us; + TreeSHAP ${(shapUs - predictUs).toFixed(1)} us;`,
  );
  console.log(
    `  + grouped to ${explainer.fields.length} fields ${(fieldsUs - predictUs).toFixed(1)} us; + explanation object and JSON ${(fullUs - predictUs).toFixed(1)} us (the explain cost of one /predict)`,
  );
  console.log(
    `  interaction values between the ${explainer.fields.length} fields (?explain=interactions): ${(interactionsUs / 1000).toFixed(2)} ms per record`,
  );
  console.log(
    `server CPU per POST /predict (Fastify route, app.inject, ${n} OULAD records x 3 x 3 rounds): plain ${median(plainCpu).toFixed(1)} us, ?explain=true ${median(explainCpu).toFixed(1)} us: explaining adds ${(median(explainCpu) - median(plainCpu)).toFixed(1)} us (target <= 100 us); the first explained request built the explainer in ${firstMs.toFixed(1)} ms; with the exact float64 tables instead of the compact float32 ones ?explain=true ${median(exactCpu).toFixed(1)} us (adds ${(median(exactCpu) - median(plainCpu)).toFixed(1)} us)`,
  );
  console.log(
    `process CPU per POST /predict over HTTP (fast lane both, keep-alive client in the same process, ${n} records x 3 rounds): plain ${median(plainHttp).toFixed(1)} us, ?explain=true ${median(explainHttp).toFixed(1)} us: explaining adds ${(median(explainHttp) - median(plainHttp)).toFixed(1)} us`,
  );
  console.log(
    `server CPU per POST /predict over HTTP (fast lane both, keep-alive client in a child process, this process's CPU only, ${n} records x ${HTTP_ROUNDS} paired rounds): plain ${median(plainServer).toFixed(1)} us, ?explain=true ${median(explainServer).toFixed(1)} us: explaining adds ${(median(explainServer) - median(plainServer)).toFixed(1)} us (target <= 100 us); per round (explained - plain, the round's two runs back to back): ${pairedAdds.map((d) => d.toFixed(1)).join(', ')} us, median ${median(pairedAdds).toFixed(1)} us`,
  );
  console.log(`max |Tassel - XGBoost| over all contributions: ${maxDiff.toExponential(2)}; load ${load()}`);
  if (sink === 42) console.log('');
}

await main();

/**
 * `npm run bench:tracking`: the tracking server (`tassel server`, a child process, pino at warn) on SQLite
 * and on PostgreSQL (127.0.0.1:5432, database test, a schema of its own; skipped with the reason when
 * unreachable), each loaded with 10,000 runs x 10 metrics x 20 steps x 10 params, then autocannon (10 s
 * each) on runs/get at 10 and at 100 connections, log-batch (1,000 metrics per call) and runs/search (a
 * metric and a param filter, order_by a metric, pages of 100) at 10 connections and at 1. `/health` is
 * measured in the same run as the HTTP floor reference. Issue 20's targets: ten concurrent searches
 * p99 <= 100 ms, 100 concurrent runs/get p99 <= 20 ms, on both backends. MLflow 3.11's figures on this
 * kind of machine (issue 4): runs/get ~200 req/s p99 160-280 ms, log-batch ~7,000 metrics/s. Figures are
 * wall-clock on a shared 2-core machine: compare ratios within one run, and read the load average.
 * `cpu N + db M us/req` is the CPU time per request of the server process and (PostgreSQL) of its
 * database backends: far less sensitive to the machine's load than latency.
 *
 * Env: BENCH_RUNS (10000), BENCH_SECONDS (10), BENCH_CONNECTIONS (10); BENCH_BACKENDS (sqlite,postgresql);
 * BENCH_ONLY (comma-separated subset of health,get,get100,batch,search); BENCH_DB (SQLite: a database
 * path loaded once and kept, reused by later runs, so a change can be measured without reloading;
 * log-batch writes to it); BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/test); BENCH_PG_SCHEMA (the
 * same for PostgreSQL: a schema loaded once, kept and reused); BENCH_RUN_CACHE (the server's
 * `--run-cache-size`, its default when unset; 0 measures every read building its runs' JSON); BENCH_CPU_PROF (a
 * folder: the server runs with `node --cpu-prof` and writes its profile there on exit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pgSkipReason } from '../test/integration/registry/pg-helpers.js';
import { bulkLoadPostgres, bulkLoadSqlite, createBenchExperiment, type SeedRun } from './lib/bulk-runs.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const METRICS = 10;
const STEPS = 20;
const PARAMS = 10;

const ONLY = new Set((process.env.BENCH_ONLY ?? 'health,get,get100,batch,search').split(','));
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,postgresql').split(',');
const PG_URL = process.env.BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
const PG_SCHEMA = process.env.BENCH_PG_SCHEMA ?? `bench_tracking_${process.pid}`;
const CPU_PROF = process.env.BENCH_CPU_PROF;
const RUN_CACHE = process.env.BENCH_RUN_CACHE;

const dir = mkdtempSync(join(tmpdir(), 'tassel-bench-tracking-'));
const dbPath = process.env.BENCH_DB ? resolve(process.env.BENCH_DB) : join(dir, 'mlflow.db');

type Loaded = { experimentId: string; runIds: string[]; seconds: number };

/** Reuses a kept BENCH_DB database or BENCH_PG_SCHEMA schema: its experiment and run ids. */
async function reuse(backend: string): Promise<Loaded | undefined> {
  return backend === 'sqlite' ? reuseSqlite() : reusePostgres();
}

async function reusePostgres(): Promise<Loaded | undefined> {
  if (!process.env.BENCH_PG_SCHEMA) return undefined;
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const exists = await c.query(
      'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
      [PG_SCHEMA, 'runs'],
    );
    if (!exists.rowCount) return undefined;
    await c.query(`SET search_path TO ${PG_SCHEMA}`);
    const exp = await c.query("SELECT experiment_id FROM experiments WHERE name = 'bench'");
    if (!exp.rowCount) return undefined;
    const experimentId = String(exp.rows[0].experiment_id);
    const runs = await c.query('SELECT run_uuid FROM runs WHERE experiment_id = $1 ORDER BY start_time', [
      experimentId,
    ]);
    return { experimentId, runIds: runs.rows.map((r) => r.run_uuid as string), seconds: 0 };
  } finally {
    await c.end();
  }
}

function reuseSqlite(): Loaded | undefined {
  if (!process.env.BENCH_DB || !existsSync(dbPath)) return undefined;
  const db = new Database(dbPath, { readonly: true });
  try {
    const exp = db.prepare("SELECT experiment_id FROM experiments WHERE name = 'bench'").get() as
      | { experiment_id: number }
      | undefined;
    if (!exp) return undefined;
    const runIds = (
      db
        .prepare('SELECT run_uuid FROM runs WHERE experiment_id = ? ORDER BY start_time')
        .all(exp.experiment_id) as {
        run_uuid: string;
      }[]
    ).map((r) => r.run_uuid);
    return { experimentId: String(exp.experiment_id), runIds, seconds: 0 };
  } finally {
    db.close();
  }
}

/** One bench run's rows: 10 params (p0 is 'a' for a quarter of the runs), 10 metrics of 20 steps. */
function seeder(runIds: string[]): SeedRun {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const base = 1_700_000_000_000;
  return (w, r) => {
    const id = randomUUID().replace(/-/g, '');
    runIds.push(id);
    const start = base + r * 1000;
    w.run(id, `run-${r}`, start, start + 900);
    w.tag(id, 'mlflow.runName', `run-${r}`);
    for (let p = 0; p < PARAMS; p++)
      w.param(id, `p${p}`, p === 0 ? (r % 4 === 0 ? 'a' : 'b') : `v${(r + p) % 7}`);
    for (let m = 0; m < METRICS; m++) {
      let last = 0;
      for (let s = 0; s < STEPS; s++) {
        last = rand();
        w.metric(id, `m${m}`, last, start + s, s);
      }
      w.latest(id, `m${m}`, last, start + STEPS - 1, STEPS - 1);
    }
  };
}

/** Creates the schema and experiment through the store, then bulk-loads the runs (bench/lib/bulk-runs.ts). */
async function load(backend: string): Promise<{ experimentId: string; runIds: string[]; seconds: number }> {
  const runIds: string[] = [];
  const experimentId = await createBenchExperiment(backendUri(backend), 'bench');
  const seconds =
    backend === 'sqlite'
      ? bulkLoadSqlite(dbPath, experimentId, RUNS, seeder(runIds))
      : await bulkLoadPostgres(PG_URL, PG_SCHEMA, experimentId, RUNS, seeder(runIds));
  return { experimentId, runIds, seconds };
}

/** The server's PostgreSQL connections carry this name, so the bench can find their backends' CPU time. */
const PG_APP_NAME = `tassel-bench-${process.pid}`;

function backendUri(backend: string): string {
  return backend === 'sqlite'
    ? `sqlite:///${dbPath}`
    : `${PG_URL}?schema=${PG_SCHEMA}&application_name=${PG_APP_NAME}`;
}

async function dropPgSchema(): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
  } finally {
    await c.end();
  }
}

async function startServer(backend: string): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [
      ...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : []),
      '--import',
      'tsx',
      'src/cli/main.ts',
      'server',
      '--port',
      '0',
      '--backend-store-uri',
      backendUri(backend),
      '--artifacts-destination',
      `file://${join(dir, 'artifacts')}`,
      '--log-level',
      'warn',
      ...(RUN_CACHE === undefined ? [] : ['--run-cache-size', RUN_CACHE]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NODE_ENV: 'production' } },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, child };
}

interface CannonRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}
interface CannonOptions extends CannonRequest {
  url: string;
  connections?: number;
  duration?: number;
  requests?: Array<CannonRequest & { setupRequest?: (req: CannonRequest) => CannonRequest }>;
}
interface CannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
// autocannon ships no type declarations.
const autocannon = (await import('autocannon' as string)).default as (
  o: CannonOptions,
) => Promise<CannonResult>;

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU time (user + system) per request in microseconds: steadier than req/s on a shared machine. */
  cpuPerRequest: number;
  /** PostgreSQL: CPU time of the server's backends per request in microseconds (NaN on SQLite, in-process). */
  dbCpuPerRequest: number;
}

let serverPid: number | undefined;
const CLOCK_TICK_US = 10_000; // Linux USER_HZ is 100

/** A process's CPU time so far in microseconds (Linux /proc), or NaN elsewhere. */
function cpuMicros(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_US;
  } catch {
    return Number.NaN;
  }
}

/** While benching PostgreSQL: a connection that finds the server's backends (by application_name). */
let pgMonitor: pg.Client | undefined;

/** CPU time so far of each of the server's PostgreSQL backends (a local server, read through /proc). */
async function dbCpuMicros(): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (!pgMonitor) return out;
  const r = await pgMonitor.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [
    PG_APP_NAME,
  ]);
  for (const { pid } of r.rows as { pid: number }[]) out.set(pid, cpuMicros(pid));
  return out;
}

/** The backends' CPU time between two readings (backends opened meanwhile count from zero). */
function dbCpuBetween(before: Map<number, number>, after: Map<number, number>): number {
  if (!pgMonitor) return Number.NaN;
  let sum = 0;
  for (const [pid, t] of after) sum += t - (before.get(pid) ?? 0);
  return sum;
}

async function cannon(opts: CannonOptions): Promise<Figures> {
  const cpu0 = cpuMicros(serverPid);
  const db0 = await dbCpuMicros();
  const r = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...opts });
  const cpu = cpuMicros(serverPid) - cpu0;
  const db = dbCpuBetween(db0, await dbCpuMicros());
  const non2xx = r.non2xx + r.errors + r.timeouts;
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: non2xx,
    cpuPerRequest: cpu / Math.max(1, r.requests.total),
    dbCpuPerRequest: db / Math.max(1, r.requests.total),
  };
}

function line(label: string, f: Figures, extra = ''): void {
  const db = Number.isNaN(f.dbCpuPerRequest) ? '' : ` + db ${Math.round(f.dbCpuPerRequest)}`;
  const cpu = Number.isNaN(f.cpuPerRequest) ? '' : `  cpu ${Math.round(f.cpuPerRequest)}${db} us/req`;
  console.log(
    `${label.padEnd(44)} ${Math.round(f.rps).toLocaleString('en-US').padStart(8)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms  errors ${f.errors}${cpu}${extra ? `  ${extra}` : ''}`,
  );
}

/** runs/get of random runs at `connections`. */
function getRuns(url: string, ids: string[], connections: number): Promise<Figures> {
  let n = 0;
  return cannon({
    url,
    connections,
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: `/api/2.0/mlflow/runs/get?run_id=${ids[n++ % ids.length]}` }),
      },
    ],
  });
}

/** log-batch of 1,000 metrics per call into 64 of the runs. */
async function logBatches(url: string, ids: string[]): Promise<void> {
  const bodies = Array.from({ length: 64 }, (_, b) =>
    JSON.stringify({
      run_id: ids[(b * 131) % ids.length],
      metrics: Array.from({ length: 1000 }, (_, i) => ({
        key: `bench_m${i % 10}`,
        value: Math.sin(i + b),
        timestamp: 1_700_000_100_000 + i,
        step: 100 + Math.floor(i / 10),
      })),
    }),
  );
  let k = 0;
  const batch = await cannon({
    url,
    requests: [
      {
        method: 'POST',
        path: '/api/2.0/mlflow/runs/log-batch',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: bodies[k++ % bodies.length] }),
      },
    ],
  });
  const metricsPerSecond = batch.rps * 1000;
  line(
    'POST runs/log-batch (1,000 metrics/call)',
    batch,
    `${Math.round(metricsPerSecond).toLocaleString('en-US')} metrics/s (target >= 70,000; ${(metricsPerSecond / 7000).toFixed(1)}x MLflow's ~7,000)`,
  );
}

/** runs/search (metric + param filter, order_by a metric, pages of 100) at 10 connections and at 1. */
async function searches(url: string, experimentId: string): Promise<void> {
  const body = JSON.stringify({
    experiment_ids: [experimentId],
    filter: "metrics.m0 > 0.5 AND params.p0 = 'a'",
    order_by: ['metrics.m1 DESC'],
    max_results: 100,
  });
  const search = { url: `${url}/api/2.0/mlflow/runs/search`, method: 'POST', body };
  const headers = { 'content-type': 'application/json' };
  const ten = await cannon({ ...search, headers, connections: 10 });
  line('POST runs/search, 10 connections', ten, `target p99 <= 100 ms: ${met(ten.p99 <= 100)}`);
  line('POST runs/search, 1 connection', await cannon({ ...search, headers, connections: 1 }));
  const check = (await fetch(search.url, { method: 'POST', body }).then((r) => r.json())) as {
    runs: unknown[];
  };
  console.log(
    `search returns ${check.runs.length} runs per page (max_results 100) of ~${Math.round(RUNS / 8)} matching`,
  );
}

const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** Loads one backend, starts a server on it and runs the chosen scenarios. */
async function benchBackend(backend: string): Promise<void> {
  const kept = await reuse(backend);
  const loaded = kept ?? (await load(backend));
  if (kept) console.log(`reusing ${backend === 'sqlite' ? dbPath : PG_SCHEMA} (${kept.runIds.length} runs)`);
  else
    console.log(
      `bulk load: ${loaded.seconds.toFixed(1)} s (${Math.round((RUNS * METRICS * STEPS) / loaded.seconds).toLocaleString('en-US')} metric rows/s)`,
    );
  const { url, child } = await startServer(backend);
  serverPid = child.pid;
  if (backend === 'postgresql') {
    pgMonitor = new pg.Client({ connectionString: PG_URL });
    await pgMonitor.connect();
  }
  try {
    const ids = loaded.runIds;
    let health: Figures | undefined;
    let get: Figures | undefined;
    if (ONLY.has('health')) {
      health = await cannon({ url: `${url}/health` });
      line('GET /health (HTTP floor, reference)', health);
    }
    if (ONLY.has('get')) {
      get = await getRuns(url, ids, CONNECTIONS);
      line(
        `GET runs/get, ${CONNECTIONS} connections`,
        get,
        `${(get.rps / 200).toFixed(0)}x MLflow's ~200 req/s`,
      );
    }
    if (ONLY.has('get100')) {
      const get100 = await getRuns(url, ids, 100);
      line('GET runs/get, 100 connections', get100, `target p99 <= 20 ms: ${met(get100.p99 <= 20)}`);
    }
    if (ONLY.has('batch')) await logBatches(url, ids);
    if (ONLY.has('search')) await searches(url, loaded.experimentId);
    if (health && get)
      console.log(`runs/get vs /health floor: ${((get.rps / health.rps) * 100).toFixed(0)}%`);
  } finally {
    await pgMonitor?.end();
    pgMonitor = undefined;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function main(): Promise<void> {
  console.log(
    `tracking bench: ${RUNS} runs x ${METRICS} metrics x ${STEPS} steps x ${PARAMS} params; run cache ${RUN_CACHE ?? 'default (64MiB)'}; load avg ${loadavg()[0].toFixed(2)}`,
  );
  try {
    for (const backend of BACKENDS) {
      console.log(`\n== ${backend} (load avg ${loadavg()[0].toFixed(2)})`);
      const skip = backend === 'postgresql' ? await pgSkipReason(PG_URL) : undefined;
      if (skip) console.log(`skipped: ${skip}`);
      else await benchBackend(backend);
    }
    console.log(`load avg ${loadavg()[0].toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (BACKENDS.includes('postgresql') && !process.env.BENCH_PG_SCHEMA) await dropPgSchema().catch(() => {});
  }
}

await main();

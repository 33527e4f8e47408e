/**
 * `npx tsx bench/prediction-log.bench.ts DIR [--rounds N] [--block K] [--base CHECKOUT]`: what logging every
 * prediction costs the serving process, in process, on the bundle and bodies `bench/serving.bench.ts --train-only
 * DIR` writes (OULAD). Single /predict goes through Scoring.predictRawJson (the fast lane's scanner path), a
 * batch of 100 through scoreMany with the route's BatchLog, each with the prediction log off and at 100 % (local
 * segments in a temporary folder), in interleaved blocks of K requests with a turn of the event loop between
 * blocks (so the sink's writes run as they do in a server). Each request gets a fresh id from the checkout's
 * request-id.ts, as the server makes one for a request without x-request-id (a load generator's), so the cost of
 * writing a fresh id (not one already read before) is in the figures, and the time the wire lane reads for its
 * Date header is passed along, as the lane does.
 *
 * Prints, per request (medians of N rounds): the main thread's wall time of the scoring loop (logging on minus
 * off: what logging adds on the request path), the process's CPU (user + system, thread pool and GC threads
 * included, over the whole round with its writes), and the bytes written per row. Load averages with the figures:
 * on a shared machine only the on/off difference within one run means anything. With --base, the same on a
 * second checkout's scoring and sink (e.g. main before a change), interleaved in the same rounds.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as turn } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const dir = args[0] && !args[0].startsWith('--') ? args[0] : join(tmpdir(), 'tassel-serving-fixture');
const ROUNDS = Number(opt('rounds', '9'));
const BLOCK = Number(opt('block', '2000'));
const BATCH_BLOCK = Math.max(1, Math.round(BLOCK / 40));
const BLOCKS = Number(opt('blocks', '10'));
const BASE = opt('base', '');

const load = () =>
  `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Checkout {
  name: string;
  root: string;
}
const checkouts: Checkout[] = [{ name: 'this', root: resolve(import.meta.dirname, '..') }];
if (BASE) checkouts.push({ name: 'base', root: resolve(BASE) });

const silent = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  fatal() {},
  child: () => silent,
  level: 'silent',
  silent() {},
} as unknown as FastifyBaseLogger;

const singleBody = readFileSync(join(dir, 'single.json'));
const batchText = readFileSync(join(dir, 'batch.json'), 'utf8');
const batchRecords = (JSON.parse(batchText) as { records: Record<string, unknown>[] }).records;
// single bodies: each of the batch's records in turn (so probabilities vary), the bench's body first
const bodies = [singleBody, ...batchRecords.map((r) => Buffer.from(JSON.stringify(r)))];

/** One checkout's scoring with the log off and on, and the folder it logs to. */
async function setUp(c: Checkout) {
  const imp = (p: string) => import(join(c.root, p));
  const { loadServedBundle } = await imp('src/serving/bundle-model.ts');
  const { requestIdFrom } = await imp('src/serving/request-id.ts');
  const { createScoring } = await imp('src/serving/scoring.ts');
  const { createServingMetrics } = await imp('src/serving/metrics.ts');
  const { createPredictionSink } = await imp('src/serving/prediction-sink/sink.ts');
  const { createLocalPredictionStore } = await imp(
    'src/serving/prediction-sink/local/local-prediction-store.ts',
  );
  const model = await loadServedBundle(join(dir, 'bundle'), {
    identity: { name: 'oulad', version: '3', runId: null, source: 'bench' },
  });
  const logDir = await mkdtemp(join(tmpdir(), `tassel-log-bench-${c.name}-`));
  const sink = createPredictionSink({ store: createLocalPredictionStore({ dir: logDir }) });
  const batchCap = 10_000;
  const off = createScoring({ metrics: createServingMetrics(), log: silent, batchCap, sink: null });
  const on = createScoring({ metrics: createServingMetrics(), log: silent, batchCap, sink });
  const newId = (): string => requestIdFrom(undefined);
  return { model, off, on, sink, logDir, newId };
}
type Setup = Awaited<ReturnType<typeof setUp>>;
type Scoring = Setup['on'];

let k = 0;
/** Wall ms of `n` single /predict requests (the loop only). */
function singles(s: Scoring, model: Setup['model'], n: number, newId: () => string): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    k++;
    // the clock read the wire lane makes per request for its Date header, passed on as it does (a checkout
    // whose predictRawJson takes no time reads the clock again when it logs)
    if (s.predictRawJson(model, bodies[k % bodies.length]!, newId(), Date.now()) === null)
      throw new Error('declined');
  }
  return performance.now() - t0;
}
/** Wall ms of `n` batch requests. */
function batches(s: Scoring, model: Setup['model'], n: number, newId: () => string): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    k++;
    const log = { route: '/predict/batch', requestId: newId(), bodyText: batchText, bodyAscii: true };
    s.scoreMany(model, batchRecords, 'records', log);
  }
  return performance.now() - t0;
}

const bytesIn = (d: string): number => {
  let total = 0;
  const walk = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(p, e.name));
      else if (e.name.endsWith('.jsonl')) total += statSync(join(p, e.name)).size;
    }
  };
  walk(d);
  return total;
};

/** One round of one kind: `blocks` blocks, each off then on; per request us (main-thread wall, process CPU). */
async function round(setup: Setup, kind: 'single' | 'batch') {
  const run = kind === 'single' ? singles : batches;
  const n = kind === 'single' ? BLOCK : BATCH_BLOCK;
  const wall = { off: 0, on: 0 };
  const cpu = { off: 0, on: 0 };
  for (let b = 0; b < BLOCKS; b++) {
    for (const which of ['off', 'on'] as const) {
      const c0 = process.cpuUsage();
      wall[which] += run(setup[which], setup.model, n, setup.newId);
      // the writes of this block (a flush every 200 ms or when due) are charged to it: wait for them
      if (which === 'on') await setup.sink.flush();
      await turn();
      const c = process.cpuUsage(c0);
      cpu[which] += (c.user + c.system) / 1000;
    }
  }
  const reqs = BLOCKS * n;
  return {
    wallOff: (1000 * wall.off) / reqs,
    wallOn: (1000 * wall.on) / reqs,
    cpuOff: (1000 * cpu.off) / reqs,
    cpuOn: (1000 * cpu.on) / reqs,
  };
}

async function main() {
  const setups = new Map<string, Setup>();
  for (const c of checkouts) setups.set(c.name, await setUp(c));
  console.log(
    `single: ${singleBody.length} B body, ${BLOCK} requests a block; batch: ${batchRecords.length} rows, ` +
      `${BATCH_BLOCK} a block; ${BLOCKS} blocks a round, ${ROUNDS} rounds; ${load()}`,
  );
  // warm-up: optimize both paths
  for (const s of setups.values()) {
    await round(s, 'single');
    await round(s, 'batch');
  }
  for (const kind of ['single', 'batch'] as const) {
    const before = new Map<string, { bytes: number; rows: number }>();
    for (const [name, s] of setups) {
      await s.sink.flush();
      before.set(name, { bytes: bytesIn(s.logDir), rows: s.sink.stats.written });
    }
    const results = new Map<string, Awaited<ReturnType<typeof round>>[]>();
    for (let r = 0; r < ROUNDS; r++)
      for (const [name, s] of setups) {
        const list = results.get(name) ?? [];
        list.push(await round(s, kind));
        results.set(name, list);
      }
    for (const [name, list] of results) {
      const m = (f: (x: (typeof list)[0]) => number) => median(list.map(f));
      const per = kind === 'single' ? 'request' : `batch of ${batchRecords.length}`;
      console.log(
        `${name} ${kind}: us per ${per}: main thread off ${m((x) => x.wallOff).toFixed(2)}, on ${m((x) => x.wallOn).toFixed(2)}, ` +
          `logging adds ${m((x) => x.wallOn - x.wallOff).toFixed(2)}; process CPU off ${m((x) => x.cpuOff).toFixed(2)}, ` +
          `on ${m((x) => x.cpuOn).toFixed(2)}, logging adds ${m((x) => x.cpuOn - x.cpuOff).toFixed(2)}  (${load()})`,
      );
      const s = setups.get(name)!;
      await s.sink.flush();
      const b = before.get(name)!;
      const rows = s.sink.stats.written - b.rows;
      console.log(
        `${name} ${kind}: ${((bytesIn(s.logDir) - b.bytes) / Math.max(1, rows)).toFixed(1)} B per row logged`,
      );
    }
  }
  for (const [name, s] of setups) {
    await s.sink.flush();
    const { written, dropped } = s.sink.stats;
    console.log(`${name}: ${written} rows written, ${dropped} dropped`);
    await s.sink.close();
    await rm(s.logDir, { recursive: true, force: true });
  }
}

await main();

/**
 * `npx tsx bench/tree-walk.bench.ts DIR --base CHECKOUT [--repeat K] [--rounds N]`: one row's GBDT margin as
 * serving computes it (TreeEnsemble.marginOf on one preallocated row), this checkout's walk against another
 * checkout's (e.g. main before a change) on the same trees in one process, on the bundle and request bodies that
 * `bench/serving.bench.ts --train-only DIR` writes (OULAD, ~80 trees of depth 6). --repeat K scores the bundle's
 * trees K times over (a ~300-tree model with K = 4).
 *
 * --base-precision float64|float32 builds the other checkout's walk in that precision (default: the bundle's),
 * e.g. main's float64 walk against this checkout's float32 one on a bundle this checkout trained; the margins
 * are then not compared.
 *
 * Prints ns per row, the median of N interleaved rounds, with the same row every call (bench:serving sends one
 * body), the batch's 100 rows in turn, and 2 MB of other data read between two rows (caches as a served request
 * leaves them; the CPU profile of a server is the judge of that case). Load averages with the figures.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { RawRecord } from '../src/data/table.js';
import { createRecordEncoder } from '../src/features/transform.js';
import { loadBundle } from '../src/ml/bundle.js';
import { TreeEnsemble } from '../src/ml/gbdt/ensemble.js';
import { GbdtClassifier, gbdtFactory } from '../src/ml/gbdt/index.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const dir = args[0] && !args[0].startsWith('--') ? args[0] : join(process.env.TMPDIR ?? '/tmp', 'tassel-walk');
const BASE = opt('base', '');
const REPEAT = Number(opt('repeat', '1'));
const ROUNDS = Number(opt('rounds', '11'));
const BASE_PRECISION = opt('base-precision', '');
const load = () =>
  `load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;

const bundle = await loadBundle(join(dir, 'bundle'), { extraFactories: [gbdtFactory] });
if (!(bundle.model instanceof GbdtClassifier)) throw new Error(`${dir}/bundle is not a GBDT bundle`);
const source = bundle.model.ensemble;
const trees = Array.from({ length: REPEAT }, () => source.trees).flat();
const records = (JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { records: RawRecord[] }).records;
const encoder = createRecordEncoder(bundle.transform);
const rows = records.map((r) => {
  const v = new Float64Array(bundle.width);
  encoder.encode(r, v);
  return v;
});

type Walk = { marginOf(row: ArrayLike<number>): number };
const walks: Record<string, Walk> = {
  this: new TreeEnsemble(trees, source.baseMargin, source.nFeatures, source.precision),
};
if (BASE) {
  const mod = (await import(resolve(BASE, 'src/ml/gbdt/ensemble.ts'))) as { TreeEnsemble: typeof TreeEnsemble };
  const precision = (BASE_PRECISION || source.precision) as typeof source.precision;
  walks.base = new mod.TreeEnsemble(trees, source.baseMargin, source.nFeatures, precision);
  for (const r of precision === source.precision ? rows : []) {
    const nan = Float64Array.from(r, (x, j) => (j % 3 === 0 ? Number.NaN : x));
    for (const v of [r, nan])
      if (!Object.is(walks.base.marginOf(v), walks.this!.marginOf(v))) throw new Error('the walks differ');
  }
}
console.log(
  `${trees.length} trees, ${source.nFeatures} features, ${rows.length} rows; this: ${source.precision}, base: ${BASE_PRECISION || source.precision}; ${load()}`,
);

let sink = 0;
const buf = new Float64Array(bundle.width);
const pollution = new Float64Array((2 * 1024 * 1024) / 8);
function pollute() {
  let s = 0;
  for (let i = 0; i < pollution.length; i += 8) s += pollution[i]!;
  sink += s;
}
type Mode = 'same row' | '100 rows in turn' | '2 MB read between rows';
const modes: Mode[] = ['same row', '100 rows in turn', '2 MB read between rows'];
function time(e: Walk, mode: Mode, n: number): number {
  let s = 0;
  let total = 0;
  if (mode === '2 MB read between rows') {
    for (let i = 0; i < n; i++) {
      buf.set(rows[i % rows.length]!);
      pollute();
      const t = process.hrtime.bigint();
      s += e.marginOf(buf);
      total += Number(process.hrtime.bigint() - t);
    }
  } else {
    buf.set(rows[0]!);
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      if (mode === '100 rows in turn') buf.set(rows[i % rows.length]!);
      s += e.marginOf(buf);
    }
    total = Number(process.hrtime.bigint() - t);
  }
  sink += s;
  return total / n;
}
for (let k = 0; k < 2; k++) {
  for (const e of Object.values(walks)) for (let i = 0; i < 20000; i++) sink += e.marginOf(rows[i % rows.length]!);
  // let V8's background compiles finish
  await new Promise((r) => setTimeout(r, 500));
}
const results = new Map<string, number[]>();
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of modes) {
    for (const [name, e] of Object.entries(walks)) {
      const key = `${mode}|${name}`;
      results.set(key, [...(results.get(key) ?? []), time(e, mode, mode === '2 MB read between rows' ? 300 : 20000)]);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
console.log(`ns a row, median of ${ROUNDS} interleaved rounds (a row copy included):`);
for (const mode of modes) {
  const t = median(results.get(`${mode}|this`)!);
  const b = results.has(`${mode}|base`) ? median(results.get(`${mode}|base`)!) : Number.NaN;
  const vs = BASE ? `  base ${b.toFixed(0).padStart(6)}  base / this ${(b / t).toFixed(2)}` : '';
  console.log(`  ${mode.padEnd(24)} this ${t.toFixed(0).padStart(6)}${vs}`);
}
console.log(`${load()}${sink === 0 ? ' ' : ''}`);

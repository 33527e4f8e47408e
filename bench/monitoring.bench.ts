/**
 * `npm run bench:monitoring`: the monitor's statistics under simulation, and its speed.
 *
 *  1. Detection power and false-alarm rate per test and window size. Windows drawn from the reference
 *     distribution (null) and windows with a 0.2-std mean shift in one numeric feature / a re-weighted category
 *     (alternative). Per test: KS (numeric) and chi-squared (categorical) at alpha per feature, the window's
 *     decision after Holm's correction (what `tassel monitor` alarms on), and for comparison the distance-threshold
 *     rules other tools alarm on (PSI > 0.1, Wasserstein/std > 0.1, Jensen-Shannon > 0.1).
 *  2. CBPE: estimated vs realised ROC AUC (and accuracy) under covariate shift; target |error| < 0.02.
 *  3. Speed: 1,000,000 logged predictions x 40 columns (37 numeric, 3 categorical) checked against a reference,
 *     from columns; and end to end from the serving prediction log (local segments: the columnar read with the
 *     schema's coercion, the window, the check), next to the record-by-record read it replaced.
 *
 * Flags: --windows N (200 per cell) --rows N (1,000,000) --e2e-rows N (200,000) --no-records (skip the old read)
 *        --e2e-only (only the end-to-end read and check of part 3)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaToJSON } from '../src/data/schema.js';
import { rocAuc } from '../src/ml/metrics.js';
import { DEFAULT_THRESHOLDS, evaluateWindow } from '../src/monitoring/drift.js';
import { estimatePerformance } from '../src/monitoring/performance.js';
import { createReaderPredictionSource } from '../src/monitoring/records.js';
import { prepareReference } from '../src/monitoring/reference.js';
import { createSimulation } from '../src/monitoring/simulate.js';
import { buildWindow, readWindowColumns, windowFromColumns } from '../src/monitoring/window.js';
import type { PendingPrediction } from '../src/serving/prediction-sink/port.js';
import { openPredictionStore } from '../src/serving/prediction-sink/registry.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const WINDOWS = arg('windows', 200);
const ROWS = arg('rows', 1_000_000);
const E2E_ROWS = arg('e2e-rows', 200_000);
const E2E_ONLY = process.argv.includes('--e2e-only');
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

console.log(`bench:monitoring — load average ${load()}`);

// -- 1. power and false alarms
const sim = createSimulation(8);
const ref = prepareReference(sim.profile(50_000, 7));
let seed = 1000;
if (!E2E_ONLY) {
  detection();
  cbpe();
}

function detection(): void {
  console.log(
    `\n1. detection (reference: 50,000 rows of 8 numeric + 3 categorical features; ${WINDOWS} windows per cell; alpha ${DEFAULT_THRESHOLDS.alpha}, Holm)`,
  );
  console.log(
    'window | scenario                    | KS/feat | chi2/feat | window alarm (Holm) | PSI>0.1 | W/std>0.1 | JS>0.1',
  );
  for (const n of [500, 1000, 2000, 5000]) {
    for (const scenario of ['reference (null)', 'x0 mean +0.2 std', 'c1 re-weighted']) {
      let ks = 0;
      let ksN = 0;
      let chi = 0;
      let chiN = 0;
      let windowAlarm = 0;
      let psi = 0;
      let wass = 0;
      let js = 0;
      for (let w = 0; w < WINDOWS; w++) {
        const shift =
          scenario === 'x0 mean +0.2 std'
            ? { mean: { 0: 0.2 } }
            : scenario === 'c1 re-weighted'
              ? { weights: { 1: [0.4, 0.35, 0.15, 0.1] } }
              : {};
        const report = evaluateWindow(ref, sim.window(n, seed++, shift));
        // per-test rates on the feature the scenario moves (under the null: over every feature)
        const target =
          scenario === 'x0 mean +0.2 std' ? ['x0'] : scenario === 'c1 re-weighted' ? ['c1'] : null;
        for (const f of report.features) {
          if (target && !target.includes(f.feature)) continue;
          if (f.test === 'ks') {
            ksN++;
            if (f.pvalue < DEFAULT_THRESHOLDS.alpha) ks++;
            if ((f.wasserstein_norm ?? 0) > 0.1) wass++;
          } else {
            chiN++;
            if (f.pvalue < DEFAULT_THRESHOLDS.alpha) chi++;
            if ((f.js_distance ?? 0) > 0.1) js++;
          }
          if (f.psi > 0.1) psi++;
        }
        if (report.alerts.some((a) => a.kind === 'drift')) windowAlarm++;
      }
      const rate = (x: number, d: number) => (d ? pct(x / d) : '-').padStart(7);
      const psiN = ksN + chiN;
      console.log(
        `${String(n).padStart(6)} | ${scenario.padEnd(27)} | ${rate(ks, ksN)} | ${rate(chi, chiN).padStart(9)} | ${pct(windowAlarm / WINDOWS).padStart(19)} | ${rate(psi, psiN)} | ${rate(wass, ksN).padStart(9)} | ${rate(js, chiN).padStart(6)}`,
      );
    }
  }
}

// -- 2. CBPE under covariate shift
function cbpe(): void {
  console.log(
    '\n2. CBPE: estimated vs realised ROC AUC under covariate shift (window 20,000; calibration from the reference test scores)',
  );
  const shifts: Array<[string, Parameters<typeof sim.window>[2]]> = [
    ['none', {}],
    ['x0 +1 std, x1 -0.5 std', { mean: { 0: 1, 1: -0.5 } }],
    ['x2 +1.5 std, c1 mobile 80 %', { mean: { 2: 1.5 }, weights: { 1: [0.8, 0.1, 0.05, 0.05] } }],
    ['x0 -1 std, x3 +1 std', { mean: { 0: -1, 3: 1 } }],
    ['x1 +2 std', { mean: { 1: 2 } }],
  ];
  let worst = 0;
  for (const [name, shift] of shifts) {
    const w = sim.window(20_000, seed++, shift);
    const est = estimatePerformance(w.scores, 0.5, ref.calibration);
    const real = rocAuc(w.outcomes, w.scores);
    worst = Math.max(worst, Math.abs(est.roc_auc - real));
    console.log(
      `  ${name.padEnd(30)} realised ${real.toFixed(4)}  CBPE ${est.roc_auc.toFixed(4)}  error ${(est.roc_auc - real).toFixed(4)}`,
    );
  }
  console.log(`  worst |error| ${worst.toFixed(4)} (target < 0.02: ${worst < 0.02 ? 'met' : 'NOT met'})`);
}

// -- 3. speed
console.log(`\n3. speed (load average ${load()})`);
const wide = createSimulation(37);
const wideRef = prepareReference(wide.profile(100_000, 3));
if (!E2E_ONLY) {
  const big = wide.window(ROWS, 77, { mean: { 5: 0.1 } });
  const t0 = performance.now();
  const report = evaluateWindow(wideRef, big);
  const s1 = (performance.now() - t0) / 1000;
  console.log(
    `  ${ROWS.toLocaleString('en-US')} predictions x 40 columns from columns: ${s1.toFixed(2)} s (${report.features.length} features + score; target < 10 s: ${s1 < 10 ? 'met' : 'NOT met'})`,
  );
}

// end to end from the serving prediction log (local segments)
const dir = await mkdtemp(join(tmpdir(), 'tassel-bench-monitoring-'));
try {
  const store = await openPredictionStore(join(dir, 'predictions'));
  const e2e = wide.window(E2E_ROWS, 78);
  const names = [...e2e.numeric.keys(), ...e2e.categorical.keys()];
  const start = Date.now() - E2E_ROWS;
  for (let i = 0; i < E2E_ROWS; i += 10_000) {
    const batch: PendingPrediction[] = [];
    for (let k = i; k < Math.min(E2E_ROWS, i + 10_000); k++) {
      const inputs: Record<string, unknown> = {};
      for (const n of names) inputs[n] = e2e.numeric.get(n)?.[k] ?? e2e.categorical.get(n)?.[k];
      batch.push({
        request_id: `r${k}`,
        time: start + k,
        model_name: 'm',
        model_version: '1',
        inputs,
        inputs_json: null,
        probability: e2e.scores[k]!,
        label: e2e.scores[k]! >= 0.5 ? 1 : 0,
        fallback: false,
        route: '/predict',
      });
    }
    await store.appendPredictions(batch);
  }
  const refWithSchema = prepareReference({
    ...wide.profile(100_000, 3),
    input_schema: schemaToJSON(wide.schema),
  });
  const source = createReaderPredictionSource(store);
  const query = { model_name: 'm', model_version: '1' };
  const perMillion = (s: number) => ((s * 1_000_000) / E2E_ROWS).toFixed(1);
  // what `tassel monitor` does: the columnar read of the segments (parsed with the schema), the window, the check
  const cpu = process.cpuUsage();
  const t1 = performance.now();
  const cols = await readWindowColumns(source, refWithSchema, { query });
  const t2 = performance.now();
  const window = windowFromColumns(refWithSchema, cols);
  const t3 = performance.now();
  evaluateWindow(refWithSchema, window);
  const t4 = performance.now();
  const cpuSeconds = process.cpuUsage(cpu).user / 1e6 + process.cpuUsage(cpu).system / 1e6;
  const total = (t4 - t1) / 1000;
  console.log(
    `  ${E2E_ROWS.toLocaleString('en-US')} predictions x 40 columns end to end from local segments: ${total.toFixed(2)} s (read and coerce ${((t2 - t1) / 1000).toFixed(2)}, window ${((t3 - t2) / 1000).toFixed(2)}, check ${((t4 - t3) / 1000).toFixed(2)}); ${perMillion(total)} s per million (target < 10 s: ${(total * 1_000_000) / E2E_ROWS < 10 ? 'met' : 'NOT met'}); CPU ${cpuSeconds.toFixed(2)} s (${perMillion(cpuSeconds)} s per million; process CPU, less sensitive to the machine's load than wall time)`,
  );
  if (!process.argv.includes('--no-records')) {
    // the record-by-record read it replaced (JSON.parse per line, then the schema coercer), for the ratio
    const rcpu = process.cpuUsage();
    const r1 = performance.now();
    const records = [];
    for await (const r of source.predictions(query)) records.push(r);
    const r2 = performance.now();
    const slow = buildWindow(refWithSchema, records);
    const r3 = performance.now();
    const rcpuSeconds = (process.cpuUsage(rcpu).user + process.cpuUsage(rcpu).system) / 1e6;
    const same =
      slow.n === window.n &&
      slow.numeric.get('x0')!.every((v, i) => Object.is(v, window.numeric.get('x0')![i]));
    console.log(
      `  the same read record by record: read ${((r2 - r1) / 1000).toFixed(2)} s, coerce ${((r3 - r2) / 1000).toFixed(2)} s; ${perMillion((r3 - r1) / 1000)} s per million for read + coerce vs ${perMillion((t3 - t1) / 1000)} columnar (${((r3 - r1) / (t3 - t1)).toFixed(1)}x; CPU ${rcpuSeconds.toFixed(2)} s); same values: ${same}`,
    );
  }
  await store.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(`load average at the end ${load()}`);

import { useMemo, useState } from 'preact/hooks';
import { type Experiment, type Run, artifactJson, formatTime, get, post, tagMap } from './api';
import { color } from './charts';
import { Empty, type Series, Show, StepChart, useAsync } from './common';

/**
 * The Monitoring page: what `tassel monitor` logged for a model (each window a run of experiment
 * `monitoring/<model>`, metrics at step = window index): per-feature drift over time, reference vs window
 * distributions of a chosen feature, estimated (CBPE) vs realised performance over time, and the alerts with
 * the decision taken.
 */

const PREFIX = 'monitoring/';

interface FeatureReport {
  feature: string;
  type: string;
  drifted: boolean;
  psi: number;
  pvalue_adjusted: number;
  distribution?: { bins: string[]; reference: number[]; window: number[] };
}
interface WindowReport {
  window_index: number;
  features: FeatureReport[];
  prediction: FeatureReport | null;
}

/** The models with a monitoring experiment. */
export function MonitoringListPage() {
  const state = useAsync(
    () =>
      get<{ experiments?: Experiment[] }>('mlflow/experiments/search', {
        filter: `name LIKE '${PREFIX}%'`,
        max_results: 1000,
      }),
    [],
  );
  return (
    <section>
      <h1>Monitoring</h1>
      <Show state={state}>
        {(res) =>
          (res.experiments ?? []).length === 0 ? (
            <Empty>No model is monitored yet: run `tassel monitor` on a served model's prediction log.</Empty>
          ) : (
            <ul class="monitoring-models">
              {(res.experiments ?? []).map((e) => {
                const model = e.name.slice(PREFIX.length);
                return (
                  <li key={e.experiment_id}>
                    <a href={`#/monitoring/${encodeURIComponent(model)}`}>{model}</a>
                  </li>
                );
              })}
            </ul>
          )
        }
      </Show>
    </section>
  );
}

async function loadWindows(model: string): Promise<Run[]> {
  const exp = await get<{ experiment: Experiment }>('mlflow/experiments/get-by-name', {
    experiment_name: `${PREFIX}${model}`,
  });
  const res = await post<{ runs?: Run[] }>('mlflow/runs/search', {
    experiment_ids: [exp.experiment.experiment_id],
    max_results: 1000,
    order_by: ['attributes.start_time DESC'],
  });
  const runs = res.runs ?? [];
  const index = (r: Run) => Number(tagMap(r.data.tags)['tassel.monitoring.window_index'] ?? 0);
  return runs.sort((a, b) => index(a) - index(b));
}

const metricOf = (r: Run, key: string) => r.data.metrics?.find((m) => m.key === key);

/** One model's monitoring. */
export function MonitoringPage({ model }: { model: string }) {
  const state = useAsync(() => loadWindows(model), [model]);
  return (
    <section class="monitoring">
      <h1>Monitoring: {model}</h1>
      <Show state={state}>
        {(runs) => (runs.length === 0 ? <Empty>No window checked yet.</Empty> : <Windows model={model} runs={runs} />)}
      </Show>
    </section>
  );
}

const DRIFT_METRICS = ['psi', 'statistic', 'wasserstein_norm', 'js_distance', 'pvalue_adjusted'] as const;

function Windows({ runs }: { model: string; runs: Run[] }) {
  const features = useMemo(() => {
    const set = new Set<string>();
    for (const r of runs)
      for (const m of r.data.metrics ?? []) {
        const hit = /^drift\.(.+)\.psi$/.exec(m.key);
        if (hit) set.add(hit[1]!);
      }
    return [...set].sort();
  }, [runs]);
  const [kind, setKind] = useState<(typeof DRIFT_METRICS)[number]>('psi');
  const drifted = (f: string) => runs.some((r) => metricOf(r, `drift.${f}.drifted`)?.value === 1);
  // every feature that ever drifted, and the score, are drawn; the rest stay in the selector
  const shown = features.filter((f) => drifted(f) || f === 'prediction');
  const driftSeries: Series[] = (shown.length ? shown : features.slice(0, 8)).map((f, i) => ({
    label: f,
    color: color(i),
    points: runs.flatMap((r) => {
      const m = metricOf(r, `drift.${f}.${kind}`);
      return m ? [{ step: m.step, value: m.value }] : [];
    }),
  }));
  const perf: Series[] = [
    ['estimated_roc_auc', 'estimated AUC (CBPE)'],
    ['realised_roc_auc', 'realised AUC'],
    ['reference_roc_auc', 'test AUC of the version'],
  ].map(([key, label], i) => ({
    label: label!,
    color: color(i),
    points: runs.flatMap((r) => {
      const m = metricOf(r, key!);
      return m ? [{ step: m.step, value: m.value }] : [];
    }),
  }));
  const alerts = runs.filter((r) => {
    const d = tagMap(r.data.tags)['tassel.monitoring.decision'];
    return d !== undefined && d !== 'none';
  });
  return (
    <>
      <p class="monitoring-summary">
        {runs.length} window(s); {alerts.length} with an alert; features that drifted:{' '}
        {features.filter(drifted).join(', ') || 'none'}
      </p>
      <h2>Drift per feature over windows</h2>
      <label>
        statistic{' '}
        <select
          aria-label="drift statistic"
          value={kind}
          onChange={(e) => setKind((e.target as HTMLSelectElement).value as (typeof DRIFT_METRICS)[number])}
        >
          {DRIFT_METRICS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <StepChart title={`drift: ${kind} per feature (step = window)`} series={driftSeries} />
      <h2>Estimated vs realised performance</h2>
      <StepChart title="ROC AUC per window" series={perf} />
      <h2>Distributions: reference vs window</h2>
      <Distributions runs={runs} features={features} initial={shown.find((f) => f !== 'prediction') ?? features[0]} />
      <h2>Alerts and decisions</h2>
      <AlertsTable runs={alerts} />
    </>
  );
}

function Distributions({ runs, features, initial }: { runs: Run[]; features: string[]; initial?: string }) {
  const [feature, setFeature] = useState(initial ?? features[0] ?? '');
  const [runId, setRunId] = useState(runs[runs.length - 1]!.info.run_id);
  const run = runs.find((r) => r.info.run_id === runId) ?? runs[runs.length - 1]!;
  const report = useAsync(
    () => artifactJson<WindowReport>(run.info.artifact_uri ?? '', 'monitoring_report.json'),
    [run.info.run_id],
  );
  return (
    <div class="monitoring-distributions">
      <label>
        feature{' '}
        <select aria-label="feature" value={feature} onChange={(e) => setFeature((e.target as HTMLSelectElement).value)}>
          {features.filter((f) => f !== 'prediction').map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>{' '}
      <label>
        window{' '}
        <select aria-label="window" value={run.info.run_id} onChange={(e) => setRunId((e.target as HTMLSelectElement).value)}>
          {runs.map((r) => (
            <option key={r.info.run_id} value={r.info.run_id}>
              {r.info.run_name} ({formatTime(r.info.start_time)})
            </option>
          ))}
        </select>
      </label>
      <Show state={report}>
        {(rep) => {
          const f = rep?.features.find((x) => x.feature === feature);
          if (!f?.distribution) return <Empty>No distribution logged for {feature} in this window.</Empty>;
          return <PairedBars feature={feature} drifted={f.drifted} {...f.distribution} />;
        }}
      </Show>
    </div>
  );
}

/** Reference and window shares side by side per bin. */
function PairedBars({
  feature,
  drifted,
  bins,
  reference,
  window,
}: { feature: string; drifted: boolean; bins: string[]; reference: number[]; window: number[] }) {
  const keep = bins.map((_, i) => i).filter((i) => (reference[i] ?? 0) > 0 || (window[i] ?? 0) > 0);
  const W = 640;
  const H = 260;
  const L = 44;
  const B = 70;
  const T = 28;
  const hi = Math.max(0.01, ...keep.map((i) => Math.max(reference[i] ?? 0, window[i] ?? 0)));
  const slot = (W - L - 8) / Math.max(1, keep.length);
  const y = (v: number) => T + (H - T - B) * (1 - v / hi);
  return (
    <figure class="svgchart" data-chart="distribution" data-feature={feature}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Reference and window distribution of ${feature}`}>
        <text x={W / 2} y={16} text-anchor="middle" class="title">
          {feature}: reference (blue) vs window (red){drifted ? ' — drifted' : ''}
        </text>
        {[0, hi / 2, hi].map((t) => (
          <g key={t}>
            <line x1={L} x2={W - 4} y1={y(t)} y2={y(t)} class="grid" />
            <text x={L - 4} y={y(t) + 4} text-anchor="end" class="tick">
              {(100 * t).toFixed(0)}%
            </text>
          </g>
        ))}
        {keep.map((i, k) => {
          const x = L + 4 + k * slot;
          const w = Math.max(1, slot * 0.4);
          return (
            <g key={bins[i]}>
              <rect x={x} width={w} y={y(reference[i] ?? 0)} height={y(0) - y(reference[i] ?? 0)} fill={color(0)} data-series="reference" data-value={reference[i]} />
              <rect x={x + w} width={w} y={y(window[i] ?? 0)} height={y(0) - y(window[i] ?? 0)} fill={color(1)} data-series="window" data-value={window[i]} />
              <text x={x + w} y={H - B + 12} class="tick" text-anchor="end" transform={`rotate(-35 ${x + w} ${H - B + 12})`}>
                {bins[i]!.length > 14 ? `${bins[i]!.slice(0, 13)}…` : bins[i]}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

function AlertsTable({ runs }: { runs: Run[] }) {
  if (runs.length === 0) return <Empty>No alert so far.</Empty>;
  return (
    <table class="monitoring-alerts">
      <thead>
        <tr>
          <th>window</th>
          <th>version</th>
          <th>time</th>
          <th>decision</th>
          <th>alerts</th>
          <th>retrained</th>
        </tr>
      </thead>
      <tbody>
        {[...runs].reverse().map((r) => {
          const t = tagMap(r.data.tags);
          return (
            <tr key={r.info.run_id} data-decision={t['tassel.monitoring.decision']}>
              <td>
                <a href={`#/runs/${r.info.run_id}`}>{t['tassel.monitoring.window_index']}</a>
              </td>
              <td>{t['tassel.monitoring.model_version']}</td>
              <td>{formatTime(r.info.start_time)}</td>
              <td>{t['tassel.monitoring.decision']}</td>
              <td class="alerts-text">
                {(t['tassel.monitoring.alerts'] ?? '').split('\n').map((line) => (
                  <div key={line}>{line}</div>
                ))}
              </td>
              <td>
                {t['tassel.monitoring.retrain.version']
                  ? `v${t['tassel.monitoring.retrain.version']} (${t['tassel.monitoring.retrain.gate']})`
                  : ''}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

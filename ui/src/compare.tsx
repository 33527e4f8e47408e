import { useMemo, useState } from 'preact/hooks';
import { formatValue, get, type Metric, post, quote, type Run, tagMap } from './api';
import { type AxisValue, BarChart, color, ParallelCoordinates, ScatterChart } from './charts';
import { Empty, Show, StepChart, useAsync } from './common';
import { defaultColumns, MAX_SELECTED } from './runs';
import { currentQuery, readList, setQuery } from './url';

const MAX_STEP_CHARTS = 8;
const MAX_BARS = 6;

interface Loaded {
  runs: Run[];
  histories: Array<{ key: string; metrics: Metric[] }>;
}

async function loadRuns(ids: string[], experimentIds: string[]): Promise<Run[]> {
  const found = new Map<string, Run>();
  if (experimentIds.length > 0) {
    // One search for every run of the view (the run table passes its experiment along).
    const res = await post<{ runs?: Run[] }>('mlflow/runs/search', {
      experiment_ids: experimentIds,
      filter: `attributes.run_id IN (${ids.map(quote).join(', ')})`,
      max_results: ids.length,
      run_view_type: 'ALL',
    });
    for (const r of res.runs ?? []) found.set(r.info.run_id, r);
  }
  const missing = ids.filter((id) => !found.has(id));
  await Promise.all(
    missing.map((id) => get<{ run: Run }>('mlflow/runs/get', { run_id: id }).then((r) => found.set(id, r.run))),
  );
  return ids.map((id) => found.get(id)!).filter(Boolean);
}

/** Metrics logged over steps in any of the runs (latest step above 0): these get overlaid line charts. */
const stepKeys = (runs: Run[]) =>
  [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).filter((m) => m.step > 0).map((m) => m.key)))].sort();

async function load(ids: string[], experimentIds: string[]): Promise<Loaded> {
  const runs = await loadRuns(ids, experimentIds);
  const keys = stepKeys(runs).slice(0, MAX_STEP_CHARTS);
  // One sampled request per metric for all runs (get-history-bulk-interval takes up to 100 run ids).
  const histories = await Promise.all(
    keys.map((key) =>
      get<{ metrics?: Metric[] }>('mlflow/metrics/get-history-bulk-interval', {
        run_ids: runs.map((r) => r.info.run_id),
        metric_key: key,
        max_results: 1000,
      }).then((r) => ({ key, metrics: r.metrics ?? [] })),
    ),
  );
  return { runs, histories };
}

type Field = `metrics:${string}` | `params:${string}`;
function value(run: Run, field: string): AxisValue {
  const i = field.indexOf(':');
  const kind = field.slice(0, i);
  const key = field.slice(i + 1);
  if (kind === 'metrics') return run.data.metrics?.find((m) => m.key === key)?.value;
  const v = run.data.params?.find((p) => p.key === key)?.value;
  return v !== undefined && v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}
const fieldLabel = (f: string) => (f.startsWith('params:') ? `param ${f.slice(7)}` : f.slice(8));

function FieldSelect({ label, value: v, fields, onChange }: { label: string; value: string; fields: string[]; onChange: (f: string) => void }) {
  return (
    <label>
      {label}{' '}
      <select value={v} onChange={(e) => onChange(e.currentTarget.value)}>
        {fields.map((f) => (
          <option key={f} value={f}>
            {fieldLabel(f)}
          </option>
        ))}
      </select>
    </label>
  );
}

function Picker({ label, fields, chosen, onChange }: { label: string; fields: string[]; chosen: string[]; onChange: (f: string[]) => void }) {
  return (
    <details class="columns">
      <summary>{label}</summary>
      <div class="picker">
        <fieldset>
          <legend>{label}</legend>
          {fields.map((f) => (
            <label key={f}>
              <input
                type="checkbox"
                checked={chosen.includes(f)}
                onChange={() => onChange(chosen.includes(f) ? chosen.filter((x) => x !== f) : [...chosen, f])}
              />{' '}
              {fieldLabel(f)}
            </label>
          ))}
        </fieldset>
      </div>
    </details>
  );
}

function CompareView({ runs, histories }: Loaded) {
  const q = useMemo(currentQuery, []);
  const label = (r: Run) => r.info.run_name || r.info.run_id.slice(0, 8);
  // Labels must tell runs apart (pipeline candidates of two pipeline runs share names).
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(label(r), (counts.get(label(r)) ?? 0) + 1);
  const name = (r: Run) => (counts.get(label(r))! > 1 ? `${label(r)} (${r.info.run_id.slice(0, 6)})` : label(r));
  const names = new Map(runs.map((r) => [r.info.run_id, name(r)]));

  const steps = new Set(stepKeys(runs));
  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const paramKeys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const scalarKeys = metricKeys.filter((k) => !steps.has(k));
  const differs = (f: string) => new Set(runs.map((r) => String(value(r, f) ?? ''))).size > 1;
  const key = defaultColumns(runs, new Set(metricKeys)).map((c) => `metrics:${c.key}`);
  const fields = [...metricKeys.map((k) => `metrics:${k}` as Field), ...paramKeys.map((k) => `params:${k}` as Field)];
  const shortParams = paramKeys.filter((k) => runs.every((r) => String(value(r, `params:${k}`) ?? '').length <= 40));
  // Differing parameters, those most runs have first (a parent's and its candidates' params hardly overlap).
  const coverage = (k: string) => runs.filter((r) => value(r, `params:${k}`) !== undefined).length;
  const diffParams = shortParams
    .filter((k) => differs(`params:${k}`))
    .sort((a, b) => coverage(b) - coverage(a))
    .map((k) => `params:${k}`);

  const [bars, setBars] = useState<string[]>(
    () => readList(q, 'bars') ?? [...new Set([...key.map((f) => f.slice(8)), ...scalarKeys])].filter((k) => scalarKeys.includes(k)).slice(0, MAX_BARS),
  );
  const [x, setX] = useState(() => q.get('x') ?? diffParams[0] ?? fields.find((f) => !key.includes(f)) ?? fields[0] ?? '');
  const [y, setY] = useState(() => q.get('y') ?? key[0] ?? fields[0] ?? '');
  const [pc, setPc] = useState<string[]>(() => readList(q, 'pc') ?? [...diffParams.slice(0, 4), ...key].slice(0, 6));
  const [onlyDiff, setOnlyDiff] = useState(q.get('all') !== '1');
  const update = (patch: Record<string, string | string[] | undefined>) => setQuery(patch);

  const diffTable = (kind: 'params' | 'metrics') => {
    const keys = kind === 'params' ? paramKeys : metricKeys;
    const rows = keys
      .map((k) => {
        const values = runs.map((r) => {
          const hit = (r.data[kind] ?? []).find((e) => e.key === k);
          return hit === undefined ? '' : formatValue((hit as { value: string | number }).value);
        });
        return { key: k, values, differs: new Set(values).size > 1 };
      })
      .filter((row) => !onlyDiff || row.differs);
    if (rows.length === 0) return <Empty>{onlyDiff ? `No ${kind} differ.` : `No ${kind}.`}</Empty>;
    return (
      <div class="scroll-x" tabIndex={0}>
        <table class="grid diff">
          <thead>
            <tr>
              <th scope="col">{kind === 'params' ? 'Parameter' : 'Metric'}</th>
              {runs.map((run) => (
                <th scope="col" key={run.info.run_id}>
                  <a href={`#/runs/${run.info.run_id}`}>{names.get(run.info.run_id)}</a>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key} class={row.differs ? 'differs' : ''}>
                <th scope="row">{row.key}</th>
                {row.values.map((v, i) => (
                  <td key={i} class={`num${row.differs && v !== row.values[0] ? ' diffcell' : ''}`} title={v.length > 60 ? v : undefined}>
                    {v.length > 60 ? `${v.slice(0, 57)}…` : v}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  };

  const series = runs.map((r, index) => ({ label: names.get(r.info.run_id)!, index }));
  return (
    <>
      <h2>Runs</h2>
      <div class="scroll-x" tabIndex={0}>
        <table class="grid diff runs-head">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Status</th>
              <th scope="col">Gate decision</th>
              <th scope="col">Parent</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => {
              const t = tagMap(r.data.tags);
              const decision = t['tassel.gate.decision'];
              return (
                <tr key={r.info.run_id} data-run={names.get(r.info.run_id)}>
                  <th scope="row">
                    <a href={`#/runs/${r.info.run_id}`}>{names.get(r.info.run_id)}</a>
                  </th>
                  <td>{r.info.status}</td>
                  <td class="gate">
                    {decision ? (
                      <span title={t['tassel.gate.reasons'] ?? ''}>
                        <span class={`decision ${decision}`}>{decision}</span>
                        {t['tassel.registered_version'] ? ` (v${t['tassel.registered_version']})` : ''}
                      </span>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                  <td>{t['mlflow.parentRunId'] ? <a href={`#/runs/${t['mlflow.parentRunId']}`}>{t['mlflow.parentRunId'].slice(0, 8)}</a> : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>

      <h2>Scalar metrics</h2>
      <div class="toolbar">
        <Picker label="Bar chart metrics" fields={scalarKeys.map((k) => `metrics:${k}`)} chosen={bars.map((b) => `metrics:${b}`)} onChange={(f) => {
          const next = f.map((x) => x.slice(8));
          setBars(next);
          update({ bars: next });
        }} />
      </div>
      {bars.length === 0 ? (
        <Empty>No scalar metric chosen.</Empty>
      ) : (
        <div class="charts">
          {bars.map((k) => (
            <BarChart
              key={k}
              title={k}
              bars={runs.flatMap((r, index) => {
                const v = value(r, `metrics:${k}`);
                return typeof v === 'number' ? [{ label: names.get(r.info.run_id)!, value: v, index }] : [];
              })}
            />
          ))}
        </div>
      )}

      <div>
        <div class="scatter">
          <h2>Scatter</h2>
          <div class="toolbar">
            <FieldSelect label="X axis" value={x} fields={fields} onChange={(f) => (setX(f), update({ x: f }))} />
            <FieldSelect label="Y axis" value={y} fields={fields} onChange={(f) => (setY(f), update({ y: f }))} />
          </div>
          {x && y ? (
            <ScatterChart
              xLabel={fieldLabel(x)}
              yLabel={fieldLabel(y)}
              points={runs.map((r, index) => ({ label: names.get(r.info.run_id)!, x: value(r, x), y: value(r, y), index }))}
            />
          ) : (
            <Empty>These runs have no params or metrics.</Empty>
          )}
        </div>
        <div>
          <h2>Parallel coordinates</h2>
          <div class="toolbar">
            <Picker label="Axes" fields={fields} chosen={pc} onChange={(f) => (setPc(f), update({ pc: f }))} />
          </div>
          {pc.length === 0 ? (
            <Empty>Choose axes.</Empty>
          ) : (
            <div class="scroll-x" tabIndex={0}>
              <ParallelCoordinates axes={pc.map((f) => ({ label: fieldLabel(f), values: runs.map((r) => value(r, f)) }))} runs={series} />
            </div>
          )}
        </div>
      </div>

      <h2>Metrics over steps</h2>
      {histories.length === 0 ? (
        <Empty>No metric was logged over steps in these runs.</Empty>
      ) : (
        <div class="charts">
          {histories.map((h) => (
            <StepChart
              key={h.key}
              title={h.key}
              series={runs
                .map((r, i) => ({
                  label: names.get(r.info.run_id)!,
                  color: color(i),
                  points: h.metrics.filter((m) => m.run_id === r.info.run_id).map((m) => ({ step: m.step, value: m.value })),
                }))
                .filter((s) => s.points.length > 0)}
            />
          ))}
        </div>
      )}
      <label class="toggle">
        <input
          type="checkbox"
          checked={onlyDiff}
          onChange={(e) => {
            setOnlyDiff(e.currentTarget.checked);
            update({ all: e.currentTarget.checked ? undefined : '1' });
          }}
        />{' '}
        Only rows that differ
      </label>
      <h2>Parameters</h2>
      {diffTable('params')}
      <h2>Metrics</h2>
      {diffTable('metrics')}
    </>
  );
}

/** Up to 100 runs side by side: gate decisions, bar charts, scatter, parallel coordinates, step overlays, diff. */
export function ComparePage({ runIds, experimentIds = [] }: { runIds: string[]; experimentIds?: string[] }) {
  const ids = [...new Set(runIds)].slice(0, MAX_SELECTED);
  const state = useAsync(() => load(ids, experimentIds), [ids.join(','), experimentIds.join(',')]);
  if (ids.length === 0)
    return (
      <section>
        <h1>Compare runs</h1>
        <Empty>Select runs in an experiment's run table, then choose Compare.</Empty>
      </section>
    );
  return (
    <section>
      <h1>Compare {ids.length} runs</h1>
      {runIds.length > MAX_SELECTED && <p class="muted">Showing the first {MAX_SELECTED} of {runIds.length} runs.</p>}
      <Show state={state}>{(data) => <CompareView {...data} />}</Show>
    </section>
  );
}

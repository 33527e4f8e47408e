import { useState } from 'preact/hooks';
import { formatValue, get, type Metric, type Run } from './api';
import { Empty, Show, StepChart, useAsync } from './common';

const MAX_RUNS = 50;
const MAX_CHARTS = 8;

interface Loaded {
  runs: Run[];
  histories: Array<{ key: string; metrics: Metric[] }>;
}

async function load(ids: string[]): Promise<Loaded> {
  const runs = await Promise.all(ids.map((id) => get<{ run: Run }>('mlflow/runs/get', { run_id: id }).then((r) => r.run)));
  const keys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort().slice(0, MAX_CHARTS);
  // One sampled request per metric for all runs (get-history-bulk-interval takes up to 100 run ids).
  const histories = await Promise.all(
    keys.map((key) =>
      get<{ metrics?: Metric[] }>('mlflow/metrics/get-history-bulk-interval', {
        run_ids: ids,
        metric_key: key,
        max_results: 1000,
      }).then((r) => ({ key, metrics: r.metrics ?? [] })),
    ),
  );
  return { runs, histories };
}

/** Up to 50 runs side by side: overlaid step charts and a param/metric diff. */
export function ComparePage({ runIds }: { runIds: string[] }) {
  const ids = [...new Set(runIds)].slice(0, MAX_RUNS);
  const state = useAsync(() => load(ids), [ids.join(',')]);
  const [onlyDiff, setOnlyDiff] = useState(true);
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
      {runIds.length > MAX_RUNS && <p class="muted">Showing the first {MAX_RUNS} of {runIds.length} runs.</p>}
      <Show state={state}>
        {({ runs, histories }) => {
          const label = (r: Run) => r.info.run_name || r.info.run_id.slice(0, 8);
          const names = new Map(runs.map((r) => [r.info.run_id, label(r)]));
          const rows = (kind: 'params' | 'metrics') => {
            const keys = [...new Set(runs.flatMap((r) => (r.data[kind] ?? []).map((x) => x.key)))].sort();
            return keys
              .map((key) => {
                const values = runs.map((r) => {
                  const hit = (r.data[kind] ?? []).find((x) => x.key === key);
                  return hit === undefined ? '' : formatValue((hit as { value: string | number }).value);
                });
                return { key, values, differs: new Set(values).size > 1 };
              })
              .filter((row) => !onlyDiff || row.differs);
          };
          const diffTable = (kind: 'params' | 'metrics') => {
            const r = rows(kind);
            if (r.length === 0) return <Empty>{onlyDiff ? `No ${kind} differ.` : `No ${kind}.`}</Empty>;
            return (
              <div class="scroll-x">
                <table class="grid diff">
                  <thead>
                    <tr>
                      <th>{kind === 'params' ? 'Parameter' : 'Metric'}</th>
                      {runs.map((run) => (
                        <th key={run.info.run_id}>
                          <a href={`#/runs/${run.info.run_id}`}>{label(run)}</a>
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {r.map((row) => (
                      <tr key={row.key} class={row.differs ? 'differs' : ''}>
                        <th scope="row">{row.key}</th>
                        {row.values.map((v, i) => (
                          <td key={i} class="num">
                            {v}
                          </td>
                        ))}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            );
          };
          return (
            <>
              <h2>Charts</h2>
              {histories.length === 0 ? (
                <Empty>These runs have no metrics.</Empty>
              ) : (
                <div class="charts">
                  {histories.map((h) => (
                    <StepChart
                      key={h.key}
                      title={h.key}
                      series={runs.map((r) => ({
                        label: names.get(r.info.run_id)!,
                        points: h.metrics
                          .filter((m) => m.run_id === r.info.run_id)
                          .map((m) => ({ step: m.step, value: m.value })),
                      }))}
                    />
                  ))}
                </div>
              )}
              <label class="toggle">
                <input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff(e.currentTarget.checked)} /> Only
                rows that differ
              </label>
              <h2>Parameters</h2>
              {diffTable('params')}
              <h2>Metrics</h2>
              {diffTable('metrics')}
            </>
          );
        }}
      </Show>
    </section>
  );
}

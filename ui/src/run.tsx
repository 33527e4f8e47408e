import { useEffect, useState } from 'preact/hooks';
import {
  artifactBlob,
  artifactJson,
  downloadArtifact,
  type FileInfo,
  formatDuration,
  formatTime,
  formatValue,
  get,
  type Metric,
  post,
  type Run,
  tagMap,
} from './api';
import { HBarChart } from './charts';
import { Empty, ErrorBox, Loading, Show, StepChart, useAsync } from './common';
import { NotesField, RenameField, TagEditor, useWrite } from './edit';

const MAX_CHARTS = 12;

function KeyValueTable({ rows, empty }: { rows: Array<[string, string]>; empty: string }) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <table class="grid kv">
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td class="mono">
              {v.length > 200 ? (
                // long values (a feature spec) fold, so the table stays readable
                <details class="longvalue">
                  <summary>{v.slice(0, 90)}…</summary>
                  <pre>{v}</pre>
                </details>
              ) : (
                v
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Line charts for metrics logged over steps (a metric whose latest step is above 0); scalars stay in the table. */
function MetricCharts({ run }: { run: Run }) {
  const keys = [...new Set((run.data.metrics ?? []).filter((m) => m.step > 0).map((m) => m.key))].sort().slice(0, MAX_CHARTS);
  const state = useAsync(
    () =>
      Promise.all(
        keys.map((key) =>
          get<{ metrics?: Metric[] }>('mlflow/metrics/get-history', {
            run_id: run.info.run_id,
            metric_key: key,
            max_results: 25000,
          }).then((r) => ({ key, metrics: r.metrics ?? [] })),
        ),
      ),
    [run.info.run_id, keys.join('\n')],
  );
  if (keys.length === 0)
    return <Empty>{(run.data.metrics ?? []).length ? 'No metric was logged over steps: the values are in the table above.' : 'No metrics logged.'}</Empty>;
  return (
    <Show state={state}>
      {(histories) => (
        <div class="charts">
          {histories.map((h) => (
            <StepChart
              key={h.key}
              title={h.key}
              series={[{ label: h.key, points: h.metrics.map((m) => ({ step: m.step, value: m.value })) }]}
            />
          ))}
        </div>
      )}
    </Show>
  );
}

type Preview =
  | { kind: 'text'; text: string }
  | { kind: 'json'; text: string }
  | { kind: 'csv'; rows: string[][] }
  | { kind: 'image'; url: string }
  | { kind: 'none'; reason: string };

function parseCsv(text: string, maxRows: number): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field || row.length) rows.push([...row, field]);
  return rows;
}

const PREVIEW_LIMIT = 2 * 1024 * 1024;

async function loadPreview(rootUri: string, file: FileInfo): Promise<Preview> {
  const ext = file.path.split('.').pop()?.toLowerCase() ?? '';
  if ((file.file_size ?? 0) > PREVIEW_LIMIT && !['png', 'svg', 'jpg', 'jpeg', 'gif'].includes(ext))
    return { kind: 'none', reason: `${file.file_size} bytes: too large to preview` };
  const blob = await artifactBlob(rootUri, file.path);
  if (['png', 'jpg', 'jpeg', 'gif', 'webp'].includes(ext)) return { kind: 'image', url: URL.createObjectURL(blob) };
  if (ext === 'svg')
    return { kind: 'image', url: URL.createObjectURL(new Blob([blob], { type: 'image/svg+xml' })) };
  const text = await blob.slice(0, PREVIEW_LIMIT).text();
  if (ext === 'json') {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch {
      return { kind: 'text', text };
    }
  }
  if (ext === 'csv' || ext === 'tsv') return { kind: 'csv', rows: parseCsv(ext === 'tsv' ? text.replace(/\t/g, ',') : text, 201) };
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text.slice(0, 2000))) return { kind: 'none', reason: 'binary file' };
  return { kind: 'text', text };
}

function PreviewView({ preview, name }: { preview: Preview; name: string }) {
  switch (preview.kind) {
    case 'image':
      return <img class="preview-img" src={preview.url} alt={name} />;
    case 'json':
    case 'text':
      return <pre class="preview-text">{preview.text}</pre>;
    case 'csv': {
      const [head, ...body] = preview.rows;
      return (
        <div class="scroll-x" tabIndex={0}>
          <table class="grid csv">
            <thead>
              <tr>{(head ?? []).map((h, i) => <th key={i}>{h}</th>)}</tr>
            </thead>
            <tbody>
              {body.slice(0, 200).map((r, i) => (
                <tr key={i}>{r.map((c, j) => <td key={j}>{c}</td>)}</tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    default:
      return <Empty>No preview: {preview.reason}.</Empty>;
  }
}

function DownloadButton({ rootUri, path }: { rootUri: string; path: string }) {
  const w = useWrite();
  const name = path.split('/').pop();
  return (
    <>
      <button type="button" class="secondary small" aria-label={`Download ${name}`} disabled={w.busy} onClick={() => w.act(() => downloadArtifact(rootUri, path))}>
        Download
      </button>
      {w.error && <ErrorBox error={w.error} />}
    </>
  );
}

function ArtifactBrowser({ runId }: { runId: string }) {
  const [dir, setDir] = useState('');
  const [file, setFile] = useState<FileInfo>();
  const listing = useAsync(
    () => get<{ root_uri: string; files?: FileInfo[] }>('mlflow/artifacts/list', { run_id: runId, path: dir || undefined }),
    [runId, dir],
  );
  const preview = useAsync(
    () => (file && listing.data ? loadPreview(listing.data.root_uri, file) : Promise.resolve(undefined)),
    [file?.path, listing.data?.root_uri],
  );
  useEffect(() => () => {
    if (preview.data?.kind === 'image') URL.revokeObjectURL(preview.data.url);
  }, [preview.data]);
  const parts = dir ? dir.split('/') : [];
  return (
    <div class="artifacts">
      <nav class="crumbs" aria-label="Artifact path">
        <button type="button" class="link" onClick={() => { setDir(''); setFile(undefined); }}>
          artifacts
        </button>
        {parts.map((p, i) => (
          <span key={i}>
            {' / '}
            <button type="button" class="link" onClick={() => { setDir(parts.slice(0, i + 1).join('/')); setFile(undefined); }}>
              {p}
            </button>
          </span>
        ))}
      </nav>
      <div class="split">
        <div class="files">
          <Show state={listing}>
            {(data) =>
              (data.files ?? []).length === 0 ? (
                <Empty>No artifacts{dir ? ' in this folder' : ''}.</Empty>
              ) : (
                <ul class="filelist">
                  {data.files!.map((f) => (
                    <li key={f.path} class="fileitem">
                      <button
                        type="button"
                        class={`link${file?.path === f.path ? ' current' : ''}`}
                        title={f.path}
                        onClick={() => (f.is_dir ? (setDir(f.path), setFile(undefined)) : setFile(f))}
                      >
                        {f.path.split('/').pop()}
                        {f.is_dir ? '/' : ''}
                      </button>
                      {!f.is_dir && f.file_size !== undefined ? <span class="muted"> {f.file_size} B</span> : null}
                      {!f.is_dir && <DownloadButton rootUri={data.root_uri} path={f.path} />}
                    </li>
                  ))}
                </ul>
              )
            }
          </Show>
        </div>
        <div class="preview" aria-live="polite">
          {!file ? (
            <Empty>Choose a file to preview it.</Empty>
          ) : preview.error ? (
            <ErrorBox error={preview.error} />
          ) : preview.loading || !preview.data ? (
            <Loading />
          ) : (
            <>
              <h3 class="mono">{file.path}</h3>
              <PreviewView preview={preview.data} name={file.path} />
            </>
          )}
        </div>
      </div>
    </div>
  );
}

function Children({ run }: { run: Run }) {
  const state = useAsync(
    () =>
      post<{ runs?: Run[] }>('mlflow/runs/search', {
        experiment_ids: [run.info.experiment_id],
        filter: `tags.mlflow.parentRunId = '${run.info.run_id}'`,
        max_results: 200,
      }),
    [run.info.run_id],
  );
  return (
    <Show state={state}>
      {(data) =>
        (data.runs ?? []).length === 0 ? (
          <Empty>No child runs.</Empty>
        ) : (
          <ul>
            {data.runs!.map((c) => (
              <li key={c.info.run_id}>
                <a href={`#/runs/${c.info.run_id}`}>{c.info.run_name || c.info.run_id}</a>{' '}
                <span class="muted">{c.info.status}</span>
              </li>
            ))}
          </ul>
        )
      }
    </Show>
  );
}

/** The `explain` step's artifact: mean |SHAP| per input field, largest first. */
export interface GlobalExplanation {
  model_kind?: string;
  base_value?: number;
  features?: Array<{ field: string; mean_abs: number }>;
}

/** Finds `explanation/global.json` on the run, else on the pipeline's winning candidate run (`tassel.winner_run_id`). */
async function findExplanation(run: Run): Promise<GlobalExplanation | undefined> {
  const read = (root: string | undefined) =>
    root ? artifactJson<GlobalExplanation>(root, 'explanation/global.json').catch(() => undefined) : Promise.resolve(undefined);
  const own = await read(run.info.artifact_uri);
  if (own) return own;
  const winner = tagMap(run.data.tags)['tassel.winner_run_id'];
  if (!winner || winner === run.info.run_id) return undefined;
  const w = await get<{ run: Run }>('mlflow/runs/get', { run_id: winner }).catch(() => undefined);
  return read(w?.run.info.artifact_uri);
}

/** The horizontal bar chart of the run's global explanation (mean |SHAP| per field), when there is one. */
export function Explanation({ run }: { run: Run | undefined }) {
  const state = useAsync(() => (run ? findExplanation(run) : Promise.resolve(undefined)), [run?.info.run_id]);
  const x = state.data;
  if (!x?.features?.length) return null;
  return (
    <div class="explanation">
      <h2>Explanation</h2>
      <p class="muted">
        Mean |SHAP| per input field{x.model_kind ? ` (${x.model_kind})` : ''}
        {x.base_value !== undefined ? `; base value ${formatValue(x.base_value)}` : ''}.
      </p>
      <HBarChart
        title="mean |SHAP| per field"
        bars={[...x.features].sort((a, b) => b.mean_abs - a.mean_abs).map((f) => ({ label: f.field, value: f.mean_abs }))}
      />
    </div>
  );
}

/** The quality gate's decision and reasons, from `tassel.gate.*` tags (pipeline runs and versions). */
export function GateDecision({ tags }: { tags: Record<string, string> }) {
  const decision = tags['tassel.gate.decision'];
  if (!decision) return null;
  return (
    <div class="gatebox" data-gate={decision}>
      <strong>Gate:</strong> <span class={`decision ${decision}`}>{decision}</span>
      {tags['tassel.gate.forced_reason'] ? ` (forced: ${tags['tassel.gate.forced_reason']})` : ''}
      {tags['tassel.gate.production_version'] && (
        <span class="muted"> · compared with production v{tags['tassel.gate.production_version']}</span>
      )}
      {tags['tassel.registered_version'] && <span class="muted"> · registered as v{tags['tassel.registered_version']}</span>}
      <pre>{tags['tassel.gate.reasons'] ?? 'no reasons recorded'}</pre>
    </div>
  );
}

/** One run: rename, delete/restore, notes, params, metrics, charts, explanation, artifacts, tags, datasets, children. */
export function RunPage({ runId }: { runId: string }) {
  const state = useAsync(() => get<{ run: Run }>('mlflow/runs/get', { run_id: runId }), [runId]);
  const life = useWrite(state.reload);
  return (
    <Show state={state}>
      {({ run }) => {
        const tags = tagMap(run.data.tags);
        const parent = tags['mlflow.parentRunId'];
        const datasets = run.inputs?.dataset_inputs ?? [];
        const deleted = run.info.lifecycle_stage === 'deleted';
        const setTag = (key: string, value: string) => post('mlflow/runs/set-tag', { run_id: runId, key, value });
        return (
          <section>
            <p class="crumbs">
              <a href="#/experiments">Experiments</a> / <a href={`#/experiments/${run.info.experiment_id}`}>experiment {run.info.experiment_id}</a> /
            </p>
            <div class="titlebar">
              <h1>{run.info.run_name || run.info.run_id}</h1>
              {deleted && <span class="badge bad">deleted</span>}
              <RenameField
                what="run"
                value={run.info.run_name ?? ''}
                onSave={(name) => post('mlflow/runs/update', { run_id: runId, run_name: name }).then(state.reload)}
              />
              {!life.readOnly && (
                <button
                  type="button"
                  class={deleted ? '' : 'danger'}
                  disabled={life.busy}
                  onClick={() => life.act(() => post(deleted ? 'mlflow/runs/restore' : 'mlflow/runs/delete', { run_id: runId }))}
                >
                  {deleted ? 'Restore run' : 'Delete run'}
                </button>
              )}
            </div>
            {life.error && <ErrorBox error={life.error} />}
            <p class="muted">
              <span class="mono">{run.info.run_id}</span> · {run.info.status} · started {formatTime(run.info.start_time)}
              {run.info.end_time ? ` · ended ${formatTime(run.info.end_time)}` : ''}
              {run.info.end_time && run.info.start_time ? ` · ${formatDuration(run.info.end_time - run.info.start_time)}` : ''}
              {tags['mlflow.source.name'] ? ` · source ${tags['mlflow.source.name']}` : ''}
              {parent ? (
                <>
                  {' '}· parent <a href={`#/runs/${parent}`}>{parent}</a>
                </>
              ) : null}
            </p>
            <h2>Notes</h2>
            <NotesField label="Notes" value={tags['mlflow.note.content'] ?? ''} onSave={(t) => setTag('mlflow.note.content', t).then(state.reload)} />
            <GateDecision tags={tags} />
            <div class="two">
              <div>
                <h2>Parameters</h2>
                <KeyValueTable rows={(run.data.params ?? []).map((p) => [p.key, p.value])} empty="No parameters." />
              </div>
              <div>
                <h2>Metrics (latest)</h2>
                <KeyValueTable
                  rows={(run.data.metrics ?? []).map((m) => [m.key, m.step > 0 ? `${formatValue(m.value)}  (step ${m.step})` : formatValue(m.value)])}
                  empty="No metrics."
                />
              </div>
            </div>
            <h2>Charts</h2>
            <MetricCharts run={run} />
            <Explanation run={run} />
            <h2>Artifacts</h2>
            <ArtifactBrowser runId={run.info.run_id} />
            <h2>Tags</h2>
            <TagEditor
              tags={run.data.tags ?? []}
              onSet={setTag}
              onDelete={(key) => post('mlflow/runs/delete-tag', { run_id: runId, key })}
              locked={['mlflow.', 'tassel.gate.']}
              onDone={state.reload}
            />
            <div>
              <div>
                <h2>Datasets</h2>
                {datasets.length === 0 ? (
                  <Empty>No datasets logged.</Empty>
                ) : (
                  <div class="scroll-x" tabIndex={0}>
                    <table class="grid">
                      <thead>
                        <tr>
                          <th>Name</th>
                          <th>Digest</th>
                          <th>Source</th>
                          <th>Context</th>
                        </tr>
                      </thead>
                      <tbody>
                        {datasets.map((d, i) => (
                          <tr key={i}>
                            <td>{d.dataset.name}</td>
                            <td class="mono">{d.dataset.digest}</td>
                            <td class="mono">{d.dataset.source_type} {d.dataset.source}</td>
                            <td>{tagMap(d.tags)['mlflow.data.context'] ?? ''}</td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>
              <div>
                <h2>Child runs</h2>
                <Children run={run} />
              </div>
            </div>
          </section>
        );
      }}
    </Show>
  );
}

import { useEffect, useState } from 'preact/hooks';
import {
  artifactBlob,
  type FileInfo,
  formatTime,
  formatValue,
  get,
  type Metric,
  post,
  type Run,
  tagMap,
} from './api';
import { Empty, ErrorBox, Loading, Show, StepChart, useAsync } from './common';

const MAX_CHARTS = 12;

function KeyValueTable({ rows, empty }: { rows: Array<[string, string]>; empty: string }) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <table class="grid kv">
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td class="mono">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MetricCharts({ run }: { run: Run }) {
  const keys = [...new Set((run.data.metrics ?? []).map((m) => m.key))].sort().slice(0, MAX_CHARTS);
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
  if (keys.length === 0) return <Empty>No metrics logged.</Empty>;
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
        <div class="scroll-x">
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
                    <li key={f.path}>
                      <button
                        type="button"
                        class={`link${file?.path === f.path ? ' current' : ''}`}
                        onClick={() => (f.is_dir ? (setDir(f.path), setFile(undefined)) : setFile(f))}
                      >
                        {f.is_dir ? '📁 ' : ''}
                        {f.path.split('/').pop()}
                      </button>
                      {!f.is_dir && f.file_size !== undefined ? <span class="muted"> {f.file_size} B</span> : null}
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

/** One run: params, latest metrics, charts, tags, datasets, artifacts, parent and children. */
export function RunPage({ runId }: { runId: string }) {
  const state = useAsync(() => get<{ run: Run }>('mlflow/runs/get', { run_id: runId }), [runId]);
  return (
    <Show state={state}>
      {({ run }) => {
        const tags = tagMap(run.data.tags);
        const parent = tags['mlflow.parentRunId'];
        const datasets = run.inputs?.dataset_inputs ?? [];
        return (
          <section>
            <p class="crumbs">
              <a href="#/experiments">Experiments</a> / <a href={`#/experiments/${run.info.experiment_id}`}>experiment {run.info.experiment_id}</a> /
            </p>
            <h1>{run.info.run_name || run.info.run_id}</h1>
            <p class="muted">
              <span class="mono">{run.info.run_id}</span> · {run.info.status} · started {formatTime(run.info.start_time)}
              {run.info.end_time ? ` · ended ${formatTime(run.info.end_time)}` : ''}
              {parent ? (
                <>
                  {' '}· parent <a href={`#/runs/${parent}`}>{parent}</a>
                </>
              ) : null}
            </p>
            <div class="two">
              <div>
                <h2>Parameters</h2>
                <KeyValueTable rows={(run.data.params ?? []).map((p) => [p.key, p.value])} empty="No parameters." />
              </div>
              <div>
                <h2>Metrics (latest)</h2>
                <KeyValueTable
                  rows={(run.data.metrics ?? []).map((m) => [m.key, `${formatValue(m.value)}  (step ${m.step})`])}
                  empty="No metrics."
                />
              </div>
            </div>
            <h2>Charts</h2>
            <MetricCharts run={run} />
            <h2>Artifacts</h2>
            <ArtifactBrowser runId={run.info.run_id} />
            <div class="two">
              <div>
                <h2>Tags</h2>
                <KeyValueTable rows={Object.entries(tags)} empty="No tags." />
              </div>
              <div>
                <h2>Datasets</h2>
                {datasets.length === 0 ? (
                  <Empty>No datasets logged.</Empty>
                ) : (
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
                          <td class="mono ellipsis">{d.dataset.source_type} {d.dataset.source}</td>
                          <td>{tagMap(d.tags)['mlflow.data.context'] ?? ''}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
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

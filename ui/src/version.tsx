import {
  type AliasHistoryRow,
  artifactBlob,
  artifactJson,
  formatTime,
  formatValue,
  get,
  type ModelVersion,
  post,
  type Run,
  send,
  tagMap,
} from './api';
import { Empty, ErrorBox, Show, useAsync } from './common';
import { NotesField, TagEditor } from './edit';
import { Explanation, GateDecision } from './run';

/** One column of an MLflow signature. */
export interface SignatureColumn {
  name?: string;
  type: string;
  required?: boolean;
}

/** A YAML scalar as written after `key:` (plain, 'single' or "double" quoted), unquoted. */
function yamlScalar(raw: string): string {
  const v = raw.trim();
  if (v.startsWith("'")) return v.slice(1, v.lastIndexOf("'")).replace(/''/g, "'");
  if (v.startsWith('"')) return JSON.parse(v) as string;
  return v;
}

/**
 * The signature's inputs and outputs from an MLmodel file. MLmodel stores them as JSON strings under
 * `signature:`; PyYAML folds long strings over indented lines, which are joined back with spaces.
 */
export function parseSignature(mlmodel: string): { inputs?: SignatureColumn[]; outputs?: SignatureColumn[] } {
  const lines = mlmodel.split(/\r?\n/);
  const start = lines.findIndex((l) => /^signature:\s*$/.test(l));
  const out: { inputs?: SignatureColumn[]; outputs?: SignatureColumn[] } = {};
  if (start < 0) return out;
  for (let i = start + 1; i < lines.length && /^\s+\S/.test(lines[i]!); i++) {
    const m = /^(\s+)(inputs|outputs):\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    let raw = m[3]!;
    while (i + 1 < lines.length && lines[i + 1]!.startsWith(`${m[1]} `) && !/^\s+[\w-]+:(\s|$)/.test(lines[i + 1]!))
      raw += ` ${lines[++i]!.trim()}`;
    const text = yamlScalar(raw);
    if (text && text !== 'null') out[m[2] as 'inputs' | 'outputs'] = JSON.parse(text) as SignatureColumn[];
  }
  return out;
}

/** The artifact root and path a version's `source` points at (`runs:/<id>/<path>` resolved through the run). */
function sourceRoot(source: string, run: Run | undefined): string | undefined {
  const m = /^runs:\/([^/]+)\/?(.*)$/.exec(source);
  if (m) return run ? `${run.info.artifact_uri?.replace(/\/$/, '')}/${m[2]}` : undefined;
  return source;
}

interface VersionData {
  version: ModelVersion;
  run?: Run;
  signature?: { inputs?: SignatureColumn[]; outputs?: SignatureColumn[] };
  signatureError?: string;
  example?: { columns: string[]; data: unknown[][] };
  history: AliasHistoryRow[];
}

async function loadVersion(name: string, version: string): Promise<VersionData> {
  const [{ model_version: v }, hist] = await Promise.all([
    get<{ model_version: ModelVersion }>('mlflow/model-versions/get', { name, version }),
    get<{ history?: AliasHistoryRow[] }>('tassel/registered-models/alias-history', { name, max_results: 1000 }),
  ]);
  const run = v.run_id ? await get<{ run: Run }>('mlflow/runs/get', { run_id: v.run_id }).then((r) => r.run, () => undefined) : undefined;
  const root = v.source ? sourceRoot(v.source, run) : undefined;
  const data: VersionData = {
    version: v,
    run,
    history: (hist.history ?? []).filter((h) => h.to_version === version || h.from_version === version),
  };
  if (root) {
    const [mlmodel, example] = await Promise.all([
      artifactBlob(root, 'MLmodel').then((b) => b.text(), (e: Error) => e),
      artifactJson<{ columns: string[]; data: unknown[][] }>(root, 'input_example.json').catch(() => undefined),
    ]);
    if (mlmodel instanceof Error) data.signatureError = mlmodel.message;
    else {
      try {
        data.signature = parseSignature(mlmodel);
      } catch (e) {
        data.signatureError = `the MLmodel signature could not be read: ${(e as Error).message}`;
      }
    }
    if (example && Array.isArray(example.columns) && Array.isArray(example.data)) data.example = example;
  }
  return data;
}

function SignatureTable({ title, columns }: { title: string; columns: SignatureColumn[] | undefined }) {
  return (
    <div>
      <h3>{title}</h3>
      {!columns?.length ? (
        <Empty>No {title.toLowerCase()} in the signature.</Empty>
      ) : (
        <table class="grid signature" data-signature={title.toLowerCase()}>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
            </tr>
          </thead>
          <tbody>
            {columns.map((c, i) => (
              <tr key={`${c.name}-${i}`}>
                <th scope="row">{c.name ?? `#${i}`}</th>
                <td class="type">{c.type}</td>
                <td>{c.required === false ? <span class="muted">optional</span> : 'required'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

/** A model version: description, signature, input example, source run and metrics, tags, gate, alias history. */
export function VersionPage({ name, version }: { name: string; version: string }) {
  const state = useAsync(() => loadVersion(name, version), [name, version]);
  const modelHref = `#/models/${encodeURIComponent(name)}`;
  return (
    <section>
      <p class="crumbs">
        <a href="#/models">Registered models</a> / <a href={modelHref}>{name}</a> /
      </p>
      <h1>
        {name} v{version}
      </h1>
      <Show state={state}>
        {({ version: v, run, signature, signatureError, example, history }) => {
          const tags = tagMap(v.tags);
          const key = { name, version };
          return (
            <>
              <p class="muted">
                {v.status ?? ''} · created {formatTime(v.creation_timestamp)}
                {(v.aliases ?? []).map((a) => (
                  <span key={a} class="badge" data-alias={a}>
                    @{a}
                  </span>
                ))}
              </p>
              <p class="mono">source {v.source}</p>
              <h2>Description</h2>
              <NotesField
                label="Description"
                value={v.description ?? ''}
                onSave={(description) => send('PATCH', 'mlflow/model-versions/update', { ...key, description }).then(state.reload)}
              />
              <GateDecision tags={tags} />
              <h2>Signature</h2>
              {signatureError ? (
                <ErrorBox error={new Error(signatureError)} />
              ) : !signature?.inputs && !signature?.outputs ? (
                <Empty>This version's MLmodel has no signature.</Empty>
              ) : (
                <div class="two stack-narrow">
                  <SignatureTable title="Inputs" columns={signature.inputs} />
                  <SignatureTable title="Outputs" columns={signature.outputs} />
                </div>
              )}
              <h2>Input example</h2>
              {!example ? (
                <Empty>No input example saved with this version.</Empty>
              ) : (
                <div class="scroll-x" tabIndex={0}>
                  <table class="grid example">
                    <thead>
                      <tr>
                        {example.columns.map((c) => (
                          <th key={c} scope="col">
                            {c}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {example.data.slice(0, 20).map((row, i) => (
                        <tr key={i}>
                          {row.map((c, j) => (
                            <td key={j}>{c === null ? '' : String(c)}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              <h2>Source run</h2>
              {!run ? (
                <Empty>{v.run_id ? `Run ${v.run_id} could not be read.` : 'No source run recorded.'}</Empty>
              ) : (
                <>
                  <p>
                    <a href={`#/runs/${run.info.run_id}`}>{run.info.run_name || run.info.run_id}</a>{' '}
                    <span class="muted">
                      {run.info.status} · {formatTime(run.info.start_time)}
                    </span>
                  </p>
                  <dl class="metricgrid">
                    {[...(run.data.metrics ?? [])]
                      .sort((a, b) => Number(!a.key.startsWith('test_')) - Number(!b.key.startsWith('test_')) || a.key.localeCompare(b.key))
                      .map((m) => (
                        <div key={m.key}>
                          <dt>{m.key}</dt>
                          <dd class="num">{formatValue(m.value)}</dd>
                        </div>
                      ))}
                  </dl>
                </>
              )}
              <Explanation run={run} />
              <h2>Tags</h2>
              <TagEditor
                tags={v.tags ?? []}
                locked={['mlflow.', 'tassel.gate.']}
                onSet={(k, value) => post('mlflow/model-versions/set-tag', { ...key, key: k, value })}
                onDelete={(k) => send('DELETE', 'mlflow/model-versions/delete-tag', { ...key, key: k })}
                onDone={state.reload}
              />
              <h2>Alias history of v{version}</h2>
              {history.length === 0 ? (
                <Empty>No alias has pointed at v{version}.</Empty>
              ) : (
                <div class="scroll-x" tabIndex={0}>
                  <table class="grid history">
                    <thead>
                      <tr>
                        <th scope="col">When</th>
                        <th scope="col">Alias</th>
                        <th scope="col">Action</th>
                        <th scope="col">From</th>
                        <th scope="col">To</th>
                        <th scope="col">By</th>
                        <th scope="col">Reason</th>
                      </tr>
                    </thead>
                    <tbody>
                      {history.map((h) => (
                        <tr key={h.id}>
                          <td>{formatTime(h.timestamp)}</td>
                          <td>@{h.alias}</td>
                          <td>{h.action}</td>
                          <td>{h.from_version ? `v${h.from_version}` : ''}</td>
                          <td>{h.to_version ? `v${h.to_version}` : ''}</td>
                          <td>{h.principal}</td>
                          <td>{h.reason}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}

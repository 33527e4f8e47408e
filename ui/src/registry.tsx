import { useState } from 'preact/hooks';
import {
  type AliasHistoryRow,
  formatTime,
  formatValue,
  get,
  isReadOnly,
  type ModelVersion,
  post,
  type RegisteredModel,
  type Run,
  send,
  tagMap,
} from './api';
import { Empty, ErrorBox, Show, useAsync } from './common';
import { NotesField } from './edit';

const MAX_VERSIONS_WITH_RUNS = 30;

/** Registered models, newest first. */
export function ModelsPage() {
  const [query, setQuery] = useState('');
  const [applied, setApplied] = useState('');
  const state = useAsync(
    () =>
      get<{ registered_models?: RegisteredModel[] }>('mlflow/registered-models/search', {
        max_results: 1000,
        filter: applied ? `name ILIKE '%${applied.replace(/'/g, "''")}%'` : undefined,
      }),
    [applied],
  );
  return (
    <section>
      <h1>Registered models</h1>
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(query.trim());
        }}
      >
        <label>
          Search <input type="search" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </label>{' '}
        <button type="submit">Search</button>
      </form>
      <Show state={state}>
        {(data) =>
          (data.registered_models ?? []).length === 0 ? (
            <Empty>
              {applied ? `No model matches “${applied}”.` : 'No registered models yet: the pipeline registers one.'}
            </Empty>
          ) : (
            <table class="grid">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Aliases</th>
                  <th>Last update</th>
                </tr>
              </thead>
              <tbody>
                {data.registered_models!.map((m) => (
                  <tr key={m.name}>
                    <td>
                      <a href={`#/models/${encodeURIComponent(m.name)}`}>{m.name}</a>
                    </td>
                    <td>
                      {(m.aliases ?? []).map((a) => (
                        <span class="badge" key={a.alias}>
                          @{a.alias} → v{a.version}
                        </span>
                      ))}
                    </td>
                    <td>{formatTime(m.last_updated_timestamp)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </Show>
    </section>
  );
}

interface ModelData {
  model: RegisteredModel;
  versions: ModelVersion[];
  runs: Map<string, Run>;
  history: AliasHistoryRow[];
}

async function loadModel(name: string, alias: string): Promise<ModelData> {
  const [{ registered_model: model }, found, hist] = await Promise.all([
    get<{ registered_model: RegisteredModel }>('mlflow/registered-models/get', { name }),
    get<{ model_versions?: ModelVersion[] }>('mlflow/model-versions/search', {
      filter: `name = '${name.replace(/'/g, "''")}'`,
      max_results: 1000,
      order_by: 'version_number DESC',
    }),
    get<{ history?: AliasHistoryRow[] }>('tassel/registered-models/alias-history', { name, alias, max_results: 100 }),
  ]);
  const versions = found.model_versions ?? [];
  const runs = new Map<string, Run>();
  await Promise.all(
    versions
      .slice(0, MAX_VERSIONS_WITH_RUNS)
      .filter((v) => v.run_id)
      .map((v) =>
        get<{ run: Run }>('mlflow/runs/get', { run_id: v.run_id! }).then(
          (r) => runs.set(v.run_id!, r.run),
          () => undefined,
        ),
      ),
  );
  return { model, versions, runs, history: hist.history ?? [] };
}

/** One model: versions with run metrics and gate decisions, aliases, alias history, promote / roll back. */
export function ModelPage({ name }: { name: string }) {
  const [alias, setAlias] = useState('production');
  const [aliasText, setAliasText] = useState('production');
  const state = useAsync(() => loadModel(name, alias), [name, alias]);
  const [actionError, setActionError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const [, force] = useState(0);
  const readOnly = isReadOnly();

  const setAliasTo = async (version: string, why: string) => {
    setBusy(true);
    setActionError(undefined);
    try {
      await post('mlflow/registered-models/alias', { name, alias, version, reason: why });
      state.reload();
    } catch (e) {
      setActionError(e as Error);
      force((n) => n + 1);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p class="crumbs">
        <a href="#/models">Registered models</a> /
      </p>
      <h1>{name}</h1>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          if (aliasText.trim()) setAlias(aliasText.trim());
        }}
      >
        <label>
          Alias <input value={aliasText} onInput={(e) => setAliasText(e.currentTarget.value)} />
        </label>{' '}
        <button type="submit">Show</button>
        {readOnly && <span class="muted">Read-only token: promote and roll back are unavailable.</span>}
      </form>
      {actionError && <ErrorBox error={actionError} />}
      <Show state={state}>
        {({ model, versions, runs, history }) => {
          const current = (model.aliases ?? []).find((a) => a.alias === alias)?.version;
          const previous = history.find((h) => h.to_version === current && h.from_version)?.from_version ?? undefined;
          // The scores a reviewer compares versions on first, then the rest alphabetically.
          const first = ['test_roc_auc', 'test_log_loss', 'test_ece', 'valid_roc_auc', 'test_pr_auc', 'test_f1'];
          const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
          const metricKeys = [
            ...new Set([...runs.values()].flatMap((r) => (r.data.metrics ?? []).map((m) => m.key))),
          ]
            .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
            .slice(0, 6);
          return (
            <>
              <h2>Description</h2>
              <NotesField
                label="Description"
                value={model.description ?? ''}
                onSave={(description) => send('PATCH', 'mlflow/registered-models/update', { name, description }).then(state.reload)}
              />
              <p>
                Aliases:{' '}
                {(model.aliases ?? []).length === 0 ? (
                  <span class="muted">none</span>
                ) : (
                  model.aliases!.map((a) => (
                    <span class="badge" key={a.alias} data-alias={a.alias}>
                      @{a.alias} → v{a.version}
                    </span>
                  ))
                )}
              </p>
              {!readOnly && current && previous && (
                <p>
                  <button
                    type="button"
                    disabled={busy}
                    onClick={() => setAliasTo(previous, `roll back ${alias} from v${current} to v${previous} (web UI)`)}
                  >
                    Roll back @{alias} to v{previous}
                  </button>
                </p>
              )}
              <h2>Versions</h2>
              {versions.length === 0 ? (
                <Empty>No versions registered.</Empty>
              ) : (
                <div class="scroll-x" tabIndex={0}>
                  <table class="grid versions">
                    <thead>
                      <tr>
                        <th>Version</th>
                        <th>Aliases</th>
                        <th>Created</th>
                        <th>Gate</th>
                        {metricKeys.map((k) => (
                          <th key={k}>{k}</th>
                        ))}
                        <th>Run</th>
                        {!readOnly && <th>Action</th>}
                      </tr>
                    </thead>
                    <tbody>
                      {versions.map((v) => {
                        const tags = tagMap(v.tags);
                        const run = v.run_id ? runs.get(v.run_id) : undefined;
                        const decision = tags['tassel.gate.decision'];
                        return (
                          <tr key={v.version} data-version={v.version}>
                            <td>
                              <a href={`#/models/${encodeURIComponent(name)}/versions/${v.version}`}>v{v.version}</a>
                            </td>
                            <td>
                              {(v.aliases ?? []).map((a) => (
                                <span class="badge" key={a}>
                                  @{a}
                                </span>
                              ))}
                            </td>
                            <td>{formatTime(v.creation_timestamp)}</td>
                            <td class="gate">
                              {decision ? (
                                <details>
                                  <summary>
                                    <span class={`decision ${decision}`}>{decision}</span>
                                    {tags['tassel.gate.forced_reason'] ? ' (forced)' : ''}
                                  </summary>
                                  <pre>{tags['tassel.gate.reasons'] ?? 'no reasons recorded'}</pre>
                                  {tags['tassel.gate.production_version'] && (
                                    <p class="muted">compared with production v{tags['tassel.gate.production_version']}</p>
                                  )}
                                </details>
                              ) : (
                                <span class="muted">no gate</span>
                              )}
                            </td>
                            {metricKeys.map((k) => (
                              <td key={k} class="num">
                                {formatValue(run?.data.metrics?.find((m) => m.key === k)?.value)}
                              </td>
                            ))}
                            <td>{v.run_id ? <a href={`#/runs/${v.run_id}`}>{v.run_id.slice(0, 8)}</a> : ''}</td>
                            {!readOnly && (
                              <td>
                                {current === v.version ? (
                                  <span class="muted">@{alias}</span>
                                ) : (
                                  <button
                                    type="button"
                                    disabled={busy}
                                    onClick={() => setAliasTo(v.version, `promote v${v.version} to ${alias} (web UI)`)}
                                  >
                                    Promote v{v.version} to @{alias}
                                  </button>
                                )}
                              </td>
                            )}
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
              <h2>History of @{alias}</h2>
              {history.length === 0 ? (
                <Empty>@{alias} has never been set.</Empty>
              ) : (
                <table class="grid history">
                  <thead>
                    <tr>
                      <th>When</th>
                      <th>Action</th>
                      <th>From</th>
                      <th>To</th>
                      <th>By</th>
                      <th>Reason</th>
                    </tr>
                  </thead>
                  <tbody>
                    {history.map((h) => (
                      <tr key={h.id}>
                        <td>{formatTime(h.timestamp)}</td>
                        <td>{h.action}</td>
                        <td>{h.from_version ? `v${h.from_version}` : ''}</td>
                        <td>{h.to_version ? `v${h.to_version}` : ''}</td>
                        <td>{h.principal}</td>
                        <td>{h.reason}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </>
          );
        }}
      </Show>
    </section>
  );
}

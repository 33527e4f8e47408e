import { useState } from 'preact/hooks';
import { type Experiment, formatTime, get, post } from './api';
import { Empty, ErrorBox, Show, useAsync } from './common';
import { useWrite } from './edit';

/** Experiments: search by name, create. */
export function ExperimentsPage() {
  const [query, setQuery] = useState('');
  const [applied, setApplied] = useState('');
  const [deleted, setDeleted] = useState(false);
  const [renaming, setRenaming] = useState<{ id: string; name: string }>();
  const state = useAsync(
    () =>
      get<{ experiments?: Experiment[] }>('mlflow/experiments/search', {
        max_results: 1000,
        filter: applied ? `name LIKE '%${applied.replace(/'/g, "''")}%'` : undefined,
        order_by: 'last_update_time DESC',
        view_type: deleted ? 'DELETED_ONLY' : 'ACTIVE_ONLY',
      }),
    [applied, deleted],
  );
  const write = useWrite(() => {
    setRenaming(undefined);
    state.reload();
  });
  const [name, setName] = useState('');
  const [createError, setCreateError] = useState<Error>();
  const create = async (e: Event) => {
    e.preventDefault();
    setCreateError(undefined);
    try {
      const res = await post<{ experiment_id: string }>('mlflow/experiments/create', { name: name.trim() });
      location.hash = `#/experiments/${res.experiment_id}`;
    } catch (err) {
      setCreateError(err as Error);
    }
  };
  return (
    <section>
      <h1>Experiments</h1>
      <div class="toolbar">
        <form
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setApplied(query.trim());
          }}
        >
          <label>
            Search{' '}
            <input
              type="search"
              value={query}
              placeholder="name contains…"
              onInput={(e) => setQuery(e.currentTarget.value)}
            />
          </label>{' '}
          <button type="submit">Search</button>
        </form>
        <form onSubmit={create}>
          <label>
            New experiment{' '}
            <input value={name} required placeholder="name" onInput={(e) => setName(e.currentTarget.value)} />
          </label>{' '}
          <button type="submit" disabled={!name.trim()}>
            Create
          </button>
        </form>
        <label class="check">
          <input type="checkbox" checked={deleted} onChange={(e) => setDeleted(e.currentTarget.checked)} /> Deleted
          experiments
        </label>
      </div>
      {createError && <ErrorBox error={createError} />}
      {write.error && <ErrorBox error={write.error} />}
      <Show state={state}>
        {(data) =>
          (data.experiments ?? []).length === 0 ? (
            <Empty>
              {applied
                ? `No experiment matches “${applied}”.`
                : deleted
                  ? 'No deleted experiments.'
                  : 'No experiments yet: create one above or log a run.'}
            </Empty>
          ) : (
            <table class="grid">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>ID</th>
                  <th>Last update</th>
                  <th>Artifact location</th>
                  {!write.readOnly && <th>Actions</th>}
                </tr>
              </thead>
              <tbody>
                {data.experiments!.map((x) => (
                  <tr key={x.experiment_id}>
                    <td>
                      {renaming?.id === x.experiment_id ? (
                        <form
                          class="inline-edit"
                          onSubmit={(e) => {
                            e.preventDefault();
                            void write.act(() =>
                              post('mlflow/experiments/update', { experiment_id: x.experiment_id, new_name: renaming.name.trim() }),
                            );
                          }}
                        >
                          <input
                            aria-label={`New name for ${x.name}`}
                            value={renaming.name}
                            required
                            onInput={(e) => setRenaming({ id: x.experiment_id, name: e.currentTarget.value })}
                          />{' '}
                          <button type="submit" disabled={write.busy}>
                            Save name
                          </button>{' '}
                          <button type="button" class="secondary" onClick={() => setRenaming(undefined)}>
                            Cancel
                          </button>
                        </form>
                      ) : (
                        <a href={`#/experiments/${x.experiment_id}`}>{x.name}</a>
                      )}
                    </td>
                    <td>{x.experiment_id}</td>
                    <td>{formatTime(x.last_update_time ?? x.creation_time)}</td>
                    <td class="mono">{x.artifact_location}</td>
                    {!write.readOnly && (
                      <td class="actions">
                        {deleted ? (
                          <button
                            type="button"
                            class="secondary small"
                            aria-label={`Restore ${x.name}`}
                            disabled={write.busy}
                            onClick={() => write.act(() => post('mlflow/experiments/restore', { experiment_id: x.experiment_id }))}
                          >
                            Restore
                          </button>
                        ) : (
                          <>
                            <button
                              type="button"
                              class="secondary small"
                              aria-label={`Rename ${x.name}`}
                              onClick={() => setRenaming({ id: x.experiment_id, name: x.name })}
                            >
                              Rename
                            </button>{' '}
                            <button
                              type="button"
                              class="danger small"
                              aria-label={`Delete ${x.name}`}
                              disabled={write.busy}
                              onClick={() =>
                                confirm(`Delete experiment “${x.name}” and its runs? It can be restored.`) &&
                                write.act(() => post('mlflow/experiments/delete', { experiment_id: x.experiment_id }))
                              }
                            >
                              Delete
                            </button>
                          </>
                        )}
                      </td>
                    )}
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

import { useState } from 'preact/hooks';
import { type Experiment, formatTime, get, post } from './api';
import { Empty, ErrorBox, Show, useAsync } from './common';

/** Experiments: search by name, create. */
export function ExperimentsPage() {
  const [query, setQuery] = useState('');
  const [applied, setApplied] = useState('');
  const state = useAsync(
    () =>
      get<{ experiments?: Experiment[] }>('mlflow/experiments/search', {
        max_results: 1000,
        filter: applied ? `name LIKE '%${applied.replace(/'/g, "''")}%'` : undefined,
        order_by: 'last_update_time DESC',
      }),
    [applied],
  );
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
      </div>
      {createError && <ErrorBox error={createError} />}
      <Show state={state}>
        {(data) =>
          (data.experiments ?? []).length === 0 ? (
            <Empty>
              {applied ? `No experiment matches “${applied}”.` : 'No experiments yet: create one above or log a run.'}
            </Empty>
          ) : (
            <table class="grid">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>ID</th>
                  <th>Last update</th>
                  <th>Artifact location</th>
                </tr>
              </thead>
              <tbody>
                {data.experiments!.map((x) => (
                  <tr key={x.experiment_id}>
                    <td>
                      <a href={`#/experiments/${x.experiment_id}`}>{x.name}</a>
                    </td>
                    <td>{x.experiment_id}</td>
                    <td>{formatTime(x.last_update_time ?? x.creation_time)}</td>
                    <td class="mono">{x.artifact_location}</td>
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

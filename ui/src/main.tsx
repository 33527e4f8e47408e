import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getToken, setToken } from './api';
import { ComparePage } from './compare';
import { ExperimentsPage } from './experiments';
import { ModelPage, ModelsPage } from './registry';
import { RunPage } from './run';
import { RunsPage } from './runs';
import './styles.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function route(hash: string) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query);
  if (parts.length === 0 || (parts[0] === 'experiments' && parts.length === 1)) return <ExperimentsPage />;
  if (parts[0] === 'experiments' && parts[1]) return <RunsPage key={parts[1]} experimentId={parts[1]} />;
  if (parts[0] === 'runs' && parts[1]) return <RunPage key={parts[1]} runId={parts[1]} />;
  if (parts[0] === 'compare')
    return <ComparePage runIds={(params.get('runs') ?? '').split(',').filter(Boolean)} />;
  if (parts[0] === 'models' && parts[1]) return <ModelPage key={parts[1]} name={parts[1]} />;
  if (parts[0] === 'models') return <ModelsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <div class="error" role="alert">
        No page at {hash}. <a href="#/experiments">Go to experiments</a>.
      </div>
    </section>
  );
}

function TokenField() {
  const [value, setValue] = useState(getToken());
  const [saved, setSaved] = useState(false);
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim());
        setSaved(true);
        location.reload();
      }}
    >
      <label>
        Token{' '}
        <input
          type="password"
          autocomplete="off"
          value={value}
          placeholder="access token"
          onInput={(e) => {
            setValue(e.currentTarget.value);
            setSaved(false);
          }}
        />
      </label>{' '}
      <button type="submit">{saved ? 'Saved' : 'Save'}</button>
    </form>
  );
}

function App() {
  const hash = useHash();
  const section = hash.startsWith('#/models') ? 'models' : 'experiments';
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/experiments">
          Tassel
        </a>
        <nav aria-label="Main">
          <a href="#/experiments" aria-current={section === 'experiments' ? 'page' : undefined}>
            Experiments
          </a>
          <a href="#/models" aria-current={section === 'models' ? 'page' : undefined}>
            Models
          </a>
        </nav>
        <TokenField />
      </header>
      <main id="main" tabIndex={-1}>
        {route(hash)}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

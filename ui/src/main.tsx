import { Fragment, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getToken, setToken } from './api';
import { matchRoute, NAV } from './routes';
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

function NotFound({ hash }: { hash: string }) {
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
  const matched = matchRoute(hash);
  const section = matched?.route.section;
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
          {NAV.map((n) => (
            <a key={n.href} href={n.href} aria-current={section === n.section ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
        </nav>
        <TokenField />
      </header>
      <main id="main" tabIndex={-1}>
        {/* keyed by the hash: following a link (even to the same page with other query state) starts the page afresh */}
        <Fragment key={hash}>{matched ? matched.route.render(matched.args) : <NotFound hash={hash} />}</Fragment>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);

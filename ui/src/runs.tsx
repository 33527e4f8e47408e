import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type Experiment,
  formatTime,
  formatValue,
  get,
  post,
  type Run,
  searchKey,
  tagMap,
} from './api';
import { Empty, ErrorBox, Loading, useAsync } from './common';

const ROW_HEIGHT = 34;
const FIRST_PAGE = 100;
const NEXT_PAGE = 1000;
const OVERSCAN = 8;

type Kind = 'metrics' | 'params' | 'tags';
interface Column {
  kind: Kind;
  key: string;
}
const colId = (c: Column) => `${c.kind}:${c.key}`;

function cell(run: Run, c: Column): string {
  if (c.kind === 'metrics') return formatValue(run.data.metrics?.find((m) => m.key === c.key)?.value);
  const list = c.kind === 'params' ? run.data.params : run.data.tags;
  return list?.find((p) => p.key === c.key)?.value ?? '';
}

interface Listing {
  runs: Run[];
  next?: string;
  loading: boolean;
  error?: Error;
}

/** An experiment's runs: server-side search and paging, virtualised rows, chosen columns, selection. */
export function RunsPage({ experimentId }: { experimentId: string }) {
  const experiment = useAsync(
    () => get<{ experiment: Experiment }>('mlflow/experiments/get', { experiment_id: experimentId }),
    [experimentId],
  );
  const [filterText, setFilterText] = useState('');
  const [filter, setFilter] = useState('');
  const [order, setOrder] = useState<{ expr: string; id: string; desc: boolean }>({
    expr: 'attributes.start_time',
    id: 'start_time',
    desc: true,
  });
  const [list, setList] = useState<Listing>({ runs: [], loading: true });
  const generation = useRef(0);
  const [chosen, setChosen] = useState<Column[] | undefined>(undefined);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const scroller = useRef<HTMLDivElement>(null);

  const fetchPage = async (token: string | undefined, gen: number) => {
    try {
      const res = await post<{ runs?: Run[]; next_page_token?: string }>('mlflow/runs/search', {
        experiment_ids: [experimentId],
        filter,
        max_results: token ? NEXT_PAGE : FIRST_PAGE,
        order_by: [`${order.expr} ${order.desc ? 'DESC' : 'ASC'}`],
        page_token: token,
      });
      if (gen !== generation.current) return;
      setList((l) => ({
        runs: token ? [...l.runs, ...(res.runs ?? [])] : (res.runs ?? []),
        next: res.next_page_token || undefined,
        loading: false,
      }));
    } catch (error) {
      if (gen !== generation.current) return;
      setList((l) => ({ ...l, loading: false, error: error as Error }));
    }
  };

  useEffect(() => {
    const gen = ++generation.current;
    setList({ runs: [], loading: true });
    scroller.current?.scrollTo({ top: 0 });
    setScrollTop(0);
    void fetchPage(undefined, gen);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [experimentId, filter, order.expr, order.desc]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [list.runs.length > 0]);

  const available = useMemo(() => {
    const keys: Record<Kind, Set<string>> = { metrics: new Set(), params: new Set(), tags: new Set() };
    for (const r of list.runs.slice(0, 500)) {
      for (const m of r.data.metrics ?? []) keys.metrics.add(m.key);
      for (const p of r.data.params ?? []) keys.params.add(p.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith('mlflow.')) keys.tags.add(t.key);
    }
    return keys;
  }, [list.runs.length > 0 ? list.runs[0] : undefined, list.runs.length > 500]);

  const columns: Column[] = chosen ?? [
    ...[...available.metrics].sort().slice(0, 4).map((key) => ({ kind: 'metrics' as const, key })),
    ...[...available.params].sort().slice(0, 3).map((key) => ({ kind: 'params' as const, key })),
  ];
  const toggleColumn = (c: Column) => {
    const id = colId(c);
    setChosen(columns.some((x) => colId(x) === id) ? columns.filter((x) => colId(x) !== id) : [...columns, c]);
  };
  const sortBy = (id: string, expr: string) =>
    setOrder((o) => ({ expr, id, desc: o.id === id ? !o.desc : true }));

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(list.runs.length, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => {
    if (!list.loading && list.next && last >= list.runs.length - OVERSCAN * 2) {
      setList((l) => ({ ...l, loading: true }));
      void fetchPage(list.next, generation.current);
    }
  }, [last, list.next, list.loading]);

  const template = `2.5rem minmax(10rem, 1.4fr) 7rem 13rem ${columns.map(() => 'minmax(6.5rem, 1fr)').join(' ')}`;
  const minWidth = `${40 + 180 + 112 + 208 + columns.length * 110}px`;
  const toggleRun = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else if (next.size < 50) next.add(id);
    setSelected(next);
  };
  const header = (label: string, id: string, expr: string) => (
    <div role="columnheader" aria-sort={order.id === id ? (order.desc ? 'descending' : 'ascending') : 'none'}>
      <button type="button" class="sort" onClick={() => sortBy(id, expr)} aria-label={`Sort by ${label}`}>
        {label}
        {order.id === id ? (order.desc ? ' ▼' : ' ▲') : ''}
      </button>
    </div>
  );

  return (
    <section>
      <p class="crumbs">
        <a href="#/experiments">Experiments</a> /
      </p>
      <h1>{experiment.data?.experiment.name ?? `Experiment ${experimentId}`}</h1>
      {experiment.error && <ErrorBox error={experiment.error} />}
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(filterText.trim());
        }}
      >
        <label class="grow">
          Filter{' '}
          <input
            class="filter"
            name="filter"
            value={filterText}
            placeholder="metrics.auc > 0.8 OR params.model = 'gbdt'"
            onInput={(e) => setFilterText(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Search</button>
        <details class="columns">
          <summary>Columns</summary>
          <div class="picker">
            {(['metrics', 'params', 'tags'] as const).map((kind) => (
              <fieldset key={kind}>
                <legend>{kind}</legend>
                {[...available[kind]].sort().map((key) => (
                  <label key={key}>
                    <input
                      type="checkbox"
                      checked={columns.some((c) => c.kind === kind && c.key === key)}
                      onChange={() => toggleColumn({ kind, key })}
                    />{' '}
                    {key}
                  </label>
                ))}
              </fieldset>
            ))}
          </div>
        </details>
        <a
          class={`button${selected.size >= 2 ? '' : ' disabled'}`}
          aria-disabled={selected.size < 2}
          href={selected.size >= 2 ? `#/compare?runs=${[...selected].join(',')}` : undefined}
        >
          Compare {selected.size > 0 ? `(${selected.size})` : ''}
        </a>
      </form>
      {list.error && <ErrorBox error={list.error} />}
      {!list.error && list.runs.length === 0 && list.loading && <Loading />}
      {!list.error && list.runs.length === 0 && !list.loading && (
        <Empty>{filter ? `No run matches “${filter}”.` : 'No runs in this experiment yet.'}</Empty>
      )}
      {list.runs.length > 0 && (
        <>
          <p class="muted" aria-live="polite">
            {list.runs.length}
            {list.next ? '+' : ''} runs{selected.size ? `, ${selected.size} selected (up to 50)` : ''}
          </p>
          <div
            class="vtable"
            role="table"
            aria-rowcount={list.runs.length}
            ref={scroller}
            style={{ height: `${(list.runs.length + 1) * ROW_HEIGHT + 2}px` }}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
          >
            <div class="vrow vhead" role="row" style={{ gridTemplateColumns: template, minWidth }}>
              <div role="columnheader">
                <span class="sr-only">Select</span>
              </div>
              {header('Run', 'run_name', 'attributes.run_name')}
              {header('Status', 'status', 'attributes.status')}
              {header('Started', 'start_time', 'attributes.start_time')}
              {columns.map((c) =>
                header(`${c.kind === 'metrics' ? '' : c.kind === 'params' ? 'param ' : 'tag '}${c.key}`, colId(c), searchKey(c.kind, c.key)),
              )}
            </div>
            <div class="vbody" style={{ height: `${list.runs.length * ROW_HEIGHT}px`, minWidth }}>
              {list.runs.slice(first, last).map((r, i) => {
                const tags = tagMap(r.data.tags);
                return (
                  <div
                    key={r.info.run_id}
                    class="vrow"
                    role="row"
                    aria-rowindex={first + i + 1}
                    style={{ gridTemplateColumns: template, top: `${(first + i) * ROW_HEIGHT}px` }}
                  >
                    <div role="cell">
                      <input
                        type="checkbox"
                        aria-label={`Select ${r.info.run_name ?? r.info.run_id}`}
                        checked={selected.has(r.info.run_id)}
                        onChange={() => toggleRun(r.info.run_id)}
                      />
                    </div>
                    <div role="cell" class="ellipsis">
                      <a href={`#/runs/${r.info.run_id}`}>{r.info.run_name || r.info.run_id}</a>
                      {tags['mlflow.parentRunId'] ? <span class="badge">child</span> : null}
                    </div>
                    <div role="cell">{r.info.status}</div>
                    <div role="cell">{formatTime(r.info.start_time)}</div>
                    {columns.map((c) => (
                      <div role="cell" class="ellipsis num" key={colId(c)}>
                        {cell(r, c)}
                      </div>
                    ))}
                  </div>
                );
              })}
            </div>
          </div>
          {list.loading && <Loading />}
        </>
      )}
    </section>
  );
}

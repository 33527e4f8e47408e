import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type Experiment,
  formatDuration,
  formatTime,
  formatValue,
  get,
  post,
  quote,
  type Run,
  searchKey,
  tagMap,
} from './api';
import { Empty, ErrorBox, Loading, useAsync } from './common';
import { NotesField, RenameField, useWrite } from './edit';
import { currentQuery, readList, setQuery } from './url';

const ROW_HEIGHT = 34;
const FIRST_PAGE = 100;
const NEXT_PAGE = 1000;
const MAX_CHILDREN = 1000;
const OVERSCAN = 8;
/** Compare takes up to this many runs (get-history-bulk-interval's limit). */
export const MAX_SELECTED = 100;
const NOTE = 'mlflow.note.content';
const PARENT = 'mlflow.parentRunId';

type Kind = 'metrics' | 'params' | 'tags';
interface Column {
  kind: Kind;
  key: string;
}
const colId = (c: Column) => `${c.kind}:${c.key}`;
const parseCol = (id: string): Column | undefined => {
  const i = id.indexOf(':');
  const kind = id.slice(0, i);
  return kind === 'metrics' || kind === 'params' || kind === 'tags' ? { kind, key: id.slice(i + 1) } : undefined;
};

/** Sortable built-in columns: id -> search expression. */
const FIXED_SORT: Record<string, string> = {
  run_name: 'attributes.run_name',
  status: 'attributes.status',
  start_time: 'attributes.start_time',
  end_time: 'attributes.end_time',
};
const sortExpr = (id: string) => FIXED_SORT[id] ?? (parseCol(id) ? searchKey(parseCol(id)!.kind, parseCol(id)!.key) : 'attributes.start_time');

function cell(run: Run, c: Column): string {
  if (c.kind === 'metrics') return formatValue(run.data.metrics?.find((m) => m.key === c.key)?.value);
  const list = c.kind === 'params' ? run.data.params : run.data.tags;
  return list?.find((p) => p.key === c.key)?.value ?? '';
}

/** The experiment's key metrics: the pipeline's selection metric on validation and test ROC AUC, else the likeliest scores. */
export function defaultColumns(runs: Run[], metricKeys: Set<string>): Column[] {
  const out: Column[] = [];
  const selection = runs.map((r) => r.data.params?.find((p) => p.key === 'selection_metric')?.value).find(Boolean);
  if (selection) {
    const key = `valid_${selection === 'neg_log_loss' ? 'log_loss' : selection}`;
    if (metricKeys.has(key)) out.push({ kind: 'metrics', key });
  }
  if (metricKeys.has('test_roc_auc')) out.push({ kind: 'metrics', key: 'test_roc_auc' });
  // Pipeline runs: the quality gate's decision.
  if (runs.some((r) => r.data.tags?.some((t) => t.key === 'tassel.gate.decision')))
    out.push({ kind: 'tags', key: 'tassel.gate.decision' });
  if (out.length === 0) {
    // Scores people look at first, held-out splits before training ones.
    const rank = (k: string) => {
      const i = [/roc_auc|(^|_)auc/, /accuracy|f1/, /loss|rmse|mae/, /r2|score/].findIndex((re) => re.test(k));
      return (i < 0 ? 9 : i) * 3 + (/^(test|valid)/.test(k) ? 0 : /^train/.test(k) ? 2 : 1);
    };
    const keys = [...metricKeys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).slice(0, 3);
    out.push(...keys.map((key) => ({ kind: 'metrics' as const, key })));
  }
  return out;
}

const storageKey = (experimentId: string) => `tassel.columns.${experimentId}`;
function rememberedColumns(experimentId: string): Column[] | undefined {
  const fromUrl = readList(currentQuery(), 'cols');
  let ids = fromUrl;
  if (!ids) {
    try {
      const s = localStorage.getItem(storageKey(experimentId));
      ids = s ? (JSON.parse(s) as string[]) : undefined;
    } catch {
      ids = undefined;
    }
  }
  return ids?.map(parseCol).filter((c): c is Column => c !== undefined);
}

interface Listing {
  runs: Run[];
  children: Map<string, Run[]>;
  next?: string;
  loading: boolean;
  error?: Error;
}

interface Row {
  run: Run;
  depth: number;
  childCount: number;
}

/** An experiment's runs: server-side search and paging, child runs nested under parents, virtualised rows. */
export function RunsPage({ experimentId }: { experimentId: string }) {
  const experiment = useAsync(
    () => get<{ experiment: Experiment }>('mlflow/experiments/get', { experiment_id: experimentId }),
    [experimentId],
  );
  const initial = useMemo(currentQuery, []);
  const [filterText, setFilterText] = useState(initial.get('filter') ?? '');
  const [filter, setFilter] = useState(initial.get('filter') ?? '');
  const [order, setOrder] = useState(() => {
    const [id = 'start_time', dir = 'desc'] = (initial.get('sort') ?? '').split('~');
    return { id, desc: dir !== 'asc' };
  });
  const [nest, setNest] = useState(initial.get('nest') !== '0');
  const [deleted, setDeleted] = useState(initial.get('view') === 'deleted');
  const [list, setList] = useState<Listing>({ runs: [], children: new Map(), loading: true });
  const generation = useRef(0);
  const [chosen, setChosen] = useState<Column[] | undefined>(() => rememberedColumns(experimentId));
  const [selected, setSelected] = useState<Set<string>>(() => new Set(readList(initial, 'sel') ?? []));
  const [expanded, setExpanded] = useState<Set<string>>(new Set());
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [reloadTick, setReloadTick] = useState(0);
  const scroller = useRef<HTMLDivElement>(null);
  const nesting = nest && !filter && !deleted;
  const write = useWrite(() => {
    setSelected(new Set());
    setQuery({ sel: undefined });
    setReloadTick((t) => t + 1);
  });

  const fetchPage = async (token: string | undefined, gen: number) => {
    try {
      const search = (f: string, max: number, page?: string) =>
        post<{ runs?: Run[]; next_page_token?: string }>('mlflow/runs/search', {
          experiment_ids: [experimentId],
          filter: f,
          max_results: max,
          order_by: [`${sortExpr(order.id)} ${order.desc ? 'DESC' : 'ASC'}`],
          page_token: page,
          run_view_type: deleted ? 'DELETED_ONLY' : 'ACTIVE_ONLY',
        });
      const res = await search(nesting ? `tags.${PARENT} IS NULL` : filter, token ? NEXT_PAGE : FIRST_PAGE, token);
      if (gen !== generation.current) return;
      const page = res.runs ?? [];
      setList((l) => ({
        runs: token ? [...l.runs, ...page] : page,
        children: l.children,
        next: res.next_page_token || undefined,
        loading: false,
      }));
      if (!nesting || page.length === 0) return;
      // One request for the children of the whole page, grouped under their parents.
      for (let i = 0; i < page.length; i += 100) {
        const ids = page.slice(i, i + 100).map((r) => quote(r.info.run_id));
        const kids = await search(`tags.${PARENT} IN (${ids.join(', ')})`, MAX_CHILDREN);
        if (gen !== generation.current) return;
        setList((l) => {
          const children = new Map(l.children);
          for (const c of kids.runs ?? []) {
            const p = tagMap(c.data.tags)[PARENT]!;
            children.set(p, [...(children.get(p) ?? []), c]);
          }
          return { ...l, children };
        });
      }
    } catch (error) {
      if (gen !== generation.current) return;
      setList((l) => ({ ...l, loading: false, error: error as Error }));
    }
  };

  useEffect(() => {
    const gen = ++generation.current;
    setList({ runs: [], children: new Map(), loading: true });
    scroller.current?.scrollTo({ top: 0 });
    setScrollTop(0);
    void fetchPage(undefined, gen);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [experimentId, filter, order.id, order.desc, nesting, deleted, reloadTick]);

  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setViewport(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [list.runs.length > 0]);

  const childCount = [...list.children.values()].reduce((n, c) => n + c.length, 0);
  const available = useMemo(() => {
    const keys: Record<Kind, Set<string>> = { metrics: new Set(), params: new Set(), tags: new Set() };
    const sample = [...list.runs.slice(0, 300), ...[...list.children.values()].flat().slice(0, 300)];
    for (const r of sample) {
      for (const m of r.data.metrics ?? []) keys.metrics.add(m.key);
      for (const p of r.data.params ?? []) keys.params.add(p.key);
      for (const t of r.data.tags ?? []) if (!t.key.startsWith('mlflow.')) keys.tags.add(t.key);
    }
    return keys;
  }, [list.runs.length > 0 ? list.runs[0] : undefined, list.runs.length > 300, childCount > 0]);

  // The latest run that names a selection metric (a pipeline run), looked up once so the default columns
  // do not depend on the filter of the moment.
  const keyRun = useAsync(
    () =>
      post<{ runs?: Run[] }>('mlflow/runs/search', {
        experiment_ids: [experimentId],
        filter: 'params.selection_metric IS NOT NULL',
        max_results: 1,
        order_by: ['attributes.start_time DESC'],
      }).then((r) => r.runs?.[0], () => undefined),
    [experimentId],
  );
  const defaults = useMemo(() => {
    const k = keyRun.data;
    const sample = [...list.runs.slice(0, 300), ...[...list.children.values()].flat().slice(0, 300)];
    const keys = new Set([...available.metrics, ...(k?.data.metrics ?? []).map((m) => m.key)]);
    return defaultColumns(k ? [k, ...sample] : sample, keys);
  }, [available, keyRun.data]);
  const columns: Column[] = chosen ?? defaults;
  const choose = (next: Column[] | undefined) => {
    setChosen(next);
    try {
      if (next) localStorage.setItem(storageKey(experimentId), JSON.stringify(next.map(colId)));
      else localStorage.removeItem(storageKey(experimentId));
    } catch {
      /* storage unavailable: the URL still holds the choice */
    }
    setQuery({ cols: next ? next.map(colId) : undefined });
  };
  const toggleColumn = (c: Column) => {
    const id = colId(c);
    choose(columns.some((x) => colId(x) === id) ? columns.filter((x) => colId(x) !== id) : [...columns, c]);
  };
  const sortBy = (id: string) => {
    const desc = order.id === id ? !order.desc : true;
    setOrder({ id, desc });
    setQuery({ sort: id === 'start_time' && desc ? undefined : `${id}~${desc ? 'desc' : 'asc'}` });
  };

  const rows: Row[] = useMemo(() => {
    const out: Row[] = [];
    for (const run of list.runs) {
      const kids = list.children.get(run.info.run_id) ?? [];
      out.push({ run, depth: 0, childCount: kids.length });
      if (expanded.has(run.info.run_id)) for (const k of kids) out.push({ run: k, depth: 1, childCount: 0 });
    }
    return out;
  }, [list, expanded]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => {
    if (!list.loading && list.next && last >= rows.length - OVERSCAN * 2) {
      setList((l) => ({ ...l, loading: true }));
      void fetchPage(list.next, generation.current);
    }
  }, [last, list.next, list.loading]);

  const template = `2.5rem minmax(12rem, 1.6fr) 6.5rem 12.5rem 6.5rem minmax(8rem, 1fr) ${columns.map(() => 'minmax(7rem, 1fr)').join(' ')}`;
  const minWidth = `${40 + 192 + 104 + 200 + 104 + 128 + columns.length * 112}px`;
  const updateSelection = (next: Set<string>) => {
    setSelected(next);
    setQuery({ sel: next.size ? [...next] : undefined });
  };
  const toggleRun = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else if (next.size < MAX_SELECTED) next.add(id);
    updateSelection(next);
  };
  const allShown = rows.slice(0, MAX_SELECTED).map((r) => r.run.info.run_id);
  const toggleExpand = (id: string) => {
    const next = new Set(expanded);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setExpanded(next);
  };
  const parents = list.runs.filter((r) => list.children.has(r.info.run_id)).map((r) => r.info.run_id);
  const header = (label: string, id: string | undefined) => (
    <div role="columnheader" aria-sort={id && order.id === id ? (order.desc ? 'descending' : 'ascending') : undefined}>
      {id ? (
        <button type="button" class="sort" onClick={() => sortBy(id)} aria-label={`Sort by ${label}`} title={label}>
          {label}
          {order.id === id ? (order.desc ? ' ▼' : ' ▲') : ''}
        </button>
      ) : (
        <span class="colhead">{label}</span>
      )}
    </div>
  );
  const exp = experiment.data?.experiment;
  const expTags = tagMap(exp?.tags);
  const setExpTag = (key: string, value: string) =>
    post('mlflow/experiments/set-experiment-tag', { experiment_id: experimentId, key, value }).then(experiment.reload);

  return (
    <section>
      <p class="crumbs">
        <a href="#/experiments">Experiments</a> /
      </p>
      <div class="titlebar">
        <h1>{exp?.name ?? `Experiment ${experimentId}`}</h1>
        {exp?.lifecycle_stage === 'deleted' && <span class="badge bad">deleted</span>}
        {exp && (
          <RenameField
            what="experiment"
            value={exp.name}
            onSave={(name) => post('mlflow/experiments/update', { experiment_id: experimentId, new_name: name }).then(experiment.reload)}
          />
        )}
      </div>
      {experiment.error && <ErrorBox error={experiment.error} />}
      {exp && (
        <details class="expnotes" open={Boolean(expTags[NOTE])}>
          <summary>Description</summary>
          <NotesField label="Description" value={expTags[NOTE] ?? ''} onSave={(t) => setExpTag(NOTE, t)} />
        </details>
      )}
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(filterText.trim());
          setQuery({ filter: filterText.trim() || undefined });
        }}
      >
        <label class="grow">
          Filter{' '}
          <input
            class="filter"
            name="filter"
            value={filterText}
            placeholder="metrics.valid_roc_auc > 0.8 OR params.model_kind = 'gbdt'"
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
            <div>
              <button type="button" class="secondary" onClick={() => choose(undefined)}>
                Default columns
              </button>
            </div>
          </div>
        </details>
        <label class="check">
          <input
            type="checkbox"
            checked={nest}
            onChange={(e) => {
              setNest(e.currentTarget.checked);
              setQuery({ nest: e.currentTarget.checked ? undefined : '0' });
            }}
          />{' '}
          Nest child runs
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={deleted}
            onChange={(e) => {
              setDeleted(e.currentTarget.checked);
              updateSelection(new Set());
              setQuery({ view: e.currentTarget.checked ? 'deleted' : undefined });
            }}
          />{' '}
          Deleted runs
        </label>
        <a
          class={`button${selected.size >= 2 ? '' : ' disabled'}`}
          aria-disabled={selected.size < 2}
          href={selected.size >= 2 ? `#/compare?runs=${[...selected].join(',')}&exp=${experimentId}` : undefined}
        >
          Compare {selected.size > 0 ? `(${selected.size})` : ''}
        </a>
        {selected.size > 0 && !write.readOnly && (
          <button
            type="button"
            class={deleted ? '' : 'danger'}
            disabled={write.busy}
            onClick={() =>
              write.act(() =>
                Promise.all([...selected].map((run_id) => post(deleted ? 'mlflow/runs/restore' : 'mlflow/runs/delete', { run_id }))),
              )
            }
          >
            {deleted ? 'Restore' : 'Delete'} ({selected.size})
          </button>
        )}
      </form>
      {write.error && <ErrorBox error={write.error} />}
      {list.error && <ErrorBox error={list.error} />}
      {!list.error && list.runs.length === 0 && list.loading && <Loading />}
      {!list.error && list.runs.length === 0 && !list.loading && (
        <Empty>
          {filter ? `No run matches “${filter}”.` : deleted ? 'No deleted runs.' : 'No runs in this experiment yet.'}
        </Empty>
      )}
      {list.runs.length > 0 && (
        <>
          <p class="muted count" aria-live="polite">
            {list.runs.length}
            {list.next ? '+' : ''} {nesting ? 'top-level runs' : 'runs'}
            {nesting && childCount ? ` (${childCount} child runs)` : ''}
            {selected.size ? `, ${selected.size} selected (up to ${MAX_SELECTED})` : ''}
            {nesting && parents.length > 0 && (
              <>
                {' '}
                <button
                  type="button"
                  class="link"
                  onClick={() => setExpanded(expanded.size ? new Set() : new Set(parents))}
                >
                  {expanded.size ? 'Collapse all' : 'Expand all'}
                </button>
              </>
            )}
          </p>
          <div
            class="vtable"
            role="table"
            aria-label="Runs"
            aria-rowcount={rows.length + 1}
            ref={scroller}
            style={{ height: `${(rows.length + 1) * ROW_HEIGHT + 2}px` }}
            onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
          >
            <div class="vrow vhead" role="row" style={{ gridTemplateColumns: template, minWidth }}>
              <div role="columnheader">
                <input
                  type="checkbox"
                  aria-label="Select all shown runs"
                  checked={selected.size > 0 && allShown.every((id) => selected.has(id))}
                  onChange={(e) => updateSelection(e.currentTarget.checked ? new Set(allShown) : new Set())}
                />
              </div>
              {header('Run', 'run_name')}
              {header('Status', 'status')}
              {header('Started', 'start_time')}
              {header('Duration', undefined)}
              {header('Source', undefined)}
              {columns.map((c) =>
                header(`${c.kind === 'metrics' ? '' : c.kind === 'params' ? 'param ' : 'tag '}${c.key}`, colId(c)),
              )}
            </div>
            <div class="vbody" style={{ height: `${rows.length * ROW_HEIGHT}px`, minWidth }}>
              {rows.slice(first, last).map(({ run: r, depth, childCount: kids }, i) => {
                const tags = tagMap(r.data.tags);
                const id = r.info.run_id;
                const name = r.info.run_name || id;
                const source = tags['mlflow.source.name'] ?? '';
                return (
                  <div
                    key={id}
                    class={`vrow${depth ? ' child' : ''}`}
                    role="row"
                    aria-rowindex={first + i + 2}
                    data-run={name}
                    style={{ gridTemplateColumns: template, top: `${(first + i) * ROW_HEIGHT}px` }}
                  >
                    <div role="cell">
                      <input
                        type="checkbox"
                        aria-label={`Select ${name}`}
                        checked={selected.has(id)}
                        onChange={() => toggleRun(id)}
                      />
                    </div>
                    <div role="cell" class="ellipsis runname" style={depth ? { paddingLeft: '28px' } : undefined}>
                      {kids > 0 ? (
                        <button
                          type="button"
                          class="expander"
                          aria-expanded={expanded.has(id)}
                          aria-label={`${expanded.has(id) ? 'Collapse' : 'Expand'} ${kids} child runs of ${name}`}
                          onClick={() => toggleExpand(id)}
                        >
                          {expanded.has(id) ? '▾' : '▸'} {kids}
                        </button>
                      ) : depth === 0 && nesting ? (
                        <span class="expander-space" />
                      ) : null}
                      <a href={`#/runs/${id}`}>{name}</a>
                      {depth === 0 && tags[PARENT] ? (
                        <a class="badge" href={`#/runs/${tags[PARENT]}`} title="parent run">
                          child
                        </a>
                      ) : null}
                    </div>
                    <div role="cell">
                      <span class={`status ${r.info.status.toLowerCase()}`}>{r.info.status}</span>
                    </div>
                    <div role="cell">{formatTime(r.info.start_time)}</div>
                    <div role="cell" class="num">
                      {r.info.end_time && r.info.start_time ? formatDuration(r.info.end_time - r.info.start_time) : ''}
                    </div>
                    <div role="cell" class="ellipsis" title={source}>
                      {source.split(/[\\/]/).pop()}
                    </div>
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

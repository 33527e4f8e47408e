import type { VNode } from 'preact';
import { ComparePage } from './compare';
import { ExperimentsPage } from './experiments';
import { MonitoringListPage, MonitoringPage } from './monitoring';
import { ModelPage, ModelsPage } from './registry';
import { RunPage } from './run';
import { RunsPage } from './runs';
import { parseHash } from './url';
import { VersionPage } from './version';

/** What a page receives: the `:name` segments of its path and the hash's query string. */
export interface RouteArgs {
  params: Record<string, string>;
  query: URLSearchParams;
}

/** One page: a path pattern (`experiments/:id`) and what to render; `section` names its nav entry. */
export interface Route {
  path: string;
  section: string;
  render: (args: RouteArgs) => VNode;
}

/** One entry of the header's navigation; `section` matches the routes that light it up. */
export interface NavItem {
  label: string;
  href: string;
  section: string;
}

// To add a page: one line here (and one in NAV if it belongs in the header). First match wins.
export const ROUTES: Route[] = [
  { path: '', section: 'experiments', render: () => <ExperimentsPage /> },
  { path: 'experiments', section: 'experiments', render: () => <ExperimentsPage /> },
  { path: 'experiments/:id', section: 'experiments', render: ({ params }) => <RunsPage key={params.id} experimentId={params.id!} /> },
  { path: 'runs/:id', section: 'experiments', render: ({ params }) => <RunPage key={params.id} runId={params.id!} /> },
  {
    path: 'compare',
    section: 'experiments',
    render: ({ query }) => (
      <ComparePage
        runIds={(query.get('runs') ?? '').split(',').filter(Boolean)}
        experimentIds={(query.get('exp') ?? '').split(',').filter(Boolean)}
      />
    ),
  },
  { path: 'models', section: 'models', render: () => <ModelsPage /> },
  {
    path: 'models/:name/versions/:version',
    section: 'models',
    render: ({ params }) => <VersionPage name={params.name!} version={params.version!} />,
  },
  { path: 'models/:name', section: 'models', render: ({ params }) => <ModelPage key={params.name} name={params.name!} /> },
  { path: 'monitoring', section: 'monitoring', render: () => <MonitoringListPage /> },
  { path: 'monitoring/:model', section: 'monitoring', render: ({ params }) => <MonitoringPage key={params.model} model={params.model!} /> },
];

export const NAV: NavItem[] = [
  { label: 'Experiments', href: '#/experiments', section: 'experiments' },
  { label: 'Models', href: '#/models', section: 'models' },
  { label: 'Monitoring', href: '#/monitoring', section: 'monitoring' },
];

/** The first route whose pattern matches the hash, with its arguments; undefined when none does. */
export function matchRoute(hash: string): { route: Route; args: RouteArgs } | undefined {
  const { parts, query } = parseHash(hash);
  for (const route of ROUTES) {
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    if (pattern.every((seg, i) => (seg.startsWith(':') ? ((params[seg.slice(1)] = parts[i]!), true) : seg === parts[i])))
      return { route, args: { params, query } };
  }
  return undefined;
}

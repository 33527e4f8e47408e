import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** Options of {@link uiPlugin}. */
export interface UiPluginOptions {
  /** Folder holding the built UI (`index.html` + `assets/`); default: `dist-ui/` at the package root. */
  root?: string;
}

/** The page `/` answers when the UI has not been built. */
export const UI_NOT_BUILT_HTML =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tassel</title></head>' +
  '<body><h1>Tassel tracking server</h1><p>The web UI is not built: <code>npm ci</code> builds it, ' +
  'or run <code>npm run build:ui</code> (it writes <code>dist-ui/</code>), then restart the server. ' +
  'The REST API is served under ' +
  '<code>/api/2.0/mlflow/</code>.</p></body></html>';

/** Finds `dist-ui/` beside package.json, from the source tree (src/...) or the compiled one (dist/...). */
export function defaultUiRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist-ui');
    dir = dirname(dir);
  }
  return resolve('dist-ui');
}

function listFiles(root: string): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.add(`/${relative(root, full).split(sep).join('/')}`);
    }
  };
  walk(root);
  return out;
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/**
 * Serves the web UI (a Vite build with hash routing) at `/`. The UI's files are public code without data,
 * so they are answered from an `onRequest` hook registered before the auth plugin: the browser loads the
 * page without credentials, then calls the REST API with the token the user types in. Only the files
 * present in the build at start are served; every other path (notably `/api/*`) goes on to its route or
 * to the JSON 404. Without a build, `/` answers a short page saying to run `npm run build`.
 */
export const uiPlugin: FastifyPluginAsync<UiPluginOptions> = async (app, options) => {
  const root = resolve(options.root ?? defaultUiRoot());
  const built = existsSync(join(root, 'index.html'));
  if (!built) {
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if ((request.method === 'GET' || request.method === 'HEAD') && pathOf(request.url) === '/')
        return reply
          .type('text/html; charset=utf-8')
          .header('cache-control', 'no-cache')
          .send(UI_NOT_BUILT_HTML);
    });
    return;
  }
  const files = listFiles(root);
  await app.register(fastifyStatic, { root, serve: false, decorateReply: true, cacheControl: false });
  // A callback hook, not an async one: every API request passes through it, and an async hook costs a
  // promise and a microtask hop per request.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    if ((request.method !== 'GET' && request.method !== 'HEAD') || request.url.startsWith('/api/'))
      return done();
    const path = pathOf(request.url);
    if (path === '/' || path === '/index.html') {
      reply.header('cache-control', 'no-cache').sendFile('index.html');
      return;
    }
    if (files.has(path)) {
      const immutable = path.startsWith('/assets/');
      reply
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .sendFile(path.slice(1));
      return;
    }
    done();
  });
};
// Like fastify-plugin: the hook must sit at the root, ahead of the auth plugin's hook.
(uiPlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

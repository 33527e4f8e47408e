#!/usr/bin/env node
// `npm ci` / `npm install` run this (package.json "prepare"): it builds the web UI into dist-ui/ so the two
// README commands (`npm ci && npm start`) give a working UI at the tracking server's `/`. It builds with
// Vite only (no type check: `npm run build:ui` does both). Where the UI cannot be built it says why and
// succeeds, so the install never fails for it: an install without dev dependencies (the image's
// `npm ci --omit=dev`), or one without the ui/ sources.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const config = join(root, 'ui', 'vite.config.ts');
if (!existsSync(config)) {
  console.log('tassel prepare: no ui/ sources here, web UI not built');
  process.exit(0);
}
let vite;
try {
  vite = await import('vite');
} catch {
  console.log('tassel prepare: Vite is not installed (dev dependencies omitted), web UI not built');
  process.exit(0);
}
const t0 = performance.now();
await vite.build({ configFile: config, logLevel: 'warn' });
console.log(`tassel prepare: web UI built into dist-ui/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

#!/usr/bin/env node
// Runs the compiled CLI when the package was built (the container image), the TypeScript sources otherwise (a clone).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source) && !process.env.TASSEL_USE_DIST) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(compiled.href);
}

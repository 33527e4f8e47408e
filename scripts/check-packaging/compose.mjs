#!/usr/bin/env node
// compose.yaml, validated by Debian's docker-compose 1.29 (`config`: schema, interpolation, depends_on
// targets; no engine needed), then what `config` does not look at: bind-mount sources must exist, every
// `service_healthy` dependency must have a health check (its own or the Tassel image's HEALTHCHECK), every
// `service_completed_successfully` dependency must be a one-shot (no restart policy), and the reverse proxy's
// upstream hosts must be services of the file.
// Usage: node scripts/check-packaging/compose.mjs [compose.yaml] [env-file]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

const file = resolve(process.argv[2] ?? 'compose.yaml');
const projectDir = dirname(file);
const envFile = resolve(process.argv[3] ?? resolve(projectDir, 'deploy/compose.env.example'));
const problems = [];

let resolved;
try {
  const out = execFileSync(
    'docker-compose',
    ['--project-directory', projectDir, '--env-file', envFile, '-f', file, 'config'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  resolved = parse(out);
} catch (e) {
  const stderr = String(e.stderr ?? e.message).trim();
  console.error(
    `compose: docker-compose config rejected ${file}: ${stderr
      .replace(/The Compose file '[^']*' is invalid because:/, '')
      .replace(/\s*\n\s*/g, ' ')
      .trim()}`,
  );
  process.exit(1);
}

const services = resolved.services ?? {};
const tasselImage = (svc) => Boolean(svc.build) || String(svc.image ?? '').startsWith('tassel');
for (const [name, svc] of Object.entries(services)) {
  for (const v of svc.volumes ?? []) {
    const source = typeof v === 'string' ? v.split(':')[0] : v.source;
    const type =
      typeof v === 'string' ? (source.startsWith('/') || source.startsWith('.') ? 'bind' : 'volume') : v.type;
    if (type === 'bind' && !existsSync(source))
      problems.push(`service ${name}: bind-mount source ${source} does not exist`);
  }
  for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
    const target = services[dep];
    if (!target) continue;
    if (cond?.condition === 'service_healthy' && !target.healthcheck && !tasselImage(target)) {
      problems.push(`service ${name}: waits for ${dep} to be healthy, but ${dep} has no healthcheck`);
    }
    if (cond?.condition === 'service_completed_successfully' && target.restart && target.restart !== 'no') {
      problems.push(`service ${name}: waits for ${dep} to complete, but ${dep} restarts (${target.restart})`);
    }
  }
  for (const v of svc.volumes ?? []) {
    const source = typeof v === 'string' ? v.split(':')[0] : v.source;
    if (!/nginx\.conf$|\.conf$/.test(String(source)) || !existsSync(source)) continue;
    const conf = readFileSync(source, 'utf8');
    for (const m of conf.matchAll(/^\s*server\s+([A-Za-z0-9_.-]+):\d+/gm)) {
      if (!services[m[1]])
        problems.push(`service ${name}: ${source} proxies to ${m[1]}, which is not a service`);
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`compose: ${p}`);
  process.exit(1);
}
console.log(
  `compose: ${file} valid (docker-compose 1.29 config; mounts, health and completion conditions, proxy upstreams): ${Object.keys(services).length} services`,
);

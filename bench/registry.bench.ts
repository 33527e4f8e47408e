/**
 * `npx tsx bench/registry.bench.ts`: registry figures over real HTTP on SQLite and (when reachable)
 * PostgreSQL: concurrent version creates per second, alias-move latency, and the time from an alias move
 * to its arrival on an SSE stream, on the same replica and (PostgreSQL) on a second replica through
 * LISTEN/NOTIFY. A `GET /health` round trip is measured in the same run as the reference. Wall-clock on a
 * shared machine: compare ratios within one run.
 */
import { loadavg } from 'node:os';
import { createRegistryClient } from '../src/tracking/client/registry-client.js';
import { dropPostgresSchema } from '../src/tracking/sql/database.js';
import { startRegistryTestServer, type TestServer } from '../src/tracking/registry/testing.js';
import { PG_URL, pgSkipReason, uniqueSchema } from '../test/integration/registry/pg-helpers.js';

const MOVES = Number(process.env.BENCH_MOVES ?? 100);
const CREATES = Number(process.env.BENCH_CREATES ?? 200);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function sseLatencies(
  writer: TestServer,
  reader: TestServer,
  name: string,
  n: number,
): Promise<number[]> {
  const client = createRegistryClient({ trackingUri: writer.url, env: {}, maxRetries: 0 });
  await client.createRegisteredModel({ name });
  await client.createModelVersion({ name, source: 's3://b/1' });
  await client.createModelVersion({ name, source: 's3://b/2' });
  const res = await fetch(`${reader.url}/api/2.0/tassel/events?name=${name}&alias=production`, {
    headers: { accept: 'text/event-stream' },
  });
  const r = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const waiters: Array<(t: number) => void> = [];
  (async () => {
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (frame.includes('data: ')) waiters.shift()?.(performance.now());
      }
    }
  })().catch(() => {});
  await new Promise((r2) => setTimeout(r2, 200));
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const got = new Promise<number>((resolve) => waiters.push(resolve));
    const t0 = performance.now();
    await client.setRegisteredModelAlias(name, 'production', String((k % 2) + 1));
    out.push((await got) - t0);
  }
  await r.cancel();
  return out;
}

async function benchBackend(label: string, a: TestServer, b?: TestServer): Promise<void> {
  const client = createRegistryClient({ trackingUri: a.url, env: {}, maxRetries: 0 });
  const health: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    await (await fetch(`${a.url}/health`)).text();
    health.push(performance.now() - t0);
  }
  const name = `bench-${Date.now()}`;
  await client.createRegisteredModel({ name });
  let next = 0;
  const t0 = performance.now();
  const numbers: number[] = [];
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < CREATES) {
        next++;
        numbers.push(Number((await client.createModelVersion({ name, source: 's3://b/x' })).version));
      }
    }),
  );
  const createSecs = (performance.now() - t0) / 1000;
  const distinct = new Set(numbers).size === numbers.length && Math.max(...numbers) === numbers.length;
  const moves: number[] = [];
  for (let i = 0; i < MOVES; i++) {
    const t1 = performance.now();
    await client.setRegisteredModelAlias(name, 'production', String((i % 10) + 1));
    moves.push(performance.now() - t1);
  }
  const same = await sseLatencies(a, a, `${name}-sse`, MOVES);
  const h50 = pct(health, 50);
  console.log(`\n${label}`);
  console.log(
    `  GET /health (reference)            p50 ${h50.toFixed(2)} ms  p95 ${pct(health, 95).toFixed(2)} ms`,
  );
  console.log(
    `  version creates, 20 concurrent     ${Math.round(CREATES / createSecs)} /s  (numbers distinct and consecutive: ${distinct})`,
  );
  console.log(
    `  alias move (POST)                  p50 ${pct(moves, 50).toFixed(2)} ms  p95 ${pct(moves, 95).toFixed(2)} ms  (${(pct(moves, 50) / h50).toFixed(1)}x /health)`,
  );
  console.log(
    `  move -> SSE, same replica          p50 ${pct(same, 50).toFixed(2)} ms  p95 ${pct(same, 95).toFixed(2)} ms`,
  );
  if (b) {
    const cross = await sseLatencies(b, a, `${name}-cross`, MOVES);
    console.log(
      `  move on B -> SSE on A (NOTIFY)     p50 ${pct(cross, 50).toFixed(2)} ms  p95 ${pct(cross, 95).toFixed(2)} ms`,
    );
  }
}

console.log(
  `registry bench: ${MOVES} moves, ${CREATES} creates; load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`,
);
const sqlite = await startRegistryTestServer();
try {
  await benchBackend('SQLite (WAL, one replica)', sqlite);
} finally {
  await sqlite.close();
}
const skip = await pgSkipReason();
if (skip) console.log(`\nPostgreSQL skipped: ${skip}`);
else {
  const schema = uniqueSchema('reg_bench');
  const uri = `${PG_URL}?schema=${schema}`;
  const a = await startRegistryTestServer({ databaseUri: uri, ownDatabase: false });
  const b = await startRegistryTestServer({ databaseUri: uri });
  try {
    await benchBackend('PostgreSQL (two replicas)', a, b);
  } finally {
    await b.close();
    await a.close();
    await dropPostgresSchema(a.database, schema);
    await a.database.close();
  }
}

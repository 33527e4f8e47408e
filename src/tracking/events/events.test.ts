import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import { createRegistryClient } from '../client/registry-client.js';
import { startRegistryTestServer, type TestServer } from '../registry/testing.js';
import { startTrackingServer } from '../server/start.js';
import { createEventBus } from './bus.js';
import { eventsPlugin } from './sse-plugin.js';
import { waitForEvent } from './testing.js';
import { createWebhookDispatcher, signWebhookBody } from './webhooks.js';

describe('event bus', () => {
  test('replays buffered events after Last-Event-ID and drops duplicate uids', async () => {
    const bus = await createEventBus({ ringSize: 3 });
    const base = { type: 'alias_set' as const, name: 'm', alias: 'a', timestamp: 1 };
    await bus.publish([
      { ...base, version: '1', uid: 'u1' },
      { ...base, version: '2', uid: 'u2' },
    ]);
    await bus.publish([{ ...base, version: '2', uid: 'u2' }]); // duplicate: ignored
    await bus.publish([
      { ...base, version: '3' },
      { ...base, version: '4' },
    ]);
    assert.equal(bus.lastId(), 4);
    const replayed: string[] = [];
    bus.subscribe((e) => replayed.push(e.version ?? ''), { lastEventId: 2 });
    assert.deepEqual(replayed, ['3', '4'], 'ring keeps the newest 3; replays those after id 2');
    assert.deepEqual(
      bus.since(0).map((e) => e.id),
      [2, 3, 4],
    );
    await bus.close();
  });
});

describe('SSE stream on a running server', () => {
  let server: TestServer;
  before(async () => {
    server = await startRegistryTestServer();
  });
  after(async () => server.close());

  test('a subscriber sees an alias move well within 1 s, filtered by name and alias', async () => {
    const client = createRegistryClient({ trackingUri: server.url, env: {}, maxRetries: 0 });
    await client.createRegisteredModel({ name: 'sse-m' });
    await client.createModelVersion({ name: 'sse-m', source: 's3://b/1' });
    await client.createModelVersion({ name: 'sse-m', source: 's3://b/2' });
    await client.setRegisteredModelAlias('sse-m', 'production', '1');
    const { event, elapsedMs } = await waitForEvent(
      `${server.url}/api/2.0/tassel/events?name=sse-m&alias=production`,
      (e) => e.type === 'alias_moved',
      { onOpen: () => client.setRegisteredModelAlias('sse-m', 'production', '2') },
    );
    assert.equal(event.name, 'sse-m');
    assert.equal(event.alias, 'production');
    assert.equal(event.version, '2');
    assert.equal(event.previous_version, '1');
    assert.ok(elapsedMs < 1000, `event took ${elapsedMs} ms`);
  });

  test('Last-Event-ID replays what a reconnecting client missed', async () => {
    const client = createRegistryClient({ trackingUri: server.url, env: {}, maxRetries: 0 });
    await client.createRegisteredModel({ name: 'replay-m' });
    await client.createModelVersion({ name: 'replay-m', source: 's3://b/1' });
    const first = await waitForEvent(`${server.url}/api/2.0/tassel/events?name=replay-m`, () => true, {
      headers: { 'last-event-id': '0' },
    });
    assert.equal(first.event.type, 'registered_model_created');
    await client.setRegisteredModelAlias('replay-m', 'champion', '1');
    const resumed = await waitForEvent(`${server.url}/api/2.0/tassel/events?name=replay-m`, () => true, {
      headers: { 'last-event-id': String(first.event.id + 1) },
    });
    assert.equal(resumed.event.type, 'alias_set');
  });

  test('watchAlias reports moves and deletes through the stream', async () => {
    const client = createRegistryClient({ trackingUri: server.url, env: {}, maxRetries: 0 });
    await client.createRegisteredModel({ name: 'watch-m' });
    await client.createModelVersion({ name: 'watch-m', source: 's3://b/1' });
    await client.createModelVersion({ name: 'watch-m', source: 's3://b/2' });
    await client.setRegisteredModelAlias('watch-m', 'production', '1');
    const changes: Array<[string | undefined, string | undefined, string]> = [];
    let notify: () => void = () => {};
    const watcher = client.watchAlias(
      'watch-m',
      'production',
      (c) => {
        changes.push([c.version, c.previousVersion, c.via]);
        notify();
      },
      { pollIntervalMs: 60_000 },
    );
    await watcher.ready;
    assert.equal(watcher.mode, 'sse');
    assert.equal(watcher.current, '1');
    const next = () => new Promise<void>((r) => (notify = r));
    let p = next();
    await client.setRegisteredModelAlias('watch-m', 'production', '2');
    await p;
    p = next();
    await client.deleteRegisteredModelAlias('watch-m', 'production');
    await p;
    watcher.close();
    assert.deepEqual(changes, [
      ['2', '1', 'sse'],
      [undefined, '2', 'sse'],
    ]);
  });
});

describe('webhooks', () => {
  test('POSTs signed JSON, retrying a failing receiver with backoff', async () => {
    const received: Array<{ body: string; signature: string | undefined }> = [];
    let failuresLeft = 2;
    const receiver = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (failuresLeft-- > 0) {
          res.statusCode = 503;
          res.end();
          return;
        }
        received.push({ body, signature: req.headers['x-tassel-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const bus = await createEventBus();
    const hooks = createWebhookDispatcher(bus, { urls: [url], secret: 's3cret', baseDelayMs: 10 });
    await bus.publish([
      {
        type: 'alias_moved',
        name: 'm',
        alias: 'production',
        version: '2',
        previous_version: '1',
        timestamp: 5,
      },
    ]);
    await hooks.drain();
    assert.equal(received.length, 1);
    const body = JSON.parse(received[0].body);
    assert.equal(body.type, 'alias_moved');
    assert.equal(body.version, '2');
    assert.equal(received[0].signature, signWebhookBody('s3cret', received[0].body));
    await hooks.close();
    await bus.close();
    await new Promise((r) => receiver.close(r));
  });
});

describe('watchAlias across a server restart', () => {
  test('keeps watching (polling while the server is down) and reports the move made after the restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tassel-restart-'));
    const options = {
      backendStoreUri: `sqlite:///${join(dir, 'db.sqlite')}`,
      artifactsDestination: `file://${join(dir, 'artifacts')}`,
    };
    let server = await startTrackingServer({ ...options, port: 0 });
    const port = Number(new URL(server.url).port);
    const client = createRegistryClient({ trackingUri: server.url, env: {}, maxRetries: 0, timeoutMs: 2000 });
    await client.createRegisteredModel({ name: 'restart-m' });
    await client.createModelVersion({ name: 'restart-m', source: 's3://b/1' });
    await client.createModelVersion({ name: 'restart-m', source: 's3://b/2' });
    await client.setRegisteredModelAlias('restart-m', 'production', '1');
    let notify: (v: string | undefined) => void = () => {};
    const watcher = client.watchAlias('restart-m', 'production', (c) => notify(c.version), {
      pollIntervalMs: 100,
      reconnectDelayMs: 50,
    });
    try {
      await watcher.ready;
      assert.equal(watcher.mode, 'sse');
      await server.close();
      server = await startTrackingServer({ ...options, port });
      const changed = new Promise<string | undefined>((r) => (notify = r));
      await client.setRegisteredModelAlias('restart-m', 'production', '2');
      assert.equal(await changed, '2');
      assert.equal(watcher.current, '2');
    } finally {
      watcher.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SSE plugin limits', () => {
  test('sends heartbeats on an idle stream and refuses streams beyond maxStreams with 503', async () => {
    const bus = await createEventBus();
    const app = Fastify();
    await app.register(eventsPlugin, { bus, heartbeatMs: 30, maxStreams: 1 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/2.0/tassel/events`;
    try {
      const res = await fetch(url);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      while (!/: heartbeat \d+/.test(text))
        text += decoder.decode((await reader.read()).value, { stream: true });
      const second = await fetch(url);
      assert.equal(second.status, 503);
      assert.equal(((await second.json()) as { error_code: string }).error_code, 'TEMPORARILY_UNAVAILABLE');
      await reader.cancel();
    } finally {
      await app.close();
      await bus.close();
    }
  });
});

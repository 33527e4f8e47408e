import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { TasselError } from '../../errors.js';
import { createRegistryClient } from '../client/registry-client.js';
import { startRegistryTestServer, type TestServer } from '../registry/testing.js';
import { assertAuthConfigured, isLoopbackHost, secretsEqual } from './auth.js';
import { createHash } from 'node:crypto';

const TOKEN = 'full-access-token-0123456789';
const RO = 'read-only-token-abcdef';

describe('auth on a running server', () => {
  let server: TestServer;
  let app: FastifyInstance;
  before(async () => {
    server = await startRegistryTestServer({ auth: { token: TOKEN, readOnlyToken: RO } });
    app = server.app;
  });
  after(async () => server.close());

  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  test('no credentials, a wrong token and a malformed header are 401 UNAUTHENTICATED in MLflow form', async () => {
    for (const authorization of [
      undefined,
      'Bearer nope',
      basic('ana', 'nope'),
      'Token abc',
      `Bearer ${TOKEN}x`,
    ]) {
      const res = await app.inject({
        method: 'GET',
        url: '/api/2.0/mlflow/registered-models/search',
        headers: authorization ? { authorization } : {},
      });
      assert.equal(res.statusCode, 401, String(authorization));
      const body = res.json();
      assert.equal(body.error_code, 'UNAUTHENTICATED');
      assert.equal(typeof body.message, 'string');
      assert.ok(!res.body.includes(TOKEN), 'the token never appears in a response');
      assert.match(String(res.headers['www-authenticate']), /Basic/);
    }
  });

  test('the registry is served under /ajax-api/2.0 too, behind the same auth', async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const search = await app.inject({
      method: 'GET',
      url: '/ajax-api/2.0/mlflow/registered-models/search',
      headers,
    });
    assert.equal(search.statusCode, 200);
    assert.ok(Array.isArray(search.json().registered_models ?? []));
    const hist = await app.inject({
      method: 'GET',
      url: '/ajax-api/2.0/tassel/registered-models/alias-history?name=x',
      headers,
    });
    assert.equal(hist.statusCode, 200);
    assert.deepEqual(hist.json(), { history: [] });
    const denied = await app.inject({ method: 'GET', url: '/ajax-api/2.0/mlflow/registered-models/search' });
    assert.equal(denied.statusCode, 401);
    const long = await app.inject({
      method: 'POST',
      url: '/api/2.0/mlflow/registered-models/alias',
      headers,
      payload: { name: 'x', alias: 'a', version: '1', reason: 'r'.repeat(6000) },
    });
    assert.equal(long.statusCode, 400);
    assert.match(long.json().message, /reason/);
  });

  test('/health and /version stay open', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/version' })).statusCode, 200);
  });

  test('the full token works as Bearer and as the Basic password; the Basic user is the recorded principal', async () => {
    const bearer = createRegistryClient({ trackingUri: server.url, token: TOKEN, env: {}, maxRetries: 0 });
    await bearer.createRegisteredModel({ name: 'auth-m' });
    await bearer.createModelVersion({ name: 'auth-m', source: 's3://b/1' });
    await bearer.setRegisteredModelAlias('auth-m', 'prod', '1');
    const basicClient = createRegistryClient({
      trackingUri: server.url,
      username: 'ana',
      password: TOKEN,
      env: {},
      maxRetries: 0,
    });
    await basicClient.createModelVersion({ name: 'auth-m', source: 's3://b/2' });
    await basicClient.setRegisteredModelAlias('auth-m', 'prod', '2', { reason: 'better AUC' });
    const hist = await bearer.getAliasHistory({ name: 'auth-m', alias: 'prod' });
    assert.deepEqual(
      hist.items.map((e) => [e.principal, e.to_version, e.reason]),
      [
        ['ana', '2', 'better AUC'],
        ['token', '1', undefined],
      ],
    );
    assert.equal((await bearer.getModelVersion('auth-m', '2')).user_id, 'ana');
  });

  test('the read-only token reads (GET and search POSTs) but cannot write (403 PERMISSION_DENIED)', async () => {
    const ro = createRegistryClient({ trackingUri: server.url, token: RO, env: {}, maxRetries: 0 });
    const found = await ro.searchRegisteredModels({});
    assert.ok(Array.isArray(found.items));
    await ro.getLatestVersions('auth-m'); // a POST on the read-only list
    const search = await app.inject({
      method: 'POST',
      url: '/api/2.0/mlflow/runs/search',
      headers: { authorization: `Bearer ${RO}` },
      payload: { experiment_ids: ['0'] },
    });
    assert.notEqual(search.statusCode, 403);
    for (const attempt of [
      () => ro.createRegisteredModel({ name: 'ro-attempt' }),
      () => ro.setRegisteredModelAlias('auth-m', 'prod', '1'),
      () => ro.deleteModelVersion('auth-m', '1', { force: true }),
    ]) {
      await assert.rejects(
        attempt(),
        (e: unknown) => e instanceof TasselError && e.code === 'PERMISSION_DENIED' && e.status === 403,
      );
    }
    const put = await app.inject({
      method: 'PUT',
      url: '/api/2.0/mlflow-artifacts/artifacts/0/x.txt',
      headers: { authorization: `Bearer ${RO}`, 'content-type': 'application/octet-stream' },
      payload: Buffer.from('x'),
    });
    assert.equal(put.statusCode, 403);
    assert.equal(put.json().error_code, 'PERMISSION_DENIED');
    // Nothing was changed by the refused calls.
    assert.equal((await ro.getModelVersionByAlias('auth-m', 'prod')).version, '2');
    await assert.rejects(
      ro.getRegisteredModel('ro-attempt'),
      (e: unknown) => e instanceof TasselError && e.code === 'RESOURCE_DOES_NOT_EXIST',
    );
  });
});

describe('auth helpers', () => {
  test('binding a non-loopback address without a token is refused unless --insecure', () => {
    assert.throws(
      () => assertAuthConfigured({ host: '0.0.0.0' }),
      /refusing to serve 0\.0\.0\.0 without authentication/,
    );
    assert.throws(() => assertAuthConfigured({ host: '10.1.2.3' }), /--auth-token/);
    assert.throws(() => assertAuthConfigured({ host: '::' }), /--insecure/);
    assertAuthConfigured({ host: '0.0.0.0', token: 't' });
    assertAuthConfigured({ host: '0.0.0.0', insecure: true });
    assertAuthConfigured({ host: '127.0.0.1' });
    assertAuthConfigured({ host: 'localhost' });
  });
  test('isLoopbackHost', () => {
    for (const h of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', 'localhost'])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '192.168.1.1', 'example.com', '128.0.0.1'])
      assert.equal(isLoopbackHost(h), false, h);
  });
  test('secretsEqual compares hashes in constant time, whatever the lengths', () => {
    const expected = createHash('sha256').update('abc').digest();
    assert.equal(secretsEqual('abc', expected), true);
    assert.equal(secretsEqual('abd', expected), false);
    assert.equal(secretsEqual('a-much-longer-secret', expected), false);
    assert.equal(secretsEqual('', expected), false);
  });
  test('a read-only token without a full token is a configuration error', async () => {
    await assert.rejects(
      startRegistryTestServer({ auth: { readOnlyToken: 'x' } }),
      /needs a full-access token/,
    );
  });
});

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Fastify from 'fastify';
import { authPlugin } from '../auth/auth.js';
import { installErrorHandling } from './errors-plugin.js';
import { UI_NOT_BUILT_HTML, uiPlugin } from './ui-plugin.js';

async function appWith(root: string) {
  const app = Fastify();
  installErrorHandling(app);
  await app.register(uiPlugin, { root });
  await app.register(authPlugin, { token: 'secret' });
  app.get('/api/2.0/mlflow/experiments/search', async () => ({ experiments: [] }));
  return app;
}

describe('ui plugin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-ui-plugin-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('serves the built page and hashed assets without credentials; the API stays protected', async () => {
    const root = join(dir, 'built');
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Tassel UI</title>');
    writeFileSync(join(root, 'assets', 'app-abc.js'), 'console.log(1)');
    const app = await appWith(root);
    const page = await app.inject('/');
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /Tassel UI/);
    assert.equal(page.headers['cache-control'], 'no-cache');
    const asset = await app.inject('/assets/app-abc.js');
    assert.equal(asset.statusCode, 200);
    assert.match(asset.headers['cache-control'] as string, /immutable/);
    assert.equal(
      (await app.inject('/assets/missing.js')).statusCode,
      401,
      'unknown paths fall through to auth',
    );
    assert.equal((await app.inject('/assets/../../etc/passwd')).statusCode, 401);
    const api = await app.inject('/api/2.0/mlflow/experiments/search');
    assert.equal(api.statusCode, 401);
    const ok = await app.inject({
      url: '/api/2.0/mlflow/nope',
      headers: { authorization: 'Bearer secret' },
    });
    assert.equal(ok.statusCode, 404);
    assert.equal(ok.json().error_code, 'ENDPOINT_NOT_FOUND');
    await app.close();
  });

  test('without a build, / says to run npm run build', async () => {
    const app = await appWith(join(dir, 'absent'));
    const page = await app.inject('/');
    assert.equal(page.statusCode, 200);
    assert.equal(page.body, UI_NOT_BUILT_HTML);
    assert.match(page.body, /npm run build:ui/);
    await app.close();
  });
});

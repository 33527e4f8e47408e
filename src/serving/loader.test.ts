import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createFallbackModel } from './fallback.js';
import { createModelLoader } from './loader.js';
import { createServingMetrics } from './metrics.js';
import { createModelHolder } from './model-holder.js';
import type { ModelSource, ResolvedModel } from './model-source.js';
import { createRecordValidator } from './record-validator.js';
import type { ServedModel } from './served-model.js';

// The loader's own logic (cache, checksum, swap rules, fallback, retry) with a one-file stand-in bundle format;
// test/integration/serving/ runs it against real bundles on a real tracking server.
function standInLoad(dir: string, resolved: ResolvedModel & { checksum: string }): Promise<ServedModel> {
  return readFile(join(dir, 'model.json'), 'utf8').then((text) => {
    const m = JSON.parse(text) as { p: number; prior: number };
    if (typeof m.p !== 'number') throw new Error('model.json: "p" missing');
    return {
      identity: {
        name: resolved.name,
        version: resolved.version,
        runId: resolved.runId,
        uri: resolved.uri,
        checksum: resolved.checksum,
      },
      fallback: false,
      threshold: 0.5,
      prior: m.prior,
      width: 1,
      featureNames: ['x'],
      schema: null,
      signature: null,
      metrics: {},
      kind: 'stand-in',
      validator: createRecordValidator(null),
      scoreRecord: () => m.p,
      scoreVector: () => m.p,
    };
  });
}

/** A registry stand-in: versions with file contents; `down` makes every call fail like an unreachable server. */
function fakeRegistry() {
  const versions = new Map<string, Record<string, string>>();
  const state = { alias: '1', down: false, downloads: 0, listeners: new Set<() => void>() };
  const source: ModelSource = {
    description: 'models:/m@production',
    async resolve() {
      if (state.down) throw new Error('ECONNREFUSED');
      return {
        name: 'm',
        version: state.alias,
        runId: `r${state.alias}`,
        uri: 'models:/m@production',
        tags: { 'tassel.prior': '0.62' },
      };
    },
    async download(resolved, dir) {
      if (state.down) throw new Error('ECONNREFUSED');
      state.downloads++;
      for (const [file, text] of Object.entries(versions.get(resolved.version!) ?? {}))
        await writeFile(join(dir, file), text);
    },
    watch(onChange) {
      state.listeners.add(onChange);
      return () => state.listeners.delete(onChange);
    },
  };
  const move = (v: string) => {
    state.alias = v;
    for (const l of state.listeners) l();
  };
  return { versions, state, source, move };
}

describe('model loader', () => {
  test('loads, caches by version and checksum, swaps on alias move, never swaps in a broken version', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'tassel-loader-'));
    const reg = fakeRegistry();
    reg.versions.set('1', { 'model.json': JSON.stringify({ p: 0.1, prior: 0.4 }) });
    reg.versions.set('2', { 'model.json': '{"p": 0.9, "pri' });
    reg.versions.set('3', { 'model.json': JSON.stringify({ p: 0.8, prior: 0.4 }) });
    const holder = createModelHolder();
    const metrics = createServingMetrics();
    const loader = createModelLoader({
      source: reg.source,
      holder,
      load: standInLoad,
      cacheDir,
      metrics,
      pollIntervalMs: 0,
      keepCached: 2,
    });
    await loader.start();
    assert.equal(holder.state, 'ok');
    assert.equal(holder.current!.identity.version, '1');
    assert.match(holder.current!.identity.checksum!, /^[0-9a-f]{64}$/);
    const entries = await readdir(join(cacheDir, 'm'));
    assert.deepEqual(entries, [`1-${holder.current!.identity.checksum!.slice(0, 16)}`]);

    // the same version again: nothing downloaded, nothing swapped
    assert.equal(await loader.refresh(), false);
    assert.equal(reg.state.downloads, 1);

    // alias moves to a corrupt version: the working one keeps serving, the failure is counted
    reg.move('2');
    await loader.refresh();
    assert.equal(holder.current!.identity.version, '1');
    assert.equal(holder.current!.fallback, false);
    assert.match(loader.lastError!, /cannot load m version 2/);
    assert.match(await metrics.render(), /tassel_serving_model_load_failures_total\{stage="load"\} 1/);

    // then to a good one: swapped in
    reg.move('3');
    await loader.refresh();
    assert.equal(holder.current!.identity.version, '3');
    assert.equal(holder.current!.scoreRecord({}), 0.8);
    // rollback is the alias moving back; version 1 comes from the cache
    const before = reg.state.downloads;
    reg.move('1');
    await loader.refresh();
    assert.equal(holder.current!.identity.version, '1');
    assert.equal(reg.state.downloads, before + 1, 'resolved version is downloaded to learn its checksum');
    await new Promise((r) => setTimeout(r, 50)); // pruning runs after the swap
    const kept = await readdir(join(cacheDir, 'm'));
    assert.ok(kept.length <= 2, `cache keeps 2 versions: ${kept}`);
    assert.ok(
      kept.includes(`1-${holder.current!.identity.checksum!.slice(0, 16)}`),
      'the serving version is kept',
    );
    loader.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('a refresh still in flight when the loader stops fails quietly: no warning, no fallback swap', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'tassel-loader-'));
    const reg = fakeRegistry();
    reg.versions.set('1', { 'model.json': JSON.stringify({ p: 0.1, prior: 0.4 }) });
    const logged: string[] = [];
    const logger = {
      info: () => {},
      warn: (_o: object, msg: string) => void logged.push(`warn ${msg}`),
      error: (_o: object, msg: string) => void logged.push(`error ${msg}`),
    };
    const holder = createModelHolder();
    const metrics = createServingMetrics();
    const loader = createModelLoader({
      source: reg.source,
      holder,
      load: standInLoad,
      cacheDir,
      metrics,
      logger,
      pollIntervalMs: 0,
    });
    await loader.start();
    let release!: () => void;
    const resolve = reg.source.resolve.bind(reg.source);
    reg.source.resolve = async () => {
      await new Promise<void>((r) => {
        release = r;
      });
      throw new Error('ECONNREFUSED');
    };
    const inFlight = loader.refresh();
    loader.stop();
    release();
    assert.equal(await inFlight, false);
    assert.deepEqual(logged, []);
    assert.equal(holder.current!.identity.version, '1');
    assert.doesNotMatch(await metrics.render(), /model_load_failures_total\{stage="resolve"\} [1-9]/);
    reg.source.resolve = resolve;
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('registry down at start: fallback with the prior from the version tags or configuration, then recovery', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'tassel-loader-'));
    const reg = fakeRegistry();
    reg.versions.set('1', { 'model.json': JSON.stringify({ p: 0.3, prior: 0.45 }) });
    reg.state.down = true;
    const holder = createModelHolder();
    const loader = createModelLoader({
      source: reg.source,
      holder,
      load: standInLoad,
      cacheDir,
      fallbackPrior: 0.33,
      retry: { initialMs: 20, maxMs: 80 },
      pollIntervalMs: 0,
    });
    await loader.start();
    assert.equal(holder.state as string, 'degraded');
    assert.equal(holder.current!.prior, 0.33, 'nothing known but the configuration');
    assert.match(holder.current!.reason!, /cannot resolve/);
    reg.state.down = false;
    const deadline = Date.now() + 3000;
    while ((holder.state as string) !== 'ok' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(holder.state, 'ok', 'the retry with backoff found the registry back');
    assert.equal(holder.current!.identity.version, '1');
    loader.stop();

    // a registry that resolves but serves a corrupt artifact: the prior comes from the version's tags
    const reg2 = fakeRegistry();
    reg2.versions.set('1', { 'model.json': 'not json' });
    const holder2 = createModelHolder();
    const loader2 = createModelLoader({
      source: reg2.source,
      holder: holder2,
      load: standInLoad,
      cacheDir,
      pollIntervalMs: 0,
      retry: { initialMs: 10_000 },
    });
    await loader2.start();
    assert.equal(holder2.state, 'degraded');
    assert.equal(holder2.current!.prior, 0.62);
    loader2.stop();
    await rm(cacheDir, { recursive: true, force: true });
  });

  test('after a good model, a fallback keeps its prior; the last good model stays in lastGood', () => {
    const holder = createModelHolder();
    const fb = createFallbackModel({
      reason: 'r',
      prior: 2,
      identity: { name: 'n', version: null, runId: null, uri: 'u' },
    });
    assert.equal(fb.prior, 1, 'clamped to [0, 1]');
    holder.swap(fb);
    assert.equal(holder.lastGood, null);
    assert.equal(holder.state, 'degraded');
  });
});

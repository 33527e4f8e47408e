import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TasselError } from '../../errors.js';
import type { RegistryStore } from './store.js';

/** What a backend under test provides to {@link runRegistryStoreContract}. */
export interface RegistryContractHarness {
  store: RegistryStore;
  /** An active experiment id logged models can be created in. */
  experimentId: string;
  /**
   * An active run of that experiment, for backends that check the run of runs/outputs as MLflow does
   * (a server with its tracking store); a bare registry store takes any id.
   */
  runId?: string;
  /** Principal the backend records for changes made through `store` (REST: the authenticated user). */
  expectedPrincipal?: string;
  close(): Promise<void>;
}

async function rejects(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TasselError, `expected a TasselError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

/**
 * The registry behaviour every backend must show (SQLite, PostgreSQL, the REST client against a
 * server). `make` is called once; the suite uses unique model names so backends may be shared.
 */
export function runRegistryStoreContract(label: string, make: () => Promise<RegistryContractHarness>): void {
  describe(`registry store contract: ${label}`, () => {
    let h: RegistryContractHarness;
    let s: RegistryStore;
    before(async () => {
      h = await make();
      s = h.store;
    });
    after(async () => {
      await h?.close();
    });

    test('registered models: create, get, duplicate, update, rename, delete', async () => {
      const name = unique('rm');
      const created = await s.createRegisteredModel({
        name,
        description: 'first',
        tags: [{ key: 'team', value: 'ml' }],
      });
      assert.equal(created.name, name);
      assert.equal(created.description, 'first');
      assert.deepEqual(created.tags, [{ key: 'team', value: 'ml' }]);
      assert.ok(created.creation_timestamp > 0);
      await rejects(s.createRegisteredModel({ name }), 'RESOURCE_ALREADY_EXISTS', /already exists/);
      const updated = await s.updateRegisteredModel(name, 'second');
      assert.equal(updated.description, 'second');
      await s.setRegisteredModelTag(name, 'team', 'platform');
      await s.setRegisteredModelTag(name, 'tier', 'gold');
      await s.deleteRegisteredModelTag(name, 'tier');
      assert.deepEqual((await s.getRegisteredModel(name)).tags, [{ key: 'team', value: 'platform' }]);
      await s.createModelVersion({ name, source: 's3://bucket/m/1', tags: [{ key: 'k', value: 'v' }] });
      await s.setRegisteredModelAlias(name, 'champion', '1');
      const renamed = await s.renameRegisteredModel(name, `${name}-new`);
      assert.equal(renamed.name, `${name}-new`);
      assert.deepEqual(renamed.aliases, [{ alias: 'champion', version: '1' }]);
      const moved = await s.getModelVersion(`${name}-new`, '1');
      assert.equal(moved.name, `${name}-new`);
      assert.deepEqual(moved.tags, [{ key: 'k', value: 'v' }]);
      assert.equal((await s.getModelVersionByAlias(`${name}-new`, 'champion')).version, '1');
      assert.equal((await s.getAliasHistory({ name: `${name}-new`, alias: 'champion' })).items.length, 1);
      await rejects(s.getRegisteredModel(name), 'RESOURCE_DOES_NOT_EXIST', /not found/);
      await s.deleteRegisteredModel(`${name}-new`);
      await rejects(s.getRegisteredModel(`${name}-new`), 'RESOURCE_DOES_NOT_EXIST');
      await rejects(s.createRegisteredModel({ name: '' }), 'INVALID_PARAMETER_VALUE', /name/);
    });

    test('model versions: numbers increase and are never reused; update, tags, download URI', async () => {
      const name = unique('mv');
      await s.createRegisteredModel({ name });
      const v1 = await s.createModelVersion({
        name,
        source: 's3://bucket/path/1',
        run_id: 'run1',
        description: 'd1',
        tags: [{ key: 'k', value: 'v' }],
      });
      assert.equal(v1.version, '1');
      assert.equal(v1.status, 'READY');
      assert.equal(v1.current_stage, 'None');
      assert.equal(v1.run_id, 'run1');
      assert.deepEqual(v1.tags, [{ key: 'k', value: 'v' }]);
      const v2 = await s.createModelVersion({ name, source: 's3://bucket/path/2' });
      assert.equal(v2.version, '2');
      await s.deleteModelVersion(name, '2');
      const v3 = await s.createModelVersion({ name, source: 's3://bucket/path/3' });
      assert.equal(v3.version, '3', 'a deleted version number is not reused');
      await rejects(s.getModelVersion(name, '2'), 'RESOURCE_DOES_NOT_EXIST', /not found/);
      assert.equal(await s.getModelVersionDownloadUri(name, '3'), 's3://bucket/path/3');
      assert.equal((await s.updateModelVersion(name, '1', 'changed')).description, 'changed');
      await s.setModelVersionTag(name, '1', 'k', 'v2');
      await s.setModelVersionTag(name, '1', 'other', 'x');
      await s.deleteModelVersionTag(name, '1', 'other');
      assert.deepEqual((await s.getModelVersion(name, '1')).tags, [{ key: 'k', value: 'v2' }]);
      await rejects(s.getModelVersion(name, 'abc'), 'INVALID_PARAMETER_VALUE', /must be an integer/);
      await rejects(
        s.createModelVersion({ name: unique('missing'), source: 's3://b/x' }),
        'RESOURCE_DOES_NOT_EXIST',
      );
      await rejects(
        s.createModelVersion({ name, source: 'mlflow-artifacts:/1/../../etc/passwd' }),
        'INVALID_PARAMETER_VALUE',
        /relative path/,
      );
      const rm = await s.getRegisteredModel(name);
      assert.deepEqual(
        rm.latest_versions?.map((v) => [v.current_stage, v.version]),
        [['None', '3']],
      );
    });

    test('concurrent version creates get distinct consecutive numbers', async () => {
      const name = unique('conc');
      await s.createRegisteredModel({ name });
      const n = 12;
      const created = await Promise.all(
        Array.from({ length: n }, (_, i) => s.createModelVersion({ name, source: `s3://b/${i}` })),
      );
      const numbers = created.map((v) => Number(v.version)).sort((a, b) => a - b);
      assert.deepEqual(
        numbers,
        Array.from({ length: n }, (_, i) => i + 1),
      );
    });

    test('aliases: set, resolve, move, delete, with an audit trail', async () => {
      const name = unique('alias');
      await s.createRegisteredModel({ name });
      await s.createModelVersion({ name, source: 's3://b/1' });
      await s.createModelVersion({ name, source: 's3://b/2' });
      await s.setRegisteredModelAlias(name, 'production', '1', { reason: 'first release' });
      assert.equal((await s.getModelVersionByAlias(name, 'production')).version, '1');
      await s.setRegisteredModelAlias(name, 'production', '2');
      await s.setRegisteredModelAlias(name, 'production', '2'); // no change, no audit row
      const mv = await s.getModelVersionByAlias(name, 'production');
      assert.equal(mv.version, '2');
      assert.deepEqual(mv.aliases, ['production']);
      assert.deepEqual((await s.getRegisteredModel(name)).aliases, [{ alias: 'production', version: '2' }]);
      await s.deleteRegisteredModelAlias(name, 'production');
      await s.deleteRegisteredModelAlias(name, 'production'); // absent: no error, no row (as MLflow)
      await rejects(
        s.getModelVersionByAlias(name, 'production'),
        'INVALID_PARAMETER_VALUE',
        /alias production not found/,
      );
      const hist = await s.getAliasHistory({ name, alias: 'production' });
      assert.deepEqual(
        hist.items.map((e) => [e.action, e.from_version, e.to_version]),
        [
          ['alias_deleted', '2', undefined],
          ['alias_moved', '1', '2'],
          ['alias_set', undefined, '1'],
        ],
      );
      assert.equal(hist.items[2].reason, 'first release');
      const principal = h.expectedPrincipal ?? 'anonymous';
      assert.ok(
        hist.items.every((e) => e.principal === principal),
        JSON.stringify(hist.items),
      );
      assert.ok(hist.items.every((e) => e.timestamp > 0));
      const paged = await s.getAliasHistory({ name, alias: 'production', max_results: 2 });
      assert.equal(paged.items.length, 2);
      assert.ok(paged.next_page_token);
      const rest = await s.getAliasHistory({
        name,
        alias: 'production',
        max_results: 2,
        page_token: paged.next_page_token,
      });
      assert.deepEqual(
        rest.items.map((e) => e.action),
        ['alias_set'],
      );
      await rejects(s.setRegisteredModelAlias(name, 'latest', '1'), 'INVALID_PARAMETER_VALUE', /reserved/);
      await rejects(s.setRegisteredModelAlias(name, 'v3', '1'), 'INVALID_PARAMETER_VALUE', /reserved/);
      await rejects(
        s.setRegisteredModelAlias(name, 'bad alias', '1'),
        'INVALID_PARAMETER_VALUE',
        /Invalid alias/,
      );
      await rejects(s.setRegisteredModelAlias(name, 'x', '9'), 'RESOURCE_DOES_NOT_EXIST');
    });

    test('two concurrent alias moves leave one version holding the alias and two audit rows', async () => {
      const name = unique('race');
      await s.createRegisteredModel({ name });
      for (let i = 0; i < 3; i++) await s.createModelVersion({ name, source: `s3://b/${i}` });
      await s.setRegisteredModelAlias(name, 'champion', '1');
      await Promise.all([
        s.setRegisteredModelAlias(name, 'champion', '2'),
        s.setRegisteredModelAlias(name, 'champion', '3'),
      ]);
      const rm = await s.getRegisteredModel(name);
      const holders = rm.aliases?.filter((a) => a.alias === 'champion') ?? [];
      assert.equal(holders.length, 1);
      const holder = holders[0].version;
      assert.ok(holder === '2' || holder === '3');
      const moves = (await s.getAliasHistory({ name, alias: 'champion' })).items.filter(
        (e) => e.action === 'alias_moved',
      );
      assert.equal(moves.length, 2);
      // Newest first: the last move ends at the holder and starts where the first move ended.
      assert.equal(moves[0].to_version, holder);
      assert.equal(moves[1].from_version, '1');
      assert.equal(moves[0].from_version, moves[1].to_version);
    });

    test('deleting an aliased version is refused unless forced', async () => {
      const name = unique('del');
      await s.createRegisteredModel({ name });
      await s.createModelVersion({ name, source: 's3://b/1' });
      await s.setRegisteredModelAlias(name, 'production', '1');
      await rejects(
        s.deleteModelVersion(name, '1'),
        'INVALID_PARAMETER_VALUE',
        /alias 'production' points to it/,
      );
      assert.equal((await s.getModelVersion(name, '1')).version, '1');
      await s.deleteModelVersion(name, '1', { force: true });
      await rejects(s.getModelVersion(name, '1'), 'RESOURCE_DOES_NOT_EXIST');
      const hist = await s.getAliasHistory({ name, alias: 'production' });
      assert.equal(hist.items[0].action, 'alias_deleted');
      assert.equal(hist.items[0].from_version, '1');
    });

    test('stage transitions archive existing versions and are audited; get-latest-versions', async () => {
      const name = unique('stage');
      await s.createRegisteredModel({ name });
      for (let i = 0; i < 3; i++) await s.createModelVersion({ name, source: `s3://b/${i}` });
      await s.transitionModelVersionStage(name, '1', 'production', false);
      const t2 = await s.transitionModelVersionStage(name, '2', 'Production', true);
      assert.equal(t2.current_stage, 'Production');
      assert.equal((await s.getModelVersion(name, '1')).current_stage, 'Archived');
      await s.transitionModelVersionStage(name, '3', 'Staging', false);
      const latest = await s.getLatestVersions(name);
      assert.deepEqual(latest.map((v) => [v.current_stage, v.version]).sort(), [
        ['Archived', '1'],
        ['Production', '2'],
        ['Staging', '3'],
      ]);
      assert.deepEqual(
        (await s.getLatestVersions(name, ['production'])).map((v) => v.version),
        ['2'],
      );
      await rejects(
        s.transitionModelVersionStage(name, '3', 'Bogus', false),
        'INVALID_PARAMETER_VALUE',
        /Invalid Model Version stage/,
      );
      await rejects(
        s.transitionModelVersionStage(name, '3', 'Archived', true),
        'INVALID_PARAMETER_VALUE',
        /Active stage/,
      );
      const hist = await s.getAliasHistory({ name, alias: 'Production' });
      assert.deepEqual(
        hist.items.map((e) => [e.action, e.from_version, e.to_version]),
        [
          ['stage_transitioned', undefined, '2'],
          ['stage_transitioned', '1', undefined],
          ['stage_transitioned', undefined, '1'],
        ],
      );
    });

    test('search registered models: filter grammar, order_by, paging', async () => {
      const prefix = unique('srch');
      for (const [suffix, team] of [
        ['alpha', 'ml'],
        ['beta', 'ml'],
        ['gamma', 'ops'],
      ]) {
        await s.createRegisteredModel({ name: `${prefix}-${suffix}`, tags: [{ key: 'team', value: team }] });
      }
      const like = await s.searchRegisteredModels({ filter: `name LIKE '${prefix}-%'` });
      assert.deepEqual(
        like.items.map((m) => m.name),
        ['alpha', 'beta', 'gamma'].map((x) => `${prefix}-${x}`),
      );
      const caseSensitive = await s.searchRegisteredModels({
        filter: `name LIKE '${prefix.toUpperCase()}-%'`,
      });
      assert.equal(caseSensitive.items.length, 0, 'LIKE is case-sensitive');
      const ilike = await s.searchRegisteredModels({ filter: `name ILIKE '${prefix.toUpperCase()}-%'` });
      assert.equal(ilike.items.length, 3);
      const byTag = await s.searchRegisteredModels({
        filter: `name LIKE '${prefix}-%' AND tags.team = 'ml'`,
      });
      assert.deepEqual(
        byTag.items.map((m) => m.name),
        [`${prefix}-alpha`, `${prefix}-beta`],
      );
      const desc = await s.searchRegisteredModels({
        filter: `name LIKE '${prefix}-%'`,
        order_by: ['name DESC'],
      });
      assert.equal(desc.items[0].name, `${prefix}-gamma`);
      const p1 = await s.searchRegisteredModels({ filter: `name LIKE '${prefix}-%'`, max_results: 2 });
      assert.equal(p1.items.length, 2);
      assert.ok(p1.next_page_token);
      const p2 = await s.searchRegisteredModels({
        filter: `name LIKE '${prefix}-%'`,
        max_results: 2,
        page_token: p1.next_page_token,
      });
      assert.deepEqual(
        p2.items.map((m) => m.name),
        [`${prefix}-gamma`],
      );
      assert.equal(p2.next_page_token, undefined);
      await rejects(
        s.searchRegisteredModels({ filter: "run_id = 'x'" }),
        'INVALID_PARAMETER_VALUE',
        /Invalid attribute key/,
      );
      await rejects(
        s.searchRegisteredModels({ max_results: 5000 }),
        'INVALID_PARAMETER_VALUE',
        /at most 1000/,
      );
      await rejects(
        s.searchRegisteredModels({ order_by: ['bogus'] }),
        'INVALID_PARAMETER_VALUE',
        /Invalid order by key/,
      );
    });

    test('search model versions: name, run_id IN, tags, source_path, paging', async () => {
      const name = unique('smv');
      await s.createRegisteredModel({ name });
      await s.createModelVersion({
        name,
        source: 's3://b/a',
        run_id: 'r1',
        tags: [{ key: 'q', value: 'good' }],
      });
      await s.createModelVersion({ name, source: 's3://b/b', run_id: 'r2' });
      await s.createModelVersion({
        name,
        source: 's3://b/c',
        run_id: 'r3',
        tags: [{ key: 'q', value: 'good' }],
      });
      const all = await s.searchModelVersions({
        filter: `name = '${name}'`,
        order_by: ['version_number ASC'],
      });
      assert.deepEqual(
        all.items.map((v) => v.version),
        ['1', '2', '3'],
      );
      const inRuns = await s.searchModelVersions({ filter: `name = '${name}' AND run_id IN ('r1', 'r3')` });
      assert.deepEqual(inRuns.items.map((v) => v.version).sort(), ['1', '3']);
      const tagged = await s.searchModelVersions({ filter: `name = '${name}' and tags.q = 'good'` });
      assert.equal(tagged.items.length, 2);
      const bySource = await s.searchModelVersions({
        filter: `name = '${name}' AND source_path = 's3://b/b'`,
      });
      assert.deepEqual(
        bySource.items.map((v) => v.version),
        ['2'],
      );
      const paged = await s.searchModelVersions({ filter: `name = '${name}'`, max_results: 2 });
      assert.equal(paged.items.length, 2);
      assert.deepEqual(
        paged.items.map((v) => v.version),
        ['3', '2'],
        'default order: newest first within a model',
      );
      const next = await s.searchModelVersions({
        filter: `name = '${name}'`,
        max_results: 2,
        page_token: paged.next_page_token,
      });
      assert.deepEqual(
        next.items.map((v) => v.version),
        ['1'],
      );
    });

    test('logged models: create, finalize, tags, params, search, register a version from models:/<id>, delete', async () => {
      const runId = h.runId ?? 'run-xyz';
      const lm = await s.createLoggedModel({
        experiment_id: h.experimentId,
        name: 'clf',
        model_type: 'classifier',
        source_run_id: runId,
        params: [{ key: 'depth', value: '3' }],
        tags: [{ key: 'owner', value: 'ana' }],
      });
      assert.match(lm.info.model_id, /^m-[0-9a-f]{32}$/);
      assert.equal(lm.info.status, 'LOGGED_MODEL_PENDING');
      assert.match(lm.info.artifact_uri, new RegExp(`/models/${lm.info.model_id}/artifacts$`));
      assert.deepEqual(lm.data.params, [{ key: 'depth', value: '3' }]);
      const ready = await s.finalizeLoggedModel(lm.info.model_id, 'LOGGED_MODEL_READY');
      assert.equal(ready.info.status, 'LOGGED_MODEL_READY');
      await s.setLoggedModelTags(lm.info.model_id, [{ key: 'stage', value: 'eval' }]);
      await s.deleteLoggedModelTag(lm.info.model_id, 'owner');
      await rejects(s.deleteLoggedModelTag(lm.info.model_id, 'owner'), 'RESOURCE_DOES_NOT_EXIST');
      await s.logLoggedModelParams(lm.info.model_id, [{ key: 'lr', value: '0.1' }]);
      const got = await s.getLoggedModel(lm.info.model_id);
      assert.deepEqual(got.info.tags, [{ key: 'stage', value: 'eval' }]);
      assert.deepEqual(
        got.data.params?.map((p) => p.key),
        ['depth', 'lr'],
      );
      const found = await s.searchLoggedModels({ experiment_ids: [h.experimentId], filter: "name = 'clf'" });
      assert.ok(found.items.some((m) => m.info.model_id === lm.info.model_id));
      const byTag = await s.searchLoggedModels({
        experiment_ids: [h.experimentId],
        filter: "tags.stage = 'eval'",
      });
      assert.ok(byTag.items.some((m) => m.info.model_id === lm.info.model_id));
      await s.logOutputs(runId, [{ model_id: lm.info.model_id, step: 0 }]);

      const name = unique('from-logged');
      await s.createRegisteredModel({ name });
      const mv = await s.createModelVersion({
        name,
        source: `models:/${lm.info.model_id}`,
        model_id: lm.info.model_id,
      });
      assert.equal(mv.run_id, runId, 'run_id comes from the logged model');
      assert.equal(mv.model_id, lm.info.model_id);
      assert.equal(await s.getModelVersionDownloadUri(name, mv.version), lm.info.artifact_uri);
      const tag = (await s.getLoggedModel(lm.info.model_id)).info.tags?.find(
        (t) => t.key === 'mlflow.modelVersions',
      );
      // as MLflow's set_model_versions_tags writes it: the version as a number
      assert.deepEqual(JSON.parse(tag?.value ?? '[]'), [{ name, version: Number(mv.version) }]);

      // Concurrent registrations of one logged model under several names all land in its tag.
      const others = [unique('from-logged-a'), unique('from-logged-b'), unique('from-logged-c')];
      for (const o of others) await s.createRegisteredModel({ name: o });
      await Promise.all(
        others.map((o) =>
          s.createModelVersion({
            name: o,
            source: `models:/${lm.info.model_id}`,
            model_id: lm.info.model_id,
          }),
        ),
      );
      const all = (await s.getLoggedModel(lm.info.model_id)).info.tags?.find(
        (t) => t.key === 'mlflow.modelVersions',
      );
      assert.deepEqual(
        (JSON.parse(all?.value ?? '[]') as Array<{ name: string }>).map((e) => e.name).sort(),
        [name, ...others].sort(),
      );

      await s.deleteLoggedModel(lm.info.model_id);
      await rejects(s.getLoggedModel(lm.info.model_id), 'RESOURCE_DOES_NOT_EXIST', /not found/);
      await rejects(s.createLoggedModel({ experiment_id: '' }), 'INVALID_PARAMETER_VALUE');
    });
  });
}

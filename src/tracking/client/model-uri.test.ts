import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TasselError } from '../../errors.js';
import { appendToUri, parseModelUri, uriScheme } from './model-uri.js';

describe('parseModelUri', () => {
  test('version, latest, stage and alias forms', () => {
    assert.deepEqual(parseModelUri('models:/churn/3'), {
      scheme: 'models',
      kind: 'version',
      name: 'churn',
      version: '3',
      path: '',
    });
    assert.equal(parseModelUri('models:/churn/latest').kind, 'latest');
    assert.equal(parseModelUri('models:/churn/LATEST').kind, 'latest');
    assert.deepEqual(parseModelUri('models:/churn/Production'), {
      scheme: 'models',
      kind: 'stage',
      name: 'churn',
      stage: 'Production',
      path: '',
    });
    assert.deepEqual(parseModelUri('models:/churn@production'), {
      scheme: 'models',
      kind: 'alias',
      name: 'churn',
      alias: 'production',
      path: '',
    });
  });

  test('a name containing @ splits at the last @', () => {
    const p = parseModelUri('models:/team@org@champion');
    assert.equal(p.kind, 'alias');
    if (p.kind === 'alias') {
      assert.equal(p.name, 'team@org');
      assert.equal(p.alias, 'champion');
    }
  });

  test('sub-paths after the version or alias are kept', () => {
    const v = parseModelUri('models:/churn/2/data/model.json');
    assert.equal(v.kind, 'version');
    assert.equal(v.path, 'data/model.json');
    const a = parseModelUri('models:/churn@prod/MLmodel');
    assert.equal(a.kind, 'alias');
    assert.equal(a.path, 'MLmodel');
  });

  test('a bare id is a logged model id (MLflow 3)', () => {
    assert.deepEqual(parseModelUri('models:/m-0123abcd'), {
      scheme: 'models',
      kind: 'model_id',
      modelId: 'm-0123abcd',
      path: '',
    });
  });

  test('runs:/ URIs', () => {
    assert.deepEqual(parseModelUri('runs:/abc123/model'), {
      scheme: 'runs',
      kind: 'run',
      runId: 'abc123',
      path: 'model',
    });
    assert.deepEqual(parseModelUri('runs:/abc123'), {
      scheme: 'runs',
      kind: 'run',
      runId: 'abc123',
      path: '',
    });
    assert.equal(parseModelUri('runs:/abc/a/b/c').path, 'a/b/c');
  });

  test('malformed URIs are INVALID_PARAMETER_VALUE with MLflow wording', () => {
    for (const bad of [
      'models:/',
      'models:',
      'models:/@alias',
      'models:/name@',
      'models:/ /1',
      's3://b/k',
      'x',
    ]) {
      assert.throws(
        () => parseModelUri(bad),
        (e: unknown) =>
          e instanceof TasselError && e.code === 'INVALID_PARAMETER_VALUE' && /Not a proper/.test(e.message),
        bad,
      );
    }
    assert.throws(() => parseModelUri('runs:/'), /Not a proper runs:\/ URI/);
    // MLflow strips a trailing slash first, so 'models:/name/' is read as a logged model id.
    assert.equal(parseModelUri('models:/name/').kind, 'model_id');
  });
});

describe('uri helpers', () => {
  test('uriScheme ignores Windows drive letters', () => {
    assert.equal(uriScheme('mlflow-artifacts:/1/2'), 'mlflow-artifacts');
    assert.equal(uriScheme('C:\\models'), '');
    assert.equal(uriScheme('/tmp/x'), '');
  });
  test('appendToUri joins with one slash and keeps the query', () => {
    assert.equal(appendToUri('s3://b/root/', '/model'), 's3://b/root/model');
    assert.equal(
      appendToUri('mlflow-artifacts:/1/abc/artifacts', 'model'),
      'mlflow-artifacts:/1/abc/artifacts/model',
    );
    assert.equal(appendToUri('https://h/x?sig=1', 'a'), 'https://h/x/a?sig=1');
    assert.equal(appendToUri('file:///tmp', ''), 'file:///tmp');
  });
});

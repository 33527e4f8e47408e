import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  createPageToken,
  likeToGlob,
  MODEL_VERSION_FILTER,
  parseOrderBy,
  parsePageToken,
  parseRegistryFilter,
  REGISTERED_MODEL_FILTER,
} from './search-filter.js';

describe('parseRegistryFilter', () => {
  test('name comparisons and tags joined by AND', () => {
    assert.deepEqual(
      parseRegistryFilter('name LIKE \'churn%\' and tags.team = "ml"', REGISTERED_MODEL_FILTER),
      [
        { type: 'attribute', key: 'name', comparator: 'LIKE', value: 'churn%' },
        { type: 'tag', key: 'team', comparator: '=', value: 'ml' },
      ],
    );
  });
  test('backticked tag keys may contain dots; ILIKE is case-folded', () => {
    assert.deepEqual(parseRegistryFilter("tags.`mlflow.source.name` ilike '%x%'", REGISTERED_MODEL_FILTER), [
      { type: 'tag', key: 'mlflow.source.name', comparator: 'ILIKE', value: '%x%' },
    ]);
  });
  test('model versions: run_id IN list, numeric version_number, source_path', () => {
    const parsed = parseRegistryFilter(
      "name='m' AND run_id IN ('a', 'b') AND version_number >= 2 AND source_path = 's3://x'",
      MODEL_VERSION_FILTER,
    );
    assert.deepEqual(parsed[1], { type: 'attribute', key: 'run_id', comparator: 'IN', value: ['a', 'b'] });
    assert.deepEqual(parsed[2], { type: 'attribute', key: 'version_number', comparator: '>=', value: 2 });
    assert.equal(parsed[3].value, 's3://x');
  });
  test('rejects unknown attributes, bad comparators, unquoted strings and OR', () => {
    assert.throws(
      () => parseRegistryFilter("run_id = 'a'", REGISTERED_MODEL_FILTER),
      /Invalid attribute key 'run_id'/,
    );
    assert.throws(() => parseRegistryFilter("name > 'a'", REGISTERED_MODEL_FILTER), /Invalid comparator/);
    assert.throws(() => parseRegistryFilter("name IN ('a')", REGISTERED_MODEL_FILTER), /Invalid comparator/);
    assert.throws(() => parseRegistryFilter('name = abc', REGISTERED_MODEL_FILTER), /quoted string value/);
    assert.throws(() => parseRegistryFilter("name = 'a' OR name = 'b'", REGISTERED_MODEL_FILTER), /Only AND/);
    assert.throws(() => parseRegistryFilter("version_number = 'x'", MODEL_VERSION_FILTER), /numeric/);
    assert.throws(() => parseRegistryFilter("name = 'unterminated", REGISTERED_MODEL_FILTER), /unterminated/);
  });
  test('empty filter means no clauses', () => {
    assert.deepEqual(parseRegistryFilter('  ', REGISTERED_MODEL_FILTER), []);
    assert.deepEqual(parseRegistryFilter(undefined, REGISTERED_MODEL_FILTER), []);
  });
});

describe('order_by and page tokens', () => {
  test('parseOrderBy', () => {
    const keys = new Set(['name', 'last_updated_timestamp']);
    assert.deepEqual(parseOrderBy('name DESC', keys), { key: 'name', ascending: false });
    assert.deepEqual(parseOrderBy('last_updated_timestamp', keys), {
      key: 'last_updated_timestamp',
      ascending: true,
    });
    assert.throws(() => parseOrderBy('version DESC', keys), /Invalid order by key 'version'/);
  });
  test('page tokens round-trip and reject garbage', () => {
    assert.equal(parsePageToken(createPageToken(40)), 40);
    assert.equal(createPageToken(3), Buffer.from('{"offset":3}').toString('base64'));
    assert.throws(() => parsePageToken('bm90IGpzb24='), /Invalid page token/);
    assert.throws(
      () => parsePageToken(Buffer.from('{"offset":-1}').toString('base64')),
      /Invalid page token/,
    );
  });
  test('likeToGlob escapes glob specials', () => {
    assert.equal(likeToGlob('a%b_c*'), 'a*b?c[*]');
  });
});

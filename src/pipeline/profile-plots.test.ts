import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createTable } from '../data/table.js';
import { calibrationSvg, rocSvg } from './plots.js';
import { buildReferenceProfile, profileCategorical, profileNumeric } from './profile.js';
import { deterministicIdentity } from './provenance.js';

describe('reference profile', () => {
  test('numeric quantiles, histogram and missing count', () => {
    const p = profileNumeric(Float64Array.from([1, 2, 3, 4, Number.NaN, 5, 6, 7, 8, 9, 10]));
    assert.equal(p.missing, 1);
    assert.equal(p.quantiles['0.5'], 5.5);
    assert.equal(p.quantiles['0'], 1);
    assert.equal(
      p.histogram.counts.reduce((a, b) => a + b, 0),
      10,
    );
    assert.equal(p.histogram.edges.length, 11);
    assert.equal(p.mean, 5.5);
  });

  test('categorical frequencies sorted, ties by value, rest in other', () => {
    const p = profileCategorical(['b', 'a', 'a', 'c', null, 'b', 'd'], 2);
    assert.deepEqual(Object.keys(p.frequencies), ['a', 'b']);
    assert.ok(Math.abs(p.frequencies.a! - 2 / 6) < 1e-9);
    assert.ok(Math.abs(p.other - 2 / 6) < 1e-9);
    assert.equal(p.missing, 1);
    assert.equal(p.distinct, 4);
  });

  test('only feature columns are profiled', () => {
    const t = createTable({ id: ['1', '2'], x: Float64Array.from([1, 2]), g: ['u', 'v'], y: ['Y', 'N'] });
    const schema = {
      name: 't',
      target: 'y',
      positiveLabel: 'Y',
      columns: [
        { name: 'id', type: 'id' as const, role: 'id' as const },
        { name: 'x', type: 'numeric' as const, role: 'feature' as const },
        { name: 'g', type: 'categorical' as const, role: 'feature' as const },
        { name: 'y', type: 'categorical' as const, role: 'target' as const },
      ],
    };
    const p = buildReferenceProfile(t, schema, [0.2, 0.8]);
    assert.deepEqual(Object.keys(p.features), ['x', 'g']);
    assert.equal(p.prediction?.count, 2);
  });
});

describe('plots', () => {
  test('ROC SVG is a well-formed document with the AUC in the title', () => {
    const svg = rocSvg([0, 0.1, 0.5, 1], [0, 0.6, 0.9, 1], 0.8512);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /ROC curve \(AUC 0\.8512\)/);
    assert.match(svg, /<path d="M56,352 L/);
    assert.ok(svg.trim().endsWith('</svg>'));
    assert.equal(svg, rocSvg([0, 0.1, 0.5, 1], [0, 0.6, 0.9, 1], 0.8512));
  });

  test('calibration SVG has a marker per bin and skips NaN bins', () => {
    const svg = calibrationSvg([0.1, 0.5, Number.NaN, 0.9], [0.12, 0.45, Number.NaN, 0.95], 0.03);
    assert.equal((svg.match(/<circle/g) ?? []).length, 3);
  });
});

describe('deterministic identity', () => {
  test('same inputs, same uuid; any change, another', () => {
    const a = deterministicIdentity({
      dataSha256: ['ab'],
      config: { x: 1, y: 2 },
      candidate: 'gbdt',
      seed: 1,
    });
    const b = deterministicIdentity({
      dataSha256: ['ab'],
      config: { y: 2, x: 1 },
      candidate: 'gbdt',
      seed: 1,
    });
    const c = deterministicIdentity({
      dataSha256: ['ab'],
      config: { x: 1, y: 2 },
      candidate: 'gbdt',
      seed: 2,
    });
    assert.equal(a.modelUuid, b.modelUuid);
    assert.notEqual(a.modelUuid, c.modelUuid);
    assert.match(a.modelUuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(a.createdAt.getTime(), b.createdAt.getTime());
  });
});

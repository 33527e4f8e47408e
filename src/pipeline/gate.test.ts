import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideGate } from './gate.js';

const config = { min_delta: 0.01, min_roc_auc: 0.6, max_log_loss: 0.69, max_ece: 0.1 };
const good = { roc_auc: 0.85, log_loss: 0.45, ece: 0.03 };

describe('quality gate', () => {
  test('the first model passing the floors is promoted', () => {
    const r = decideGate({ challenger: good, production: null, config, promote: true });
    assert.equal(r.decision, 'promote');
    assert.equal(r.movesProduction, true);
    assert.ok(r.reasons.some((x) => /no production version yet/.test(x)));
  });

  test('a floor failure rejects even with no production, naming the floor', () => {
    const r = decideGate({ challenger: { ...good, ece: 0.2 }, production: null, config, promote: true });
    assert.equal(r.decision, 'reject');
    assert.equal(r.movesProduction, false);
    assert.ok(r.reasons.some((x) => x.startsWith('FAIL: test ece 0.2000 <= ceiling 0.1000')));
  });

  test('must beat production by min_delta', () => {
    const prod = { roc_auc: 0.845, log_loss: 0.46, ece: 0.03, version: '3' };
    const r = decideGate({ challenger: good, production: prod, config, promote: true });
    assert.equal(r.decision, 'reject');
    assert.ok(
      r.reasons.some((x) => /FAIL: .*production v3 0\.8450: delta \+0\.0050 < min_delta 0\.0100/.test(x)),
    );
    const r2 = decideGate({ challenger: good, production: { ...prod, roc_auc: 0.8 }, config, promote: true });
    assert.equal(r2.decision, 'promote');
  });

  test('an identical model passes min_delta 0', () => {
    const r = decideGate({
      challenger: good,
      production: { ...good, version: '1' },
      config: { ...config, min_delta: 0 },
      promote: true,
    });
    assert.equal(r.passed, true);
  });

  test('NaN metrics fail', () => {
    const r = decideGate({
      challenger: { ...good, log_loss: Number.NaN },
      production: null,
      config,
      promote: true,
    });
    assert.equal(r.passed, false);
    assert.ok(r.reasons.some((x) => /not finite/.test(x)));
  });

  test('--no-promote holds; --force-promote moves and says it overrides', () => {
    const hold = decideGate({ challenger: good, production: null, config, promote: false });
    assert.equal(hold.decision, 'hold');
    assert.equal(hold.passed, true);
    assert.equal(hold.movesProduction, false);
    const forced = decideGate({
      challenger: { ...good, roc_auc: 0.5 },
      production: null,
      config,
      promote: true,
      force: { reason: 'hotfix' },
    });
    assert.equal(forced.decision, 'force-promote');
    assert.equal(forced.movesProduction, true);
    assert.equal(forced.passed, false);
    assert.ok(forced.reasons.some((x) => /hotfix.*overrides/.test(x)));
  });
});

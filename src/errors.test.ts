import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_STATUS, TasselError, errorBody, statusOf, toErrorCode } from './errors.js';

test('error statuses follow MLflow', () => {
  assert.equal(ERROR_STATUS.RESOURCE_ALREADY_EXISTS, 400);
  assert.equal(ERROR_STATUS.RESOURCE_DOES_NOT_EXIST, 404);
  assert.equal(ERROR_STATUS.INVALID_PARAMETER_VALUE, 400);
  assert.equal(ERROR_STATUS.UNAUTHENTICATED, 401);
  assert.equal(ERROR_STATUS.PERMISSION_DENIED, 403);
});

test('error body never leaks an unknown error', () => {
  const body = errorBody(new Error('SELECT * FROM runs WHERE secret'));
  assert.deepEqual(Object.keys(body).sort(), ['error_code', 'message']);
  assert.equal(body.error_code, 'INTERNAL_ERROR');
  assert.ok(!body.message.includes('SELECT'));
  assert.equal(statusOf(new Error('x')), 500);
});

test('catalogued errors keep code, status and message', () => {
  const e = new TasselError('RESOURCE_DOES_NOT_EXIST', 'Run abc not found');
  assert.equal(e.status, 404);
  assert.deepEqual(errorBody(e), { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run abc not found' });
  assert.equal(toErrorCode('NOPE'), 'INTERNAL_ERROR');
  assert.equal(toErrorCode('BAD_REQUEST'), 'BAD_REQUEST');
});

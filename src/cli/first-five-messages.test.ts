import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RawRecord } from '../data/table.js';
import { createServingApp } from '../serving/app.js';
import { createModelHolder } from '../serving/model-holder.js';
import { type TrainedTestModel, trainTestModel } from '../serving/testing.js';
import { startTrackingServer } from '../tracking/server/start.js';
import { runCli } from './cli-capture.test-helper.js';

// Issue 15, defect 6: the messages a newcomer met first. Each says what was wrong, in the user's terms.

const dir = mkdtempSync(join(tmpdir(), 'tassel-messages-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let trained: TrainedTestModel;
let full: RawRecord;
before(async () => {
  trained = await trainTestModel({ rows: 300, trees: 3 });
  full = trained.records.find((r) => Object.values(r).every((v) => v !== null))!;
});

describe('serving messages (the route and the fast lane alike)', () => {
  for (const fastLane of [true, false]) {
    const send = async (path: string, body: string, contentType = 'application/json') => {
      const app = await createServingApp({ holder: createModelHolder(trained.served()), fastLane });
      await app.listen({ port: 0, host: '127.0.0.1' });
      try {
        const { port } = app.server.address() as { port: number };
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          headers: { 'content-type': contentType },
          body,
        });
        return { status: res.status, body: (await res.json()) as { error_code: string; message: string } };
      } finally {
        await app.close();
      }
    };
    const withAge = (age: string) => JSON.stringify(full).replace(/"Age":\d+/, `"Age":${age}`);

    test(`fast lane ${fastLane}: 1e999 is "not a finite number", in a record and in a batch`, async () => {
      const one = await send('/predict', withAge('1e999'));
      assert.equal(one.status, 400);
      assert.match(one.body.message, /field "Age": not a finite number/);
      assert.doesNotMatch(one.body.message, /must be string,number,boolean,null/);
      const batch = await send('/predict/batch', `[${withAge('-1e999')}]`);
      assert.match(batch.body.message, /"0\.Age": not a finite number \(-Infinity/);
    });

    test(`fast lane ${fastLane}: a __proto__ body says what was refused`, async () => {
      for (const body of ['{"__proto__": {"admin": true}}', '[{"constructor": {"prototype": {}}}]']) {
        const r = await send('/predict/batch', body);
        assert.equal(r.status, 400);
        assert.equal(r.body.error_code, 'MALFORMED_REQUEST');
        assert.match(r.body.message, /refused: it has a "(__proto__|constructor" with a "prototype)" key/);
      }
      const broken = await send('/predict', '{"Age": 3,');
      assert.match(broken.body.message, /the body is not valid JSON: /);
    });

    test(`fast lane ${fastLane}: a text/plain body is 415, as the README says`, async () => {
      const r = await send('/predict', JSON.stringify(full), 'text/plain');
      assert.equal(r.status, 415);
      assert.match(
        r.body.message,
        /content type text\/plain is not supported: send the body as application\/json/,
      );
    });

    test(`fast lane ${fastLane}: the date error names the data's own DD-MM-YYYY`, async () => {
      const r = await send('/predict', JSON.stringify({ ...full, Enrollment_Date: '2024/31/12' }));
      assert.equal(r.status, 400);
      assert.match(r.body.message, /is not a date DD-MM-YYYY \(or DD\/MM\/YYYY, or YYYY-MM-DD\)/);
    });
  }
});

test('tracking: a bad log-metric value names the timestamp that was sent', async () => {
  const server = await startTrackingServer({
    host: '127.0.0.1',
    port: 0,
    backendStoreUri: `sqlite:///${join(dir, 'mlflow.db')}`,
    artifactsDestination: join(dir, 'artifacts'),
    logger: false,
  });
  try {
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/api/2.0/mlflow/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const exp = (await (await post('experiments/create', { name: 'msgs' })).json()) as {
      experiment_id: string;
    };
    const run = (await (await post('runs/create', { experiment_id: exp.experiment_id })).json()) as {
      run: { info: { run_id: string } };
    };
    const res = await post('runs/log-metric', {
      run_id: run.run.info.run_id,
      key: 'auc',
      value: 'abc',
      timestamp: 1700000000123,
      step: 0,
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { message: string };
    assert.match(body.message, /Got invalid value abc for metric 'auc' \(timestamp=1700000000123\)/);
    assert.doesNotMatch(body.message, /timestamp=\?/);
  } finally {
    await server.close();
  }
});

describe('CLI', () => {
  test('a model name that does not exist is a user error: exit 2, like the others', async () => {
    const server = await startTrackingServer({
      host: '127.0.0.1',
      port: 0,
      backendStoreUri: `sqlite:///${join(dir, 'models.db')}`,
      artifactsDestination: join(dir, 'models-artifacts'),
      logger: false,
    });
    try {
      const r = await runCli('models', 'list', 'nosuch', '--tracking-uri', server.url);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /nosuch/);
    } finally {
      await server.close();
    }
  });

  test('a mistyped flag prints one line, a suggestion and a hint, not the whole help', async () => {
    const r = await runCli('up', '--prot', '9000');
    assert.equal(r.code, 2);
    const { spawnSync } = await import('node:child_process');
    const child = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '..', '..', 'bin', 'tassel.js'), 'up', '--prot', '9000'],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(child.status, 2);
    const lines = child.stderr.trim().split('\n');
    assert.ok(lines.length <= 3, child.stderr);
    assert.match(lines[0]!, /unknown option '--prot'/);
    assert.match(child.stderr, /Did you mean --port\?/);
    assert.match(child.stderr, /run tassel up --help for the options/);
  });
});

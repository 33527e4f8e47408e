import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { openTestTrackingServer } from '../pipeline/test-server.js';
import { runCli } from './cli-capture.test-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-pipeline-cli-'));
let server: Awaited<ReturnType<typeof openTestTrackingServer>>;

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 1500, seed: 2 });
  server = await openTestTrackingServer(join(dir, 'tassel-data'));
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tassel pipeline / tassel models', { timeout: 90_000 }, () => {
  test('a config error exits 2 naming the field', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'data:\n  path: students.csv\n  schema: builtin:course-completion\ngate:\n  max_ece: lots\n',
    );
    const r = await runCli('pipeline', 'run', '--config', file);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pipeline config: gate\.max_ece: Expected number/);
  });

  test('missing data exits 2 with the file named', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const file = join(dir, 'missing.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: { path: 'nope.csv', schema: 'builtin:course-completion' },
        model_name: 'cli-missing',
      }),
    );
    const r = await runCli('pipeline', 'run', '--config', file, '--tracking-uri', server.url);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope\.csv: file not found/);
  });

  test('run --json, then models list / promote / rollback', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const name = `cli-${process.pid}`;
    const file = join(dir, 'p.json');
    writeFileSync(
      file,
      JSON.stringify({
        data: { path: 'students.csv', schema: 'builtin:course-completion' },
        model_name: name,
        candidates: [{ kind: 'logistic' }],
      }),
    );
    const first = await runCli('pipeline', 'run', '--config', file, '--tracking-uri', server.url, '--json');
    assert.equal(first.code, 0, first.stderr);
    const out = JSON.parse(first.stdout) as {
      version: string;
      production_version: string;
      gate: { decision: string };
    };
    assert.deepEqual([out.version, out.production_version, out.gate.decision], ['1', '1', 'promote']);
    // the same data, config and code again would be skipped (unchanged since v1): another seed trains
    const file2 = join(dir, 'p2.json');
    writeFileSync(file2, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), seed: 7 }));
    const unchanged = await runCli('pipeline', 'run', '--config', file, '--tracking-uri', server.url);
    assert.equal(unchanged.code, 0, unchanged.stderr);
    assert.match(unchanged.stdout, /unchanged since version 1 in production \(same data, config and code\)/);
    const second = await runCli(
      'pipeline',
      'run',
      '--config',
      file2,
      '--tracking-uri',
      server.url,
      '--no-promote',
      '--json',
    );
    assert.equal(JSON.parse(second.stdout).gate.decision, 'hold');

    const list = await runCli('models', 'list', name, '--tracking-uri', server.url, '--json');
    const listing = JSON.parse(list.stdout) as Array<{
      aliases: Record<string, string>;
      versions: unknown[];
    }>;
    assert.deepEqual(listing[0]!.aliases, { production: '1', challenger: '2' });
    assert.equal(listing[0]!.versions.length, 2);

    assert.equal((await runCli('models', 'promote', name, 'two', '--tracking-uri', server.url)).code, 2);
    const promoted = await runCli(
      'models',
      'promote',
      name,
      '2',
      '--reason',
      'cli test',
      '--tracking-uri',
      server.url,
    );
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /production v1 -> v2/);
    const rolled = await runCli('models', 'rollback', name, '--tracking-uri', server.url);
    assert.match(rolled.stdout, /production v2 -> v1 \(rollback\)/);
    const none = await runCli('models', 'rollback', `${name}-none`, '--tracking-uri', server.url);
    assert.equal(none.code, 2);
  });
  test('--fail-on-reject (or gate.fail_on_reject) exits 3 with one line when the challenger is not promoted', async (t) => {
    if (server.skip) return t.skip(server.skip);
    const name = `cli-reject-${process.pid}`;
    const write = (file: string, candidate: string, gate: Record<string, unknown> = {}) => {
      writeFileSync(
        join(dir, file),
        JSON.stringify({
          data: { path: 'students.csv', schema: 'builtin:course-completion' },
          model_name: name,
          candidates: [{ kind: candidate }],
          gate,
        }),
      );
      return join(dir, file);
    };
    const strong = write('strong.json', 'logistic');
    // a prior-only model scores roc_auc 0.5: below the 0.6 floor and below production
    const weak = write('weak.json', 'dummy');
    const weakByConfig = write('weak-config.json', 'dummy', { fail_on_reject: true });
    const run = (...args: string[]) => runCli('pipeline', 'run', '--tracking-uri', server.url, ...args);

    const first = await run('--config', strong, '--fail-on-reject', '--json');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(first.stdout).gate.decision, 'promote');

    const plain = await run('--config', weak, '--json');
    assert.equal(plain.code, 0, 'without the flag a rejection still exits 0');
    assert.equal(JSON.parse(plain.stdout).gate.decision, 'reject');

    const flagged = await run('--config', weak, '--fail-on-reject', '--json');
    assert.equal(flagged.code, 3);
    const out = JSON.parse(flagged.stdout) as { version: string; gate: { decision: string } };
    assert.equal(out.gate.decision, 'reject', 'the result is still printed');
    // after the progress lines, the reason is the last line, alone
    const lines = flagged.stderr.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('tassel:')).length, 1, flagged.stderr);
    assert.match(
      lines.at(-1)!,
      new RegExp(`^tassel: gate rejected ${name} v${out.version} \\(production stays v1\\): .*roc_auc 0\\.5000 >= floor 0\\.6000`),
    );

    const byConfig = await run('--config', weakByConfig);
    assert.equal(byConfig.code, 3, byConfig.stderr);
    assert.match(byConfig.stderr, /gate rejected/);

    // --no-promote --fail-on-reject checks the gate without moving production (a pull request's job)
    const held = await run('--config', weak, '--no-promote', '--fail-on-reject', '--json');
    assert.equal(held.code, 3);
    assert.equal(JSON.parse(held.stdout).gate.decision, 'hold');
    const heldStrong = await run('--config', strong, '--no-promote', '--fail-on-reject', '--json');
    assert.equal(heldStrong.code, 0, heldStrong.stderr);

    const forced = await run('--config', weak, '--fail-on-reject', '--force-promote', 'cli test', '--json');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(JSON.parse(forced.stdout).production_version, JSON.parse(forced.stdout).version);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { runCli } from './cli-capture.test-helper.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tassel-data-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const p = (name: string) => join(dir, name);

describe('tassel data', () => {
  test('generate: same seed -> same sha256, different seed -> different; --help', async () => {
    const a = await run('data', 'generate', '--rows', '2000', '--seed', '7', '--out', p('a.csv'));
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /wrote 2000 rows .* sha256 [0-9a-f]{64}/);
    assert.equal(
      (await run('data', 'generate', '--rows', '2000', '--seed', '7', '--out', p('b.csv'))).code,
      0,
    );
    assert.equal(
      (await run('data', 'generate', '--rows', '2000', '--seed', '8', '--out', p('c.csv'))).code,
      0,
    );
    assert.equal(sha(p('a.csv')), sha(p('b.csv')));
    assert.notEqual(sha(p('a.csv')), sha(p('c.csv')));
    assert.ok(a.stdout.includes(sha(p('a.csv'))));
    const help = await run('data', 'generate', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--rows <n>[\s\S]*--seed <s>[\s\S]*--out <file>[\s\S]*--missing-rate <r>/);
    const bad = await run('data', 'generate', '--rows', 'many', '--out', p('x.csv'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--rows <n>' argument 'many' is invalid/);
  });

  test('validate: a clean file exits 0; each bad input exits 2 naming file, row and column', async () => {
    await run('data', 'generate', '--rows', '200', '--seed', '1', '--out', p('v.csv'));
    const ok = await run('data', 'validate', '--data', p('v.csv'), '--schema', 'builtin:course-completion');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /200 rows, 40 columns[\s\S]*no issues/);

    const lines = readFileSync(p('v.csv'), 'utf8').trimEnd().split('\n');
    const cells = lines[3]!.split(',');
    cells[14] = 'n/a-ish';
    lines[3] = cells.join(',');
    writeFileSync(p('bad.csv'), lines.join('\n'));
    const bad = await run(
      'data',
      'validate',
      '--data',
      p('bad.csv'),
      '--schema',
      'builtin:course-completion',
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /row 3, column Instructor_Rating: "n\/a-ish" \(expected a number in \[0, 5\]\)/);
    assert.match(bad.stderr, /^tassel: error: .*bad\.csv: 1 invalid value/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);

    writeFileSync(p('empty.csv'), '');
    const empty = await run(
      'data',
      'validate',
      '--data',
      p('empty.csv'),
      '--schema',
      'builtin:course-completion',
    );
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /empty\.csv: the file is empty/);

    const missingTarget = await run(
      'data',
      'validate',
      '--data',
      p('v.csv'),
      '--target',
      'Finished',
      '--positive',
      'yes',
    );
    assert.equal(missingTarget.code, 2);
    assert.match(missingTarget.stderr, /v\.csv: missing target column "Finished"/);

    const positive = await run(
      'data',
      'validate',
      '--data',
      p('v.csv'),
      '--target',
      'Completed',
      '--positive',
      'Yes',
    );
    assert.equal(positive.code, 2);
    assert.match(
      positive.stderr,
      /v\.csv: unknown positive label "Yes": it never occurs in target column Completed/,
    );

    const notFound = await run(
      'data',
      'validate',
      '--data',
      p('nope.csv'),
      '--schema',
      'builtin:course-completion',
    );
    assert.equal(notFound.code, 2);
    assert.match(notFound.stderr, /nope\.csv: file not found/);

    const noSchema = await run('data', 'validate', '--data', p('v.csv'));
    assert.equal(noSchema.code, 2);
    assert.match(
      noSchema.stderr,
      /give --schema builtin:course-completion, or --target COLUMN and --positive VALUE/,
    );

    const json = await run(
      'data',
      'validate',
      '--data',
      p('bad.csv'),
      '--schema',
      'builtin:course-completion',
      '--json',
    );
    assert.equal(json.code, 2);
    const body = JSON.parse(json.stdout);
    assert.deepEqual(body.issues, [
      { row: 3, column: 'Instructor_Rating', value: 'n/a-ish', expected: 'a number in [0, 5]' },
    ]);
    assert.equal(body.rows, 200);
  });

  test('the real binary: exit code 2 and one line, no stack trace unless --verbose', () => {
    const bin = join(repoRoot, 'bin', 'tassel.js');
    const r = spawnSync(
      process.execPath,
      [bin, 'data', 'validate', '--data', p('missing.csv'), '--schema', 'builtin:course-completion'],
      {
        encoding: 'utf8',
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim(), `tassel: error: ${p('missing.csv')}: file not found`);
  });

  const sharedDir = process.env.TASSEL_SHARED_DIR ?? resolve(repoRoot, '..', 'shared');
  const raw = join(sharedDir, 'anchors', 'data', 'oulad');
  test('oulad: builds the day-60 table', {
    skip: existsSync(join(raw, 'studentInfo.csv')) ? false : `no OULAD raw tables at ${raw}`,
  }, async () => {
    const r = await run('data', 'oulad', '--raw', raw, '--cutoff-day', '60', '--out', p('oulad.csv'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /wrote 26361 enrolments of 32593 \(not unregistered by day 60; 58\.36% positive\)/,
    );
    const split = await run('data', 'oulad', '--raw', raw, '--split-dir', p('split'));
    assert.equal(split.code, 0, split.stderr);
    assert.equal(sha(join(p('split'), 'features_test.csv')), sha(join(raw, 'features_test.csv')));
    assert.equal(sha(join(p('split'), 'features_train.csv')), sha(join(raw, 'features_train.csv')));
    const neither = await run('data', 'oulad', '--raw', raw);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give --out FILE and\/or --split-dir DIR/);
    const head = readFileSync(p('oulad.csv'), 'utf8').slice(0, 200);
    assert.ok(head.startsWith('row_id,id_student,num_of_prev_attempts,'));
    const missing = await run('data', 'oulad', '--raw', p('no-such-dir'), '--out', p('o2.csv'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-dir: folder not found/);
  });
});

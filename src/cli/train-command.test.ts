import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { loadBundle } from '../ml/bundle.js';
import { runCli } from './cli-capture.test-helper.js';

const dir = mkdtempSync(join(tmpdir(), 'tassel-train-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const p = (name: string) => join(dir, name);
const S = ['--schema', 'builtin:course-completion'];

before(async () => {
  await writeCourseCompletionCsv(p('students.csv'), { rows: 1500, seed: 3 });
  await writeCourseCompletionCsv(p('holdout.csv'), { rows: 300, seed: 4 });
});

describe('tassel train', () => {
  test('logistic --json: one JSON object with test metrics, fit time and the bundle', async () => {
    const r = await runCli(
      'train',
      '--data',
      p('students.csv'),
      ...S,
      '--model',
      'logistic',
      '--c',
      '0.5',
      '--out',
      p('lr'),
      '--json',
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'exactly one line on stdout');
    const out = JSON.parse(lines[0]!);
    assert.equal(out.model, 'logistic');
    assert.equal(out.params.C, 0.5);
    for (const k of ['roc_auc', 'pr_auc', 'log_loss', 'accuracy', 'f1', 'brier', 'ece'])
      assert.equal(typeof out.test[k], 'number', k);
    assert.ok(out.test.roc_auc > 0.7, `roc_auc ${out.test.roc_auc}`);
    assert.equal(out.rows.train + out.rows.test, 1500);
    assert.equal(out.rows.test, 300, 'stratified 80/20');
    assert.ok(out.fit_seconds > 0);
    assert.ok(out.fit_cpu_seconds > 0);
    const b = await loadBundle(p('lr'));
    assert.equal(b.kind, 'logistic');
    assert.ok(
      !b.featureNames.some((n) => n.startsWith('Student_ID') || n.startsWith('Name')),
      'ids are never features',
    );
  });

  test('same seed -> same metrics; the text table and progress lines', async () => {
    const a = await runCli(
      'train',
      '--data',
      p('students.csv'),
      ...S,
      '--model',
      'logistic',
      '--seed',
      '9',
      '--out',
      p('a'),
      '--json',
      '--quiet',
    );
    const b = await runCli(
      'train',
      '--data',
      p('students.csv'),
      ...S,
      '--model',
      'logistic',
      '--seed',
      '9',
      '--out',
      p('b'),
    );
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /^metric +test +train$/m);
    assert.match(b.stdout, /^roc_auc +0\.\d{4} +0\.\d{4}$/m);
    assert.match(b.stdout, new RegExp(`bundle: ${p('b').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(
      b.stderr,
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] reading /m,
      'plain timestamped progress off a terminal',
    );
    const auc = JSON.parse(a.stdout).test.roc_auc.toFixed(4);
    assert.match(b.stdout, new RegExp(`^roc_auc +${auc.replace('.', '\\.')} `, 'm'));
  });

  test('dummy with --test-data and --ignore; max_f1 threshold', async () => {
    const r = await runCli(
      'train',
      '--data',
      p('students.csv'),
      '--test-data',
      p('holdout.csv'),
      ...S,
      '--model',
      'dummy',
      '--ignore',
      'City,Course_Name',
      '--threshold',
      'max_f1',
      '--out',
      p('dummy'),
      '--json',
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.test.roc_auc, 0.5);
    assert.equal(out.rows.test, 300);
    const b = await loadBundle(p('dummy'));
    assert.ok(!b.featureNames.some((n) => n.startsWith('City=')), 'ignored column is not a feature');
    assert.equal(b.schema.columns.find((c) => c.name === 'City')!.role, 'ignore');
  });

  test('an ignored column of the built-in schema is not validated (a broken column can be left out)', async () => {
    const text = readFileSync(p('students.csv'), 'utf8').split('\n');
    const at = text[0]!.split(',').indexOf('Age');
    text[5] = text[5]!
      .split(',')
      .map((v, j) => (j === at ? 'unknown' : v))
      .join(',');
    writeFileSync(p('bad-age.csv'), text.join('\n'));
    const failing = await runCli(
      'train',
      '--data',
      p('bad-age.csv'),
      ...S,
      '--model',
      'dummy',
      '--out',
      p('x1'),
      '--quiet',
    );
    assert.equal(failing.code, 2);
    assert.match(failing.stderr, /row 5, column Age: "unknown"/);
    const ok = await runCli(
      'train',
      '--data',
      p('bad-age.csv'),
      ...S,
      '--model',
      'dummy',
      '--ignore',
      'Age',
      '--out',
      p('x2'),
      '--quiet',
      '--json',
    );
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('--help lists flags and model kinds', async () => {
    const r = await runCli('train', '--help');
    assert.equal(r.code, 0);
    for (const flag of [
      '--data',
      '--test-data',
      '--schema',
      '--target',
      '--positive',
      '--model',
      '--ignore',
      '--valid-column',
      '--seed',
      '--c',
      '--out',
      '--json',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
    assert.match(r.stdout, /Model kinds:\n {2}dummy/);
  });
});

describe('tassel train: bad input exits 2 with a clear message', () => {
  const base = ['train', '--data', 'DATA', ...S, '--model', 'logistic', '--out', 'OUT', '--quiet'];
  const withArgs = (over: Record<string, string>, extra: string[] = []) =>
    [...base.map((a) => (a === 'DATA' ? p('students.csv') : a === 'OUT' ? p('never') : a)), ...extra].map(
      (a) => over[a] ?? a,
    );
  const cases: [string, string[], RegExp][] = [
    [
      'unknown model',
      withArgs({ logistic: 'forest' }),
      /Unknown model kind "forest"; known kinds: .*dummy.*logistic/,
    ],
    ['bad --c', withArgs({}, ['--c', '-1']), /option '--c <number>' argument '-1' is invalid/],
    ['unknown flag', withArgs({}, ['--bogus']), /unknown option '--bogus'/],
    [
      'flag of another kind',
      withArgs({ logistic: 'dummy' }, ['--c', '2']),
      /--c applies to --model logistic, not dummy/,
    ],
    [
      'unknown column in --ignore',
      withArgs({}, ['--ignore', 'City,Nope']),
      /unknown column "Nope" \(from --ignore\/--valid-column\)/,
    ],
    ['ignoring the target', withArgs({}, ['--ignore', 'Completed']), /"Completed" is the target column/],
    ['missing data file', withArgs({ [p('students.csv')]: p('absent.csv') }), /absent\.csv: file not found/],
    ['missing test file', withArgs({}, ['--test-data', p('absent2.csv')]), /absent2\.csv: file not found/],
    [
      'missing --out',
      withArgs({ '--out': '--json', [p('never')]: '--quiet' }),
      /required option '--out <dir>' not specified/,
    ],
    [
      'no schema',
      withArgs({ '--schema': '--quiet', 'builtin:course-completion': '--quiet' }),
      /give --schema builtin:course-completion, or --target COLUMN and --positive VALUE/,
    ],
    [
      'bad threshold',
      withArgs({}, ['--threshold', '2']),
      /argument '2' is invalid. expected max_f1 or a number in \[0, 1\]/,
    ],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const r = await runCli(...args);
      assert.equal(r.code, 2, `${name}: exit ${r.code}; stderr ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace without --verbose');
      assert.ok(!existsSync(p('never')), 'nothing written');
    });
  }
});

describe('tassel predict', () => {
  before(async () => {
    const r = await runCli(
      'train',
      '--data',
      p('students.csv'),
      ...S,
      '--model',
      'logistic',
      '--out',
      p('pm'),
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
  });

  test('writes ids, probability and label, the same as the bundle predicts', async () => {
    const r = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('holdout.csv'),
      '--out',
      p('pred.csv'),
      '--json',
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
    const summary = JSON.parse(r.stdout);
    assert.equal(summary.rows, 300);
    const lines = readFileSync(p('pred.csv'), 'utf8').trim().split('\n');
    assert.equal(lines[0], 'Student_ID,Name,probability,label');
    assert.equal(lines.length, 301);
    const holdout = readFileSync(p('holdout.csv'), 'utf8').split('\n');
    const header = holdout[0]!.split(',');
    const first = holdout[1]!.split(',');
    const record = Object.fromEntries(header.map((h, i) => [h, first[i]]));
    const b = await loadBundle(p('pm'));
    const [expected] = b.predictRecords([record]);
    const [sid, , prob, label] = lines[1]!.split(',');
    assert.equal(sid, record.Student_ID);
    assert.ok(Math.abs(Number(prob) - expected!.probability) < 1e-12);
    assert.equal(Number(label), expected!.label);
  });

  test('a bad row exits 2 naming row and column; --on-invalid drop skips it', async () => {
    const text = readFileSync(p('holdout.csv'), 'utf8').split('\n');
    const header = text[0]!.split(',');
    const ageAt = header.indexOf('Age');
    const row = text[3]!.split(',');
    row[ageAt] = 'old';
    text[3] = row.join(',');
    writeFileSync(p('bad.csv'), text.join('\n'));
    const r = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('bad.csv'),
      '--out',
      p('bad-pred.csv'),
      '--quiet',
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /row 3, column Age: "old" \(expected an integer/);
    const d = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('bad.csv'),
      '--out',
      p('bad-pred.csv'),
      '--on-invalid',
      'drop',
      '--json',
      '--quiet',
    );
    assert.equal(d.code, 0, d.stderr);
    assert.equal(JSON.parse(d.stdout).rows, 299);
  });

  test('JSON records (dataframe_split, JSON Lines) score like the CSV; a bad record exits 2', async () => {
    const lines = readFileSync(p('holdout.csv'), 'utf8').trim().split('\n');
    const columns = lines[0]!.split(',');
    const data = lines.slice(1, 6).map((l) => l.split(','));
    writeFileSync(p('req.json'), JSON.stringify({ dataframe_split: { columns, data } }));
    const r = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('req.json'),
      '--out',
      p('req.csv'),
      '--quiet',
    );
    assert.equal(r.code, 0, r.stderr);
    const fromCsv = readFileSync(p('pred.csv'), 'utf8').trim().split('\n').slice(0, 6);
    assert.deepEqual(readFileSync(p('req.csv'), 'utf8').trim().split('\n'), fromCsv);
    const recs = data.map((row) => Object.fromEntries(columns.map((c, j) => [c, row[j]])));
    recs[1]!.Quiz_Score_Avg = 'high';
    writeFileSync(p('req.jsonl'), recs.map((x) => JSON.stringify(x)).join('\n'));
    const bad = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('req.jsonl'),
      '--out',
      p('req2.csv'),
      '--quiet',
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /req\.jsonl: 1 invalid value.*\n.*row 2, column Quiz_Score_Avg: "high"/);
    writeFileSync(p('broken.json'), '{"dataframe_split": ');
    const broken = await runCli(
      'predict',
      '--model',
      p('pm'),
      '--data',
      p('broken.json'),
      '--out',
      p('req3.csv'),
    );
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /broken\.json: not valid JSON records/);
  });

  test('missing bundle and damaged bundle', async () => {
    const r = await runCli(
      'predict',
      '--model',
      p('nothing'),
      '--data',
      p('holdout.csv'),
      '--out',
      p('x.csv'),
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /model bundle .*nothing does not exist/);
    writeFileSync(join(p('pm'), 'model.json'), '{"format_version": 1, "schema": ');
    const d = await runCli('predict', '--model', p('pm'), '--data', p('holdout.csv'), '--out', p('x.csv'));
    assert.equal(d.code, 1);
    assert.match(d.stderr, /model\.json in .* is not valid JSON/);
  });
});

describe('tassel quickstart', () => {
  test('generates data when absent, trains logistic, prints metrics and the bundle path', async () => {
    const work = p('qs');
    const r = await runCli('quickstart', '--dir', work, '--rows', '800');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(work, 'students.csv')));
    assert.match(r.stdout, /^roc_auc +0\.\d{4}/m);
    assert.match(r.stdout, /The model bundle is in .*models[\\/]quickstart/);
    assert.ok(existsSync(join(work, 'models', 'quickstart', 'MLmodel')));
    const again = await runCli('quickstart', '--dir', work, '--rows', '800');
    assert.match(again.stderr, /using existing data/);
  });
});

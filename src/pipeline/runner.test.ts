import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeCourseCompletionCsv } from '../data/synthetic.js';
import { TasselError } from '../errors.js';
import { parsePipelineConfig } from './config.js';
import { checkStepOrder, runPipeline } from './runner.js';
import { type AnyPipelineStep, defineStep, PIPELINE_STEPS } from './steps/index.js';
import { reportsStep } from './steps/reports.js';
import { selectStep } from './steps/select.js';
import { trainTrialsStep } from './steps/train-trials.js';
import { openTestTrackingServer } from './test-server.js';
import { createClientTracking } from './tracking-client-adapter.js';

// A step's new state key, declared from the step's own file as the step list's JSDoc says.
declare module './steps/step.js' {
  interface PipelineState {
    extraNote: string;
  }
}

/** The step runner: order checks, a step added by one line, and the failure path, on a real server. */

const dir = mkdtempSync(join(tmpdir(), 'tassel-runner-'));
let server: { url: string; close(): Promise<void> } | null = null;
let skip: string | false = false;

before(async () => {
  await writeCourseCompletionCsv(join(dir, 'students.csv'), { rows: 1500, seed: 3 });
  const opened = await openTestTrackingServer(join(dir, 'tassel-data'));
  server = opened;
  skip = opened.skip;
});

after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The default list with `step` inserted after `anchor`. */
const withStepAfter = (
  anchor: AnyPipelineStep,
  step: AnyPipelineStep,
  list: readonly AnyPipelineStep[] = PIPELINE_STEPS,
) => {
  const i = list.indexOf(anchor);
  assert.ok(i >= 0);
  return [...list.slice(0, i + 1), step, ...list.slice(i + 1)];
};

describe('pipeline step order', () => {
  test('the default list is in a valid order', () => {
    assert.doesNotThrow(() => checkStepOrder(PIPELINE_STEPS));
  });

  test('a step before the step producing its input is refused, naming both', () => {
    const early = defineStep({ name: 'too early', inputs: ['winner'], outputs: [], run: () => ({}) });
    assert.throws(
      () => checkStepOrder([early, ...PIPELINE_STEPS]),
      (e: unknown) =>
        e instanceof TasselError &&
        /"too early" needs winner, which no earlier step produces/.test(e.message),
    );
    const moved = PIPELINE_STEPS.filter((s) => s !== trainTrialsStep).concat(trainTrialsStep);
    assert.throws(() => checkStepOrder(moved), /"select" needs results/);
  });

  test('two steps of one name are refused', () => {
    assert.throws(() => checkStepOrder([...PIPELINE_STEPS, reportsStep]), /two steps are named "reports"/);
  });
});

describe('pipeline runner on a tracking server', { timeout: 120_000 }, () => {
  const model = `cc-runner-${process.pid}`;
  const config = () =>
    parsePipelineConfig(
      {
        data: { path: 'students.csv', schema: 'builtin:course-completion' },
        model_name: model,
        candidates: [{ kind: 'logistic' }],
        seed: 2,
        // these tests run the same config again and again: train each time (unchanged re-runs have
        // their own test, unchanged-rerun.e2e.test.ts)
        gate: { on_unchanged: 'record' },
      },
      dir,
    );
  const tracking = () => createClientTracking({ uri: server!.url, retries: 2, backoffMs: 20 });
  const runsGet = async (id: string) => {
    const r = await fetch(`${server!.url}/api/2.0/mlflow/runs/get?run_id=${id}`);
    return ((await r.json()) as { run: { info: { status: string }; data: { tags?: any[] } } }).run;
  };

  test('a step added with one line runs in its slot, is timed, and its artifact is uploaded', async (t) => {
    if (skip) return t.skip(skip);
    const seen: string[] = [];
    const note = defineStep({
      name: 'extra note',
      inputs: ['winner'],
      outputs: ['extraNote'],
      run: ({ winner }) => ({ extraNote: `winner ${winner.name}` }),
    });
    const extra = defineStep({
      name: 'extra report',
      inputs: ['artifacts', 'extraNote'],
      outputs: [],
      run({ artifacts, extraNote }) {
        writeFileSync(join(artifacts.dir, 'extra.json'), JSON.stringify({ note: extraNote }));
        return {};
      },
    });
    const lines: string[] = [];
    const workDir = join(dir, 'work-ok');
    const result = await runPipeline({
      config: config(),
      tracking: tracking(),
      steps: withStepAfter(reportsStep, extra, withStepAfter(selectStep, note)),
      workDir,
      reporter: {
        stepStart: (n) => seen.push(n),
        stepEnd: () => {},
        progress: () => {},
        info: (l) => lines.push(l),
      },
    });
    assert.deepEqual(
      seen.filter((n) => ['extra note', 'evaluate', 'bundle', 'extra report', 'log', 'register'].includes(n)),
      ['extra note', 'evaluate', 'bundle', 'extra report', 'log', 'register'],
    );
    assert.ok(result.timings['extra report']! >= 0);
    assert.equal(result.version, '1');
    assert.equal((await runsGet(result.runId)).info.status, 'FINISHED');
    assert.deepEqual(JSON.parse(readFileSync(join(workDir, 'artifacts', 'extra.json'), 'utf8')), {
      note: 'winner logistic',
    });
    const r = await fetch(`${server!.url}/api/2.0/mlflow/artifacts/list?run_id=${result.runId}`).then(
      (x) => x.json() as Promise<{ files: Array<{ path: string }> }>,
    );
    assert.ok(r.files.some((f) => f.path === 'extra.json'));
  });

  test('a step that throws after training fails parent and open child runs; nothing is registered', async (t) => {
    if (skip) return t.skip(skip);
    const tr = tracking();
    const versionsBefore = (await tr.listVersions(model).catch(() => [])).length;
    let childId = '';
    const failing = defineStep({
      name: 'boom',
      inputs: ['experimentId', 'parent'],
      outputs: [],
      async run({ experimentId, parent }, ctx) {
        childId = (await ctx.startRun(experimentId, 'half-done', { 'mlflow.parentRunId': parent.runId }))
          .runId;
        throw new Error('boom step failed');
      },
    });
    let parentId = '';
    await assert.rejects(
      runPipeline({
        config: config(),
        tracking: tr,
        steps: withStepAfter(reportsStep, failing),
        reporter: {
          stepStart() {},
          stepEnd() {},
          progress() {},
          info: (l) => {
            parentId ||= /parent run (\S+)/.exec(l)?.[1] ?? '';
          },
        },
      }),
      (e: unknown) =>
        e instanceof TasselError &&
        e.code === 'INTERNAL_ERROR' &&
        /pipeline failed: boom step failed/.test(e.message),
    );
    assert.ok(parentId && childId);
    for (const id of [parentId, childId]) {
      const run = await runsGet(id);
      assert.equal(run.info.status, 'FAILED', id);
      const tags = Object.fromEntries((run.data.tags ?? []).map((x: any) => [x.key, x.value]));
      assert.equal(tags['tassel.error'], 'boom step failed');
    }
    assert.equal((await tr.listVersions(model).catch(() => [])).length, versionsBefore);
  });
});

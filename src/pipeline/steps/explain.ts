import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from '../../data/table.js';
import { takeRows } from '../../data/table.js';
import { isTasselError } from '../../errors.js';
import { explainTable, globalExplanationOf } from '../../ml/record-explainer.js';
import { shapBarSvg, shapBeeswarmSvg } from '../explain-plots.js';
import { round6 } from './log-format.js';
import { defineStep } from './step.js';

/** Most test rows the global explanation looks at (an even, deterministic sample beyond it). */
export const EXPLAIN_MAX_ROWS = 20_000;

/** Most `shap_mean_abs.<field>` metrics logged (the largest fields; global.json lists every field). */
export const EXPLAIN_MAX_METRICS = 100;

/** The artifact the web UI shows on run and model-version pages: `{model_kind, base_value, features}`. */
export const GLOBAL_EXPLANATION_ARTIFACT = 'explanation/global.json';

/** MLflow metric keys allow letters, digits, _ - . / and space: anything else in a field name becomes _. */
export const shapMetricKey = (field: string): string => `shap_mean_abs.${field.replace(/[^\w\-./ ]/g, '_')}`;

function evenSample(table: Table, max: number): Table {
  if (table.nRows <= max) return table;
  const step = table.nRows / max;
  return takeRows(
    table,
    Int32Array.from({ length: max }, (_, k) => Math.floor(k * step)),
  );
}

/**
 * The winner's global explanation on the test rows: mean |SHAP| per input field (exact TreeSHAP for GBDT,
 * linear SHAP for logistic, zero for the dummy), logged on the parent run as `shap_mean_abs.<field>` metrics and
 * written into the artifacts folder (uploaded by the `log` step) as explanation/global.json, a bar chart and a
 * beeswarm summary. A model kind without explanations (a user module) is noted on the run, not a failure.
 */
export const explainStep = defineStep({
  name: 'explain',
  inputs: ['parent', 'winner', 'features', 'derived', 'artifacts'],
  outputs: [],
  report: 'self',
  async run({ parent, winner, features, derived, artifacts }, ctx) {
    const wf = features.get(winner.trial.preset)!;
    const rows = evenSample(derived.test, EXPLAIN_MAX_ROWS);
    let ex: ReturnType<typeof explainTable>;
    try {
      ex = await ctx.timed(
        'explain',
        () => explainTable({ model: winner.model, transform: wf.ft }, rows),
        (r) =>
          `${r.method} on ${rows.nRows} test rows; top: ${r.global
            .slice(0, 3)
            .map((f) => f.field)
            .join(', ')}`,
      );
    } catch (e) {
      if (!isTasselError(e) || e.code !== 'NOT_IMPLEMENTED') throw e;
      ctx.reporter.info(`explain: skipped (${e.message})`);
      await ctx.tracking.logBatch(parent.runId, {
        tags: { 'tassel.explanation': `unavailable: ${e.message}` },
      });
      return {};
    }
    const global = globalExplanationOf(winner.kind, ex);
    const dir = join(artifacts.dir, 'explanation');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(artifacts.dir, GLOBAL_EXPLANATION_ARTIFACT), `${JSON.stringify(global, null, 2)}\n`);
    writeFileSync(
      join(dir, 'shap_bar.svg'),
      shapBarSvg(global.features, `Mean |SHAP| per field (${winner.name})`),
    );
    writeFileSync(
      join(dir, 'shap_beeswarm.svg'),
      shapBeeswarmSvg({
        fields: ex.fields,
        values: ex.values,
        order: global.features.map((f) => f.field),
        columns: rows.columns,
      }),
    );
    await ctx.tracking.logBatch(parent.runId, {
      metrics: global.features
        .slice(0, EXPLAIN_MAX_METRICS)
        .map((f) => ({ key: shapMetricKey(f.field), value: round6(f.mean_abs), step: 0 })),
      tags: { 'tassel.explanation': `${ex.method}: ${GLOBAL_EXPLANATION_ARTIFACT}` },
    });
    return {};
  },
});

import type { AnyKysely } from '../../sql/database.js';
import type { ModelOutput } from '../types.js';
import { groupBy, type SqlStoreContext } from './context.js';

/**
 * Records logged models as outputs of a run (`runs/outputs`) in `run_model_outputs`, inside the caller's
 * transaction; a model recorded again keeps the latest step. The registry checks the models exist first.
 */
export async function recordRunOutputs(trx: AnyKysely, runId: string, models: ModelOutput[]): Promise<void> {
  for (const m of models) {
    await trx
      .insertInto('run_model_outputs')
      .values({ run_id: runId, model_id: m.model_id, step: m.step })
      .onConflict((oc) => oc.columns(['run_id', 'model_id']).doUpdateSet({ step: m.step }))
      .execute();
  }
}

/** The outputs of the runs `ids` by run id, in model id order. */
export async function runOutputsOf(ctx: SqlStoreContext, ids: string[]): Promise<Map<string, ModelOutput[]>> {
  const rows = await ctx.rawSelect<{ run_id: string; model_id: string; step: number | string }>(
    ctx.db,
    'SELECT run_id, model_id, step FROM run_model_outputs WHERE run_id IN ({in}) ORDER BY run_id, model_id',
    ids,
    ids.length,
  );
  return groupBy(
    rows,
    (o) => o.run_id,
    (o) => ({ model_id: o.model_id, step: Number(o.step) }),
  );
}

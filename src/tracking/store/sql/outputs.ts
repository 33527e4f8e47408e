import type { AnyKysely } from '../../sql/database.js';
import type { ModelOutput } from '../types.js';

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

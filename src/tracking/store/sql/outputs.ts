import { sql } from 'kysely';
import type { AnyKysely } from '../../sql/database.js';
import type { ModelOutput } from '../types.js';

/** Records logged models as outputs of a run (`runs/outputs`) in `run_model_outputs`. */
export interface RunOutputsRecorder {
  /**
   * Whether the database holds the tracking store's runs. Asked outside any transaction (on SQLite a
   * transaction holds the one connection), before {@link RunOutputsRecorder.record}; answered once.
   */
  holdsRuns(): Promise<boolean>;
  /**
   * Inside the caller's transaction; a model recorded again keeps the latest step. The registry checks
   * the models exist first. `holdsRuns` is {@link RunOutputsRecorder.holdsRuns}'s answer.
   */
  record(trx: AnyKysely, runId: string, models: ModelOutput[], holdsRuns: boolean): Promise<void>;
}

/**
 * The recorder of a registry over `db`. When `db` also holds the tracking store's runs (a server's one
 * database), the run's revision is bumped first: its JSON lists its outputs and is cached under the
 * revision (see the `runs.revision` migration). A registry's database without runs (a registry alone) is
 * found out once, by selecting the column.
 */
export function createRunOutputsRecorder(db: AnyKysely): RunOutputsRecorder {
  let holdsRuns: Promise<boolean> | undefined;
  return {
    holdsRuns() {
      holdsRuns ??= sql`SELECT revision FROM runs WHERE 1 = 0`.execute(db).then(
        () => true,
        () => false,
      );
      return holdsRuns;
    },
    async record(trx, runId, models, withRuns) {
      if (!models.length) return;
      if (withRuns) await sql`UPDATE runs SET revision = revision + 1 WHERE run_uuid = ${runId}`.execute(trx);
      for (const m of models) {
        await trx
          .insertInto('run_model_outputs')
          .values({ run_id: runId, model_id: m.model_id, step: m.step })
          .onConflict((oc) => oc.columns(['run_id', 'model_id']).doUpdateSet({ step: m.step }))
          .execute();
      }
    },
  };
}

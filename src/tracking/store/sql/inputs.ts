import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { InputError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { inTransaction } from '../../sql/transaction.js';
import type { DatasetInput, KeyValue, ModelInput, TrackingStore } from '../types.js';
import { LIMITS, validateLength } from '../validation.js';
import type { SqlStoreContext } from './context.js';
import { activeRunForWrite } from './run-rows.js';

const newUuid = () => randomUUID().replace(/-/g, '');

function validateDatasets(datasets: DatasetInput[]): void {
  if (datasets.length > LIMITS.maxDatasetsPerCall) {
    throw new InputError(`A log_inputs request can contain at most ${LIMITS.maxDatasetsPerCall} datasets.`);
  }
  for (const d of datasets) {
    validateLength('Dataset name', 500, d.dataset.name);
    validateLength('Dataset digest', 36, d.dataset.digest);
    validateLength('Dataset source type', 36, d.dataset.source_type);
    for (const t of d.tags) validateLength('Input tag key', 255, t.key);
  }
}

/** The dataset's uuid in the experiment, inserting it when new ((experiment, name, digest) is unique). */
async function datasetUuid(
  trx: AnyKysely,
  experimentId: number,
  d: DatasetInput['dataset'],
): Promise<string> {
  await trx
    .insertInto('datasets')
    .values({
      dataset_uuid: newUuid(),
      experiment_id: experimentId,
      name: d.name,
      digest: d.digest,
      dataset_source_type: d.source_type,
      dataset_source: d.source,
      dataset_schema: d.schema ?? null,
      dataset_profile: d.profile ?? null,
    })
    .onConflict((oc) => oc.columns(['experiment_id', 'name', 'digest']).doNothing())
    .execute();
  const ds = await trx
    .selectFrom('datasets')
    .select('dataset_uuid')
    .where('experiment_id', '=', experimentId)
    .where('name', '=', d.name)
    .where('digest', '=', d.digest)
    .executeTakeFirstOrThrow();
  return ds.dataset_uuid;
}

/** The input row linking a dataset to a run (created once), and its tags upserted. */
async function linkInput(trx: AnyKysely, runId: string, datasetId: string, tags: KeyValue[]): Promise<void> {
  const link = {
    source_type: 'DATASET',
    source_id: datasetId,
    destination_type: 'RUN',
    destination_id: runId,
  };
  await trx
    .insertInto('inputs')
    .values({ input_uuid: newUuid(), ...link })
    .onConflict((oc) =>
      oc.columns(['source_type', 'source_id', 'destination_type', 'destination_id']).doNothing(),
    )
    .execute();
  const input = await trx
    .selectFrom('inputs')
    .select('input_uuid')
    .where('source_type', '=', link.source_type)
    .where('source_id', '=', link.source_id)
    .where('destination_type', '=', link.destination_type)
    .where('destination_id', '=', link.destination_id)
    .executeTakeFirstOrThrow();
  if (!tags.length) return;
  await trx
    .insertInto('input_tags')
    .values(tags.map((t) => ({ input_uuid: input.input_uuid, name: t.key, value: t.value })))
    .onConflict((oc) => oc.columns(['input_uuid', 'name']).doUpdateSet({ value: sql.ref('excluded.value') }))
    .execute();
}

/**
 * Logged models as inputs of a run, stored as MLflow 3 stores them: an `inputs` row from the run
 * (`RUN_INPUT`) to the model (`MODEL_INPUT`); the unique link makes a repeated model a no-op. As in
 * MLflow, the model is not looked up (it may live in another experiment or be logged later).
 */
async function linkModels(trx: AnyKysely, runId: string, models: ModelInput[]): Promise<void> {
  for (const m of models) {
    if (typeof m?.model_id !== 'string' || m.model_id === '') {
      throw new InputError("Missing value for required parameter 'models.model_id'.");
    }
    validateLength('Model id', 36, m.model_id);
  }
  const ids = [...new Set(models.map((m) => m.model_id))];
  if (!ids.length) return;
  await trx
    .insertInto('inputs')
    .values(
      ids.map((id) => ({
        input_uuid: newUuid(),
        source_type: 'RUN_INPUT',
        source_id: runId,
        destination_type: 'MODEL_INPUT',
        destination_id: id,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['source_type', 'source_id', 'destination_type', 'destination_id']).doNothing(),
    )
    .execute();
}

/** The inputs aggregate: `datasets`, `inputs` and `input_tags` (MLflow's dataset tracking). */
export function inputOps(ctx: SqlStoreContext): Pick<TrackingStore, 'logInputs'> {
  return {
    async logInputs(runId, datasets, models = []) {
      validateDatasets(datasets);
      await inTransaction(ctx.db, async (trx) => {
        const run = await activeRunForWrite(ctx, trx, runId);
        for (const d of datasets) {
          const datasetId = await datasetUuid(trx, Number(run.experiment_id), d.dataset);
          await linkInput(trx, runId, datasetId, d.tags);
        }
        await linkModels(trx, runId, models);
      });
    },
  };
}

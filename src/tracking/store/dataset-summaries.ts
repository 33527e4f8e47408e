import type { AnyKysely } from '../sql/database.js';

/** MLflow's `_DatasetSummary`: one dataset an experiment's runs used, with the context it was used in. */
export interface DatasetSummary {
  experiment_id: string;
  name: string;
  digest: string;
  /** The input's `mlflow.data.context` tag (e.g. `training`), absent when the input has none. */
  context?: string;
}

/** MLflow's MAX_DATASET_SUMMARIES_RESULTS. */
export const MAX_DATASET_SUMMARIES = 1000;

/**
 * MLflow's `_search_datasets`: the distinct (experiment, dataset name, digest, context) of the datasets
 * logged as run inputs in the given experiments, at most 1,000, the context from the input's
 * `mlflow.data.context` tag (a left join: inputs without it are listed with no context).
 */
export async function searchDatasetSummaries(
  db: AnyKysely,
  experimentIds: string[],
): Promise<DatasetSummary[]> {
  const ids = experimentIds.filter((id) => /^\d+$/.test(id)).map(Number);
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('datasets as d')
    .innerJoin('inputs as i', 'i.source_id', 'd.dataset_uuid')
    .leftJoin('input_tags as t', (join) =>
      join.onRef('t.input_uuid', '=', 'i.input_uuid').on('t.name', '=', 'mlflow.data.context'),
    )
    .select(['d.experiment_id', 'd.name', 'd.digest', 't.value as context'])
    .distinct()
    .where('d.experiment_id', 'in', ids)
    .orderBy('d.experiment_id')
    .orderBy('d.name')
    .orderBy('d.digest')
    .orderBy('t.value')
    .limit(MAX_DATASET_SUMMARIES)
    .execute();
  return rows.map((r) => ({
    experiment_id: String(r.experiment_id),
    name: r.name,
    digest: r.digest,
    ...(r.context === null || r.context === undefined ? {} : { context: r.context }),
  }));
}

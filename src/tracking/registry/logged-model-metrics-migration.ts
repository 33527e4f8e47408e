import { type Migration, ddlTypes, runScript } from '../sql/migrate.js';

/**
 * MLflow 3's logged_model_metrics: a metric logged with a `model_id` (and optionally the dataset it was
 * measured on) also belongs to that logged model, whose `data.metrics` lists it and whose search filters
 * on its datasets. A registry table (logged models are the registry's) that the tracking store's log-batch
 * writes to; the server always applies both modules' migrations. The key is MLflow's (model, metric, timestamp, step, run): re-logging one adds nothing.
 */
export const loggedModelMetrics: Migration = {
  module: 'registry',
  version: 2,
  name: 'logged_model_metrics: metrics logged with a model_id',
  async up(db, dialect) {
    const t = ddlTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE logged_model_metrics (
  model_id VARCHAR(64) NOT NULL,
  key VARCHAR(250) NOT NULL,
  timestamp ${t.bigint} NOT NULL,
  step ${t.bigint} NOT NULL,
  run_id VARCHAR(32) NOT NULL,
  value ${t.double} NOT NULL,
  is_nan ${t.bool} NOT NULL DEFAULT ${t.false},
  dataset_name VARCHAR(500),
  dataset_digest VARCHAR(36),
  PRIMARY KEY (model_id, key, timestamp, step, run_id)
);
CREATE INDEX logged_model_metrics_dataset ON logged_model_metrics (dataset_name, dataset_digest, model_id)
`,
    );
  },
};

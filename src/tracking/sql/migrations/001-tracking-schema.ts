import { type Migration, ddlTypes, runScript } from '../migrate.js';

/**
 * The tracking schema, shaped like MLflow's (experiments, runs, params, metrics, latest_metrics, tags,
 * experiment_tags, datasets, inputs, input_tags), plus the indexes run search and paging rely on.
 */
export const trackingSchemaV1: Migration = {
  module: 'tracking',
  version: 1,
  name: 'tracking schema',
  async up(db, dialect) {
    const t = ddlTypes(dialect);
    await runScript(
      db,
      `
CREATE TABLE experiments (
  experiment_id ${t.serialPk},
  name VARCHAR(500) NOT NULL UNIQUE,
  artifact_location ${t.text},
  lifecycle_stage VARCHAR(32) NOT NULL DEFAULT 'active',
  creation_time ${t.bigint} NOT NULL,
  last_update_time ${t.bigint} NOT NULL
);
CREATE TABLE experiment_tags (
  experiment_id ${t.bigint} NOT NULL REFERENCES experiments(experiment_id),
  key VARCHAR(250) NOT NULL,
  value ${t.text},
  PRIMARY KEY (experiment_id, key)
);
CREATE TABLE runs (
  run_uuid VARCHAR(32) NOT NULL PRIMARY KEY,
  name VARCHAR(250),
  experiment_id ${t.bigint} NOT NULL REFERENCES experiments(experiment_id),
  user_id VARCHAR(256),
  status VARCHAR(20) NOT NULL,
  start_time ${t.bigint} NOT NULL,
  end_time ${t.bigint},
  lifecycle_stage VARCHAR(20) NOT NULL DEFAULT 'active',
  artifact_uri ${t.text},
  deleted_time ${t.bigint}
);
CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time DESC, run_uuid);
CREATE INDEX runs_name ON runs (name);
CREATE TABLE params (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.text} NOT NULL,
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX params_key_value ON params (key, value);
CREATE TABLE tags (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.text},
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX tags_key_value ON tags (key, value);
CREATE TABLE metrics (
  id ${t.serialPk},
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.double} NOT NULL,
  timestamp ${t.bigint} NOT NULL,
  step ${t.bigint} NOT NULL DEFAULT 0,
  is_nan ${t.bool} NOT NULL DEFAULT ${t.false}
);
CREATE INDEX metrics_run_key_step ON metrics (run_uuid, key, step, timestamp, id);
CREATE TABLE latest_metrics (
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs(run_uuid) ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.double} NOT NULL,
  timestamp ${t.bigint} NOT NULL,
  step ${t.bigint} NOT NULL,
  is_nan ${t.bool} NOT NULL DEFAULT ${t.false},
  PRIMARY KEY (run_uuid, key)
);
CREATE INDEX latest_metrics_key_value ON latest_metrics (key, value);
CREATE TABLE datasets (
  dataset_uuid VARCHAR(36) NOT NULL PRIMARY KEY,
  experiment_id ${t.bigint} NOT NULL REFERENCES experiments(experiment_id),
  name VARCHAR(500) NOT NULL,
  digest VARCHAR(36) NOT NULL,
  dataset_source_type VARCHAR(36) NOT NULL,
  dataset_source ${t.text} NOT NULL,
  dataset_schema ${t.text},
  dataset_profile ${t.text},
  UNIQUE (experiment_id, name, digest)
);
CREATE TABLE inputs (
  input_uuid VARCHAR(36) NOT NULL PRIMARY KEY,
  source_type VARCHAR(36) NOT NULL,
  source_id VARCHAR(36) NOT NULL,
  destination_type VARCHAR(36) NOT NULL,
  destination_id VARCHAR(36) NOT NULL,
  UNIQUE (source_type, source_id, destination_type, destination_id)
);
CREATE INDEX inputs_destination ON inputs (destination_type, destination_id);
CREATE TABLE input_tags (
  input_uuid VARCHAR(36) NOT NULL REFERENCES inputs(input_uuid) ON DELETE CASCADE,
  name VARCHAR(255) NOT NULL,
  value ${t.text} NOT NULL,
  PRIMARY KEY (input_uuid, name)
)
`,
    );
  },
};

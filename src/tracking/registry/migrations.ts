import { loggedModelMetrics } from './logged-model-metrics-migration.js';
import type { Migration } from '../sql/migrate.js';
import { ddlTypes, runScript } from '../sql/migrate.js';

/**
 * The registry's tables, named as MLflow names them. Versions are numbered from a per-model counter
 * (`registered_models.next_version`) updated inside the creating transaction, so concurrent creates get
 * distinct consecutive numbers and deleted numbers are never reused. The (name, alias) primary key makes
 * an alias name exactly one version; `registered_model_alias_history` is the append-only audit trail.
 */
export const registryMigrations: Migration[] = [
  {
    module: 'registry',
    version: 1,
    name: 'registered models, versions, tags, aliases, alias history, logged models',
    async up(db, dialect) {
      const t = ddlTypes(dialect);
      await runScript(
        db,
        `
CREATE TABLE registered_models (
  name VARCHAR(256) NOT NULL PRIMARY KEY,
  creation_time ${t.bigint} NOT NULL,
  last_updated_time ${t.bigint} NOT NULL,
  description ${t.text},
  next_version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE registered_model_tags (
  name VARCHAR(256) NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
  key VARCHAR(250) NOT NULL,
  value ${t.text},
  PRIMARY KEY (name, key)
);
CREATE TABLE model_versions (
  name VARCHAR(256) NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
  version INTEGER NOT NULL,
  creation_time ${t.bigint} NOT NULL,
  last_updated_time ${t.bigint} NOT NULL,
  description ${t.text},
  user_id VARCHAR(256),
  current_stage VARCHAR(20) NOT NULL DEFAULT 'None',
  source ${t.text} NOT NULL,
  storage_location ${t.text},
  run_id VARCHAR(64),
  run_link ${t.text},
  status VARCHAR(20) NOT NULL DEFAULT 'READY',
  status_message ${t.text},
  model_id VARCHAR(64),
  PRIMARY KEY (name, version)
);
CREATE INDEX model_versions_run_id ON model_versions (run_id);
CREATE INDEX model_versions_stage ON model_versions (name, current_stage);
CREATE TABLE model_version_tags (
  name VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL,
  key VARCHAR(250) NOT NULL,
  value ${t.text},
  PRIMARY KEY (name, version, key),
  FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE TABLE registered_model_aliases (
  name VARCHAR(256) NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE ON DELETE CASCADE,
  alias VARCHAR(256) NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (name, alias),
  FOREIGN KEY (name, version) REFERENCES model_versions(name, version) ON UPDATE CASCADE
);
CREATE TABLE registered_model_alias_history (
  id ${t.serialPk},
  name VARCHAR(256) NOT NULL,
  alias VARCHAR(256) NOT NULL,
  action VARCHAR(32) NOT NULL,
  from_version INTEGER,
  to_version INTEGER,
  principal VARCHAR(256) NOT NULL,
  timestamp ${t.bigint} NOT NULL,
  reason ${t.text}
);
CREATE INDEX registered_model_alias_history_name_alias ON registered_model_alias_history (name, alias, id);
CREATE TABLE logged_models (
  model_id VARCHAR(64) NOT NULL PRIMARY KEY,
  experiment_id VARCHAR(64) NOT NULL,
  name VARCHAR(500) NOT NULL,
  artifact_location ${t.text} NOT NULL,
  creation_timestamp_ms ${t.bigint} NOT NULL,
  last_updated_timestamp_ms ${t.bigint} NOT NULL,
  status INTEGER NOT NULL,
  lifecycle_stage VARCHAR(32) NOT NULL DEFAULT 'active',
  model_type VARCHAR(500),
  source_run_id VARCHAR(64),
  status_message ${t.text}
);
CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_timestamp_ms);
CREATE TABLE logged_model_tags (
  model_id VARCHAR(64) NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
  tag_key VARCHAR(250) NOT NULL,
  tag_value ${t.text} NOT NULL,
  PRIMARY KEY (model_id, tag_key)
);
CREATE TABLE logged_model_params (
  model_id VARCHAR(64) NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
  param_key VARCHAR(255) NOT NULL,
  param_value ${t.text} NOT NULL,
  PRIMARY KEY (model_id, param_key)
);
CREATE TABLE run_model_outputs (
  run_id VARCHAR(64) NOT NULL,
  model_id VARCHAR(64) NOT NULL,
  step ${t.bigint} NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, model_id)
)`,
      );
    },
  },
  loggedModelMetrics,
];

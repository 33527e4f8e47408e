import { aliasOps } from './sql/aliases.js';
import { createRegistryContext, type SqlRegistryStoreOptions } from './sql/context.js';
import { loggedModelOps } from './sql/logged-models.js';
import { getVersion, modelVersionOps } from './sql/model-versions.js';
import { registeredModelOps } from './sql/registered-models.js';
import { createVersionStatus } from './sql/version-status.js';
import type { RegistryStore } from './store.js';

export type { ArtifactProbe, ExperimentInfo, SqlRegistryStoreOptions } from './sql/context.js';
export { MODEL_VERSIONS_TAG } from './sql/logged-models.js';

/**
 * The registry on SQLite or PostgreSQL, assembled from one module per aggregate under `sql/`: registered
 * models, model versions (their registration status in `version-status.ts`), aliases (and their history)
 * and logged models. Every change runs in one transaction that first takes the registered model's row
 * lock (an UPDATE of that row), so per-model changes serialise on PostgreSQL and SQLite alike; events are
 * published after commit.
 */
export function createSqlRegistryStore(options: SqlRegistryStoreOptions): RegistryStore {
  const ctx = createRegistryContext(options);
  const loggedModels = loggedModelOps(ctx);
  const status = createVersionStatus(ctx, {
    getLoggedModel: (id) => loggedModels.getLoggedModel(id),
    getModelVersionDownloadUri: (name, version) => versions.getModelVersionDownloadUri(name, version),
  });
  const versions = modelVersionOps(ctx, status);
  const readVersion = async (name: string, version: number) =>
    status.refresh(await getVersion(ctx.db, name, version));
  return { ...registeredModelOps(ctx), ...versions, ...aliasOps(ctx, readVersion), ...loggedModels };
}

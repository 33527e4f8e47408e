import { registryMigrations } from '../../registry/migrations.js';
import type { Migration } from '../migrate.js';
import { trackingSchemaV1 } from './001-tracking-schema.js';
import { clusteredKeyValues } from './002-clustered-key-values.js';
import { uniqueMetricPoints } from './003-unique-metric-points.js';
import { keyValueStatistics } from './004-key-value-statistics.js';
import { runRevisions } from './005-run-revisions.js';

/**
 * Every migration of the server's database, in the order they are applied. Tracking's come first
 * (the registry's tables reference runs); other modules append theirs, e.g.
 * `...registryMigrations` imported from '../../registry/migrations.js'.
 */
export const ALL_MIGRATIONS: readonly Migration[] = [
  trackingSchemaV1,
  clusteredKeyValues,
  uniqueMetricPoints,
  keyValueStatistics,
  runRevisions,
  ...registryMigrations,
];

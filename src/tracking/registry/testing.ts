import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createLocalArtifactRepository } from '../artifacts/local/local-artifact-repository.js';
import type { AuthOptions } from '../auth/auth.js';
import { createTrackingApp } from '../server/app.js';
import { createDatabase, type TrackingDatabase } from '../sql/database.js';
import { createSqlTrackingStore } from '../store/sql-tracking-store.js';
import type { TrackingStore } from '../store/types.js';
import type { RegistryServerOptions } from './plugin.js';

export interface TestServer {
  url: string;
  app: FastifyInstance;
  database: TrackingDatabase;
  trackingStore: TrackingStore;
  artifactDir: string;
  close(): Promise<void>;
}

/**
 * Starts a real tracking server with the registry on loopback (port 0) for tests and benchmarks:
 * SQLite in a temporary directory unless `databaseUri` is given, artifacts proxied to a temporary
 * local directory.
 */
export async function startRegistryTestServer(
  options: {
    databaseUri?: string;
    /** Close the database with the server (default true). */
    ownDatabase?: boolean;
    auth?: AuthOptions;
    registry?: Partial<RegistryServerOptions>;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tassel-registry-server-'));
  const uri = options.databaseUri ?? `sqlite:///${join(dir, 'tassel.db')}`;
  const database = await createDatabase(uri);
  const trackingStore = await createSqlTrackingStore({ database, defaultArtifactRoot: 'mlflow-artifacts:/' });
  const artifactDir = join(dir, 'artifacts');
  const artifactRepository = createLocalArtifactRepository({ uri: artifactDir });
  let app: FastifyInstance;
  try {
    app = await createTrackingApp({
      trackingStore,
      artifactRepository,
      database,
      auth: options.auth,
      registry: { databaseUri: uri, sseHeartbeatMs: 5000, ...(options.registry ?? {}) },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (e) {
    if (options.ownDatabase !== false) await database.close();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    database,
    trackingStore,
    artifactDir,
    async close() {
      await app.close();
      if (options.ownDatabase !== false) await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

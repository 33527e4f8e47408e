import { startEmbeddedServer } from './tracking-target.js';

/**
 * For tests: a tracking server to run the pipeline against: the one at TASSEL_PIPELINE_TEST_URI when set
 * (e.g. a real MLflow server), else the embedded Tassel server under dataDir. `skip` says why the tests
 * cannot run (a server without the registry API).
 */
export async function openTestTrackingServer(
  dataDir: string,
): Promise<{ url: string; close(): Promise<void>; skip: string | false }> {
  let server: { url: string; close(): Promise<void> };
  if (process.env.TASSEL_PIPELINE_TEST_URI) {
    server = { url: process.env.TASSEL_PIPELINE_TEST_URI, close: async () => {} };
  } else {
    server = await startEmbeddedServer(dataDir);
  }
  const probe = await fetch(`${server.url}/api/2.0/mlflow/registered-models/search?max_results=1`);
  const skip =
    probe.status === 404
      ? `the tracking server at ${server.url} has no model registry API mounted yet`
      : false;
  return { ...server, skip };
}

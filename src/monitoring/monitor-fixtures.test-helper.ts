import { schemaToJSON } from '../data/schema.js';
import type { PendingPrediction, PredictionStore } from '../serving/prediction-sink/port.js';
import { createRegistryClient } from '../tracking/client/registry-client.js';
import { createTrackingClient } from '../tracking/client/tracking-client.js';
import { createSimulation } from './simulate.js';

// Fixtures of the monitor's tests: a registered version with a reference profile, simulated logged traffic.
const sim = createSimulation(4);

/** Registers `model` v1 (production) with a reference profile of the simulation (4 numeric + 3 categorical). */
export async function registerModel(url: string, model: string): Promise<void> {
  const tracking = createTrackingClient({ trackingUri: url, env: {} });
  const registry = createRegistryClient({ transport: tracking.transport });
  const run = await tracking.createRun({ experiment_id: await tracking.createExperiment({ name: model }) });
  const profile = { ...sim.profile(20_000, 1), input_schema: schemaToJSON(sim.schema) };
  await tracking.logArtifactContent(
    run.info.run_id,
    'reference_profile.json',
    Buffer.from(JSON.stringify(profile)),
  );
  await registry.createRegisteredModel({ name: model });
  await registry.createModelVersion({
    name: model,
    source: `${run.info.artifact_uri}/model`,
    run_id: run.info.run_id,
  });
  await registry.setRegisteredModelAlias(model, 'production', '1');
}

/** Logs `n` simulated predictions served from `start`, `stepMs` apart; returns their ids and simulated outcomes. */
export async function logPredictions(
  store: PredictionStore,
  model: string,
  opts: { n: number; seed: number; start: number; stepMs: number; prefix: string },
): Promise<{ ids: string[]; outcomes: number[] }> {
  const data = sim.window(opts.n, opts.seed);
  const batch: PendingPrediction[] = [];
  for (let k = 0; k < data.n; k++) {
    const inputs: Record<string, unknown> = {};
    for (const [name, col] of data.numeric) inputs[name] = col[k];
    for (const [name, col] of data.categorical) inputs[name] = col[k];
    batch.push({
      request_id: `${opts.prefix}-${k}`,
      time: opts.start + k * opts.stepMs,
      model_name: model,
      model_version: '1',
      inputs,
      inputs_json: null,
      probability: data.scores[k]!,
      label: data.scores[k]! >= 0.5 ? 1 : 0,
      fallback: false,
      route: '/predict',
    });
  }
  await store.appendPredictions(batch);
  return { ids: batch.map((b) => b.request_id), outcomes: [...data.outcomes] };
}

import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { InputError } from '../../errors.js';
import type { ArtifactRepository } from '../artifacts/types.js';
import { listRunArtifacts } from '../server/run-artifacts.js';
import * as S from './schemas.js';
import { checkModelVersionSource, type SourceLookups } from './source-rules.js';
import type { ChangeContext, KeyValue, LoggedModel, LoggedModelStatus, RegistryStore } from './store.js';

export interface RegistryRoutesOptions {
  store: RegistryStore;
  /** Artifact locations of runs and logged models, for MLflow's rules on local model-version sources. */
  sourceLookups?: SourceLookups;
  /** The proxied artifact destination, to list logged-model artifacts under `mlflow-artifacts:`. */
  artifactRepository?: ArtifactRepository;
}

type Args = Record<string, unknown>;

/**
 * A logged model as MLflow's protobuf JSON sends it: metric values NaN and +-Infinity as the strings
 * "NaN", "Infinity", "-Infinity" (JSON has no such numbers; JSON.stringify would print null).
 */
function wireLoggedModel(model: LoggedModel): LoggedModel {
  const metrics = model.data.metrics;
  if (!metrics || metrics.every((m) => Number.isFinite(m.value))) return model;
  const spelled = (v: number) => (Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity');
  return {
    ...model,
    data: {
      ...model.data,
      metrics: metrics.map((m) =>
        Number.isFinite(m.value) ? m : { ...m, value: spelled(m.value) as unknown as number },
      ),
    },
  };
}

/** Longest audit `reason` accepted. */
export const MAX_REASON_LENGTH = 5000;

/** Query and JSON body merged (MLflow clients send DELETE arguments in a JSON body). */
function argsOf(request: FastifyRequest): Args {
  const q = (request.query ?? {}) as Args;
  const b = request.body && typeof request.body === 'object' ? (request.body as Args) : {};
  return { ...q, ...b };
}

function ctxOf(request: FastifyRequest, args: Args): ChangeContext {
  const header = request.headers['x-tassel-reason'];
  const reason =
    typeof args.reason === 'string' && args.reason ? args.reason : Array.isArray(header) ? header[0] : header;
  if (reason && reason.length > MAX_REASON_LENGTH) {
    throw new InputError(`'reason' exceeds the maximum length of ${MAX_REASON_LENGTH} characters`);
  }
  return { principal: request.tasselPrincipal ?? 'anonymous', ...(reason ? { reason } : {}) };
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const optStr = (v: unknown): string | undefined =>
  v === undefined || v === null || v === '' ? undefined : String(v);
const list = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : Array.isArray(v) ? v.map(String) : [String(v)];
const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;
const maxResults = (v: unknown): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new InputError(`Invalid value for parameter 'max_results' supplied: ${String(v)}`);
  return n;
};
const tagsOf = (v: unknown): KeyValue[] | undefined =>
  Array.isArray(v) ? v.map((t) => ({ key: str((t as Args).key), value: str((t as Args).value) })) : undefined;

/**
 * MLflow's model-registry REST endpoints and MLflow 3's logged-model endpoints, mounted under
 * `/api/2.0/mlflow` and `/ajax-api/2.0/mlflow` (paths here are relative).
 */
export const registryRoutes: FastifyPluginAsync<RegistryRoutesOptions> = async (
  app: FastifyInstance,
  opts,
) => {
  const s = opts.store;

  // ---- registered models ----
  app.post('/registered-models/create', { schema: { body: S.CreateRegisteredModelBody } }, async (req) => {
    const a = argsOf(req);
    const registered_model = await s.createRegisteredModel(
      { name: str(a.name), tags: tagsOf(a.tags), description: optStr(a.description) },
      ctxOf(req, a),
    );
    return { registered_model };
  });
  app.get('/registered-models/get', { schema: { querystring: S.NameOnly } }, async (req) => ({
    registered_model: await s.getRegisteredModel(str(argsOf(req).name)),
  }));
  app.post('/registered-models/rename', { schema: { body: S.RenameRegisteredModelBody } }, async (req) => {
    const a = argsOf(req);
    return { registered_model: await s.renameRegisteredModel(str(a.name), str(a.new_name)) };
  });
  app.patch('/registered-models/update', { schema: { body: S.UpdateRegisteredModelBody } }, async (req) => {
    const a = argsOf(req);
    return { registered_model: await s.updateRegisteredModel(str(a.name), optStr(a.description)) };
  });
  app.delete(
    '/registered-models/delete',
    { schema: S.deleteArgs(S.DeleteRegisteredModelBody) },
    async (req) => {
      const a = argsOf(req);
      await s.deleteRegisteredModel(str(a.name), ctxOf(req, a));
      return {};
    },
  );
  const searchModels = async (req: FastifyRequest) => {
    const a = argsOf(req);
    const page = await s.searchRegisteredModels({
      filter: optStr(a.filter),
      max_results: maxResults(a.max_results),
      order_by: list(a.order_by),
      page_token: optStr(a.page_token),
    });
    return {
      registered_models: page.items,
      ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}),
    };
  };
  app.get('/registered-models/search', { schema: { querystring: S.SearchQuery } }, searchModels);
  app.post('/registered-models/search', { schema: { body: S.SearchQuery } }, searchModels);
  const latest = async (req: FastifyRequest) => {
    const a = argsOf(req);
    return { model_versions: await s.getLatestVersions(str(a.name), list(a.stages)) };
  };
  app.get(
    '/registered-models/get-latest-versions',
    { schema: { querystring: S.LatestVersionsQuery } },
    latest,
  );
  app.post('/registered-models/get-latest-versions', { schema: { body: S.LatestVersionsQuery } }, latest);
  app.post('/registered-models/set-tag', { schema: { body: S.ModelTagBody } }, async (req) => {
    const a = argsOf(req);
    await s.setRegisteredModelTag(str(a.name), str(a.key), str(a.value));
    return {};
  });
  app.delete('/registered-models/delete-tag', { schema: S.deleteArgs(S.ModelTagKey) }, async (req) => {
    const a = argsOf(req);
    await s.deleteRegisteredModelTag(str(a.name), str(a.key));
    return {};
  });

  // ---- aliases ----
  app.post('/registered-models/alias', { schema: { body: S.AliasBody } }, async (req) => {
    const a = argsOf(req);
    await s.setRegisteredModelAlias(str(a.name), str(a.alias), str(a.version), ctxOf(req, a));
    return {};
  });
  app.delete('/registered-models/alias', { schema: S.deleteArgs(S.AliasKey) }, async (req) => {
    const a = argsOf(req);
    await s.deleteRegisteredModelAlias(str(a.name), str(a.alias), ctxOf(req, a));
    return {};
  });
  app.get('/registered-models/alias', { schema: { querystring: S.AliasKey } }, async (req) => {
    const a = argsOf(req);
    return { model_version: await s.getModelVersionByAlias(str(a.name), str(a.alias)) };
  });

  // ---- model versions ----
  app.post('/model-versions/create', { schema: { body: S.CreateModelVersionBody } }, async (req) => {
    const a = argsOf(req);
    if (opts.sourceLookups) {
      await checkModelVersionSource(
        {
          source: str(a.source),
          run_id: optStr(a.run_id),
          model_id: optStr(a.model_id),
          tags: tagsOf(a.tags),
        },
        opts.sourceLookups,
      );
    }
    const model_version = await s.createModelVersion(
      {
        name: str(a.name),
        source: str(a.source),
        run_id: optStr(a.run_id),
        tags: tagsOf(a.tags),
        run_link: optStr(a.run_link),
        description: optStr(a.description),
        model_id: optStr(a.model_id),
      },
      ctxOf(req, a),
    );
    return { model_version };
  });
  app.get('/model-versions/get', { schema: { querystring: S.VersionKey } }, async (req) => {
    const a = argsOf(req);
    return { model_version: await s.getModelVersion(str(a.name), str(a.version)) };
  });
  app.patch('/model-versions/update', { schema: { body: S.UpdateVersionBody } }, async (req) => {
    const a = argsOf(req);
    return { model_version: await s.updateModelVersion(str(a.name), str(a.version), optStr(a.description)) };
  });
  app.delete('/model-versions/delete', { schema: S.deleteArgs(S.DeleteVersionBody) }, async (req) => {
    const a = argsOf(req);
    await s.deleteModelVersion(str(a.name), str(a.version), { force: bool(a.force) }, ctxOf(req, a));
    return {};
  });
  app.post('/model-versions/transition-stage', { schema: { body: S.TransitionBody } }, async (req) => {
    const a = argsOf(req);
    const model_version = await s.transitionModelVersionStage(
      str(a.name),
      str(a.version),
      str(a.stage),
      bool(a.archive_existing_versions),
      ctxOf(req, a),
    );
    return { model_version };
  });
  const searchVersions = async (req: FastifyRequest) => {
    const a = argsOf(req);
    const page = await s.searchModelVersions({
      filter: optStr(a.filter),
      max_results: maxResults(a.max_results),
      order_by: list(a.order_by),
      page_token: optStr(a.page_token),
    });
    return {
      model_versions: page.items,
      ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}),
    };
  };
  app.get('/model-versions/search', { schema: { querystring: S.SearchQuery } }, searchVersions);
  app.post('/model-versions/search', { schema: { body: S.SearchQuery } }, searchVersions);
  app.get('/model-versions/get-download-uri', { schema: { querystring: S.VersionKey } }, async (req) => {
    const a = argsOf(req);
    return { artifact_uri: await s.getModelVersionDownloadUri(str(a.name), str(a.version)) };
  });
  app.post('/model-versions/set-tag', { schema: { body: S.VersionTagBody } }, async (req) => {
    const a = argsOf(req);
    await s.setModelVersionTag(str(a.name), str(a.version), str(a.key), str(a.value));
    return {};
  });
  app.delete('/model-versions/delete-tag', { schema: S.deleteArgs(S.VersionTagKey) }, async (req) => {
    const a = argsOf(req);
    await s.deleteModelVersionTag(str(a.name), str(a.version), str(a.key));
    return {};
  });

  // ---- MLflow 3 logged models ----
  app.post('/logged-models', { schema: { body: S.CreateLoggedModelBody } }, async (req) => {
    const a = argsOf(req);
    const model = await s.createLoggedModel({
      experiment_id: str(a.experiment_id),
      name: optStr(a.name),
      model_type: optStr(a.model_type),
      source_run_id: optStr(a.source_run_id),
      params: tagsOf(a.params),
      tags: tagsOf(a.tags),
    });
    return { model: wireLoggedModel(model) };
  });
  app.post('/logged-models/search', { schema: { body: S.SearchLoggedModelsBody } }, async (req) => {
    const a = argsOf(req);
    const page = await s.searchLoggedModels({
      experiment_ids: list(a.experiment_ids) ?? [],
      filter: optStr(a.filter),
      datasets: Array.isArray(a.datasets)
        ? a.datasets.map((d) => ({
            dataset_name: str((d as Args).dataset_name),
            ...(optStr((d as Args).dataset_digest)
              ? { dataset_digest: str((d as Args).dataset_digest) }
              : {}),
          }))
        : undefined,
      max_results: maxResults(a.max_results),
      order_by: Array.isArray(a.order_by)
        ? a.order_by.map((o) => ({
            field_name: str((o as Args).field_name),
            ascending: (o as Args).ascending !== false,
            dataset_name: optStr((o as Args).dataset_name),
            dataset_digest: optStr((o as Args).dataset_digest),
          }))
        : undefined,
      page_token: optStr(a.page_token),
    });
    return {
      models: page.items.map(wireLoggedModel),
      ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}),
    };
  });
  app.get('/logged-models/:model_id', { schema: { params: S.ModelIdParams } }, async (req) => ({
    model: wireLoggedModel(
      await s.getLoggedModel((req.params as { model_id: string }).model_id, {
        allowDeleted: String((req.query as Args | undefined)?.allow_deleted ?? '').toLowerCase() === 'true',
      }),
    ),
  }));
  app.patch(
    '/logged-models/:model_id',
    { schema: { params: S.ModelIdParams, body: S.FinalizeLoggedModelBody } },
    async (req) => {
      const a = argsOf(req);
      return {
        model: wireLoggedModel(
          await s.finalizeLoggedModel(
            (req.params as { model_id: string }).model_id,
            a.status as LoggedModelStatus,
          ),
        ),
      };
    },
  );
  app.delete('/logged-models/:model_id', { schema: { params: S.ModelIdParams } }, async (req) => {
    await s.deleteLoggedModel((req.params as { model_id: string }).model_id);
    return {};
  });
  app.patch(
    '/logged-models/:model_id/tags',
    { schema: { params: S.ModelIdParams, body: S.LoggedModelTagsBody } },
    async (req) => {
      await s.setLoggedModelTags(
        (req.params as { model_id: string }).model_id,
        tagsOf(argsOf(req).tags) ?? [],
      );
      return {};
    },
  );
  app.delete(
    '/logged-models/:model_id/tags/:tag_key',
    { schema: { params: S.DeleteLoggedModelTagParams } },
    async (req) => {
      const p = req.params as { model_id: string; tag_key: string };
      await s.deleteLoggedModelTag(p.model_id, p.tag_key);
      return {};
    },
  );
  app.post(
    '/logged-models/:model_id/params',
    { schema: { params: S.ModelIdParams, body: S.LoggedModelParamsBody } },
    async (req) => {
      await s.logLoggedModelParams(
        (req.params as { model_id: string }).model_id,
        tagsOf(argsOf(req).params) ?? [],
      );
      return {};
    },
  );
  app.get(
    '/logged-models/:model_id/artifacts/directories',
    { schema: { params: S.ModelIdParams, querystring: S.ListLoggedModelArtifactsQuery } },
    async (req) => {
      const model = await s.getLoggedModel((req.params as { model_id: string }).model_id);
      const q = req.query as { artifact_directory_path?: string };
      return listRunArtifacts(model.info.artifact_uri, q.artifact_directory_path, opts.artifactRepository);
    },
  );
  app.post('/runs/outputs', { schema: { body: S.LogOutputsBody } }, async (req) => {
    const a = argsOf(req);
    const models = Array.isArray(a.models)
      ? a.models.map((m) => ({ model_id: str((m as Args).model_id), step: Number((m as Args).step ?? 0) }))
      : [];
    await s.logOutputs(str(a.run_id), models);
    return {};
  });
};

export interface TasselRegistryRoutesOptions {
  store: RegistryStore;
}

/** Tassel's own registry endpoints, mounted under `/api/2.0/tassel` and `/ajax-api/2.0/tassel`. */
export const tasselRegistryRoutes: FastifyPluginAsync<TasselRegistryRoutesOptions> = async (app, opts) => {
  app.get(
    '/registered-models/alias-history',
    { schema: { querystring: S.AliasHistoryQuery } },
    async (req) => {
      const a = argsOf(req);
      const page = await opts.store.getAliasHistory({
        name: str(a.name),
        alias: optStr(a.alias),
        max_results: maxResults(a.max_results),
        page_token: optStr(a.page_token),
      });
      return {
        history: page.items,
        ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}),
      };
    },
  );
};

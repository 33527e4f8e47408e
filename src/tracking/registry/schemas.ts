import { type TSchema, Type } from '@sinclair/typebox';

/**
 * TypeBox request schemas for the registry endpoints: one source for validation, types and OpenAPI.
 * Objects accept unknown fields (MLflow clients send extras); required fields follow MLflow's handlers.
 */
const Str = (description?: string) => Type.String(description ? { description } : {});
const Opt = <T extends TSchema>(s: T) => Type.Optional(s);

export const KeyValueSchema = Type.Object({ key: Str(), value: Opt(Type.String()) });
const Tags = Opt(Type.Array(KeyValueSchema));
/** Tassel extension: why a change was made, recorded in the alias audit trail. */
const Reason = Opt(Str('Why the change was made; recorded in the alias audit trail (Tassel extension).'));

export const NameOnly = Type.Object({ name: Str('Registered model name') });
export const DeleteRegisteredModelBody = Type.Object({ name: Str('Registered model name'), reason: Reason });
export const CreateRegisteredModelBody = Type.Object({ name: Str(), tags: Tags, description: Opt(Str()) });
export const RenameRegisteredModelBody = Type.Object({ name: Str(), new_name: Str() });
export const UpdateRegisteredModelBody = Type.Object({ name: Str(), description: Opt(Str()) });
export const SearchQuery = Type.Object({
  filter: Opt(Str()),
  max_results: Opt(Type.Integer({ minimum: 1 })),
  order_by: Opt(Type.Array(Type.String())),
  page_token: Opt(Str()),
});
export const LatestVersionsQuery = Type.Object({ name: Str(), stages: Opt(Type.Array(Type.String())) });
export const ModelTagBody = Type.Object({ name: Str(), key: Str(), value: Opt(Type.String()) });
export const ModelTagKey = Type.Object({ name: Str(), key: Str() });
export const AliasBody = Type.Object({ name: Str(), alias: Str(), version: Str(), reason: Reason });
export const AliasKey = Type.Object({ name: Str(), alias: Str(), reason: Reason });

export const CreateModelVersionBody = Type.Object({
  name: Str(),
  source: Str('URI of the model files (runs:/, models:/, mlflow-artifacts:, s3://, ...)'),
  run_id: Opt(Str()),
  tags: Tags,
  run_link: Opt(Str()),
  description: Opt(Str()),
  model_id: Opt(Str('MLflow 3 logged model id the version is promoted from')),
});
export const VersionKey = Type.Object({ name: Str(), version: Str() });
export const DeleteVersionBody = Type.Object({
  name: Str(),
  version: Str(),
  force: Opt(
    Type.Boolean({ description: 'Also delete the aliases pointing at the version (Tassel extension).' }),
  ),
  reason: Reason,
});
export const UpdateVersionBody = Type.Object({ name: Str(), version: Str(), description: Opt(Str()) });
export const TransitionBody = Type.Object({
  name: Str(),
  version: Str(),
  stage: Str(),
  archive_existing_versions: Opt(Type.Boolean()),
  reason: Reason,
});
export const VersionTagBody = Type.Object({
  name: Str(),
  version: Str(),
  key: Str(),
  value: Opt(Type.String()),
});
export const VersionTagKey = Type.Object({ name: Str(), version: Str(), key: Str() });
export const AliasHistoryQuery = Type.Object({
  name: Str(),
  alias: Opt(Str()),
  max_results: Opt(Type.Integer({ minimum: 1 })),
  page_token: Opt(Str()),
});

export const CreateLoggedModelBody = Type.Object({
  experiment_id: Str(),
  name: Opt(Str()),
  model_type: Opt(Str()),
  source_run_id: Opt(Str()),
  params: Tags,
  tags: Tags,
});
export const ModelIdParams = Type.Object({ model_id: Str() });
export const FinalizeLoggedModelBody = Type.Object({
  model_id: Opt(Str()),
  status: Type.Union([Type.String(), Type.Integer()]),
});
export const LoggedModelTagsBody = Type.Object({ model_id: Opt(Str()), tags: Tags });
export const LoggedModelParamsBody = Type.Object({ model_id: Opt(Str()), params: Tags });
export const DeleteLoggedModelTagParams = Type.Object({ model_id: Str(), tag_key: Str() });
export const SearchLoggedModelsBody = Type.Object({
  experiment_ids: Type.Array(Type.String()),
  filter: Opt(Str()),
  datasets: Opt(Type.Array(Type.Object({ dataset_name: Str(), dataset_digest: Opt(Str()) }))),
  max_results: Opt(Type.Integer({ minimum: 1 })),
  order_by: Opt(
    Type.Array(
      Type.Object({
        field_name: Str(),
        ascending: Opt(Type.Boolean()),
        dataset_name: Opt(Str()),
        dataset_digest: Opt(Str()),
      }),
    ),
  ),
  page_token: Opt(Str()),
});
export const LogOutputsBody = Type.Object({
  run_id: Str(),
  models: Type.Array(Type.Object({ model_id: Str(), step: Opt(Type.Integer()) })),
});
export const ListLoggedModelArtifactsQuery = Type.Object({ artifact_directory_path: Opt(Str()) });

/**
 * The schema of a DELETE endpoint whose arguments MLflow clients send as a JSON body and curl users as query
 * parameters: the body is validated when there is one (an absent body is null here), the query documents the
 * same fields, all optional, since either may carry them; the handler merges both and checks what is required.
 */
export const deleteArgs = <T extends ReturnType<typeof Type.Object>>(args: T) => ({
  body: Type.Union([args, Type.Null()]),
  querystring: Type.Partial(args),
});

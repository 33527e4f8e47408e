import { sql } from 'kysely';
import { createDatabase, type TrackingDatabase } from '../../../tracking/sql/database.js';
import {
  type LookupResult,
  millisOf,
  type OutcomeRecord,
  outcomeKey,
  type PredictionQuery,
  type PredictionRecord,
  type PredictionStore,
} from '../port.js';

/** Options of {@link createPostgresPredictionStore}. */
export interface PostgresPredictionStoreOptions {
  /** `postgresql://user[:pass]@host:port/db[?schema=name]`. */
  uri: string;
  /** Schema (created if missing); overrides `?schema=` in the URI. */
  schema?: string;
  /** Rows per page when reading; default 10,000. */
  pageSize?: number;
}

const PREDICTION_COLUMNS =
  'request_id, time, model_name, model_version, inputs, probability, label, fallback, route';

/**
 * The prediction log in PostgreSQL, for several replicas writing to one place. A batch is one INSERT of
 * `unnest`ed arrays (nine parameters whatever the batch size; no per-row statement), reads page by keyset on
 * (time, id) in pages of `pageSize`, so a million predictions are never held at once. Tables
 * `tassel_predictions` and `tassel_outcomes` are created if missing.
 */
export async function createPostgresPredictionStore(
  options: PostgresPredictionStoreOptions,
): Promise<PredictionStore> {
  const database = await createDatabase(options.uri, { schema: options.schema });
  await createTables(database);
  const { db } = database;
  const pageSize = options.pageSize ?? 10_000;

  return {
    description: database.displayUri,
    async appendPredictions(batch) {
      const col = <T>(f: (p: (typeof batch)[number]) => T) => batch.map(f);
      await sql`INSERT INTO tassel_predictions (${sql.raw(PREDICTION_COLUMNS)})
        SELECT * FROM unnest(${col((p) => p.request_id)}::text[],
          ${col((p) => new Date(p.time).toISOString())}::timestamptz[], ${col((p) => p.model_name)}::text[],
          ${col((p) => p.model_version)}::text[], ${col((p) => (p.inputs_json === null ? JSON.stringify(p.inputs) : String(p.inputs_json)))}::jsonb[],
          ${col((p) => p.probability)}::float8[], ${col((p) => p.label)}::int2[], ${col((p) => p.fallback)}::bool[],
          ${col((p) => p.route)}::text[])`.execute(db);
    },
    async appendOutcomes(batch) {
      const col = <T>(f: (o: OutcomeRecord) => T) => batch.map(f);
      await sql`INSERT INTO tassel_outcomes (key, request_id, entity_field, entity_id, outcome, time)
        SELECT * FROM unnest(${col(outcomeKey)}::text[], ${col((o) => o.request_id ?? null)}::text[],
          ${col((o) => o.entity_field ?? null)}::text[], ${col((o) => o.entity_id ?? null)}::text[],
          ${col((o) => o.outcome)}::int2[], ${col((o) => o.time)}::timestamptz[])`.execute(db);
    },
    readPredictions: (query) => readPredictionPages(database, query, pageSize),
    async *readOutcomes(query = {}) {
      const since = millisOf(query.since);
      const until = millisOf(query.until);
      let after = 0;
      for (;;) {
        const { rows } = await sql<OutcomeRow>`SELECT id, request_id, entity_field, entity_id, outcome, time
          FROM tassel_outcomes WHERE id > ${after}
          ${since === undefined ? sql`` : sql`AND time >= ${new Date(since).toISOString()}::timestamptz`}
          ${until === undefined ? sql`` : sql`AND time < ${new Date(until).toISOString()}::timestamptz`}
          ORDER BY id LIMIT ${pageSize}`.execute(db);
        for (const r of rows) yield outcomeOf(r);
        if (rows.length < pageSize) return;
        after = Number(rows[rows.length - 1]!.id);
      }
    },
    async findPredictions(lookup) {
      const result: LookupResult = { requestIds: new Set(), entityIds: new Set() };
      if (lookup.requestIds?.length) {
        const { rows } = await sql<{ request_id: string }>`SELECT DISTINCT request_id FROM tassel_predictions
          WHERE request_id = ANY(${[...lookup.requestIds]}::text[])`.execute(db);
        for (const r of rows) result.requestIds.add(r.request_id);
      }
      if (lookup.entity?.ids.length) {
        const { rows } = await sql<{ id: string }>`SELECT DISTINCT inputs->>${lookup.entity.field} AS id
          FROM tassel_predictions
          WHERE inputs->>${lookup.entity.field} = ANY(${[...lookup.entity.ids]}::text[])`.execute(db);
        for (const r of rows) result.entityIds.add(r.id);
      }
      return result;
    },
    async latestOutcomes(keys) {
      const latest = new Map<string, OutcomeRecord>();
      if (keys.length === 0) return latest;
      const { rows } = await sql<OutcomeRow & { key: string }>`SELECT DISTINCT ON (key) key, id, request_id,
          entity_field, entity_id, outcome, time FROM tassel_outcomes WHERE key = ANY(${[...keys]}::text[])
          ORDER BY key, time DESC, id DESC`.execute(db);
      for (const r of rows) latest.set(r.key, outcomeOf(r));
      return latest;
    },
    close: () => database.close(),
  };
}

interface OutcomeRow {
  id: string | number;
  request_id: string | null;
  entity_field: string | null;
  entity_id: string | null;
  outcome: number;
  time: Date;
}

interface PredictionRow {
  id: string | number;
  request_id: string;
  time: Date;
  model_name: string;
  model_version: string | null;
  inputs: Record<string, unknown>;
  probability: number;
  label: number;
  fallback: boolean;
  route: string;
}

function outcomeOf(r: OutcomeRow): OutcomeRecord {
  const o: OutcomeRecord = { outcome: r.outcome === 1 ? 1 : 0, time: r.time.toISOString() };
  if (r.request_id !== null) o.request_id = r.request_id;
  if (r.entity_field !== null) o.entity_field = r.entity_field;
  if (r.entity_id !== null) o.entity_id = r.entity_id;
  return o;
}

async function createTables(database: TrackingDatabase): Promise<void> {
  const { db } = database;
  await sql`CREATE TABLE IF NOT EXISTS tassel_predictions (id bigserial PRIMARY KEY, request_id text NOT NULL,
    time timestamptz NOT NULL, model_name text NOT NULL, model_version text, inputs jsonb NOT NULL,
    probability double precision NOT NULL, label smallint NOT NULL, fallback boolean NOT NULL,
    route text NOT NULL)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS tassel_predictions_model_time
    ON tassel_predictions (model_name, model_version, time, id)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS tassel_predictions_request ON tassel_predictions (request_id)`.execute(
    db,
  );
  await sql`CREATE TABLE IF NOT EXISTS tassel_outcomes (id bigserial PRIMARY KEY, key text NOT NULL,
    request_id text, entity_field text, entity_id text, outcome smallint NOT NULL,
    time timestamptz NOT NULL)`.execute(db);
  await sql`CREATE INDEX IF NOT EXISTS tassel_outcomes_key ON tassel_outcomes (key, time)`.execute(db);
}

/** A model's predictions in (time, id) order, page by page; `last` starts at the n-th most recent. */
async function* readPredictionPages(
  database: TrackingDatabase,
  query: PredictionQuery,
  pageSize: number,
): AsyncGenerator<PredictionRecord> {
  const { db } = database;
  const since = millisOf(query.since);
  const until = millisOf(query.until);
  const where = sql`model_name = ${query.modelName}
    ${query.modelVersion === undefined ? sql`` : query.modelVersion === null ? sql`AND model_version IS NULL` : sql`AND model_version = ${query.modelVersion}`}
    ${since === undefined ? sql`` : sql`AND time >= ${new Date(since).toISOString()}::timestamptz`}
    ${until === undefined ? sql`` : sql`AND time < ${new Date(until).toISOString()}::timestamptz`}`;
  let cursor: { time: Date; id: string | number } | null = null;
  let inclusive = false;
  if (query.last !== undefined) {
    if (query.last <= 0) return;
    const { rows } = await sql<{ time: Date; id: string }>`SELECT time, id FROM tassel_predictions
      WHERE ${where} ORDER BY time DESC, id DESC OFFSET ${query.last - 1} LIMIT 1`.execute(db);
    if (rows[0]) {
      cursor = rows[0];
      inclusive = true;
    }
  }
  for (;;) {
    const after: ReturnType<typeof sql> =
      cursor === null
        ? sql``
        : inclusive
          ? sql`AND (time, id) >= (${cursor.time.toISOString()}::timestamptz, ${cursor.id}::bigint)`
          : sql`AND (time, id) > (${cursor.time.toISOString()}::timestamptz, ${cursor.id}::bigint)`;
    const { rows } =
      await sql<PredictionRow>`SELECT id, ${sql.raw(PREDICTION_COLUMNS)} FROM tassel_predictions
      WHERE ${where} ${after} ORDER BY time, id LIMIT ${pageSize}`.execute(db);
    for (const r of rows) {
      yield {
        request_id: r.request_id,
        time: r.time.toISOString(),
        model_name: r.model_name,
        model_version: r.model_version,
        inputs: r.inputs,
        probability: r.probability,
        label: r.label === 1 ? 1 : 0,
        fallback: r.fallback,
        route: r.route,
      };
    }
    if (rows.length < pageSize) return;
    const lastRow = rows[rows.length - 1]!;
    cursor = { time: lastRow.time, id: lastRow.id };
    inclusive = false;
  }
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { courseCompletionSchema } from '../data/builtin-schemas.js';
import { readCsvTable } from '../data/read-csv.js';
import type { RawRecord } from '../data/table.js';
import { generateCourseCompletion } from '../data/synthetic.js';
import { defaultFeatureSpec } from '../features/spec.js';
import { fitTransform, type FittedTransform, transformTable } from '../features/transform.js';
import { GbdtClassifier } from '../ml/gbdt/index.js';
import { createServedModel } from './bundle-model.js';
import type { ModelIdentity, ServedModel } from './served-model.js';

/** A small real model for serving tests: GBDT on the synthetic course-completion data. */
export interface TrainedTestModel {
  transform: FittedTransform;
  model: GbdtClassifier;
  prior: number;
  /** Raw records (as a client would send them) from the generated data, target removed. */
  records: RawRecord[];
  served(identity?: Partial<ModelIdentity>): ServedModel;
}

/**
 * Trains a small GBDT (default 20 trees, depth 4) on `rows` generated course-completion rows. Used by serving
 * tests so they run on the real feature transform and the real GBDT engine, not a stand-in. `dropColumns`
 * leaves columns out of the schema (and so of the model and the records).
 */
export async function trainTestModel(
  options: { rows?: number; seed?: number; trees?: number; dropColumns?: readonly string[] } = {},
): Promise<TrainedTestModel> {
  const dir = await mkdtemp(join(tmpdir(), 'tassel-serving-train-'));
  try {
    const csv = generateCourseCompletion({
      rows: options.rows ?? 600,
      seed: options.seed ?? 7,
      missingRate: 0.02,
    });
    const file = join(dir, 'train.csv');
    await writeFile(file, csv);
    const { table, y } = await readCsvTable(file, { schema: courseCompletionSchema });
    const dropped = new Set(options.dropColumns ?? []);
    const schema = {
      ...courseCompletionSchema,
      columns: courseCompletionSchema.columns.filter((c) => !dropped.has(c.name)),
    };
    const transform = fitTransform(defaultFeatureSpec(schema, { preset: 'tree' }), table, schema);
    const X = transformTable(transform, table);
    const model = new GbdtClassifier({ n_estimators: options.trees ?? 20, max_depth: 4, eta: 0.3 });
    await model.fit(X, y!, { featureNames: transform.feature_names });
    let positives = 0;
    for (const v of y!) positives += v;
    const prior = positives / y!.length;
    const header = csv.slice(0, csv.indexOf('\n')).split(',');
    const records = csv
      .trim()
      .split('\n')
      .slice(1, 201)
      .map((line) => {
        // the generator writes no quoted commas in these columns except course names; parse simply but safely
        const cells = splitCsvLine(line);
        const r: RawRecord = {};
        header.forEach((name, j) => {
          if (name === schema.target || dropped.has(name)) return;
          const spec = schema.columns.find((c) => c.name === name)!;
          const cell = cells[j] ?? '';
          if (cell === '') r[name] = null;
          else r[name] = spec.type === 'numeric' || spec.type === 'integer' ? Number(cell) : cell;
        });
        return r;
      });
    return {
      transform,
      model,
      prior,
      records,
      served: (identity = {}) =>
        createServedModel({
          identity: {
            name: 'course-completion',
            version: '1',
            runId: 'run-1',
            uri: 'models:/course-completion@production',
            ...identity,
          },
          schema,
          transform,
          model,
          threshold: 0.5,
          prior,
          signature: null,
          metrics: { roc_auc: 0.5 },
        }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * POSTs a JSON body over a real socket (so the fast lane, not app.inject, answers) and gives the status, the
 * response headers and the body text.
 */
export function postOverSocket(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

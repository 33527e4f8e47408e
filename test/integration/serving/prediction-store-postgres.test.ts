import { after } from 'node:test';
import { sql } from 'kysely';
import { runPredictionStoreContract } from '../../../src/serving/prediction-sink/contract.js';
import { createPostgresPredictionStore } from '../../../src/serving/prediction-sink/postgres/postgres-prediction-store.js';
import { createDatabase, dropPostgresSchema } from '../../../src/tracking/sql/database.js';

const PG_URI = process.env.TASSEL_TEST_PG_URI ?? 'postgresql://postgres@127.0.0.1:5432/test';

async function unreachable(): Promise<string | undefined> {
  try {
    const database = await createDatabase(PG_URI, { connectionTimeoutMs: 2000 });
    try {
      await sql`SELECT 1`.execute(database.db);
    } finally {
      await database.close();
    }
    return undefined;
  } catch (e) {
    return `PostgreSQL not reachable at ${PG_URI}: ${(e as Error).message}`;
  }
}

const skip = await unreachable();
const schemas: string[] = [];
let n = 0;

if (skip) {
  console.log(`# skipping the PostgreSQL prediction store tests: ${skip}`);
} else {
  after(async () => {
    const database = await createDatabase(PG_URI);
    try {
      for (const s of schemas) await dropPostgresSchema(database, s);
    } finally {
      await database.close();
    }
  });
  runPredictionStoreContract('PostgreSQL', {
    async make() {
      const schema = `tassel_predstore_${process.pid}_${Date.now().toString(36)}_${n++}`;
      schemas.push(schema);
      // a small page size so reads cross several pages
      return createPostgresPredictionStore({ uri: PG_URI, schema, pageSize: 7 });
    },
  });
}

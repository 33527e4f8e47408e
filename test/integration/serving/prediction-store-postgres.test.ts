import { after } from 'node:test';
import { runPredictionStoreContract } from '../../../src/serving/prediction-sink/contract.js';
import { createPostgresPredictionStore } from '../../../src/serving/prediction-sink/postgres/postgres-prediction-store.js';
import { createDatabase, dropPostgresSchema } from '../../../src/tracking/sql/database.js';
import { pgSkipReason } from '../registry/pg-helpers.js';

const PG_URI = process.env.TASSEL_TEST_PG_URI ?? 'postgresql://postgres@127.0.0.1:5432/test';

const skip = await pgSkipReason(PG_URI);
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

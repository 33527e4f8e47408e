import { sql } from 'kysely';
import { TasselError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import { inTransaction } from '../../sql/transaction.js';
import type { KeyValue, TrackingStore } from '../types.js';
import type { SqlStoreContext } from './context.js';
import { activeRunForWrite } from './run-rows.js';

/** The tag MLflow keeps a run's name in (mirrored in runs.name). */
export const RUN_NAME_TAG = 'mlflow.runName';
/** The tag a run's user may come from when the request names none. */
export const USER_TAG = 'mlflow.user';

/** Writes run tags inside a transaction: upsert, and keep runs.name in step with mlflow.runName. */
export async function upsertRunTags(trx: AnyKysely, runId: string, tags: KeyValue[]): Promise<void> {
  if (!tags.length) return;
  const last = new Map(tags.map((t) => [t.key, t.value]));
  await trx
    .insertInto('tags')
    .values([...last].map(([key, value]) => ({ run_uuid: runId, key, value })))
    .onConflict((oc) => oc.columns(['run_uuid', 'key']).doUpdateSet({ value: sql.ref('excluded.value') }))
    .execute();
  const runName = last.get(RUN_NAME_TAG);
  if (runName !== undefined)
    await trx.updateTable('runs').set({ name: runName }).where('run_uuid', '=', runId).execute();
}

/** The run tag aggregate's own operation (tags are written through logBatch). */
export function runTagOps(ctx: SqlStoreContext): Pick<TrackingStore, 'deleteTag'> {
  return {
    async deleteTag(runId, key) {
      await inTransaction(ctx.db, async (trx) => {
        await activeRunForWrite(ctx, trx, runId);
        const r = await trx
          .deleteFrom('tags')
          .where('run_uuid', '=', runId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (Number(r.numDeletedRows) === 0) {
          throw new TasselError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with name: ${key} in run with id ${runId}`,
          );
        }
      });
    },
  };
}

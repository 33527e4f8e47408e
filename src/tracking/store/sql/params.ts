import { InputError } from '../../../errors.js';
import type { AnyKysely } from '../../sql/database.js';
import type { KeyValue } from '../types.js';

/**
 * Logs params inside a transaction. Params are immutable: a key logged again with the same value is a
 * no-op, with a different value an INVALID_PARAMETER_VALUE naming both values (as MLflow says it).
 */
export async function insertParams(trx: AnyKysely, runId: string, params: KeyValue[]): Promise<void> {
  if (!params.length) return;
  const unique = new Map(params.map((p) => [p.key, p.value]));
  await trx
    .insertInto('params')
    .values([...unique].map(([key, value]) => ({ run_uuid: runId, key, value })))
    .onConflict((oc) => oc.columns(['run_uuid', 'key']).doNothing())
    .execute();
  // Any key now holding a different value was logged before with it.
  const stored = await trx
    .selectFrom('params')
    .select(['key', 'value'])
    .where('run_uuid', '=', runId)
    .where('key', 'in', [...unique.keys()])
    .execute();
  for (const s of stored) {
    const wanted = unique.get(s.key)!;
    if (s.value !== wanted) {
      throw new InputError(
        `Changing param values is not allowed. Param with key='${s.key}' was already logged with value='${s.value}' ` +
          `for run ID='${runId}'. Attempted logging new value '${wanted}'.`,
      );
    }
  }
}

import { InputError } from '../../errors.js';
import {
  type FeedbackItem,
  type FeedbackResult,
  type OutcomeRecord,
  outcomeKey,
  type PredictionStore,
} from './port.js';

/**
 * The ground-truth rules, written once over any store: each item is matched to logged predictions by request
 * id or entity id; unknown ids are reported and not stored; the same outcome again is a duplicate (not stored);
 * a different one is a correction (stored; the latest wins). Items of one call are applied in order, so a
 * call repeating a key sees its own earlier items.
 */
export async function attachOutcomes(
  store: PredictionStore,
  items: readonly FeedbackItem[],
  entityField: string | undefined,
  now: Date = new Date(),
): Promise<FeedbackResult[]> {
  const keyed = items.map((item, i) => keyItem(item, i, entityField));
  const requestIds = keyed.flatMap((k) => (k.request_id !== undefined ? [k.request_id] : []));
  const entityIds = keyed.flatMap((k) => (k.entity_id !== undefined ? [k.entity_id] : []));
  const found = await store.findPredictions({
    requestIds,
    entity:
      entityField !== undefined && entityIds.length > 0 ? { field: entityField, ids: entityIds } : undefined,
  });
  const isKnown = (k: KeyedItem) =>
    k.request_id !== undefined ? found.requestIds.has(k.request_id) : found.entityIds.has(k.entity_id!);
  const latest = await store.latestOutcomes([...new Set(keyed.filter(isKnown).map((k) => k.key))]);
  const time = now.toISOString();
  const stored: OutcomeRecord[] = [];
  const results = keyed.map((k): FeedbackResult => {
    const id = k.request_id !== undefined ? { request_id: k.request_id } : { entity_id: k.entity_id! };
    if (!isKnown(k)) return { ...id, status: 'unknown' };
    const before = latest.get(k.key);
    if (before?.outcome === k.outcome) return { ...id, status: 'duplicate' };
    const record: OutcomeRecord =
      k.request_id !== undefined
        ? { request_id: k.request_id, outcome: k.outcome, time }
        : { entity_field: entityField!, entity_id: k.entity_id!, outcome: k.outcome, time };
    latest.set(k.key, record);
    stored.push(record);
    return { ...id, status: before === undefined ? 'attached' : 'updated' };
  });
  if (stored.length > 0) await store.appendOutcomes(stored);
  return results;
}

interface KeyedItem {
  key: string;
  request_id?: string;
  entity_id?: string;
  outcome: 0 | 1;
}

function keyItem(item: FeedbackItem, i: number, entityField: string | undefined): KeyedItem {
  const hasRequest = typeof item.request_id === 'string' && item.request_id !== '';
  const hasEntity = item.entity_id !== undefined && item.entity_id !== null && item.entity_id !== '';
  if (hasRequest === hasEntity) {
    throw new InputError(`outcomes[${i}]: give exactly one of request_id and entity_id`);
  }
  if (item.outcome !== 0 && item.outcome !== 1) {
    throw new InputError(`outcomes[${i}]: outcome must be 0 or 1`);
  }
  if (hasRequest) {
    return {
      key: outcomeKey({ request_id: item.request_id }),
      request_id: item.request_id,
      outcome: item.outcome,
    };
  }
  if (entityField === undefined) {
    throw new InputError(
      `outcomes[${i}]: an entity_id needs an entity field (send "entity_field", or start the service with --entity-field)`,
    );
  }
  const entity_id = String(item.entity_id);
  return { key: outcomeKey({ entity_field: entityField, entity_id }), entity_id, outcome: item.outcome };
}

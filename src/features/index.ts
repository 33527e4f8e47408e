/** The feature transform's public API. */
export * from './spec.js';
export * from './transform.js';
export * from './padding.js';
export * from './feature-step.js';
export { hashSlot, murmurhash3_32, murmurhash3x86_32Bytes, type HashedSlot } from './murmurhash.js';
export { parseDateToDays, daysFromCivil, monthOfDays, dayOfWeekOfDays } from './dates.js';
export * from './field-groups.js';

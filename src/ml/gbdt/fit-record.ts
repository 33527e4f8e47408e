/** The root every fit record grows from (see {@link fitRecord}). */
class FitRecord {}

/**
 * `fields` copied onto a fresh object one property at a time: the form for an object a fit creates once and
 * hot code reads (the bin cuts, the sparse rows, the shared buffers, the validation state).
 *
 * Why not the object literal itself: V8 creates a literal the second time with its fields' types widened (from
 * "a Float64Array" to "anything"), and throws away every optimized function that relied on the narrower type.
 * With a literal a fit, that is the second fit of a process, and most of the boosting code compiled in the
 * first (measured on OULAD at nthread 2: the second fit recompiled ~200 ms of code while fitting). Objects
 * grown property by property keep the types the first fit saw, so a process's later fits reuse its code.
 */
export function fitRecord<T extends object>(fields: T): T {
  const out = new FitRecord() as Record<string, unknown>;
  for (const key in fields) out[key] = fields[key];
  return out as T;
}

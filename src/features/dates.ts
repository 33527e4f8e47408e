/**
 * Small, allocation-light date helpers for the feature transform: tables store dates as days since
 * 1970-01-01 (UTC); records may carry them as strings.
 */

/** Days since 1970-01-01 of a proleptic Gregorian civil date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** Month (1..12) of a day number (Hinnant's civil_from_days, month part only). */
export function monthOfDays(days: number): number {
  const z = Math.floor(days) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  return mp < 10 ? mp + 3 : mp - 9;
}

/** Day of week of a day number: 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday). */
export const dayOfWeekOfDays = (days: number): number => (((Math.floor(days) + 4) % 7) + 7) % 7;

/**
 * Parses `YYYY-MM-DD` (optionally followed by a time, which is ignored) or a three-part date with `/`,
 * `-` or `.` separators in the given field order. Returns days since epoch, or NaN when it is not a
 * valid calendar date.
 */
export function parseDateToDays(s: string, order: 'DMY' | 'MDY' | 'YMD' = 'YMD'): number {
  const m = /^\s*(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,4})(?:[T ].*)?\s*$/.exec(s);
  if (!m) return Number.NaN;
  const a = Number(m[1]);
  const b = Number(m[2]);
  const c = Number(m[3]);
  let y: number;
  let mo: number;
  let d: number;
  if (m[1]!.length === 4) [y, mo, d] = [a, b, c];
  else if (order === 'DMY') [d, mo, y] = [a, b, c];
  else if (order === 'MDY') [mo, d, y] = [a, b, c];
  else return Number.NaN;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return Number.NaN;
  const days = daysFromCivil(y, mo, d);
  // reject 31/02 and friends: the day must round-trip to the same month
  if (monthOfDays(days) !== mo) return Number.NaN;
  return days;
}

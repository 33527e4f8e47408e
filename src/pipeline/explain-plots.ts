/**
 * SVG plots of a global explanation, in the style of plots.ts (dependency-free, deterministic bytes):
 * a bar chart of mean |SHAP| per field and a beeswarm-style summary (one row per field, a dot per row at its
 * SHAP value, stacked where dots collide, coloured by the field's value: blue low, red high, grey categorical).
 */
import type { ColumnData } from '../data/table.js';
import { isNumericData } from '../data/table.js';

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const n2 = (x: number) => (Math.round(x * 100) / 100).toString();
const fmt = (x: number) =>
  Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toPrecision(2);

/** Most fields either plot shows (the largest by mean |SHAP|). */
export const PLOT_MAX_FIELDS = 15;

function header(W: number, H: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
}

/** Horizontal bars of mean |SHAP| (margin units), largest on top. `features` must be sorted descending. */
export function shapBarSvg(
  features: readonly { field: string; mean_abs: number }[],
  title = 'Mean |SHAP| per field',
): string {
  const rows = features.slice(0, PLOT_MAX_FIELDS);
  const W = 640;
  const left = 200;
  const right = 70;
  const barH = 20;
  const top = 36;
  const H = top + rows.length * (barH + 6) + 44;
  const max = Math.max(1e-12, ...rows.map((r) => r.mean_abs));
  const pw = W - left - right;
  const parts = header(W, H, title);
  rows.forEach((r, i) => {
    const y = top + i * (barH + 6);
    const w = (r.mean_abs / max) * pw;
    parts.push(
      `<text x="${left - 6}" y="${n2(y + barH * 0.7)}" text-anchor="end">${esc(r.field)}</text>`,
      `<rect x="${left}" y="${y}" width="${n2(w)}" height="${barH}" fill="#1f77b4"/>`,
      `<text x="${n2(left + w + 4)}" y="${n2(y + barH * 0.7)}">${esc(fmt(r.mean_abs))}</text>`,
    );
  });
  parts.push(
    `<text x="${left + pw / 2}" y="${H - 12}" text-anchor="middle">mean |SHAP value| (log-odds)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/** Colour of a value's rank in [0, 1]: blue (low) to red (high). */
const rankColor = (t: number) => {
  const r = Math.round(30 + 225 * t);
  const b = Math.round(230 - 200 * t);
  return `rgb(${r},60,${b})`;
};

/**
 * Beeswarm summary: for each of the top fields (`order`, largest first), a dot per row at its SHAP value.
 * `values` is rows x fields (row-major, `fields` order); `columns` gives each field's raw values for colour.
 * At most `maxRows` rows are drawn (an even, deterministic sample), so the SVG stays small.
 */
export function shapBeeswarmSvg(options: {
  fields: readonly string[];
  values: Float64Array;
  order: readonly string[];
  columns?: Record<string, ColumnData | undefined>;
  maxRows?: number;
  title?: string;
}): string {
  const nf = options.fields.length;
  const rows = nf === 0 ? 0 : options.values.length / nf;
  const maxRows = options.maxRows ?? 800;
  const step = Math.max(1, rows / maxRows);
  const sample: number[] = [];
  for (let k = 0; k < rows && sample.length < maxRows; k = Math.floor((sample.length + 1) * step))
    sample.push(k);
  const shown = options.order.slice(0, PLOT_MAX_FIELDS);
  const W = 720;
  const left = 200;
  const right = 30;
  const rowH = 28;
  const top = 40;
  const H = top + shown.length * rowH + 60;
  const pw = W - left - right;
  let lo = 0;
  let hi = 0;
  for (const f of shown) {
    const j = options.fields.indexOf(f);
    for (const i of sample) {
      const v = options.values[i * nf + j]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const span = Math.max(1e-12, hi - lo);
  const sx = (v: number) => left + ((v - lo) / span) * pw;
  const parts = header(W, H, options.title ?? 'SHAP values per field (each dot one row)');
  parts.push(
    `<line x1="${n2(sx(0))}" y1="${top - 6}" x2="${n2(sx(0))}" y2="${top + shown.length * rowH}" stroke="#999999"/>`,
  );
  shown.forEach((f, r) => {
    const j = options.fields.indexOf(f);
    const cy = top + r * rowH + rowH / 2;
    parts.push(`<text x="${left - 6}" y="${n2(cy + 4)}" text-anchor="end">${esc(f)}</text>`);
    const col = options.columns?.[f];
    const color = colorOf(col, sample);
    // stack dots that fall in the same 3-pixel bin, alternating above and below the row's centre line
    const bins = new Map<number, number>();
    for (let s = 0; s < sample.length; s++) {
      const x = sx(options.values[sample[s]! * nf + j]!);
      const bin = Math.round(x / 3);
      const k = bins.get(bin) ?? 0;
      bins.set(bin, k + 1);
      const offset = (k % 2 === 0 ? 1 : -1) * Math.ceil(k / 2) * 2.2;
      if (Math.abs(offset) > rowH / 2 - 2) continue;
      parts.push(`<circle cx="${n2(x)}" cy="${n2(cy + offset)}" r="1.6" fill="${color(s)}"/>`);
    }
  });
  const axisY = top + shown.length * rowH + 8;
  for (const v of [lo, lo / 2, 0, hi / 2, hi]) {
    parts.push(`<text x="${n2(sx(v))}" y="${axisY + 12}" text-anchor="middle">${esc(fmt(v))}</text>`);
  }
  parts.push(
    `<text x="${left + pw / 2}" y="${H - 22}" text-anchor="middle">SHAP value (log-odds): left lowers, right raises the probability</text>`,
    `<text x="${left + pw / 2}" y="${H - 6}" text-anchor="middle" font-size="10">colour: the field's value, blue low to red high (grey: categorical or missing)</text>`,
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

/** Dot colours of a field over the sampled rows: by the value's rank among them for numeric fields. */
function colorOf(col: ColumnData | undefined, sample: readonly number[]): (s: number) => string {
  if (!col || !isNumericData(col)) return () => '#888888';
  const vals = sample.map((i) => col[i]!);
  const sorted = vals.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return () => '#888888';
  const rank = (v: number) => {
    let a = 0;
    let b = sorted.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (sorted[m]! < v) a = m + 1;
      else b = m;
    }
    return sorted.length > 1 ? a / (sorted.length - 1) : 0.5;
  };
  return (s) => (Number.isNaN(vals[s]!) ? '#888888' : rankColor(Math.min(1, rank(vals[s]!))));
}

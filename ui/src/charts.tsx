import { formatValue } from './api';

/**
 * Small SVG charts (bars, horizontal bars, scatter, parallel coordinates): no library, crisp at any width,
 * one element per datum with a `<title>` for hover and a `data-series` attribute naming its run or field.
 */

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563'];

export const color = (i: number) => PALETTE[i % PALETTE.length]!;

/** A value on an axis: numbers on a linear scale, anything else as categories in first-seen order. */
export type AxisValue = number | string | undefined;

interface Scale {
  pos: (v: AxisValue) => number | undefined;
  ticks: Array<{ at: number; label: string }>;
}

/** A tick label: at most four significant digits, no trailing zeros. */
const tick = (v: number) => String(Number(v.toPrecision(4)));

function niceTicks(lo: number, hi: number, count: number): number[] {
  if (lo === hi) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Maps values into [0, 1] (numbers linearly over their range, strings as evenly spaced categories). */
export function makeScale(values: AxisValue[], ticks = 4): Scale {
  const present = values.filter((v) => v !== undefined && v !== '');
  const numeric = present.length > 0 && present.every((v) => typeof v === 'number' || (v !== '' && Number.isFinite(Number(v))));
  if (numeric) {
    const nums = present.map(Number);
    let lo = Math.min(...nums);
    let hi = Math.max(...nums);
    if (lo === hi) {
      lo -= Math.abs(lo) * 0.05 || 0.5;
      hi += Math.abs(hi) * 0.05 || 0.5;
    } else {
      // a margin, so extreme points are not drawn on the frame
      const pad = (hi - lo) * 0.06;
      lo -= pad;
      hi += pad;
    }
    return {
      pos: (v) => (v === undefined || v === '' ? undefined : (Number(v) - lo) / (hi - lo)),
      ticks: niceTicks(lo, hi, ticks).map((t) => ({ at: (t - lo) / (hi - lo), label: tick(t) })),
    };
  }
  const cats = [...new Set(present.map(String))];
  const at = (i: number) => (cats.length === 1 ? 0.5 : i / (cats.length - 1));
  return {
    pos: (v) => (v === undefined || v === '' ? undefined : at(cats.indexOf(String(v)))),
    ticks: cats.slice(0, 12).map((c, i) => ({ at: at(i), label: c.length > 14 ? `${c.slice(0, 13)}…` : c })),
  };
}

/** One bar per run for a scalar metric (the y axis starts at 0 unless values are negative). */
export function BarChart({
  title,
  bars,
}: {
  title: string;
  /** `index` picks the bar's colour (a run's position in the view, so it matches the other charts). */
  bars: Array<{ label: string; value: number; index?: number }>;
}) {
  const W = 420;
  const H = 230;
  const L = 52;
  const B = bars.length <= 12 ? 70 : 16;
  const T = 26;
  const lo = Math.min(0, ...bars.map((b) => b.value));
  const hi = Math.max(0, ...bars.map((b) => b.value));
  const span = hi - lo || 1;
  const y = (v: number) => T + (H - T - B) * (1 - (v - lo) / span);
  const slot = (W - L - 8) / Math.max(1, bars.length);
  const ticks = niceTicks(lo, hi, 4);
  return (
    <figure class="svgchart" data-chart="bar" data-metric={title}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Bar chart of ${title} across ${bars.length} runs`}>
        <text x={W / 2} y={16} text-anchor="middle" class="title">
          {title}
        </text>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={L} x2={W - 4} y1={y(t)} y2={y(t)} class="grid" />
            <text x={L - 4} y={y(t) + 4} text-anchor="end" class="tick">
              {tick(t)}
            </text>
          </g>
        ))}
        {bars.map((b, i) => {
          const x = L + 4 + i * slot;
          const top = Math.min(y(b.value), y(0));
          return (
            <g key={b.label}>
              <rect
                x={x + slot * 0.1}
                width={Math.max(1, slot * 0.8)}
                y={top}
                height={Math.max(1, Math.abs(y(b.value) - y(0)))}
                fill={color(b.index ?? i)}
                data-series={b.label}
                data-value={b.value}
              >
                <title>{`${b.label}: ${formatValue(b.value)}`}</title>
              </rect>
              {bars.length <= 12 && (
                <text
                  class="tick"
                  transform={`translate(${x + slot / 2 + 4},${H - B + 6}) rotate(40)`}
                  text-anchor="start"
                >
                  {b.label.length > 16 ? `${b.label.slice(0, 15)}…` : b.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

/** Horizontal bars with their labels on the left (e.g. mean |SHAP| per field), largest first as given. */
export function HBarChart({ title, bars, max = 25 }: { title: string; bars: Array<{ label: string; value: number }>; max?: number }) {
  const shown = bars.slice(0, max);
  const W = 560;
  const L = 190;
  const row = 20;
  const H = 30 + shown.length * row + 8;
  const hi = Math.max(...shown.map((b) => b.value), 1e-12);
  return (
    <figure class="svgchart hbar" data-chart="hbar">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        <text x={W / 2} y={16} text-anchor="middle" class="title">
          {title}
        </text>
        {shown.map((b, i) => {
          const yy = 28 + i * row;
          const w = ((W - L - 70) * b.value) / hi;
          return (
            <g key={b.label}>
              <text x={L - 6} y={yy + 13} text-anchor="end" class="tick">
                {b.label.length > 28 ? `${b.label.slice(0, 27)}…` : b.label}
              </text>
              <rect x={L} y={yy + 2} width={Math.max(1, w)} height={row - 6} fill={PALETTE[0]} data-series={b.label} data-value={b.value}>
                <title>{`${b.label}: ${formatValue(b.value)}`}</title>
              </rect>
              <text x={L + w + 4} y={yy + 13} class="tick">
                {formatValue(b.value)}
              </text>
            </g>
          );
        })}
      </svg>
      {bars.length > max && <figcaption class="muted">Top {max} of {bars.length}.</figcaption>}
    </figure>
  );
}

/** One point per run: x against y (each a metric or a parameter; text parameters become categories). */
export function ScatterChart({
  xLabel,
  yLabel,
  points,
}: {
  xLabel: string;
  yLabel: string;
  points: Array<{ label: string; x: AxisValue; y: AxisValue; index: number }>;
}) {
  const W = 520;
  const H = 320;
  const L = 64;
  const B = 46;
  const T = 12;
  const R = 16;
  const sx = makeScale(points.map((p) => p.x), 5);
  const sy = makeScale(points.map((p) => p.y), 5);
  const px = (f: number) => L + f * (W - L - R);
  const py = (f: number) => H - B - f * (H - B - T);
  const drawn = points.filter((p) => sx.pos(p.x) !== undefined && sy.pos(p.y) !== undefined);
  return (
    <figure class="svgchart" data-chart="scatter">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Scatter of ${yLabel} against ${xLabel}, ${drawn.length} runs`}>
        {sy.ticks.map((t) => (
          <g key={`y${t.at}`}>
            <line x1={L} x2={W - R} y1={py(t.at)} y2={py(t.at)} class="grid" />
            <text x={L - 5} y={py(t.at) + 4} text-anchor="end" class="tick">
              {t.label}
            </text>
          </g>
        ))}
        {sx.ticks.map((t) => (
          <g key={`x${t.at}`}>
            <line y1={T} y2={H - B} x1={px(t.at)} x2={px(t.at)} class="grid" />
            <text x={px(t.at)} y={H - B + 16} text-anchor="middle" class="tick">
              {t.label}
            </text>
          </g>
        ))}
        <text x={(L + W - R) / 2} y={H - 6} text-anchor="middle" class="axis">
          {xLabel}
        </text>
        <text transform={`translate(14,${(H - B + T) / 2}) rotate(-90)`} text-anchor="middle" class="axis">
          {yLabel}
        </text>
        {drawn.map((p) => (
          <circle key={p.label} cx={px(sx.pos(p.x)!)} cy={py(sy.pos(p.y)!)} r={5} fill={color(p.index)} data-series={p.label}>
            <title>{`${p.label}: ${xLabel} ${formatValue(p.x)}, ${yLabel} ${formatValue(p.y)}`}</title>
          </circle>
        ))}
      </svg>
    </figure>
  );
}

/** Parallel coordinates: one vertical axis per parameter or metric, one line per run across them. */
export function ParallelCoordinates({
  axes,
  runs,
}: {
  axes: Array<{ label: string; values: AxisValue[] }>;
  runs: Array<{ label: string; index: number }>;
}) {
  const W = Math.max(640, axes.length * 170);
  const H = 300;
  const T = 34;
  const B = 20;
  const side = 60;
  const scales = axes.map((a) => makeScale(a.values, 4));
  const ax = (i: number) => (axes.length === 1 ? W / 2 : side + (i * (W - 2 * side)) / (axes.length - 1));
  const py = (f: number) => H - B - f * (H - B - T);
  return (
    <figure class="svgchart wide" data-chart="parallel">
      <svg
        style={{ minWidth: `${Math.round(W * 0.85)}px` }} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Parallel coordinates of ${runs.length} runs over ${axes.map((a) => a.label).join(', ')}`}>
        {runs.map((r, ri) => {
          const pts = axes
            .map((_, ai) => {
              const f = scales[ai]!.pos(axes[ai]!.values[ri]);
              return f === undefined ? undefined : `${ax(ai).toFixed(1)},${py(f).toFixed(1)}`;
            })
            .filter(Boolean);
          return (
            <polyline key={r.label} points={pts.join(' ')} fill="none" stroke={color(r.index)} stroke-width={1.6} opacity={0.8} data-series={r.label}>
              <title>{r.label}</title>
            </polyline>
          );
        })}
        {axes.map((a, ai) => (
          <g key={a.label} data-axis={a.label}>
            <line x1={ax(ai)} x2={ax(ai)} y1={T} y2={H - B} class="axisline" />
            <text x={ax(ai)} y={14} text-anchor="middle" class="axis">
              {a.label.length > 22 ? `${a.label.slice(0, 21)}…` : a.label}
            </text>
            {scales[ai]!.ticks.map((t) => (
              <text key={t.at} x={ax(ai) + 4} y={py(t.at) + 4} class="tick">
                {t.label}
              </text>
            ))}
          </g>
        ))}
      </svg>
    </figure>
  );
}

/**
 * Small, dependency-free SVG line charts for the run artifacts (ROC, precision-recall, calibration).
 * Output is deterministic (fixed number formatting) so identical inputs give identical bytes.
 */

export interface ChartSeries {
  name: string;
  /** [x, y] points in data units (both axes span 0..1). */
  points: Array<[number, number]>;
  /** Draw a marker at each point (calibration bins). */
  markers?: boolean;
  /** Dashed reference line. */
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const n2 = (x: number) => (Math.round(x * 100) / 100).toString();

/** Too many points make a heavy SVG and add nothing visible; keep at most ~maxPoints, always the ends. */
export function thinPoints(points: Array<[number, number]>, maxPoints = 400): Array<[number, number]> {
  if (points.length <= maxPoints) return points;
  const step = (points.length - 1) / (maxPoints - 1);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < maxPoints; i++) out.push(points[Math.round(i * step)]!);
  return out;
}

/** A line chart over the unit square, as a standalone SVG document a browser shows. */
export function lineChartSvg(options: ChartOptions): string {
  const W = options.width ?? 480;
  const H = options.height ?? 400;
  const m = { left: 56, right: 16, top: 36, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const sx = (x: number) => m.left + Math.min(1, Math.max(0, x)) * pw;
  const sy = (y: number) => m.top + (1 - Math.min(1, Math.max(0, y))) * ph;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(options.title)}</text>`,
  );
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    const gx = n2(sx(v));
    const gy = n2(sy(v));
    parts.push(`<line x1="${gx}" y1="${m.top}" x2="${gx}" y2="${m.top + ph}" stroke="#eeeeee"/>`);
    parts.push(`<line x1="${m.left}" y1="${gy}" x2="${m.left + pw}" y2="${gy}" stroke="#eeeeee"/>`);
    parts.push(`<text x="${gx}" y="${m.top + ph + 16}" text-anchor="middle">${v.toFixed(1)}</text>`);
    parts.push(`<text x="${m.left - 6}" y="${n2(sy(v) + 4)}" text-anchor="end">${v.toFixed(1)}</text>`);
  }
  parts.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333333"/>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(options.xLabel)}</text>`);
  parts.push(
    `<text x="14" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${m.top + ph / 2})">${esc(options.yLabel)}</text>`,
  );
  options.series.forEach((s, i) => {
    const color = s.dashed ? '#888888' : COLORS[i % COLORS.length]!;
    const pts = thinPoints(s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
    if (pts.length > 0) {
      const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${n2(sx(x))},${n2(sy(y))}`).join(' ');
      parts.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,4"' : ''}/>`,
      );
      if (s.markers)
        for (const [x, y] of pts)
          parts.push(`<circle cx="${n2(sx(x))}" cy="${n2(sy(y))}" r="3" fill="${color}"/>`);
    }
    const ly = m.top + 16 + i * 16;
    parts.push(
      `<line x1="${m.left + pw - 150}" y1="${ly - 4}" x2="${m.left + pw - 130}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
    );
    parts.push(`<text x="${m.left + pw - 125}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** ROC curve from its points (false positive rate, true positive rate), with the chance diagonal. */
export function rocSvg(fpr: ArrayLike<number>, tpr: ArrayLike<number>, auc: number): string {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < fpr.length; i++) pts.push([fpr[i]!, tpr[i]!]);
  return lineChartSvg({
    title: `ROC curve (AUC ${auc.toFixed(4)})`,
    xLabel: 'False positive rate',
    yLabel: 'True positive rate',
    series: [
      { name: 'model', points: pts },
      {
        name: 'chance',
        points: [
          [0, 0],
          [1, 1],
        ],
        dashed: true,
      },
    ],
  });
}

/** Precision-recall curve from (recall, precision) points, with the positive rate as the baseline. */
export function prSvg(
  recall: ArrayLike<number>,
  precision: ArrayLike<number>,
  ap: number,
  positiveRate: number,
): string {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < recall.length; i++) pts.push([recall[i]!, precision[i]!]);
  return lineChartSvg({
    title: `Precision-recall (AP ${ap.toFixed(4)})`,
    xLabel: 'Recall',
    yLabel: 'Precision',
    series: [
      { name: 'model', points: pts },
      {
        name: 'positive rate',
        points: [
          [0, positiveRate],
          [1, positiveRate],
        ],
        dashed: true,
      },
    ],
  });
}

/** Reliability diagram: mean predicted probability vs observed positive rate per bin. */
export function calibrationSvg(
  meanPredicted: ArrayLike<number>,
  observed: ArrayLike<number>,
  ece: number,
): string {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < meanPredicted.length; i++) pts.push([meanPredicted[i]!, observed[i]!]);
  return lineChartSvg({
    title: `Calibration (ECE ${ece.toFixed(4)})`,
    xLabel: 'Mean predicted probability',
    yLabel: 'Observed positive rate',
    series: [
      { name: 'model', points: pts, markers: true },
      {
        name: 'perfect',
        points: [
          [0, 0],
          [1, 1],
        ],
        dashed: true,
      },
    ],
  });
}

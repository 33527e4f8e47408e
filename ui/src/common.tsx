import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { ApiError } from './api';

export interface Async<T> {
  data?: T;
  error?: Error;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change; keeps the latest answer only. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: Error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function ErrorBox({ error }: { error: Error }) {
  const code = error instanceof ApiError ? error.code : 'ERROR';
  const hint =
    error instanceof ApiError && (error.status === 401 || error.status === 403)
      ? ' Set an access token in the header (Token).'
      : '';
  return (
    <div class="error" role="alert">
      <strong>{code}</strong>: {error.message}
      {hint}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Loading() {
  return (
    <div class="loading" aria-live="polite">
      Loading…
    </div>
  );
}

/** Renders the standard loading / error states, then `children(data)`. */
export function Show<T>({ state, children }: { state: Async<T>; children: (data: T) => ComponentChildren }) {
  if (state.error) return <ErrorBox error={state.error} />;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

let uPlotModule: Promise<typeof uPlot> | undefined;
function loadUPlot(): Promise<typeof uPlot> {
  uPlotModule ??= Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([m]) => m.default);
  return uPlotModule;
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563'];

export interface Series {
  label: string;
  /** A fixed colour, so a run keeps its colour across charts; default: the palette by position. */
  color?: string;
  points: Array<{ step: number; value: number }>;
}

/** A uPlot line chart of values over steps; several series are aligned on the union of their steps. */
export function StepChart({ title, series }: { title: string; series: Series[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const steps = [...new Set(series.flatMap((s) => s.points.map((p) => p.step)))].sort((a, b) => a - b);
    const index = new Map(steps.map((s, i) => [s, i]));
    const ys = series.map((s) => {
      const col: Array<number | null> = new Array(steps.length).fill(null);
      for (const p of s.points) col[index.get(p.step)!] = p.value;
      return col;
    });
    const width = Math.max(240, el.clientWidth - 10 || 400);
    let plot: uPlot | undefined;
    let live = true;
    // uPlot is loaded on the first chart only, so the runs table's bundle stays small.
    void loadUPlot().then((UPlot) => {
      if (!live) return;
      plot = new UPlot(
      {
        title,
        width,
        height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, {}],
        legend: { show: series.length <= 12 },
        series: [
          { label: 'step' },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color ?? PALETTE[i % PALETTE.length],
            width: 1.5,
            spanGaps: true,
            points: { show: steps.length < 40 },
          })),
        ],
      },
        [steps, ...ys] as uPlot.AlignedData,
        el,
      );
    });
    // Follow the box's width (window resizes, layout changes), so a chart never sticks out of its column.
    const ro = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth - 10 || 400);
      if (plot && Math.abs(plot.width - w) > 2) plot.setSize({ width: w, height: 220 });
    });
    ro.observe(el);
    return () => {
      live = false;
      ro.disconnect();
      plot?.destroy();
    };
  }, [title, series]);
  return <div class="chart" ref={box} />;
}

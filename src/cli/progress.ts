/**
 * A small progress reporter for long CLI steps: a redrawn bar on a terminal, plain timestamped lines
 * elsewhere (CI logs, pipes). It writes to stderr by default so `--json` output on stdout stays clean.
 */

/** Where progress goes; anything with `write` (and optionally `isTTY`/`columns`). */
export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Force bar (true) or lines (false); default: the stream's isTTY. */
  tty?: boolean;
  /** Print nothing at all (e.g. --quiet). */
  silent?: boolean;
  /** Minimum milliseconds between two redraws of the bar (default 80) or two plain lines (default 2000). */
  intervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** One long task with a known total (iterations, rows, trees). */
export interface ProgressTask {
  /** Report that `current` of `total` units are done; `detail` is a short text like "loss 0.51". */
  update(current: number, detail?: string): void;
  /** Finish the task with a closing message. */
  done(message?: string): void;
}

export interface Progress {
  /** A one-off step message ("reading data.csv"). */
  step(message: string): void;
  /** Starts a task with a known total. */
  task(label: string, total: number): ProgressTask;
}

const stamp = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** Creates a progress reporter. */
export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const silent = options.silent ?? false;
  const tty = options.tty ?? stream.isTTY === true;
  const now = options.now ?? Date.now;
  const write = (s: string) => {
    if (!silent) stream.write(s);
  };
  return {
    step(message: string): void {
      write(tty ? `${message}\n` : `[${stamp(now())}] ${message}\n`);
    },
    task(label: string, total: number): ProgressTask {
      const interval = options.intervalMs ?? (tty ? 80 : 2000);
      const start = now();
      let last = -Infinity;
      let lastCurrent = 0;
      let lastDetail = '';
      let drawn = false;
      const safeTotal = Math.max(1, total);
      const render = (current: number, detail: string): string => {
        const frac = Math.min(1, Math.max(0, current / safeTotal));
        const width = Math.max(10, Math.min(30, (stream.columns ?? 80) - label.length - 40));
        const fill = Math.round(frac * width);
        const secs = ((now() - start) / 1000).toFixed(1);
        return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${current}/${total} ${secs}s${detail ? ` ${detail}` : ''}`;
      };
      return {
        update(current: number, detail = ''): void {
          lastCurrent = current;
          lastDetail = detail;
          const t = now();
          if (t - last < interval && current < total) return;
          last = t;
          if (tty) {
            write(`\r\x1b[2K${render(current, detail)}`);
            drawn = true;
          } else {
            write(`[${stamp(t)}] ${label}: ${current}/${total}${detail ? ` ${detail}` : ''}\n`);
          }
        },
        done(message?: string): void {
          const secs = ((now() - start) / 1000).toFixed(2);
          const text = message ?? `${lastCurrent}/${total}${lastDetail ? ` ${lastDetail}` : ''}`;
          if (tty) write(`${drawn ? '\r\x1b[2K' : ''}${label}: ${text} (${secs} s)\n`);
          else write(`[${stamp(now())}] ${label}: ${text} (${secs} s)\n`);
        },
      };
    },
  };
}

/**
 * How the pipeline reports progress: steps with timings and a bar over boosting rounds. The CLI plugs in
 * a terminal bar or timestamped lines; tests use {@link silentReporter} or collect lines.
 */
export interface PipelineReporter {
  /** A step starts (ingest, split, features, train <trial>, evaluate, log, register, gate, promote). */
  stepStart(name: string, detail?: string): void;
  /** A step ended after `seconds`. */
  stepEnd(name: string, seconds: number, detail?: string): void;
  /** Progress inside a step (boosting rounds, uploads). */
  progress(name: string, done: number, total: number): void;
  /** A plain informational line. */
  info(line: string): void;
}

/** A reporter that says nothing. */
export const silentReporter: PipelineReporter = {
  stepStart() {},
  stepEnd() {},
  progress() {},
  info() {},
};

/** A reporter writing plain, timestamped lines (CI, logs, non-TTY), progress at most every 10 %. */
export function createLineReporter(
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): PipelineReporter {
  const lastDecile = new Map<string, number>();
  const ts = () => new Date().toISOString();
  return {
    stepStart(name, detail) {
      write(`${ts()} [pipeline] ${name}: start${detail ? ` (${detail})` : ''}`);
    },
    stepEnd(name, seconds, detail) {
      lastDecile.delete(name);
      write(`${ts()} [pipeline] ${name}: done in ${seconds.toFixed(2)} s${detail ? ` - ${detail}` : ''}`);
    },
    progress(name, done, total) {
      const decile = Math.floor((10 * done) / Math.max(1, total));
      if (decile === lastDecile.get(name)) return;
      lastDecile.set(name, decile);
      write(`${ts()} [pipeline] ${name}: ${done}/${total}`);
    },
    info(line) {
      write(`${ts()} [pipeline] ${line}`);
    },
  };
}

/** A reporter drawing one redrawn bar line per step on a terminal (stderr). */
export function createTtyReporter(stream: NodeJS.WriteStream = process.stderr): PipelineReporter {
  const width = 28;
  let open = false;
  const clear = () => {
    if (open) stream.write('\r\x1b[2K');
    open = false;
  };
  return {
    stepStart(name, detail) {
      clear();
      stream.write(`> ${name}${detail ? ` (${detail})` : ''}\n`);
    },
    stepEnd(name, seconds, detail) {
      clear();
      stream.write(`  ${name}: ${seconds.toFixed(2)} s${detail ? `  ${detail}` : ''}\n`);
    },
    progress(name, done, total) {
      const frac = Math.min(1, done / Math.max(1, total));
      const fill = Math.round(frac * width);
      stream.write(`\r\x1b[2K  [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total} ${name}`);
      open = true;
    },
    info(line) {
      clear();
      stream.write(`${line}\n`);
    },
  };
}

/**
 * pipeload (bench/lib/pipeload.c) as a load generator for the benches: compiled once with the machine's C
 * compiler into a cache folder, run as a child process, its one JSON line parsed into wrk's result shape.
 * It pipelines DEPTH requests a write on every connection and parses no more of a response than counting needs,
 * so on loopback it spends ~1-1.5 us of CPU a request at depth 16 (wrk with the same depth: 4-11): on a 2-core
 * machine the server's second worker keeps most of the second core (issue 20's `--workers 2` / 1 process).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { countsOf, loadResult, runLoadTool, type WrkResult } from './wrk.js';

/** The C source, beside this file. */
export const PIPELOAD_SOURCE = resolve(import.meta.dirname, 'pipeload.c');

/**
 * Compiles pipeload (cc -O2) into `dir` unless a binary of the same source is there; returns its path, or throws
 * with the compiler's message (`apt-get install gcc` when there is no cc).
 */
export function buildPipeload(dir = join(tmpdir(), 'tassel-pipeload')): string {
  const source = readFileSync(PIPELOAD_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const binary = join(dir, `pipeload-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', binary, PIPELOAD_SOURCE], { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`cannot run cc (apt-get install gcc): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`cc failed on ${PIPELOAD_SOURCE}: ${r.stderr}`);
  return binary;
}

/** Whether a C compiler is on the PATH (the benches and tests skip pipeload without one). */
export function hasCompiler(): boolean {
  const r = spawnSync('cc', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0;
}

/** Options of one pipeload run. */
export interface PipeloadOptions {
  binary: string;
  /** http://IPv4:port/path */
  url: string;
  bodyFile: string;
  connections: number;
  durationS: number;
  /** Requests per write on each connection (1: one in flight per connection). */
  pipeline: number;
}

/** Parses pipeload's JSON line; throws when it is missing or a field is not a count. */
export function parsePipeloadOutput(stdout: string): WrkResult {
  const line = stdout.trim().split('\n').pop() ?? '';
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`pipeload printed no result line: ${stdout}`);
  }
  const fields = ['requests', 'duration_us', 'p50_us', 'p90_us', 'p99_us', 'max_us', 'non2xx', 'errors'];
  const v = countsOf('pipeload', raw, fields, line);
  return loadResult(v, v.errors!);
}

/** Runs pipeload and parses its result; rejects when it fails. */
export function runPipeload(o: PipeloadOptions): Promise<WrkResult> {
  const u = new URL(o.url);
  const argv = [
    u.hostname,
    u.port || '80',
    `${u.pathname}${u.search}`,
    o.bodyFile,
    String(o.connections),
    String(o.durationS),
    String(o.pipeline),
  ];
  return runLoadTool('pipeload', o.binary, argv, process.env, parsePipeloadOutput);
}

/**
 * wrk (the C HTTP load generator, Debian package `wrk`) as a load generator for the benches: a Lua script that
 * POSTs a body read from a file and prints one JSON line from `done()`, and the parser of that line.
 * wrk costs about a third of autocannon's CPU per request, which matters on a 2-core machine where the load
 * generator shares the cores with the server (see bench/serving.bench.ts).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The default path of Debian's wrk. */
export const WRK_PATH = '/usr/bin/wrk';

/** The prefix of the line the Lua script's `done()` prints, so that wrk's own report around it is ignored. */
export const WRK_RESULT_MARK = 'WRK_RESULT ';

/**
 * The Lua script: the body comes from the file in $WRK_BODY_FILE (read once per wrk thread); every response
 * outside 200-299 is counted per thread by `response()` (wrk itself counts only statuses > 399), and `done()`
 * sums them over the threads it saw in `setup()`. Latencies are in microseconds. With $WRK_PIPELINE = N > 1 each
 * write sends N copies of the request back to back (HTTP/1.1 pipelining, wrk's own pipeline.lua pattern) and wrk
 * counts every response; that cuts the load generator's CPU per request, and latencies then cover a whole batch.
 * With $WRK_LEAN = 1 the script defines no `response()`: wrk then neither copies a response's headers and body nor
 * calls Lua per response, and non2xx is wrk's own count of statuses > 399 (1xx and 3xx answers go uncounted).
 * That is the least CPU per request wrk can spend (see {@link WrkOptions.lean}).
 */
export const WRK_SCRIPT = `
local f = assert(io.open(os.getenv("WRK_BODY_FILE"), "rb"))
wrk.method = os.getenv("WRK_METHOD") or "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
local depth = tonumber(os.getenv("WRK_PIPELINE") or "1")
local lean = os.getenv("WRK_LEAN") == "1"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  non2xx = 0
  if depth > 1 then batch = string.rep(wrk.format(), depth) end
end
if depth > 1 then
  function request() return batch end
end
if not lean then
  function response(status, headers, body)
    if status < 200 or status > 299 then non2xx = non2xx + 1 end
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  local n = 0
  if lean then n = e.status else
    for _, t in ipairs(threads) do n = n + (t:get("non2xx") or 0) end
  end
  io.write(string.format(
    '${WRK_RESULT_MARK}{"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"non2xx":%d}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout, n))
end
`;

/** One wrk run's figures. */
export interface WrkResult {
  /** Completed responses (any status). */
  requests: number;
  durationS: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Socket errors: connect, read, write and timeouts. */
  errors: number;
  /** Responses with a status outside 200-299. */
  non2xx: number;
}

const FIELDS = [
  'requests',
  'duration_us',
  'p50_us',
  'p90_us',
  'p99_us',
  'max_us',
  'connect',
  'read',
  'write',
  'timeout',
  'non2xx',
] as const;

/** Parses the output of wrk run with WRK_SCRIPT: the last line carrying WRK_RESULT_MARK. Throws when missing. */
export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout
    .split('\n')
    .filter((l) => l.startsWith(WRK_RESULT_MARK))
    .pop();
  if (line === undefined) throw new Error(`no ${WRK_RESULT_MARK.trim()} line in wrk's output: ${stdout}`);
  const raw = JSON.parse(line.slice(WRK_RESULT_MARK.length)) as Record<string, unknown>;
  const v = countsOf('wrk', raw, FIELDS, line);
  return loadResult(v, v.connect! + v.read! + v.write! + v.timeout!);
}

/**
 * The `fields` of a load generator's result line as counts (finite, not negative; a run of 0 us refused);
 * throws naming the tool, the field and the line otherwise.
 */
export function countsOf(
  tool: string,
  raw: Record<string, unknown>,
  fields: readonly string[],
  line: string,
): Record<string, number> {
  const v: Record<string, number> = {};
  for (const k of fields) {
    const x = raw[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
      throw new Error(`${tool} result field ${k} is not a count: ${line}`);
    }
    v[k] = x;
  }
  if (v.duration_us === 0) throw new Error(`${tool} ran for 0 us: ${line}`);
  return v;
}

/** A {@link WrkResult} from a result line's counts (microseconds) and its socket errors. */
export function loadResult(v: Record<string, number>, errors: number): WrkResult {
  const durationS = v.duration_us! / 1e6;
  return {
    requests: v.requests!,
    durationS,
    rps: v.requests! / durationS,
    p50Ms: v.p50_us! / 1000,
    p90Ms: v.p90_us! / 1000,
    p99Ms: v.p99_us! / 1000,
    maxMs: v.max_us! / 1000,
    errors,
    non2xx: v.non2xx!,
  };
}

/**
 * Runs a load generator to its end and parses what it printed; rejects, with its output, when it cannot start,
 * exits non-zero or prints no result.
 */
export function runLoadTool(
  tool: string,
  path: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  parse: (stdout: string) => WrkResult,
): Promise<WrkResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(path, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${tool} exited with code ${code}: ${err}${out}`));
      else {
        try {
          resolvePromise(parse(out));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
}

/** Writes WRK_SCRIPT into `dir`; returns its path. */
export async function writeWrkScript(dir: string): Promise<string> {
  const path = join(dir, 'tassel-wrk.lua');
  await writeFile(path, WRK_SCRIPT);
  return path;
}

/** Options of one wrk run. */
export interface WrkOptions {
  url: string;
  /** The path writeWrkScript returned. */
  script: string;
  bodyFile: string;
  connections: number;
  durationS: number;
  /** wrk threads (default 1: one core's worth of load generator at most). */
  threads?: number;
  /** Requests per write (HTTP/1.1 pipelining; default 1, one request in flight per connection). */
  pipeline?: number;
  /**
   * No Lua call per response (default false): wrk skips copying each response's headers and body, and counts as
   * non-2xx only statuses > 399. The cheapest generator per request, for ratios on a machine whose cores the
   * server shares with it (issue 20's --workers 2 / 1 process).
   */
  lean?: boolean;
  /** Seconds before a request counts as a timeout (default 10, autocannon's default). */
  timeoutS?: number;
  wrkPath?: string;
}

/** Runs wrk with WRK_SCRIPT and parses its result; rejects when wrk fails. */
export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const argv = [
    `-t${o.threads ?? 1}`,
    `-c${o.connections}`,
    `-d${o.durationS}s`,
    `--timeout`,
    `${o.timeoutS ?? 10}s`,
    '-s',
    o.script,
    o.url,
  ];
  const env = {
    ...process.env,
    WRK_BODY_FILE: o.bodyFile,
    WRK_PIPELINE: String(o.pipeline ?? 1),
    WRK_LEAN: o.lean === true ? '1' : '0',
  };
  return runLoadTool('wrk', o.wrkPath ?? WRK_PATH, argv, env, parseWrkOutput);
}

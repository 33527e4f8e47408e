import type { ByteOutput, PendingPrediction } from '../port.js';

const LF = 10;
const CR = 13;
const SPACE = 32;

/**
 * Writes pending predictions as the local log's JSONL lines (one {@link PredictionRecord} per line, keys in the
 * reader's order) straight into bytes. A request's raw body (the fast lane's case) goes in as it arrived, copied
 * byte for byte: it is one JSON object of scalars, and raw CR/LF can only sit between its tokens, so they become
 * spaces. Other inputs are serialized once, here. The parts that repeat (model name and version, route) are kept
 * as JSON text per distinct value, and the time's text up to the second is made once per second.
 */
export function createJsonlEncoder(): (p: PendingPrediction, out: ByteOutput) => void {
  const iso = createIsoClock();
  let lastName: string | null = null;
  let lastVersion: string | null | undefined;
  let modelPart = '';
  const routes = new Map<string, string>();

  const modelPartOf = (p: PendingPrediction) => {
    if (p.model_name !== lastName || p.model_version !== lastVersion) {
      lastName = p.model_name;
      lastVersion = p.model_version;
      modelPart = `","model_name":${JSON.stringify(lastName)},"model_version":${JSON.stringify(lastVersion)},"inputs":`;
    }
    return modelPart;
  };
  const routeOf = (route: string) => {
    let text = routes.get(route);
    if (text === undefined) {
      text = `,"route":${JSON.stringify(route)}}\n`;
      if (routes.size < 64) routes.set(route, text);
    }
    return text;
  };

  return (p, out) => {
    const head = `{"request_id":${JSON.stringify(p.request_id)},"time":"${iso(p.time)}${modelPartOf(p)}`;
    const inputs = p.inputs_json ?? (p.inputs === null ? '{}' : JSON.stringify(p.inputs));
    const tail = `,"probability":${p.probability},"label":${p.label},"fallback":${p.fallback}${routeOf(p.route)}`;
    const inputBytes = typeof inputs === 'string' ? inputs.length * 3 : inputs.length;
    out.reserve(3 * (head.length + tail.length) + inputBytes);
    const b = out.buffer;
    let o = out.offset;
    o += b.write(head, o);
    const start = o;
    o += typeof inputs === 'string' ? b.write(inputs, o) : inputs.copy(b, o);
    if (hasLineBreak(inputs)) {
      for (let i = start; i < o; i++) if (b[i] === LF || b[i] === CR) b[i] = SPACE;
    }
    o += b.write(tail, o);
    out.offset = o;
  };
}

const hasLineBreak = (s: string | Buffer): boolean =>
  typeof s === 'string'
    ? s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0
    : s.indexOf(LF) >= 0 || s.indexOf(CR) >= 0;

/**
 * toISOString for a run of increasing epoch milliseconds: the text up to the seconds is made once per second,
 * not once per prediction (a second holds tens of thousands of predictions).
 */
function createIsoClock(): (ms: number) => string {
  let second = Number.NaN;
  let prefix = '';
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      second = s;
      prefix = new Date(s * 1000).toISOString().slice(0, 20); // "2026-12-04T23:45:01."
    }
    const frac = ms - s * 1000;
    return `${prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  };
}

/** A growable {@link ByteOutput} (for writing a batch outside the sink's chunks). */
export function createGrowableOutput(initial = 64 * 1024): ByteOutput & { bytes(): Buffer } {
  const out = {
    buffer: Buffer.allocUnsafe(initial),
    offset: 0,
    reserve(n: number) {
      if (out.offset + n <= out.buffer.length) return;
      const next = Buffer.allocUnsafe(Math.max(2 * out.buffer.length, out.offset + n));
      out.buffer.copy(next, 0, 0, out.offset);
      out.buffer = next;
    },
    bytes: () => out.buffer.subarray(0, out.offset),
  };
  return out;
}

import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { InputError } from '../../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The JSON body's text as received (kept to tell `9.0` from `9` in error messages). */
    mlflowRawBody?: string;
  }
}

/** The parts of a TypeBox / JSON schema the check reads. */
interface Schema {
  type?: string;
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}

type Check = (value: unknown, path: string, raw: string | undefined) => void;

const API_DOCS = ' See the API docs for more information about request parameters.';

/** MLflow's `missing_value` message as its handlers send it. */
export function missingParameter(path: string): string {
  return `Missing value for required parameter '${path}'.${API_DOCS}`;
}

/** The Python type name MLflow's hint shows for a JSON value. */
function pythonType(value: unknown, float: boolean): string {
  if (value === null) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  switch (typeof value) {
    case 'string':
      return 'str';
    case 'boolean':
      return 'bool';
    case 'number':
      return float || !Number.isInteger(value) ? 'float' : 'int';
    default:
      return 'dict';
  }
}

/** `json.dumps(value, sort_keys=True, separators=(",", ":"))` as Python prints it (floats keep `.0`). */
function pythonJson(value: unknown, float: boolean): string {
  if (typeof value === 'number' && float && Number.isInteger(value) && Math.abs(value) < 1e16) {
    return `${value}.0`;
  }
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

/** Whether the raw JSON spelled the number under `key` as a float (`9.0`, `1e3`), as Python would read it. */
function spelledAsFloat(raw: string | undefined, path: string): boolean {
  const key = path.slice(path.lastIndexOf('.') + 1).replace(/\[\d+\]$/, '');
  if (!raw || !key) return false;
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`"${escaped}"\\s*:\\s*(-?[0-9][0-9.eE+-]*)`).exec(raw);
  return m !== null && /[.eE]/.test(m[1]);
}

/** MLflow's `invalid_value` with the type hint its handlers add when a field has the wrong JSON type. */
export function invalidParameter(path: string, value: unknown, raw?: string): InputError {
  const float = typeof value === 'number' && spelledAsFloat(raw, path);
  return new InputError(
    `Invalid value ${pythonJson(value, float)} for parameter '${path}' supplied:  Hint: Value was of type ` +
      `'${pythonType(value, float)}'.${API_DOCS}`,
  );
}

const INT_STRING = /^\s*[-+]?\d+\s*$/;

function primitiveAccepts(type: string | undefined, v: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof v === 'string';
    // protobuf JSON takes 64-bit integers as numbers or decimal strings
    case 'integer':
      return (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && INT_STRING.test(v));
    // doubles as numbers or strings ("NaN", "Infinity", "1.5")
    case 'number':
      return typeof v === 'number' || typeof v === 'string';
    // Tassel also takes "true" / "false" (query-string habits); MLflow only JSON booleans
    case 'boolean':
      return typeof v === 'boolean' || v === 'true' || v === 'false';
    case 'null':
      return v === null;
    default:
      return true;
  }
}

function compile(schema: Schema): Check | undefined {
  if (schema.anyOf) {
    const alternatives = schema.anyOf;
    const objects = alternatives.filter((s) => s.type === 'object').map((s) => compile(s));
    return (v, path, raw) => {
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && objects.length === 1) {
        objects[0]?.(v, path, raw);
        return;
      }
      if (!alternatives.some((s) => (s.type === 'object' ? isObject(v) : primitiveAccepts(s.type, v)))) {
        throw invalidParameter(path, v, raw);
      }
    };
  }
  if (schema.type === 'object') return compileObject(schema);
  if (schema.type === 'array') {
    const item = schema.items ? compile(schema.items) : undefined;
    return (v, path, raw) => {
      if (!Array.isArray(v)) throw invalidParameter(path, v, raw);
      if (item) for (let i = 0; i < v.length; i++) item(v[i], `${path}[${i}]`, raw);
    };
  }
  if (schema.type === undefined) return undefined;
  const type = schema.type;
  return (v, path, raw) => {
    if (!primitiveAccepts(type, v)) throw invalidParameter(path, v, raw);
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function compileObject(schema: Schema): Check {
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties ?? {}).map(([name, s]) => ({
    name,
    required: required.has(name),
    check: compile(s),
  }));
  return (v, path, raw) => {
    if (!isObject(v)) throw invalidParameter(path || 'body', v, raw);
    for (const f of fields) {
      const value = v[f.name];
      const at = path ? `${path}.${f.name}` : f.name;
      if (value === undefined || value === null) {
        if (f.required) throw new InputError(missingParameter(at));
        // protobuf reads an explicit null as "not set"
        if (value === null) delete v[f.name];
        continue;
      }
      f.check?.(value, at, raw);
    }
  };
}

/**
 * The check MLflow's handlers run on a JSON body before anything else (`_get_request_message` with the
 * handler's schema): a wrong JSON type is 400 "Invalid value 123 for parameter 'name' supplied", a required
 * field absent or null is 400 "Missing value for required parameter 'key'", an optional null is dropped.
 * Paths read as MLflow's (`metrics[0].timestamp`). Runs before Fastify's own validation, which would
 * otherwise coerce `123` to `"123"` and `null` to `""`.
 */
export function compileMlflowBodyCheck(schema: unknown): ((body: unknown, raw?: string) => void) | undefined {
  const check = compile(schema as Schema);
  if (!check) return undefined;
  return (body, raw) => {
    // No body at all is `{}` to MLflow; a DELETE's body may be null when its arguments come as query parameters.
    if (body === undefined || body === null) return;
    check(body, '', raw);
  };
}

/**
 * Installs the MLflow body check on every route registered after this call that has a body schema, and keeps
 * JSON bodies' text for the check's messages. Call it on the root instance before the routes.
 */
export function installMlflowRequestCheck(app: FastifyInstance): void {
  app.decorateRequest('mlflowRawBody', undefined);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    req.mlflowRawBody = body as string;
    parseJson(req, body as string, done);
  });
  app.addHook('onRoute', (route) => {
    const bodySchema = (route.schema as { body?: unknown } | undefined)?.body;
    if (!bodySchema) return;
    const check = compileMlflowBodyCheck(bodySchema);
    if (!check) return;
    const hook = (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
      try {
        check(req.body, req.mlflowRawBody);
      } catch (e) {
        done(e as Error);
        return;
      }
      done();
    };
    const existing = route.preValidation;
    route.preValidation = existing ? [...(Array.isArray(existing) ? existing : [existing]), hook] : hook;
  });
}

import { InputError } from '../../errors.js';

/** One `key comparator value` clause of an MLflow registry filter string. */
export interface FilterComparison {
  /** `metric` and `param` only in grammars that allow them (logged models). */
  type: 'attribute' | 'tag' | 'metric' | 'param';
  key: string;
  comparator: '=' | '!=' | '<' | '<=' | '>' | '>=' | 'LIKE' | 'ILIKE' | 'IN';
  value: string | number | string[];
}

export interface FilterGrammar {
  /** Attribute keys allowed without a `tags.` prefix. */
  attributes: ReadonlySet<string>;
  /** Attributes compared as numbers (only =, !=, <, <=, >, >=). */
  numericAttributes?: ReadonlySet<string>;
  /** Attributes that accept `IN ('a', 'b')`. */
  inAttributes?: ReadonlySet<string>;
  /** `metrics.<key>` (numeric comparisons) and `params.<key>` (string comparisons) are allowed. */
  metricsAndParams?: boolean;
}

/** MLflow's registered-model search grammar (SearchModelUtils). */
export const REGISTERED_MODEL_FILTER: FilterGrammar = { attributes: new Set(['name']) };

/** MLflow's model-version search grammar (SearchModelVersionUtils). */
export const MODEL_VERSION_FILTER: FilterGrammar = {
  attributes: new Set(['name', 'version_number', 'run_id', 'source_path']),
  numericAttributes: new Set(['version_number']),
  inAttributes: new Set(['run_id']),
};

/** MLflow 3's logged-model search grammar (attributes plus tags/params by name). */
export const LOGGED_MODEL_FILTER: FilterGrammar = {
  attributes: new Set([
    'name',
    'model_id',
    'model_type',
    'status',
    'source_run_id',
    'creation_timestamp',
    'last_updated_timestamp',
  ]),
  numericAttributes: new Set(['creation_timestamp', 'last_updated_timestamp']),
  metricsAndParams: true,
};

/** The entity a `prefix.` names, or undefined when the grammar has no such entity. */
function entityOf(prefix: string, grammar: FilterGrammar): FilterComparison['type'] | undefined {
  if (prefix === 'attribute' || prefix === 'attributes') return 'attribute';
  if (prefix === 'tag' || prefix === 'tags') return 'tag';
  if (!grammar.metricsAndParams) return undefined;
  if (prefix === 'metric' || prefix === 'metrics') return 'metric';
  if (prefix === 'param' || prefix === 'params') return 'param';
  return undefined;
}

type Token =
  | { t: 'ident'; v: string; quoted: boolean }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'op'; v: string }
  | { t: 'lparen' }
  | { t: 'rparen' }
  | { t: 'comma' }
  | { t: 'dot' };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let v = '';
      while (j < s.length && s[j] !== c) {
        if (s[j] === '\\' && j + 1 < s.length) {
          v += s[j + 1];
          j += 2;
        } else v += s[j++];
      }
      if (j >= s.length) throw new InputError(`Invalid filter string: unterminated quoted value in '${s}'`);
      // A double-quoted token may be an identifier (MLflow accepts "name" = 'x'); decided by position later.
      out.push(c === '"' ? { t: 'ident', v, quoted: true } : { t: 'string', v });
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j < 0) throw new InputError(`Invalid filter string: unterminated backtick in '${s}'`);
      out.push({ t: 'ident', v: s.slice(i + 1, j), quoted: true });
      i = j + 1;
    } else if (c === '(') {
      out.push({ t: 'lparen' });
      i++;
    } else if (c === ')') {
      out.push({ t: 'rparen' });
      i++;
    } else if (c === ',') {
      out.push({ t: 'comma' });
      i++;
    } else if (c === '.' && !/[0-9]/.test(s[i + 1] ?? '')) {
      out.push({ t: 'dot' });
      i++;
    } else if ('=!<>'.includes(c)) {
      const two = s.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=' || two === '==') {
        out.push({ t: 'op', v: two === '==' ? '=' : two });
        i += 2;
      } else if (c === '!') {
        throw new InputError(`Invalid filter string: unexpected '!' in '${s}'`);
      } else {
        out.push({ t: 'op', v: c });
        i++;
      }
    } else if (/[-0-9.]/.test(c)) {
      const m = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(s.slice(i));
      if (!m) throw new InputError(`Invalid filter string: unexpected '${c}' in '${s}'`);
      out.push({ t: 'number', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_:-]*/.exec(s.slice(i))!;
      out.push({ t: 'ident', v: m[0], quoted: false });
      i += m[0].length;
    } else {
      throw new InputError(`Invalid filter string: unexpected character '${c}' in '${s}'`);
    }
  }
  return out;
}

const WORD_OPS = new Set(['LIKE', 'ILIKE', 'IN']);

/**
 * Parses MLflow's registry filter grammar: `clause [AND clause]...` where a clause is
 * `[attribute.|tag.|tags.]key <op> value`; string values are quoted, `IN` takes a parenthesised list.
 * Errors are INVALID_PARAMETER_VALUE with a message naming the bad part, as MLflow does.
 */
export function parseRegistryFilter(filter: string | undefined, grammar: FilterGrammar): FilterComparison[] {
  if (!filter || filter.trim() === '') return [];
  const toks = tokenize(filter);
  const out: FilterComparison[] = [];
  let i = 0;
  const valid = [...grammar.attributes].join("', '");
  while (i < toks.length) {
    if (out.length > 0) {
      const and = toks[i];
      if (!(and.t === 'ident' && !and.quoted && and.v.toUpperCase() === 'AND')) {
        throw new InputError(
          `Invalid clause(s) in filter string: ${filter}. Only AND is supported between clauses.`,
        );
      }
      i++;
    }
    // identifier: [entity .] key
    const first = toks[i];
    if (first?.t !== 'ident') throw new InputError(`Invalid clause(s) in filter string: ${filter}`);
    i++;
    let type: FilterComparison['type'] = 'attribute';
    let key = first.v;
    if (toks[i]?.t === 'dot' && !first.quoted) {
      const entity = entityOf(first.v, grammar);
      if (!entity) {
        const valid = grammar.metricsAndParams
          ? "('attributes', 'metrics', 'params', 'tags')"
          : "('attribute', 'tag', 'tags')";
        throw new InputError(`Invalid entity type '${first.v}'. Valid entity types are ${valid}`);
      }
      type = entity;
      i++;
      // The key is everything up to the comparator (MLflow splits on the first dot only).
      const parts: string[] = [];
      while (toks[i] && (toks[i].t === 'ident' || toks[i].t === 'dot' || toks[i].t === 'number')) {
        const t = toks[i];
        if (t.t === 'ident' && !t.quoted && WORD_OPS.has(t.v.toUpperCase()) && parts.length > 0) break;
        parts.push(t.t === 'dot' ? '.' : String((t as { v: string | number }).v));
        i++;
      }
      key = parts.join('');
      if (!key) throw new InputError(`Invalid clause(s) in filter string: ${filter}`);
    }
    if (type === 'attribute' && !grammar.attributes.has(key)) {
      throw new InputError(`Invalid attribute key '${key}' specified. Valid keys are '{'${valid}'}'`);
    }
    const opTok = toks[i++];
    let comparator: string | undefined;
    if (opTok?.t === 'op') comparator = opTok.v;
    else if (opTok?.t === 'ident' && !opTok.quoted && WORD_OPS.has(opTok.v.toUpperCase())) {
      comparator = opTok.v.toUpperCase();
    }
    if (!comparator)
      throw new InputError(`Invalid clause(s) in filter string: ${filter}. Expected a comparator.`);
    const numeric =
      type === 'metric' || (type === 'attribute' && (grammar.numericAttributes?.has(key) ?? false));
    if (numeric && !['=', '!=', '<', '<=', '>', '>='].includes(comparator)) {
      throw new InputError(
        `Invalid comparator for ${type === 'metric' ? 'metric' : 'attribute'} ${key}: ${comparator}`,
      );
    }
    const kind = type === 'attribute' ? 'attribute' : type;
    if (!numeric && ['<', '<=', '>', '>='].includes(comparator)) {
      throw new InputError(`Invalid comparator for ${kind}: ${comparator}`);
    }
    if (comparator === 'IN' && !(type === 'attribute' && grammar.inAttributes?.has(key))) {
      throw new InputError(`Invalid comparator for ${kind}: IN`);
    }
    let value: FilterComparison['value'];
    if (comparator === 'IN') {
      if (toks[i]?.t !== 'lparen')
        throw new InputError(`Expected a list of quoted string values for IN in '${filter}'`);
      i++;
      const list: string[] = [];
      while (toks[i] && toks[i].t !== 'rparen') {
        const t = toks[i];
        if (t.t === 'string' || (t.t === 'ident' && t.quoted)) list.push(t.v);
        else if (t.t !== 'comma')
          throw new InputError(`Expected a list of quoted string values for IN in '${filter}'`);
        i++;
      }
      if (toks[i]?.t !== 'rparen') throw new InputError(`Invalid filter string: unclosed '(' in '${filter}'`);
      i++;
      value = list;
    } else {
      const v = toks[i++];
      if (numeric) {
        if (v?.t === 'number') value = v.v;
        else if ((v?.t === 'string' || (v?.t === 'ident' && v.quoted)) && /^-?\d+$/.test(v.v))
          value = Number(v.v);
        else
          throw new InputError(
            `Expected numeric value type for numeric ${type === 'metric' ? 'metric' : 'attribute'}: ${key}. Found ${describe(v)}`,
          );
      } else if (v?.t === 'string' || (v?.t === 'ident' && v.quoted)) {
        value = v.v;
      } else {
        throw new InputError(
          `Expected a quoted string value for ${type === 'attribute' ? 'attributes' : kind} (e.g. 'my-value'). Got value ${describe(v)}`,
        );
      }
    }
    out.push({ type, key, comparator: comparator as FilterComparison['comparator'], value });
  }
  return out;
}

function describe(t: Token | undefined): string {
  if (!t) return 'nothing';
  if ('v' in t) return String(t.v);
  return t.t;
}

/** Parses `"key [ASC|DESC]"` into a key and a direction (MLflow's _parse_order_by_string). */
export function parseOrderBy(
  clause: string,
  validKeys: ReadonlySet<string>,
): { key: string; ascending: boolean } {
  const m = /^\s*(?:attribute\.)?`?([A-Za-z_][A-Za-z0-9_]*)`?\s*(ASC|DESC)?\s*$/i.exec(clause);
  if (!m) throw new InputError(`Invalid order_by clause '${clause}'. Could not be parsed.`);
  const key = m[1];
  if (!validKeys.has(key)) {
    throw new InputError(
      `Invalid order by key '${key}' specified. Valid keys are '{'${[...validKeys].join("', '")}'}'`,
    );
  }
  return { key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

/** MLflow's page token: base64 of `{"offset": N}`. */
export function createPageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64');
}

/** Reads an MLflow page token; a malformed one is INVALID_PARAMETER_VALUE. */
export function parsePageToken(token: string | undefined): number {
  if (!token) return 0;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
  } catch {
    throw new InputError('Invalid page token, could not base64-decode');
  }
  const offset = (parsed as { offset?: unknown } | null)?.offset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    throw new InputError(`Invalid page token, parsed value=${JSON.stringify(parsed)}`);
  }
  return offset;
}

/** Converts a SQL LIKE pattern to an equivalent case-sensitive SQLite GLOB pattern. */
export function likeToGlob(pattern: string): string {
  let out = '';
  for (const ch of pattern) {
    if (ch === '%') out += '*';
    else if (ch === '_') out += '?';
    else if (ch === '*' || ch === '?' || ch === '[' || ch === ']') out += `[${ch}]`;
    else out += ch;
  }
  return out;
}

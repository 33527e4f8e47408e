import { InputError } from '../../errors.js';

/** What a filter identifier refers to. */
export type EntityType = 'metric' | 'param' | 'tag' | 'attribute' | 'dataset';

export type Comparator =
  | '='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'LIKE'
  | 'ILIKE'
  | 'IN'
  | 'NOT IN'
  | 'IS NULL'
  | 'IS NOT NULL';

/** One comparison `<type>.<key> <comparator> <value>`. */
export interface Comparison {
  kind: 'cmp';
  type: EntityType;
  key: string;
  comparator: Comparator;
  /** A string, a number, a list of strings (IN / NOT IN) or null (IS [NOT] NULL). */
  value: string | number | string[] | null;
}

/** A parsed filter: comparisons joined by AND / OR, with parentheses. */
export type FilterNode = Comparison | { kind: 'and' | 'or'; children: FilterNode[] };

const PREFIXES: Record<string, EntityType> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
  dataset: 'dataset',
  datasets: 'dataset',
};

type Token =
  | { t: 'ident'; v: string; quotedParts: boolean }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'op'; v: string }
  | { t: 'kw'; v: string }
  | { t: '(' }
  | { t: ')' }
  | { t: ',' };

const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'LIKE', 'ILIKE', 'IS', 'NULL']);

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = input.length;
  const quoted = (q: string): string => {
    let s = '';
    i++;
    while (i < n) {
      const c = input[i];
      if (c === '\\' && i + 1 < n) {
        s += input[i + 1];
        i += 2;
        continue;
      }
      if (c === q) {
        if (input[i + 1] === q) {
          s += q;
          i += 2;
          continue;
        }
        i++;
        return s;
      }
      s += c;
      i++;
    }
    throw new InputError(`Invalid filter '${input}': unterminated quoted string.`);
  };
  while (i < n) {
    const c = input[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ t: c } as Token);
      i++;
    } else if (c === '!' || c === '<' || c === '>' || c === '=') {
      const two = input.slice(i, i + 2);
      if (two === '!=' || two === '<=' || two === '>=' || two === '<>' || two === '==') {
        out.push({ t: 'op', v: two === '<>' ? '!=' : two === '==' ? '=' : two });
        i += 2;
      } else if (c === '!') {
        throw new InputError(`Invalid filter '${input}': unexpected '!'.`);
      } else {
        out.push({ t: 'op', v: c });
        i++;
      }
    } else if (c === "'" || c === '"') {
      // A quoted string right after a dot-ended identifier is that identifier's key (metrics."my key").
      const prev = out[out.length - 1];
      const s = quoted(c);
      if (prev?.t === 'ident' && prev.v.endsWith('.')) {
        prev.v += s;
        prev.quotedParts = true;
      } else out.push({ t: 'str', v: s });
    } else if (c === '`') {
      const s = quoted('`');
      const prev = out[out.length - 1];
      if (prev?.t === 'ident' && prev.v.endsWith('.')) {
        prev.v += s;
        prev.quotedParts = true;
      } else out.push({ t: 'ident', v: s, quotedParts: true });
    } else if (
      /[0-9]/.test(c) ||
      ((c === '-' || c === '+' || c === '.') && /[0-9.]/.test(input[i + 1] ?? ''))
    ) {
      const m = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(input.slice(i));
      if (!m) throw new InputError(`Invalid filter '${input}': bad number.`);
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w.:/-]*/.exec(input.slice(i))!;
      const word = m[0];
      i += word.length;
      if (KEYWORDS.has(word.toUpperCase()) && !word.includes('.'))
        out.push({ t: 'kw', v: word.toUpperCase() });
      else out.push({ t: 'ident', v: word, quotedParts: false });
    } else {
      throw new InputError(`Invalid filter '${input}': unexpected character '${c}'.`);
    }
  }
  return out;
}

/** Splits `metrics.acc` into its entity type and key; a bare name is an attribute. */
export function parseIdentifier(ident: string, filter: string): { type: EntityType; key: string } {
  const dot = ident.indexOf('.');
  if (dot < 0) return { type: 'attribute', key: ident };
  const prefix = ident.slice(0, dot).toLowerCase();
  const type = PREFIXES[prefix];
  if (!type) {
    throw new InputError(
      `Invalid entity type '${ident.slice(0, dot)}' in '${filter}'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']`,
    );
  }
  const key = ident.slice(dot + 1);
  if (!key) throw new InputError(`Invalid identifier '${ident}' in '${filter}': missing key.`);
  return { type, key };
}

/**
 * Parses MLflow's search filter grammar (`metrics.x > 0.5 AND params.y = 'a'`, backquoted or quoted keys,
 * `= != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL`) extended with OR and parentheses. AND binds
 * tighter than OR. Returns undefined for an empty filter.
 */
export function parseSearchFilter(filter: string | undefined): FilterNode | undefined {
  if (filter === undefined || filter.trim() === '') return undefined;
  const tokens = tokenize(filter);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (why: string): never => {
    throw new InputError(`Invalid filter '${filter}': ${why}`);
  };
  const isKw = (v: string) => {
    const t = peek();
    return t?.t === 'kw' && t.v === v;
  };

  function parseOr(): FilterNode {
    const children = [parseAnd()];
    while (isKw('OR')) {
      pos++;
      children.push(parseAnd());
    }
    return children.length === 1 ? children[0] : { kind: 'or', children };
  }
  function parseAnd(): FilterNode {
    const children = [parseAtom()];
    while (isKw('AND')) {
      pos++;
      children.push(parseAtom());
    }
    return children.length === 1 ? children[0] : { kind: 'and', children };
  }
  function parseAtom(): FilterNode {
    const t = peek();
    if (!t) return fail('unexpected end of filter.');
    if (t.t === '(') {
      pos++;
      const inner = parseOr();
      if (peek()?.t !== ')') fail("missing ')'.");
      pos++;
      return inner;
    }
    if (t.t !== 'ident')
      return fail(`expected an identifier such as metrics.<key>, got '${'v' in t ? t.v : t.t}'.`);
    pos++;
    const { type, key } = parseIdentifier(t.v, filter!);
    return parseComparison(type, key);
  }
  function parseComparison(type: EntityType, key: string): Comparison {
    const t = peek();
    if (!t) return fail(`missing comparator after '${key}'.`);
    if (t.t === 'op') {
      pos++;
      return { kind: 'cmp', type, key, comparator: t.v as Comparator, value: parseScalar() };
    }
    if (t.t === 'kw') {
      pos++;
      if (t.v === 'LIKE' || t.v === 'ILIKE') {
        const v = parseScalar();
        if (typeof v !== 'string') fail(`${t.v} needs a string value.`);
        return { kind: 'cmp', type, key, comparator: t.v, value: v };
      }
      if (t.v === 'IN') return { kind: 'cmp', type, key, comparator: 'IN', value: parseList() };
      if (t.v === 'NOT') {
        if (isKw('IN')) {
          pos++;
          return { kind: 'cmp', type, key, comparator: 'NOT IN', value: parseList() };
        }
        return fail('expected IN after NOT.');
      }
      if (t.v === 'IS') {
        let negated = false;
        if (isKw('NOT')) {
          pos++;
          negated = true;
        }
        if (!isKw('NULL')) fail('expected NULL after IS.');
        pos++;
        return { kind: 'cmp', type, key, comparator: negated ? 'IS NOT NULL' : 'IS NULL', value: null };
      }
    }
    return fail(`invalid comparator after '${key}'.`);
  }
  function parseScalar(): string | number {
    const t = peek();
    if (t?.t === 'str' || t?.t === 'num') {
      pos++;
      return t.v;
    }
    return fail('expected a quoted string or a number as value.');
  }
  function parseList(): string[] {
    if (peek()?.t !== '(') fail("IN needs a parenthesised list such as ('a', 'b').");
    pos++;
    const values: string[] = [];
    for (;;) {
      const t = peek();
      if (t?.t !== 'str' && t?.t !== 'num') return fail('IN lists hold quoted strings.');
      values.push(String(t.v));
      pos++;
      const next = peek();
      if (next?.t === ',') {
        pos++;
        continue;
      }
      if (next?.t === ')') {
        pos++;
        break;
      }
      return fail("missing ')' after IN list.");
    }
    return values;
  }

  const tree = parseOr();
  if (pos < tokens.length) fail('unexpected trailing input.');
  return tree;
}

/** One parsed order_by clause. */
export interface OrderClause {
  type: EntityType;
  key: string;
  ascending: boolean;
}

/** Parses an order_by entry such as `metrics.acc DESC`, `` params.`lr` `` or `start_time ASC`. */
export function parseOrderBy(clause: string): OrderClause {
  const m = /^\s*(.+?)(?:\s+(ASC|DESC))?\s*$/i.exec(clause);
  if (!m) throw new InputError(`Invalid order_by clause '${clause}'.`);
  const tokens = tokenize(m[1]);
  if (tokens.length !== 1 || tokens[0].t !== 'ident')
    throw new InputError(`Invalid order_by clause '${clause}'.`);
  const { type, key } = parseIdentifier(tokens[0].v, clause);
  return { type, key, ascending: (m[2] ?? 'ASC').toUpperCase() === 'ASC' };
}

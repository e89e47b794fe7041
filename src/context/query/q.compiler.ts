/**
 * Compiles a parsed `q` expression to a SQL boolean expression over one ngsi_entities row
 * (storage contract: attrs is {expandedIri: [instance, ...]}). Every user value, attribute
 * IRI and path segment is a bound parameter. Comparisons are typed by the literal: a
 * number compares only with JSON numbers, a string only with JSON strings, a date-time
 * only with strings that parse as one (helpers in migrations/0041_query_functions.sql).
 * A multi-attribute matches when any instance matches; an array value when any element
 * matches.
 */
import { badRequest } from '../../platform/http/errors.js';
import type { CompileContext } from './compile-context.js';
import {
  ENTITY_MEMBERS,
  INSTANCE_MEMBERS,
  type AttrPath,
  type CompareOp,
  type QExpr,
  type QValue,
} from './q.parser.js';

/** Where the candidate values of a term come from: a FROM item yielding `c.v` (jsonb). */
interface Candidates {
  /** FROM item defining `alias` with column `v` (and `k` when hasKind). */
  from: string;
  alias: string;
  /** Candidates carry a kind column `k` ('vocab' values also match the expanded term). */
  hasKind: boolean;
  /** String literals are compared with their expanded IRI (entity types). */
  expandAlways: boolean;
}

class QCompiler {
  private aliasCount = 0;

  constructor(private readonly ctx: CompileContext) {}

  text(value: string): string {
    return `${this.ctx.param(value)}::text`;
  }

  compile(expr: QExpr): string {
    switch (expr.kind) {
      case 'and':
      case 'or':
        return `(${expr.terms.map((t) => this.compile(t)).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
      case 'exists':
        return this.compileExists(expr.path, expr.negated);
      default: {
        const exact = this.withLeaf(expr.path, (c) => this.leafPredicate(expr, c));
        const prefilter = this.prefilter(expr);
        return prefilter ? `(${prefilter} AND ${exact})` : exact;
      }
    }
  }

  /**
   * For equality, value lists and numeric comparisons or ranges on a plain attribute: a
   * jsonpath test that every match also passes (the same typed comparison; lax mode looks
   * into arrays). It is an order of magnitude cheaper than the exact test, so most rows
   * never reach that. The path is a bound parameter; literals in it are JSON-encoded,
   * which is valid jsonpath.
   */
  prefilter(expr: QExpr): string | null {
    if (expr.kind !== 'compare' && expr.kind !== 'list' && expr.kind !== 'range') return null;
    if (expr.kind !== 'compare' && expr.negated) return null;
    const { path } = expr;
    if (path.subPath.length > 0 || path.compound.length > 0 || isEntityMember(path)) return null;

    const numeric = [
      '@.value',
      '@.value."@value"',
      '@.valueList',
      '@.valueList."@value"',
      '@.json',
    ];
    let tests: string[];
    if (expr.kind === 'range') {
      if (expr.from.type !== 'number' || expr.to.type !== 'number') return null;
      const [from, to] = [jsonpathNumber(expr.from), jsonpathNumber(expr.to)];
      tests = numeric.map((m) => `(${m} >= ${from} && ${m} <= ${to})`);
    } else if (expr.kind === 'compare' && expr.op !== '==') {
      if (expr.op === '!=' || expr.value.type !== 'number') return null;
      tests = numeric.map((m) => `${m} ${expr.op} ${jsonpathNumber(expr.value as NumberValue)}`);
    } else {
      const values = expr.kind === 'compare' ? [expr.value] : expr.values;
      const literals: string[] = [];
      for (const value of values) {
        switch (value.type) {
          case 'number':
            literals.push(jsonpathNumber(value));
            break;
          case 'boolean':
            literals.push(String(value.value));
            break;
          case 'string':
          case 'uri': {
            literals.push(JSON.stringify(value.value));
            const expanded = this.ctx.expand(value.value);
            if (expanded !== value.value) literals.push(JSON.stringify(expanded));
            break;
          }
          default:
            return null; // dates and times compare by parsed value, not by text
        }
      }
      const members = [
        ...numeric,
        '@.value."@id"',
        '@.object',
        '@.object."@id"',
        '@.objectList',
        '@.objectList.object',
        '@.objectList."@id"',
        '@.languageMap.*',
        '@.languageMap."@value"',
        '@.vocab',
        '@.vocab."@id"',
      ];
      // A long list makes a long path: the exact test alone is cheaper then.
      if (literals.length > 32) return null;
      tests = literals.flatMap((literal) => members.map((m) => `${m} == ${literal}`));
    }
    const jsonpath = `$.${JSON.stringify(this.ctx.expand(path.attr))}[*] ? (${tests.join(' || ')})`;
    // A function call rather than the @? operator: with jsonb_ops the GIN index answers
    // wildcard paths slower than evaluating the path row by row.
    return `jsonb_path_exists(${this.ctx.alias}.attrs, (${this.text(jsonpath)})::jsonpath)`;
  }

  compileExists(path: AttrPath, negated: boolean): string {
    const a = this.ctx.alias;
    let sql: string;
    if (isEntityMember(path)) {
      sql = 'TRUE';
    } else if (path.subPath.length === 0 && path.compound.length === 0) {
      sql = `(${a}.attrs ? ${this.text(this.ctx.expand(path.attr))})`;
    } else {
      sql = this.withLeaf(path, (c) => `EXISTS (SELECT 1 FROM ${c.from})`);
    }
    return negated ? `(NOT ${sql})` : sql;
  }

  /**
   * Walks attribute → sub-attribute instances with nested EXISTS and calls `leaf` with
   * the candidate values at the end of the path.
   */
  withLeaf(path: AttrPath, leaf: (c: Candidates) => string): string {
    const a = this.ctx.alias;
    if (isEntityMember(path)) return leaf(this.entityMember(path.attr));

    const attrIri = this.text(this.ctx.expand(path.attr));
    const segments = [...path.subPath];
    const last = segments.at(-1);
    const member = last !== undefined && INSTANCE_MEMBERS.has(last) ? segments.pop() : undefined;
    if (member !== undefined && path.compound.length > 0) {
      throw badRequest(`Invalid q: "${member}" has no members to address with [..]`, [
        { path: 'q', message: `"${member}" has no members` },
      ]);
    }

    const levels: { source: string; alias: string }[] = [];
    let source = `${a}.attrs -> ${attrIri}`;
    for (const segment of [null, ...segments]) {
      if (segment !== null) {
        source = `${levels.at(-1)!.alias}.inst -> ${this.text(this.ctx.expand(segment))}`;
      }
      levels.push({ source, alias: `qi${++this.aliasCount}` });
    }
    const inst = `${levels.at(-1)!.alias}.inst`;

    let candidates: Candidates;
    const alias = this.nextCandidate();
    if (member !== undefined) {
      candidates = {
        from: `ngsi_q_items(${inst} -> ${this.text(member)}) AS ${alias}(v)`,
        alias,
        hasKind: false,
        expandAlways: false,
      };
    } else if (path.compound.length > 0) {
      const raw = path.compound.map((s) => this.text(s)).join(', ');
      const expandedSegments = path.compound.map((s) => this.ctx.expand(s));
      const changed = expandedSegments.some((s, i) => s !== path.compound[i]);
      const target = changed
        ? `COALESCE(ngsi_q_primary(${inst}) #> ARRAY[${raw}], ngsi_q_primary(${inst}) #> ARRAY[${expandedSegments.map((s) => this.text(s)).join(', ')}])`
        : `ngsi_q_primary(${inst}) #> ARRAY[${raw}]`;
      candidates = {
        from: `ngsi_q_items(${target}) AS ${alias}(v)`,
        alias,
        hasKind: false,
        expandAlways: false,
      };
    } else {
      candidates = {
        from: `ngsi_q_values(${inst}) AS ${alias}(v, k)`,
        alias,
        hasKind: true,
        expandAlways: false,
      };
    }

    let sql = leaf(candidates);
    for (let i = levels.length - 1; i >= 0; i--) {
      const level = levels[i]!;
      sql = `EXISTS (SELECT 1 FROM jsonb_array_elements(ngsi_q_as_array(${level.source})) AS ${level.alias}(inst) WHERE ${sql})`;
    }
    // The key-existence test lets the planner use the GIN index on attrs.
    return `(${a}.attrs ? ${attrIri} AND ${sql})`;
  }

  nextCandidate(): string {
    return `qc${++this.aliasCount}`;
  }

  entityMember(name: string): Candidates {
    const a = this.ctx.alias;
    const alias = this.nextCandidate();
    switch (name) {
      case 'id':
      case '@id':
        return {
          from: `(VALUES (to_jsonb(${a}.id))) AS ${alias}(v)`,
          alias,
          hasKind: false,
          expandAlways: false,
        };
      case 'type':
      case '@type':
        return {
          from: `(SELECT to_jsonb(t) FROM unnest(${a}.types) AS t) AS ${alias}(v)`,
          alias,
          hasKind: false,
          expandAlways: true,
        };
      case 'createdAt':
        return {
          from: `(VALUES (to_jsonb(${a}.created_at))) AS ${alias}(v)`,
          alias,
          hasKind: false,
          expandAlways: false,
        };
      default:
        return {
          from: `(VALUES (to_jsonb(${a}.modified_at))) AS ${alias}(v)`,
          alias,
          hasKind: false,
          expandAlways: false,
        };
    }
  }

  leafPredicate(expr: Exclude<QExpr, { kind: 'and' | 'or' | 'exists' }>, c: Candidates): string {
    const v = `${c.alias}.v`;
    const k = c.hasKind ? `${c.alias}.k` : null;
    const some = (where: string) => `EXISTS (SELECT 1 FROM ${c.from} WHERE ${where})`;
    const any = `EXISTS (SELECT 1 FROM ${c.from})`;
    switch (expr.kind) {
      case 'compare':
        if (expr.op === '!=') {
          return `(${any} AND NOT ${some(this.compare(v, k, c, '==', expr.value))})`;
        }
        return some(this.compare(v, k, c, expr.op, expr.value));
      case 'list': {
        const eq = expr.values.map((value) => this.compare(v, k, c, '==', value)).join(' OR ');
        return expr.negated ? `(${any} AND NOT ${some(`(${eq})`)})` : some(`(${eq})`);
      }
      case 'range': {
        const within = `(${this.compare(v, k, c, '>=', expr.from)} AND ${this.compare(v, k, c, '<=', expr.to)})`;
        return expr.negated ? `(${any} AND NOT ${some(within)})` : some(within);
      }
      case 'pattern': {
        const op = expr.caseInsensitive ? '~*' : '~';
        const match = `ngsi_q_str(${v}) ${op} ${this.text(expr.pattern)}`;
        return expr.negated
          ? `(${some(`ngsi_q_str(${v}) IS NOT NULL`)} AND NOT ${some(match)})`
          : some(match);
      }
    }
  }

  compare(v: string, k: string | null, c: Candidates, op: CompareOp, value: QValue): string {
    const sqlOp = op === '==' ? '=' : op === '!=' ? '<>' : op;
    switch (value.type) {
      case 'number':
        return `ngsi_q_num(${v}) ${sqlOp} (${this.text(value.text)})::numeric`;
      case 'boolean':
        return `ngsi_q_bool(${v}) ${sqlOp} (${this.text(String(value.value))})::boolean`;
      case 'dateTime':
        return `ngsi_q_ts(${v}) ${sqlOp} (${this.text(value.value)})::timestamptz`;
      case 'date':
        return `ngsi_q_date(${v}) ${sqlOp} (${this.text(value.value)})::date`;
      case 'time':
        return `ngsi_q_time(${v}) ${sqlOp} (${this.text(value.value)})::time`;
      case 'string':
      case 'uri': {
        if (c.expandAlways) {
          return `ngsi_q_str(${v}) COLLATE "C" ${sqlOp} ${this.text(this.ctx.expand(value.value))}`;
        }
        const plain = `ngsi_q_str(${v}) COLLATE "C" ${sqlOp} ${this.text(value.value)}`;
        if (k === null || (op !== '==' && op !== '!=')) return plain;
        const expanded = this.ctx.expand(value.value);
        if (expanded === value.value) return plain;
        // A VocabProperty's vocab is stored expanded: compare with the expanded term too.
        return `(${plain} OR (${k} = 'vocab' AND ngsi_q_str(${v}) = ${this.text(expanded)}))`;
      }
    }
  }
}

type NumberValue = Extract<QValue, { type: 'number' }>;

/** A number as a jsonpath literal (the query's own spelling when jsonpath accepts it). */
function jsonpathNumber(value: NumberValue): string {
  // jsonpath wants JSON numbers: no leading zeros, a digit before the point.
  const text = value.text.replace(/^(-?)\./, '$10.').replace(/^(-?)0+(?=\d)/, '$1');
  return /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) ? text : String(value.value);
}

function isEntityMember(path: AttrPath): boolean {
  return path.subPath.length === 0 && path.compound.length === 0 && ENTITY_MEMBERS.has(path.attr);
}

/** SQL boolean expression for a parsed `q` over the row `ctx.alias`. */
export function compileQ(expr: QExpr, ctx: CompileContext): string {
  return new QCompiler(ctx).compile(expr);
}

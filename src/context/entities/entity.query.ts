/**
 * Compiles entity query parameters (type expressions, ids, idPattern, attrs, q, scopeQ,
 * geo-queries) into one SQL WHERE clause with bound parameters. Nothing is filtered in
 * JavaScript: pagination and counts are exact.
 */
import { badRequest } from '../../platform/http/errors.js';
import { parameterList, type CompileContext } from '../query/compile-context.js';
import { compileQ } from '../query/q.compiler.js';
import { compileGeoQuery, parseGeoQuery } from '../query/geo.js';
import { parseQ } from '../query/q.parser.js';
import { compileScopeQ, parseScopeQ } from '../query/scope-q.js';
import type { TermMap } from '../jsonld/term-map.js';
import { isUri, isValidName } from './entity.model.js';
import {
  entitySourceSql,
  entityViewSql,
  visibilitySql,
  type EntityQuerySql,
  type Visibility,
} from './entity.repository.js';

export interface EntitySelector {
  id?: string | undefined;
  idPattern?: string | undefined;
  /** A type expression: names joined by `,` `|` (or), `;` (and), with parentheses. */
  type?: string | undefined;
}

export interface GeoParams {
  georel?: string | undefined;
  geometry?: string | undefined;
  coordinates?: unknown;
  geoproperty?: string | undefined;
}

export interface EntityQuery {
  tenant: string;
  visibility: Visibility;
  map: TermMap;
  /** OR of selectors; each selector ANDs its members. */
  selectors: EntitySelector[];
  /** Ids given as a list (GET ?id=a,b). */
  ids?: string[] | undefined;
  /** Expanded attribute IRIs: the entity must have at least one. */
  attrs?: string[] | undefined;
  q?: string | undefined;
  scopeQ?: string | undefined;
  geo?: GeoParams | undefined;
}

type TypeExpr = { kind: 'type'; name: string } | { kind: 'and' | 'or'; items: TypeExpr[] };

/** Parses a type expression (`A,B`, `A|B`, `A;B`, `(A|B);C`). */
export function parseTypeExpression(source: string): TypeExpr {
  const tokens = source.match(/[(),;|]|[^(),;|]+/g) ?? [];
  let pos = 0;
  const fail = (): never => {
    throw badRequest(`Invalid type expression: ${source}`);
  };
  const atom = (): TypeExpr => {
    const t = tokens[pos++]?.trim();
    if (t === '(') {
      const inner = or();
      if (tokens[pos++] !== ')') fail();
      return inner;
    }
    if (t === undefined || !isValidName(t)) return fail();
    return { kind: 'type', name: t };
  };
  const and = (): TypeExpr => {
    const items = [atom()];
    while (tokens[pos] === ';') {
      pos++;
      items.push(atom());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  };
  const or = (): TypeExpr => {
    const items = [and()];
    while (tokens[pos] === ',' || tokens[pos] === '|') {
      pos++;
      items.push(and());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  };
  if (tokens.length === 0) fail();
  const expr = or();
  if (pos !== tokens.length) fail();
  return expr;
}

function compileType(expr: TypeExpr, ctx: CompileContext): string {
  if (expr.kind === 'type')
    return `${ctx.alias}.types @> ARRAY[${ctx.param(ctx.expand(expr.name))}::text]`;
  if (expr.kind === 'or' && expr.items.every((i) => i.kind === 'type')) {
    const names = expr.items.map((i) => ctx.expand((i as { name: string }).name));
    return `${ctx.alias}.types && ${ctx.param(names)}::text[]`;
  }
  const parts = expr.items.map((i) => `(${compileType(i, ctx)})`);
  return parts.join(expr.kind === 'and' ? ' AND ' : ' OR ');
}

function checkPattern(pattern: string): void {
  try {
    new RegExp(pattern);
  } catch {
    throw badRequest(`Invalid idPattern: ${pattern}`);
  }
}

export function buildEntityWhere(query: EntityQuery): EntityQuerySql {
  const ctx = parameterList('e', (term) => query.map.expand(term));
  const clauses = [
    `e.tenant = ${ctx.param(query.tenant)}`,
    visibilitySql(query.visibility, 'e', ctx.param),
  ];
  if (query.ids && query.ids.length > 0) {
    if (!query.ids.every(isUri)) throw badRequest('id must be a list of URIs');
    clauses.push(`e.id = ANY(${ctx.param(query.ids)}::text[])`);
  }
  const selectors = query.selectors.map((s) => {
    const parts: string[] = [];
    if (s.id !== undefined) {
      if (!isUri(s.id)) throw badRequest(`Invalid entity id ${s.id}`);
      parts.push(`e.id = ${ctx.param(s.id)}`);
    }
    if (s.idPattern !== undefined) {
      checkPattern(s.idPattern);
      parts.push(`e.id ~ ${ctx.param(s.idPattern)}`);
    }
    if (s.type !== undefined) parts.push(`(${compileType(parseTypeExpression(s.type), ctx)})`);
    return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
  });
  if (selectors.length > 0) clauses.push(`(${selectors.map((s) => `(${s})`).join(' OR ')})`);
  if (query.attrs && query.attrs.length > 0) {
    clauses.push(`e.attrs ?| ${ctx.param(query.attrs)}::text[]`);
  }
  if (query.q !== undefined) clauses.push(`(${compileQ(parseQ(query.q), ctx)})`);
  if (query.scopeQ !== undefined)
    clauses.push(`(${compileScopeQ(parseScopeQ(query.scopeQ), ctx)})`);
  const geo = query.geo ? parseGeoQuery(query.geo) : null;
  if (geo) {
    // Non-admins: tested on the GeoProperty as the caller reads it (cut from the row's
    // attributes when hidden, snapped to a grid when coarsened), never the exact geometry.
    clauses.push(`(${compileGeoQuery(geo, ctx, !query.visibility.all)})`);
  }
  const from = entitySourceSql(query.visibility, ctx.param);
  const whereParams = ctx.params.length;
  const viewSql = entityViewSql(query.visibility, ctx.param);
  return {
    where: clauses.join(' AND '),
    params: ctx.params,
    from,
    ...(viewSql ? { viewSql, whereParams } : {}),
  };
}

/**
 * What the query compilers need from the caller. Compilers return a SQL boolean
 * expression over one `ngsi_entities` row; every user-supplied value (including
 * attribute IRIs) goes through `param`, so nothing is ever spliced into SQL.
 */
export interface CompileContext {
  /** SQL alias of the ngsi_entities row, e.g. 'e'. Trusted: chosen by the caller. */
  alias: string;
  /** SQL expression for the tenant of that row (e.g. 'e.tenant'). Trusted. */
  tenantSql: string;
  /** Attribute or type name → expanded IRI using the request @context. */
  expand(term: string): string;
  /** Pushes a bound parameter and returns its placeholder ('$n'). */
  param(value: unknown): string;
}

/** A CompileContext over a fresh parameter list, for callers that build one query. */
export function parameterList(
  alias: string,
  expand: (term: string) => string,
  params: unknown[] = [],
): CompileContext & { params: unknown[] } {
  return {
    alias,
    tenantSql: `${alias}.tenant`,
    expand,
    params,
    param(value: unknown) {
      params.push(value);
      return `$${params.length}`;
    },
  };
}

/**
 * NGSI-LD scope queries (ETSI GS CIM 009 v1.9, clause 4.19). A scope is a path such as
 * /Madrid/Gardens/ParkNorte. In scopeQ, `+` stands for exactly one level, a final `#` for
 * the scope itself and all its descendants (`/#` alone: any scope), `,` and `|` are OR,
 * `;` is AND (binding tighter than OR) and parentheses group. An entity matches a scope
 * term when any of its scopes does.
 */
import { badRequest } from '../../platform/http/errors.js';
import type { CompileContext } from './compile-context.js';

export type ScopeExpr =
  | { kind: 'and'; terms: ScopeExpr[] }
  | { kind: 'or'; terms: ScopeExpr[] }
  /** levels: path levels, '+' for any single level; descendants: ended with '/#'. */
  | { kind: 'scope'; levels: string[]; descendants: boolean };

const LEVEL = /^[^/#+;|,()\s\p{Cc}]+$/u;
const MAX_LENGTH = 4096;

class ScopeParser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly src: string) {}

  fail(message: string): never {
    throw badRequest(`Invalid scopeQ at position ${this.pos + 1}: ${message}`, [
      { path: 'scopeQ', message },
    ]);
  }

  parse(): ScopeExpr {
    if (this.src.length > MAX_LENGTH) this.fail(`longer than ${MAX_LENGTH} characters`);
    if (this.src.trim() === '') this.fail('empty scope query');
    const expr = this.parseOr();
    if (this.pos < this.src.length) this.fail(`unexpected "${this.src[this.pos]}"`);
    return expr;
  }

  parseOr(): ScopeExpr {
    const terms = [this.parseAnd()];
    while (this.src[this.pos] === '|' || this.src[this.pos] === ',') {
      this.pos++;
      terms.push(this.parseAnd());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  }

  parseAnd(): ScopeExpr {
    const terms = [this.parsePrimary()];
    while (this.src[this.pos] === ';') {
      this.pos++;
      terms.push(this.parsePrimary());
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  }

  parsePrimary(): ScopeExpr {
    if (this.src[this.pos] === '(') {
      if (++this.depth > 32) this.fail('parentheses nested too deeply');
      this.pos++;
      const inner = this.parseOr();
      if (this.src[this.pos] !== ')') this.fail('expected ")"');
      this.pos++;
      this.depth--;
      return inner;
    }
    const start = this.pos;
    while (this.pos < this.src.length && !';|,()'.includes(this.src[this.pos]!)) this.pos++;
    const text = this.src.slice(start, this.pos);
    if (!text.startsWith('/')) {
      this.pos = start;
      this.fail('a scope starts with "/"');
    }
    const parts = text.slice(1).split('/');
    let descendants = false;
    if (parts.at(-1) === '#') {
      descendants = true;
      parts.pop();
    }
    if (parts.length === 1 && parts[0] === '' && descendants) {
      return { kind: 'scope', levels: [], descendants: true };
    }
    for (const level of parts) {
      if (level !== '+' && !LEVEL.test(level)) {
        this.pos = start;
        this.fail(`invalid scope level "${level}" in "${text}"`);
      }
    }
    return { kind: 'scope', levels: parts, descendants };
  }
}

export function parseScopeQ(scopeQ: string): ScopeExpr {
  return new ScopeParser(scopeQ).parse();
}

const escapeRegex = (s: string) => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** The anchored PostgreSQL regular expression one scope term stands for. */
export function scopeRegex(term: Extract<ScopeExpr, { kind: 'scope' }>): string {
  const body = term.levels.map((l) => (l === '+' ? '/[^/]+' : `/${escapeRegex(l)}`)).join('');
  if (term.levels.length === 0) return '^/.+$';
  return term.descendants ? `^${body}(/.+)?$` : `^${body}$`;
}

/** SQL boolean expression (never NULL) for a parsed scopeQ over the row `ctx.alias`. */
export function compileScopeQ(expr: ScopeExpr, ctx: CompileContext): string {
  switch (expr.kind) {
    case 'and':
    case 'or':
      return `(${expr.terms.map((t) => compileScopeQ(t, ctx)).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'scope': {
      const scopes = `${ctx.alias}.scopes`;
      if (!expr.descendants && !expr.levels.includes('+')) {
        const exact = `/${expr.levels.join('/')}`;
        return `COALESCE(${scopes} @> ARRAY[${ctx.param(exact)}::text], false)`;
      }
      return `EXISTS (SELECT 1 FROM unnest(${scopes}) AS qs(scope) WHERE qs.scope ~ ${ctx.param(scopeRegex(expr))}::text)`;
    }
  }
}

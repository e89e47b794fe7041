/**
 * Parser for the NGSI-LD query language `q` (ETSI GS CIM 009 v1.9, clause 4.9) into a
 * small AST. `;` (AND) binds tighter than `|` (OR); parentheses group. A syntax error is
 * a BadRequestData problem that says where the parser stopped.
 *
 * Grammar accepted (a superset of the spec's ABNF, see docs/ngsi-ld-query.md):
 *   expr      := and ('|' and)*
 *   and       := primary (';' primary)*
 *   primary   := '(' expr ')' | term
 *   term      := '!'? attribute | attribute op value
 *   attribute := name ('.' name)* ('[' name ('.' name)* ']')*
 *   op        := '==' | '!=' | '>=' | '>' | '<=' | '<' | '~=' | '!~='
 *   value     := literal | literal '..' literal | literal (',' literal)+   (lists/ranges: == and != only)
 *   literal   := number | "quoted string" | dateTime | date | time | true | false | URI
 */
import { AppError, badRequest } from '../../platform/http/errors.js';

export type CompareOp = '==' | '!=' | '>' | '>=' | '<' | '<=';

export type QValue =
  | { type: 'number'; value: number; text: string }
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'dateTime'; value: string }
  | { type: 'date'; value: string }
  | { type: 'time'; value: string }
  /** An unquoted token (a URI such as a Relationship object); compared as a string. */
  | { type: 'uri'; value: string };

/**
 * Where a term looks: `attr` → the attribute's value; `attr.sub.subsub` → a
 * sub-attribute (or one of the members observedAt/createdAt/modifiedAt/datasetId/
 * unitCode/lang); `attr[a.b]` or `attr[a][b]` → a member path inside the (compound) value.
 * A bare `id`, `type`, `createdAt` or `modifiedAt` (no sub path) is the entity's own member.
 */
export interface AttrPath {
  attr: string;
  subPath: string[];
  compound: string[];
}

export type QExpr =
  | { kind: 'and'; terms: QExpr[] }
  | { kind: 'or'; terms: QExpr[] }
  /** `attr` (exists) or `!attr` (does not exist). */
  | { kind: 'exists'; path: AttrPath; negated: boolean }
  | { kind: 'compare'; path: AttrPath; op: CompareOp; value: QValue }
  /** `attr==a,b,c` (any of) or `attr!=a,b,c` (none of). */
  | { kind: 'list'; path: AttrPath; negated: boolean; values: QValue[] }
  /** `attr==a..b` (inclusive range) or `attr!=a..b` (outside it). */
  | { kind: 'range'; path: AttrPath; negated: boolean; from: QValue; to: QValue }
  /** `attr~=regex` / `attr!~=regex`; `(?i)` at the start makes it case-insensitive. */
  | {
      kind: 'pattern';
      path: AttrPath;
      negated: boolean;
      pattern: string;
      caseInsensitive: boolean;
    };

/** Entity members a bare name refers to (they are reserved: never attribute names). */
export const ENTITY_MEMBERS = new Set(['id', '@id', 'type', '@type', 'createdAt', 'modifiedAt']);

/** Members of an attribute instance a dot path may name instead of a sub-attribute. */
export const INSTANCE_MEMBERS = new Set([
  'observedAt',
  'createdAt',
  'modifiedAt',
  'deletedAt',
  'datasetId',
  'unitCode',
  'lang',
]);

const MAX_LENGTH = 8192;
const MAX_DEPTH = 32;
const MAX_TERMS = 100;

const DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?/;
const DATE = /^\d{4}-\d{2}-\d{2}/;
const TIME = /^\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?/;
const NUMBER = /^-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/;
/** Characters that end a bare token (URI) in value position. */
const VALUE_END = new Set([';', '|', ')', ',']);
/** Characters that cannot be part of an attribute name. */
const NAME_STOP = new Set([
  '.',
  '[',
  ']',
  '=',
  '!',
  '<',
  '>',
  '~',
  ';',
  '|',
  '(',
  ')',
  ',',
  '"',
  "'",
]);

class QParser {
  private pos = 0;
  private depth = 0;
  private terms = 0;

  constructor(private readonly src: string) {}

  fail(message: string): never {
    throw badRequest(`Invalid q at position ${this.pos + 1}: ${message}`, [{ path: 'q', message }]);
  }

  peek(offset = 0): string {
    return this.src[this.pos + offset] ?? '';
  }

  startsWith(token: string): boolean {
    return this.src.startsWith(token, this.pos);
  }

  skipSpace(): void {
    while (/\s/.test(this.peek())) this.pos++;
  }

  parse(): QExpr {
    if (this.src.length > MAX_LENGTH) this.fail(`longer than ${MAX_LENGTH} characters`);
    if ([...this.src].some((c) => c.charCodeAt(0) < 32 && !'\t\n\r'.includes(c))) {
      this.fail('control characters are not allowed');
    }
    this.skipSpace();
    if (this.pos >= this.src.length) this.fail('empty query');
    const expr = this.parseOr();
    this.skipSpace();
    if (this.terms > MAX_TERMS) {
      throw new AppError('too_complex_query', `q has more than ${MAX_TERMS} terms`);
    }
    if (this.pos < this.src.length) {
      this.fail(this.peek() === ')' ? 'unbalanced ")"' : `unexpected "${this.peek()}"`);
    }
    return expr;
  }

  parseOr(): QExpr {
    const terms = [this.parseAnd()];
    this.skipSpace();
    while (this.peek() === '|') {
      this.pos++;
      terms.push(this.parseAnd());
      this.skipSpace();
    }
    return terms.length === 1 ? terms[0]! : { kind: 'or', terms };
  }

  parseAnd(): QExpr {
    const terms = [this.parsePrimary()];
    this.skipSpace();
    while (this.peek() === ';') {
      this.pos++;
      terms.push(this.parsePrimary());
      this.skipSpace();
    }
    return terms.length === 1 ? terms[0]! : { kind: 'and', terms };
  }

  parsePrimary(): QExpr {
    this.skipSpace();
    if (this.peek() === '(') {
      if (++this.depth > MAX_DEPTH) this.fail('parentheses nested too deeply');
      this.pos++;
      const inner = this.parseOr();
      this.skipSpace();
      if (this.peek() !== ')') this.fail('expected ")"');
      this.pos++;
      this.depth--;
      return inner;
    }
    return this.parseTerm();
  }

  parseTerm(): QExpr {
    this.terms++;
    if (this.peek() === '!' && this.peek(1) !== '=' && this.peek(1) !== '~') {
      this.pos++;
      return { kind: 'exists', path: this.parseAttribute(), negated: true };
    }
    const path = this.parseAttribute();
    this.skipSpace();
    const op = this.parseOperator();
    if (!op) return { kind: 'exists', path, negated: false };
    this.skipSpace();
    if (op === '~=' || op === '!~=') return this.parsePattern(path, op === '!~=');

    const first = this.parseLiteral(op);
    if (this.startsWith('..')) {
      if (op !== '==' && op !== '!=') this.fail('a range is only allowed with == or !=');
      this.pos += 2;
      const to = this.parseLiteral(op);
      for (const end of [first, to]) {
        if (end.type === 'boolean' || end.type === 'uri') {
          this.fail('range bounds must be numbers, quoted strings, dates, times or date-times');
        }
      }
      if (first.type !== to.type) this.fail('both range bounds must have the same type');
      return { kind: 'range', path, negated: op === '!=', from: first, to };
    }
    if (this.peek() === ',') {
      if (op !== '==' && op !== '!=') this.fail('a value list is only allowed with == or !=');
      const values = [first];
      while (this.peek() === ',') {
        this.pos++;
        values.push(this.parseLiteral(op));
      }
      return { kind: 'list', path, negated: op === '!=', values };
    }
    if ((first.type === 'boolean' || first.type === 'uri') && op !== '==' && op !== '!=') {
      this.fail(`${op} needs a number, quoted string, date, time or date-time`);
    }
    return { kind: 'compare', path, op, value: first };
  }

  parseOperator(): CompareOp | '~=' | '!~=' | null {
    for (const op of ['==', '!=', '>=', '<=', '!~=', '~=', '>', '<'] as const) {
      if (this.startsWith(op)) {
        this.pos += op.length;
        if (this.peek() === '=') this.fail(`unknown operator "${op}="`);
        return op;
      }
    }
    const c = this.peek();
    if (c === '=' || c === '!' || c === '~') this.fail(`unknown operator starting with "${c}"`);
    return null;
  }

  parseName(what: string): string {
    const start = this.pos;
    // A full IRI's authority (https://example.org) may contain dots: take it whole.
    const iri = /^[A-Za-z][A-Za-z0-9+-]*:\/\/[^/\s;|()[\]=!<>~,"']*/.exec(this.src.slice(this.pos));
    if (iri) this.pos += iri[0].length;
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (NAME_STOP.has(c) || /\s/.test(c)) break;
      this.pos++;
    }
    const name = this.src.slice(start, this.pos);
    if (name === '') this.fail(`expected ${what}`);
    return name;
  }

  parseAttribute(): AttrPath {
    this.skipSpace();
    const attr = this.parseName('an attribute name');
    const subPath: string[] = [];
    while (this.peek() === '.') {
      this.pos++;
      subPath.push(this.parseName('a sub-attribute name after "."'));
    }
    const compound: string[] = [];
    while (this.peek() === '[') {
      this.pos++;
      compound.push(this.parseName('a member name after "["'));
      while (this.peek() === '.') {
        this.pos++;
        compound.push(this.parseName('a member name after "."'));
      }
      if (this.peek() !== ']') this.fail('expected "]"');
      this.pos++;
    }
    return { attr, subPath, compound };
  }

  parseLiteral(op: string): QValue {
    const c = this.peek();
    if (c === '"') return { type: 'string', value: this.parseQuoted() };
    if (c === '') this.fail(`expected a value after ${op}`);
    const rest = this.src.slice(this.pos);
    const typed: [RegExp, 'dateTime' | 'date' | 'time' | 'number'][] = [
      [DATE_TIME, 'dateTime'],
      [DATE, 'date'],
      [TIME, 'time'],
      [NUMBER, 'number'],
    ];
    for (const [re, type] of typed) {
      const match = re.exec(rest);
      if (match && this.endsValue(this.pos + match[0].length)) {
        this.pos += match[0].length;
        const text = match[0];
        if (type === 'number') {
          const value = Number(text);
          if (!Number.isFinite(value)) this.fail(`number out of range: ${text}`);
          return { type, value, text };
        }
        if (!validTemporal(type, text)) this.fail(`invalid ${type}: ${text}`);
        return { type, value: text };
      }
    }
    for (const word of ['true', 'false']) {
      if (rest.startsWith(word) && this.endsValue(this.pos + word.length)) {
        this.pos += word.length;
        return { type: 'boolean', value: word === 'true' };
      }
    }
    // A bare token: a URI (e.g. a Relationship object) or another unquoted identifier.
    const start = this.pos;
    while (this.pos < this.src.length) {
      const ch = this.peek();
      if (VALUE_END.has(ch) || /\s/.test(ch) || this.startsWith('..')) break;
      if (ch === '"' || ch === '(') this.fail(`unexpected "${ch}" in value`);
      this.pos++;
    }
    const token = this.src.slice(start, this.pos);
    if (token === '') this.fail(`expected a value after ${op}`);
    return { type: 'uri', value: token };
  }

  endsValue(at: number): boolean {
    const next = this.src[at];
    return next === undefined || VALUE_END.has(next) || this.src.startsWith('..', at);
  }

  parseQuoted(): string {
    this.pos++; // opening quote
    let out = '';
    while (this.pos < this.src.length) {
      const c = this.peek();
      if (c === '\\') {
        const next = this.peek(1);
        if (next === '"' || next === '\\') {
          out += next;
          this.pos += 2;
          continue;
        }
      }
      if (c === '"') {
        this.pos++;
        return out;
      }
      out += c;
      this.pos++;
    }
    return this.fail('unterminated quoted string');
  }

  parsePattern(path: AttrPath, negated: boolean): QExpr {
    let pattern: string;
    if (this.peek() === '"') {
      pattern = this.parseQuoted();
    } else {
      // Unquoted: up to the next ';' or '|' outside the pattern's own parentheses, or an
      // unmatched ')' (which closes an enclosing group).
      const start = this.pos;
      let depth = 0;
      while (this.pos < this.src.length) {
        const c = this.peek();
        if (c === '\\') {
          this.pos += 2;
          continue;
        }
        if (c === '(') depth++;
        else if (c === ')') {
          if (depth === 0) break;
          depth--;
        } else if ((c === ';' || c === '|') && depth === 0) break;
        this.pos++;
      }
      pattern = this.src.slice(start, Math.min(this.pos, this.src.length));
    }
    let caseInsensitive = false;
    if (pattern.startsWith('(?i)')) {
      caseInsensitive = true;
      pattern = pattern.slice(4);
    }
    if (pattern === '') this.fail('empty pattern');
    try {
      new RegExp(pattern);
    } catch {
      this.fail('invalid regular expression');
    }
    // JavaScript-only constructs the database's (POSIX) regular expressions reject, and
    // repetition counts above its limit of 255.
    if (/\(\?<[A-Za-z]|\\k<|\\[pP]\{|\\u\{/.test(pattern)) {
      this.fail('unsupported regular expression construct');
    }
    for (const [, low, high] of pattern.matchAll(/\{(\d+)(?:,(\d*))?\}/g)) {
      if (Number(low) > 255 || Number(high || 0) > 255) {
        this.fail('repetition counts above 255 are not supported');
      }
    }
    return { kind: 'pattern', path, negated, pattern, caseInsensitive };
  }
}

function validTemporal(type: 'dateTime' | 'date' | 'time', text: string): boolean {
  const time = type === 'time' ? text : type === 'dateTime' ? text.slice(11) : '';
  if (time !== '') {
    const [hh, mm, ss] = time.split(':').map((part) => Number.parseFloat(part));
    if (hh! > 23 || mm! > 59 || (ss !== undefined && ss >= 61)) return false;
  }
  if (type === 'time') return true;
  const [y, m, d] = text.slice(0, 10).split('-').map(Number);
  const date = new Date(Date.UTC(y!, m! - 1, d!));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m! - 1 && date.getUTCDate() === d;
}

/** Parses a `q` expression; throws a BadRequestData AppError on a syntax error. */
export function parseQ(q: string): QExpr {
  return new QParser(q).parse();
}

/**
 * Strings PostgreSQL cannot store. NUL characters and unpaired UTF-16 surrogates are
 * valid in JSON text (as \u escapes) but not in PostgreSQL text or jsonb, and I-JSON
 * (RFC 7493) forbids them: every JSON body is checked when it is parsed, so they are
 * refused as bad input (400) instead of failing in the database (500).
 */
import { badRequest } from './errors.js';

// Raw NUL is not valid JSON and raw surrogates are not valid UTF-8, so such strings can
// only arrive as \u escapes: the walk below runs only when the text has one.
const SUSPECT_ESCAPE = /\\u(0000|[dD][89a-fA-F])/;
// eslint-disable-next-line no-control-regex -- NUL is exactly what this looks for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Throws BadRequestData when a string (or member name) in `value` cannot be stored. */
export function assertStorableJson(text: string, value: unknown): void {
  if (!SUSPECT_ESCAPE.test(text)) return;
  // Iterative, so a deeply nested body cannot exhaust the stack.
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (UNSTORABLE.test(item)) {
        throw badRequest('Strings must not contain NUL characters or unpaired surrogates');
      }
    } else if (item && typeof item === 'object') {
      for (const [key, member] of Object.entries(item)) stack.push(key, member);
    }
  }
}

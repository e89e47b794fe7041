/**
 * `application/x-www-form-urlencoded` bodies for the routes that need them (OAuth token
 * endpoint, sign-in form), parsed only inside the scope that registers them so other
 * features keep their own parsers.
 */
import type { FastifyInstance } from 'fastify';

export function acceptFormBodies(scope: FastifyInstance): void {
  scope.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      const out: Record<string, string> = {};
      for (const [key, value] of new URLSearchParams(body as string)) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if (key in out) {
          done(Object.assign(new Error(`repeated parameter ${key}`), { statusCode: 400 }));
          return;
        }
        out[key] = value;
      }
      done(null, out);
    },
  );
}

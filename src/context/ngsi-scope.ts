/**
 * What every NGSI-LD route scope (entities, temporal, subscriptions) shares: the JSON
 * media types NGSI-LD accepts, 415 for any other payload before parsing, and the tenant
 * echoed in the response.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../platform/http/errors.js';
import { parseJsonBody } from './ngsi-request.js';

export function registerNgsiLdMediaTypes(
  scope: FastifyInstance,
  options: { mergePatch: boolean },
): void {
  const parsed = options.mergePatch
    ? ['application/ld+json', 'application/merge-patch+json']
    : ['application/ld+json'];
  scope.addContentTypeParser(parsed, { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, body === '' ? undefined : parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // Any other media type is read as text here and refused (415) by the hook below.
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  // The tenant a request addressed is named in the response too.
  scope.addHook('onRequest', async (request, reply) => {
    const tenant = request.headers['ngsild-tenant'];
    if (typeof tenant === 'string' && tenant !== '') reply.header('NGSILD-Tenant', tenant);
  });
  const acceptPatch = ['application/json', ...parsed].join(', ');
  scope.addHook('preValidation', async (request) => {
    if (request.method !== 'POST' && request.method !== 'PATCH' && request.method !== 'PUT') return;
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === '' && request.body === undefined) return;
    const allowed =
      type === 'application/json' ||
      type === 'application/ld+json' ||
      (options.mergePatch && type === 'application/merge-patch+json' && request.method === 'PATCH');
    if (!allowed) {
      throw new AppError(
        'unsupported_media_type',
        `Content-Type ${type || '(none)'} is not accepted here`,
        request.method === 'PATCH' ? { headers: { 'Accept-Patch': acceptPatch } } : {},
      );
    }
  });
}

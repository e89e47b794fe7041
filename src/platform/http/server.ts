/**
 * Builds the HTTP server: Fastify with TypeBox schemas (validation, types and the
 * OpenAPI 3.1 document from one declaration), request ids, problem+json errors,
 * metrics per route, and every feature's routes.
 */
import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { Platform } from '../platform.js';
import { productVersion } from '../version.js';
import {
  anonymousActor,
  assertRouteAccess,
  checkRouteAccess,
  type Authenticator,
} from './access.js';
import { badRequest } from './errors.js';
import { assertStorableJson } from './json-body.js';
import { registerProblemHandlers, sendProblem } from './problem.js';

/** The server type every feature registers routes on (TypeBox-typed schemas). */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    /** Features that identify callers (tokens, sessions) add themselves here. */
    authenticators: Authenticator[];
  }
}

export interface Feature {
  name: string;
  register(app: App, platform: Platform): Promise<void> | void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function newRequestId(): string {
  return `req_${randomBytes(12).toString('base64url')}`;
}

export async function buildServer(platform: Platform, features: readonly Feature[]): Promise<App> {
  const { config, metrics } = platform;
  const app = Fastify({
    loggerInstance: platform.logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    // Only named proxies may set the client address; anyone else could forge it.
    trustProxy: config.trustProxy.length > 0 ? [...config.trustProxy] : false,
    // Accept a caller's correlation id when it is well-formed, mint one otherwise.
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newRequestId();
    },
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    return503OnClosing: true,
    // NGSI-LD entity ids are URIs in the path and often exceed Fastify's default of 100.
    routerOptions: { maxParamLength: 2048 },
    forceCloseConnections: 'idle',
    // Malformed percent-encoding in the path is the caller's error, reported like any other.
    frameworkErrors: (_error, request, reply) =>
      sendProblem(request, reply, badRequest('The URL is not validly percent-encoded')),
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRoute', (route) => assertRouteAccess(route));
  app.decorate('authenticators', [] as Authenticator[]);
  app.decorateRequest('actor', null as never);
  const anonymous = anonymousActor(config.anonymousRole);
  // Routing happens before onRequest, so the route's declaration is known here, and
  // callers who may not use a route are turned away before we read what they send.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    // PostgreSQL text cannot hold NUL: refuse it in paths and query strings up front.
    if (/%00/i.test(request.url)) throw badRequest('The URL must not contain NUL characters');
    request.actor = anonymous;
    for (const authenticate of app.authenticators) {
      const actor = await authenticate(request);
      if (actor) {
        request.actor = actor;
        break;
      }
    }
    const access = request.routeOptions.config.access;
    // Unmatched requests (404 handler) carry no declaration and nothing to protect.
    if (access) checkRouteAccess(request.actor, access);
  });
  app.addHook('onResponse', async (request, reply) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status_code: String(reply.statusCode),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  // Keep-alive connections that are busy when shutdown begins would otherwise stay open
  // (and hold the process) after their last response: tell those clients to go.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('Connection', 'close');
  });
  registerProblemHandlers(app);
  // Fastify's JSON parser (with its prototype-poisoning checks), refusing strings that
  // PostgreSQL cannot store (see json-body.ts).
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) =>
    json(request, body as string, (error, value) => {
      if (error) return done(error, undefined);
      try {
        assertStorableJson(body as string, value);
        done(null, value);
      } catch (failure) {
        done(failure as Error, undefined);
      }
    }),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Open City Platform node API',
        version: productVersion,
        description:
          'NGSI-LD context and temporal data, governance, identity, catalog and the public ledger of an Open City Platform node.',
      },
      servers: [{ url: config.publicUrl }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  for (const feature of features) await feature.register(app, platform);

  app.get('/openapi.json', { schema: { hide: true }, config: { access: 'public' } }, async () =>
    app.swagger(),
  );
  return app;
}

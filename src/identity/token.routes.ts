/**
 * The OAuth 2.0 authorization server endpoints of the node: the token endpoint
 * (client-credentials grant, RFC 6749 §4.4), the JWKS and the server metadata (RFC 8414).
 * Token endpoint errors use the OAuth JSON shape (§5.2), not problem+json, because that
 * is what OAuth client libraries parse.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { App } from '../platform/http/server.js';
import { acceptFormBodies } from './form-body.js';
import {
  AuthorizationServerMetadata,
  Jwks,
  OAuthError,
  TokenRequest,
  TokenResponse,
} from './identity.schemas.js';
import type { RegistryService } from './registry.service.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';
import type { TokenService } from './tokens.service.js';

const tags = ['identity'];

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded inside the Basic credentials. */
function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    return {
      id: decodeURIComponent(decoded.slice(0, colon).replaceAll('+', ' ')),
      secret: decodeURIComponent(decoded.slice(colon + 1).replaceAll('+', ' ')),
    };
  } catch {
    return null;
  }
}

function oauthError(
  reply: FastifyReply,
  status: 400 | 401,
  error: string,
  description: string,
  basic = false,
) {
  reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
  if (status === 401) reply.header('WWW-Authenticate', basic ? 'Basic realm="ocp"' : 'Bearer');
  return reply.code(status).send({ error, error_description: description });
}

export function registerTokenRoutes(
  app: App,
  registry: RegistryService,
  keys: SigningKeys,
  tokens: TokenService,
): void {
  const issuer = tokens.issuer;

  // Form bodies are parsed only in this scope, so other features keep their own parsers.
  void app.register(async (plain) => {
    const scope = plain.withTypeProvider<TypeBoxTypeProvider>();
    acceptFormBodies(plain);

    scope.post(
      '/auth/token',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'OAuth 2.0 token endpoint (client-credentials grant).',
          description:
            'Form-encoded (RFC 6749). Client authentication by client_secret_basic (HTTP Basic) or client_secret_post (client_id and client_secret in the form).',
          consumes: ['application/x-www-form-urlencoded'],
          body: TokenRequest,
          response: { 200: TokenResponse, 400: OAuthError, 401: OAuthError },
        },
      },
      async (request, reply) => {
        const form = request.body;
        const basic = basicCredentials(request.headers.authorization);
        if (basic && (form.client_id !== undefined || form.client_secret !== undefined)) {
          if (form.client_secret !== undefined || form.client_id !== basic.id) {
            return oauthError(
              reply,
              400,
              'invalid_request',
              'Use one client authentication method, not two',
            );
          }
        }
        if (!form.grant_type) {
          return oauthError(reply, 400, 'invalid_request', 'grant_type is required');
        }
        if (form.grant_type !== 'client_credentials') {
          return oauthError(
            reply,
            400,
            'unsupported_grant_type',
            'Only client_credentials is supported here',
          );
        }
        const id = basic?.id ?? form.client_id;
        const secret = basic?.secret ?? form.client_secret;
        if (!id || !secret) {
          return oauthError(reply, 401, 'invalid_client', 'Client authentication failed', true);
        }
        const client = await registry.authenticateClient(id, secret);
        if (!client) {
          return oauthError(reply, 401, 'invalid_client', 'Client authentication failed', !!basic);
        }
        const issued = await tokens.issue(client);
        reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
        return {
          access_token: issued.accessToken,
          token_type: 'Bearer' as const,
          expires_in: issued.expiresIn,
        };
      },
    );
  });

  app.get(
    '/.well-known/jwks.json',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'Public keys that verify the access tokens this node issues.',
        response: { 200: Jwks },
      },
    },
    async (_request, reply) => {
      // Short caching so verifiers pick up a rotation quickly.
      reply.header('Cache-Control', 'public, max-age=60');
      return { keys: (await keys.published()).map((k) => k.jwk as Record<string, unknown>) };
    },
  );

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'OAuth 2.0 authorization server metadata (RFC 8414).',
        response: { 200: AuthorizationServerMetadata },
      },
    },
    async () => ({
      issuer,
      token_endpoint: `${issuer}/auth/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      token_endpoint_auth_signing_alg_values_supported: [SIGNING_ALG],
      response_types_supported: ['token'],
      service_documentation: `${issuer}/docs`,
    }),
  );
}

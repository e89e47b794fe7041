/**
 * Who is calling, and may they call this route. Every route declares `config.access`;
 * a route without one makes the server refuse to start, so nothing is reachable by
 * accident. The check runs before any handler:
 *   - 'public'          anyone, including anonymous callers;
 *   - 'authenticated'   any identified caller;
 *   - { roles: [...] }  a caller holding one of these roles (admins pass every check).
 * Authenticators (the identity feature's bearer tokens, sessions, …) turn a request into
 * an Actor; with none that recognises the request, the caller is anonymous.
 */
import type { FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from './errors.js';

export const roles = ['admin', 'steward', 'publisher', 'consumer'] as const;
export type Role = (typeof roles)[number];

export interface Actor {
  kind: 'anonymous' | 'client' | 'person';
  /** `cli_…` for API clients, `per_…` for people; null when anonymous. */
  id: string | null;
  organisationId: string | null;
  roles: readonly Role[];
}

export type RouteAccess = 'public' | 'authenticated' | { roles: readonly Role[] };

/** Returns the actor for a request it recognises, null otherwise; throws 401 for bad credentials. */
export type Authenticator = (request: FastifyRequest) => Promise<Actor | null>;

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    actor: Actor;
  }
}

export function anonymousActor(role?: Role): Actor {
  return { kind: 'anonymous', id: null, organisationId: null, roles: role ? [role] : [] };
}

export function hasRole(actor: Actor, role: Role): boolean {
  return actor.roles.includes('admin') || actor.roles.includes(role);
}

/** The one access decision for routes. */
export function checkRouteAccess(actor: Actor, access: RouteAccess): void {
  if (access === 'public') return;
  const identified = actor.kind !== 'anonymous' || actor.roles.length > 0;
  if (!identified) throw unauthorized();
  if (access === 'authenticated') return;
  if (!access.roles.some((role) => hasRole(actor, role))) {
    throw forbidden(`This requires one of the roles: ${access.roles.join(', ')}`);
  }
}

/** Routes registered by third-party plugins we mount ourselves (API docs UI). */
const PLUGIN_PUBLIC_PREFIXES = ['/docs'];

/**
 * OpenAPI extension carrying each operation's declared access, so clients (and the shared
 * route-security test) can read who may call what from /openapi.json.
 */
export const ACCESS_EXTENSION = 'x-ocp-access';

export function assertRouteAccess(route: {
  url: string;
  method: string | string[];
  config?: { access?: RouteAccess };
  schema?: object;
}): void {
  if (
    !route.config?.access &&
    PLUGIN_PUBLIC_PREFIXES.some((p) => route.url === p || route.url.startsWith(`${p}/`))
  ) {
    route.config = { ...route.config, access: 'public' };
  }
  const access = route.config?.access;
  if (!access) {
    const method = Array.isArray(route.method) ? route.method.join(',') : route.method;
    throw new Error(`route ${method} ${route.url} declares no access requirement (config.access)`);
  }
  route.schema = { ...route.schema, [ACCESS_EXTENSION]: access };
}

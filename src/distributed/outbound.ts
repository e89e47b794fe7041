/**
 * The seam through which every request this node sends to a registered context source
 * gets its headers of identity — or is not sent at all. Distributed operations call
 * `authorize` for each outgoing request; the default forwards only what says *for whom
 * and why* (the caller's purpose and tenant) and nothing secret — the caller's own bearer
 * token is never forwarded to a third party. Another feature (federation) installs its
 * own authorizer, e.g. one that signs requests to peers (RFC 9421), adds a peer token for
 * the caller's organisation, and refuses to send anything to a peer whose peering is not
 * active, through `outboundAuthorizersOf(app).install(...)`.
 */
import type { Actor } from '../platform/http/access.js';

export interface OutboundRequest {
  method: string;
  url: string;
  body?: string;
  actor: Actor;
  purpose: string | null;
  tenant: string;
}

/** Send with these headers, or do not send (the caller reports `reason` as a warning). */
export type OutboundDecision =
  { ok: true; headers: Record<string, string> } | { ok: false; reason: string };

export interface OutboundRequestAuthorizer {
  authorize(req: OutboundRequest): Promise<OutboundDecision>;
}

/** OCP-Purpose and NGSILD-Tenant of a request; no credentials. */
export function defaultHeaders(req: OutboundRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  if (req.purpose !== null) headers['OCP-Purpose'] = req.purpose;
  if (req.tenant !== '') headers['NGSILD-Tenant'] = req.tenant;
  return headers;
}

/** Sends everything, with the default headers only. */
export const defaultOutboundAuthorizer: OutboundRequestAuthorizer = {
  async authorize(req) {
    return { ok: true, headers: defaultHeaders(req) };
  },
};

/**
 * The node's current outbound authorizer. One per node (decorated on the app as
 * `outboundAuthorizers`); `install` replaces the default and is meant to be called once,
 * at registration time, by the feature that owns node-to-node identity. Callers read
 * `current` for every request, so an authorizer installed after this feature registered
 * is still used.
 */
export class OutboundAuthorizerRegistry {
  private installed: OutboundRequestAuthorizer = defaultOutboundAuthorizer;

  get current(): OutboundRequestAuthorizer {
    return this.installed;
  }

  install(authorizer: OutboundRequestAuthorizer): void {
    this.installed = authorizer;
  }

  /** The installed authorizer's decision, with the default headers underneath its own. */
  async authorize(req: OutboundRequest): Promise<OutboundDecision> {
    const base = defaultHeaders(req);
    if (this.installed === defaultOutboundAuthorizer) return { ok: true, headers: base };
    const decision = await this.installed.authorize(req);
    return decision.ok ? { ok: true, headers: { ...base, ...decision.headers } } : decision;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Headers of identity for requests to context sources (distributed operations).
     * Federation installs its signer here; see docs/distributed-operations.md.
     */
    outboundAuthorizers: OutboundAuthorizerRegistry;
  }
}

/**
 * The node's registry, created on first use: whichever of distributed operations and
 * federation registers first creates it, so the order of features does not matter.
 */
export function outboundAuthorizersOf(app: {
  hasDecorator(name: string): boolean;
  decorate(name: string, value: unknown): unknown;
  outboundAuthorizers: OutboundAuthorizerRegistry;
}): OutboundAuthorizerRegistry {
  if (!app.hasDecorator('outboundAuthorizers')) {
    app.decorate('outboundAuthorizers', new OutboundAuthorizerRegistry());
  }
  return app.outboundAuthorizers;
}

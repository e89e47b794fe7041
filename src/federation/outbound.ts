/**
 * The federation's outbound authorizer for distributed operations: a request to a URL
 * of an active peer is signed with this node's key (RFC 9421) and carries a peer token
 * for the caller's organisation, so the peer applies its governance to the original
 * consumer. A request to a peer whose peering is not active (pending, suspended — by
 * either side — or removed) is not sent at all: sending it unsigned would let it through as an
 * anonymous read, and the caller is better told that the peer did not answer. The peer
 * table is read on every request, so a suspension applies to the very next one. Requests
 * anywhere else get the default headers only (purpose and tenant).
 */
import {
  defaultHeaders,
  type OutboundDecision,
  type OutboundRequest,
  type OutboundRequestAuthorizer,
} from '../distributed/outbound.js';
import type { Clock } from '../platform/clock.js';
import { signRequest } from './http-signatures.js';
import type { NodeKeys } from './node-keys.js';
import type { PeerTokens } from './peer-tokens.js';
import type { PeerDirectory } from './peers.directory.js';

export class FederationOutboundAuthorizer implements OutboundRequestAuthorizer {
  constructor(
    private readonly directory: PeerDirectory,
    private readonly tokens: PeerTokens,
    private readonly keys: NodeKeys,
    private readonly clock: Clock,
  ) {}

  async authorize(req: OutboundRequest): Promise<OutboundDecision> {
    const headers = defaultHeaders(req);
    const peer = await this.directory.peerByUrl(req.url, { includeRemoved: true });
    if (!peer) return { ok: true, headers };
    if (peer.status !== 'active') {
      return { ok: false, reason: `the peering with ${peer.name} is ${peer.status}` };
    }
    const minted = await this.tokens.mint(req.actor, peer, req.purpose);
    if (minted.ok) headers.Authorization = `Bearer ${minted.token}`;
    const signature = signRequest(
      {
        method: req.method,
        url: req.url,
        headers,
        ...(req.body !== undefined ? { body: req.body } : {}),
      },
      await this.keys.active(),
      this.clock.now(),
    );
    return {
      ok: true,
      headers: {
        ...headers,
        ...(signature['content-digest'] ? { 'Content-Digest': signature['content-digest'] } : {}),
        'Signature-Input': signature['signature-input']!,
        Signature: signature.signature!,
      },
    };
  }
}

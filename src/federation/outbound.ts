/**
 * The federation's outbound authorizer for distributed operations: a request to a URL
 * of an active peer is signed with this node's key (RFC 9421) and carries a peer token
 * for the caller's organisation, so the peer applies its governance to the original
 * consumer. Requests anywhere else get the default headers only (purpose and tenant).
 */
import {
  defaultOutboundAuthorizer,
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

  async headersFor(req: OutboundRequest): Promise<Record<string, string>> {
    const headers = await defaultOutboundAuthorizer.headersFor(req);
    const peer = await this.directory.peerByUrl(req.url);
    if (!peer || peer.status !== 'active') return headers;
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
      ...headers,
      ...(signature['content-digest'] ? { 'Content-Digest': signature['content-digest'] } : {}),
      'Signature-Input': signature['signature-input']!,
      Signature: signature.signature!,
    };
  }
}

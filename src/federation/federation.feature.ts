/**
 * Federation: the node's identity key and signed descriptor, peering with other nodes,
 * peer tokens and signed node-to-node requests, and the outbound authorizer that signs
 * distributed operations to peers. See docs/federation.md.
 */
import { outboundAuthorizersOf } from '../distributed/outbound.js';
import { createGuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Feature } from '../platform/http/server.js';
import { purgeNonces } from './http-signatures.js';
import { NodeKeys } from './node-keys.js';
import { FederationOutboundAuthorizer } from './outbound.js';
import { digestCheck, peerAuthenticator } from './peer-auth.js';
import { PeerTokens } from './peer-tokens.js';
import { peerDirectory } from './peers.directory.js';
import { HANDSHAKE_PATH, PeersService } from './peers.service.js';
import { registerFederationRoutes } from './federation.routes.js';

/** How often expired nonces are deleted (any process may do it; it is idempotent). */
const NONCE_PURGE_MS = 60_000;

export const federationFeature: Feature = {
  name: 'federation',
  async register(app, platform) {
    const { db, clock, config, logger } = platform;
    const keys = new NodeKeys(db, clock);
    await keys.ensure();
    const directory = peerDirectory(db);
    const fetcher = createGuardedFetcher(config.fetch);
    const peers = new PeersService(
      db,
      clock,
      config,
      keys,
      fetcher,
      logger.child({ feature: 'federation' }),
    );
    const tokens = new PeerTokens(
      db,
      clock,
      keys,
      directory,
      config.publicUrl,
      config.federation.peerTokenTtlSeconds,
    );

    app.decorateRequest('federationPeer', null);
    // First in line: a peer token would otherwise be refused by the node's own bearer check.
    app.authenticators.unshift(
      peerAuthenticator({
        db,
        clock,
        directory,
        tokens,
        publicUrl: config.publicUrl,
        windowSeconds: config.federation.signatureWindowSeconds,
        skipRoutes: new Set([HANDSHAKE_PATH]),
      }),
    );
    app.addHook('preParsing', digestCheck);

    outboundAuthorizersOf(app).install(
      new FederationOutboundAuthorizer(directory, tokens, keys, clock),
    );

    const timer = setInterval(() => {
      purgeNonces(db, clock.now()).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, 'purging federation nonces failed'),
      );
    }, NONCE_PURGE_MS);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));

    registerFederationRoutes(app, platform, { keys, peers, directory, tokens });
  },
};

/** Test helpers for federation: nodes on real loopback ports, their keys, and peering them. */
import assert from 'node:assert/strict';
import { governanceFeature } from '../governance/governance.feature.js';
import { identityFeature } from '../identity/identity.feature.js';
import { ADMIN_SECRET, bearer } from '../identity/identity.testing.js';
import { opsFeature } from '../ops/ops.routes.js';
import { systemClock } from '../platform/clock.js';
import type { Feature } from '../platform/http/server.js';
import type { Backend } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { federationFeature } from './federation.feature.js';
import { NodeKeys } from './node-keys.js';
import { freePort } from '../platform/testing/ports.js';

/** A node listening on a free loopback port whose public URL is that port. */
export async function startFederatedNode(
  backend: Backend,
  name: string,
  features: readonly Feature[] = [
    opsFeature,
    identityFeature,
    federationFeature,
    governanceFeature,
  ],
  env: Record<string, string> = {},
): Promise<TestNode> {
  const port = await freePort();
  return startTestNode({
    backend,
    mqtt: 'off',
    features,
    env: {
      OCP_PORT: String(port),
      OCP_PUBLIC_URL: `http://127.0.0.1:${port}`,
      OCP_NODE_NAME: name,
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
      OCP_FETCH_ALLOW_PRIVATE: 'true',
      OCP_FETCH_TIMEOUT_MS: '30000',
      ...env,
    },
  });
}

/** The fingerprint of a node's active identity key, as an admin gets it out of band. */
export async function fingerprintOfNode(node: TestNode): Promise<string> {
  return (await new NodeKeys(node.platform.db, systemClock).active()).fingerprint;
}

/** Adds `to` as a peer of `from` (one side of a peering); returns the response. */
export function addPeer(from: TestNode, admin: string, to: TestNode, fingerprint: string) {
  return from.app.inject({
    method: 'POST',
    url: '/api/v1/federation/peers',
    headers: bearer(admin),
    payload: { url: to.platform.config.publicUrl, fingerprint },
  });
}

/**
 * Peers two nodes both ways, so the peering is active on both sides. Returns each side's
 * local id of the peering (`atX` is how X calls its peer).
 */
export async function peerBoth(
  x: { node: TestNode; admin: string },
  y: { node: TestNode; admin: string },
): Promise<{ atX: string; atY: string }> {
  const first = await addPeer(x.node, x.admin, y.node, await fingerprintOfNode(y.node));
  assert.equal(first.statusCode, 201, first.body);
  const second = await addPeer(y.node, y.admin, x.node, await fingerprintOfNode(x.node));
  assert.equal(second.statusCode, 201, second.body);
  assert.equal(second.json().status, 'active');
  return { atX: first.json().peerId as string, atY: second.json().peerId as string };
}

/** Mints a peer token at `home` for the caller to use at `peer`. */
export async function peerToken(home: TestNode, token: string, peer: TestNode): Promise<string> {
  const minted = await home.app.inject({
    method: 'POST',
    url: '/api/v1/federation/peer-tokens',
    headers: bearer(token),
    payload: { peer: peer.platform.config.publicUrl },
  });
  assert.equal(minted.statusCode, 200, minted.body);
  return minted.json().access_token as string;
}

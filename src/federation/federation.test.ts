/**
 * Federation core: descriptor and signature formats, and two real nodes on loopback
 * ports peering, minting and accepting peer tokens, signed requests with replay
 * protection, and a suspension taking effect at once.
 */
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { adminToken, bearer, createClient } from '../identity/identity.testing.js';
import { systemClock } from '../platform/clock.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { signDescriptor, verifyDescriptor, type NodeDescriptor } from './descriptor.js';
import { fingerprintOfNode, startFederatedNode } from './federation.testing.js';
import { signRequest, verifyRequestSignature } from './http-signatures.js';
import { fingerprintOf, NodeKeys, type NodeKey } from './node-keys.js';
import { PEER_TOKEN_TYPE } from './peer-tokens.js';

function freshKey(): NodeKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { fingerprint: fingerprintOf(raw), publicKey: raw, privateKey, createdAt: new Date() };
}

describe('signature formats', () => {
  const key = freshKey();
  const now = new Date('2026-11-27T06:00:00Z');
  const url = 'https://b.example/ngsi-ld/v1/entities?type=Road';

  test('an RFC 9421 signature verifies, and not once anything it covers changes', () => {
    const headers = { authorization: 'Bearer x', 'OCP-Purpose': 'research' };
    const signed = signRequest({ method: 'GET', url, headers }, key, now);
    const incoming = (over: Record<string, string> = {}) => ({
      method: 'GET',
      targetUri: url,
      headers: { ...headers, 'ocp-purpose': 'research', ...signed, ...over },
    });
    const opts = { now, windowSeconds: 300 };
    assert.equal(verifyRequestSignature(incoming(), key.publicKey, opts).ok, true);
    const tampered = verifyRequestSignature(
      incoming({ 'ocp-purpose': 'marketing' }),
      key.publicKey,
      opts,
    );
    assert.equal(tampered.ok, false);
    const elsewhere = {
      ...incoming(),
      targetUri: 'https://c.example/ngsi-ld/v1/entities?type=Road',
    };
    assert.equal(verifyRequestSignature(elsewhere, key.publicKey, opts).ok, false);
    const late = { now: new Date(now.getTime() + 301_000), windowSeconds: 300 };
    assert.match(
      String(
        (verifyRequestSignature(incoming(), key.publicKey, late) as { reason: string }).reason,
      ),
      /too old/,
    );
    assert.equal(verifyRequestSignature(incoming(), freshKey().publicKey, opts).ok, false);
    // A covered header the signer did not sign is refused, not ignored.
    const unsignedHeader = verifyRequestSignature(
      incoming({ 'ngsild-tenant': 't1' }),
      key.publicKey,
      opts,
    );
    assert.equal(unsignedHeader.ok, false);
  });

  test('a body is bound by Content-Digest', () => {
    const signed = signRequest({ method: 'POST', url, headers: {}, body: '{"a":1}' }, key, now);
    const digest = createHash('sha256').update('{"a":1}').digest('base64');
    assert.equal(signed['content-digest'], `sha-256=:${digest}:`);
    assert.match(signed['signature-input']!, /"content-digest"/);
  });

  test('a descriptor verifies against its pin only', () => {
    const descriptor = {
      version: 1,
      nodeId: 'node_0123456789abcdef01234567',
    } as unknown as NodeDescriptor;
    const full: NodeDescriptor = {
      ...descriptor,
      name: 'A',
      jurisdiction: 'X',
      url: 'https://a.example',
      keys: [
        {
          fingerprint: key.fingerprint,
          alg: 'EdDSA',
          crv: 'Ed25519',
          x: key.publicKey.toString('base64url'),
          status: 'active',
        },
      ],
      ledger: {
        origin: 'a.example/ledger',
        checkpointUrl: 'https://a.example/ledger/checkpoint',
        keys: [],
      },
      token: {
        issuer: 'https://a.example',
        alg: 'EdDSA',
        typ: PEER_TOKEN_TYPE,
        keys: [key.fingerprint],
      },
      endpoints: {
        ngsiLd: 'https://a.example/ngsi-ld/v1',
        catalog: null,
        handshake: 'https://a.example/api/v1/federation/handshake',
        peerTokens: 'https://a.example/api/v1/federation/peer-tokens',
        ledger: 'https://a.example/ledger',
      },
      versions: { ocp: '0', descriptor: 1, ngsiLd: ['1.9'] },
      issuedAt: now.toISOString(),
    };
    const signed = signDescriptor(full, key);
    assert.equal(verifyDescriptor(signed, key.fingerprint).ok, true);
    assert.equal(verifyDescriptor(signed, freshKey().fingerprint).ok, false);
    const altered = { ...signed, descriptor: { ...full, url: 'https://evil.example' } };
    assert.equal(verifyDescriptor(altered, key.fingerprint).ok, false);
  });
});

async function ledgerTypes(node: TestNode): Promise<string[]> {
  const { rows } = await node.platform.db.query<{ type: string }>(
    "SELECT event->>'type' AS type FROM ledger_queue ORDER BY 1",
  );
  return rows.map((row) => row.type);
}

for (const backend of testBackends()) {
  describe(`two peered nodes (${backend})`, () => {
    let a: TestNode;
    let b: TestNode;
    let adminA: string;
    let adminB: string;
    let peerAtB: string;

    before(async () => {
      a = await startFederatedNode(backend, 'City A');
      b = await startFederatedNode(backend, 'City B');
      adminA = await adminToken(a);
      adminB = await adminToken(b);
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    const add = (from: TestNode, admin: string, to: TestNode, fingerprint: string) =>
      from.app.inject({
        method: 'POST',
        url: '/api/v1/federation/peers',
        headers: bearer(admin),
        payload: { url: to.platform.config.publicUrl, fingerprint },
      });

    test('the descriptor is public and signed; adding a peer needs an admin and the right pin', async () => {
      const res = await fetch(`${b.url}/.well-known/ocp-node`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as { descriptor: NodeDescriptor };
      assert.equal(doc.descriptor.name, 'City B');
      assert.equal(verifyDescriptor(doc, await fingerprintOfNode(b)).ok, true);

      const consumer = await createClient(a, adminA, ['consumer']);
      const denied = await add(a, consumer.token, b, await fingerprintOfNode(b));
      assert.equal(denied.statusCode, 403);
      const badPin = await add(a, adminA, b, await fingerprintOfNode(a));
      assert.equal(badPin.statusCode, 400, badPin.body);
      assert.match(badPin.json().detail, /pinned/);
      assert.equal(
        (await a.app.inject({ url: '/api/v1/federation/peers', headers: bearer(adminA) })).json()
          .length,
        0,
      );
    });

    test('peering becomes active only once both sides have added each other', async () => {
      const first = await add(a, adminA, b, await fingerprintOfNode(b));
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(first.json().status, 'pending');
      const second = await add(b, adminB, a, await fingerprintOfNode(a));
      assert.equal(second.statusCode, 201, second.body);
      assert.equal(second.json().status, 'active');
      peerAtB = second.json().peerId as string;
      const atA = (
        await a.app.inject({ url: '/api/v1/federation/peers', headers: bearer(adminA) })
      ).json();
      assert.equal(atA[0].status, 'active');
      assert.ok((await ledgerTypes(a)).includes('federation.peer_added'));
      assert.ok((await ledgerTypes(a)).includes('federation.peer_confirmed'));
    });

    test('a consumer of A acts at B with a peer token, as a local record of its organisation', async () => {
      const consumer = await createClient(a, adminA, ['consumer']);
      const minted = await a.app.inject({
        method: 'POST',
        url: '/api/v1/federation/peer-tokens',
        headers: bearer(consumer.token),
        payload: { peer: b.platform.config.publicUrl },
      });
      assert.equal(minted.statusCode, 200, minted.body);
      const token = minted.json().access_token as string;
      const grants = await b.app.inject({ url: '/api/v1/grants', headers: bearer(token) });
      assert.equal(grants.statusCode, 200, grants.body);
      const { rows } = await b.platform.db.query<{ name: string }>(
        `SELECT o.name FROM identity_organisations o
         JOIN federation_peer_organisations f ON f.organisation_id = o.id WHERE f.remote_id = $1`,
        [consumer.organisationId],
      );
      assert.deepEqual(
        rows.map((r) => r.name),
        ['Test organisation (City A)'],
      );
      // Not a token for A itself, nor for admin routes at B.
      assert.equal(
        (await a.app.inject({ url: '/api/v1/grants', headers: bearer(token) })).statusCode,
        401,
      );
      assert.equal(
        (await b.app.inject({ url: '/api/v1/federation/peers', headers: bearer(token) }))
          .statusCode,
        403,
      );
    });

    test('a peer token claiming admin, or from a node that is no peer, is refused', async () => {
      const keyA = await new NodeKeys(a.platform.db, systemClock).active();
      const mint = (key: NodeKey, roles: string[]) =>
        new SignJWT({ org: 'org_x', org_name: 'X', roles })
          .setProtectedHeader({ alg: 'EdDSA', kid: key.fingerprint, typ: PEER_TOKEN_TYPE })
          .setIssuer(a.platform.config.publicUrl)
          .setAudience(b.platform.config.publicUrl)
          .setSubject('cli_x')
          .setIssuedAt()
          .setExpirationTime('2m')
          .sign(key.privateKey);
      const admin = await b.app.inject({
        url: '/api/v1/grants',
        headers: bearer(await mint(keyA, ['admin'])),
      });
      assert.equal(admin.statusCode, 401);
      assert.match(admin.json().detail, /only vouch for consumers/);
      const stranger = await b.app.inject({
        url: '/api/v1/grants',
        headers: bearer(await mint(freshKey(), ['consumer'])),
      });
      assert.equal(stranger.statusCode, 401);
    });

    test('signed requests: accepted once, replay and stale created refused', async () => {
      const keyA = await new NodeKeys(a.platform.db, systemClock).active();
      const url = `${b.platform.config.publicUrl}/api/v1/grants`;
      const headers = signRequest({ method: 'GET', url, headers: {} }, keyA, new Date());
      const first = await fetch(url, { headers });
      assert.equal(first.status, 200);
      const replay = await fetch(url, { headers });
      assert.equal(replay.status, 401);
      assert.match(((await replay.json()) as { detail: string }).detail, /replayed/);
      const stale = signRequest(
        { method: 'GET', url, headers: {} },
        keyA,
        new Date(Date.now() - 3600_000),
      );
      assert.equal((await fetch(url, { headers: stale })).status, 401);
      const forged = signRequest({ method: 'GET', url, headers: {} }, freshKey(), new Date());
      assert.equal((await fetch(url, { headers: forged })).status, 401);
      // The body must match its digest.
      const body = JSON.stringify({ a: 1 });
      const post = signRequest(
        { method: 'POST', url, headers: { 'content-type': 'application/json' }, body },
        keyA,
        new Date(),
      );
      const swapped = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...post },
        body: '{"a":2}',
      });
      assert.equal(swapped.status >= 400, true);
    });

    test('a suspended peer is refused at once', async () => {
      const consumer = await createClient(a, adminA, ['consumer']);
      const minted = await a.app.inject({
        method: 'POST',
        url: '/api/v1/federation/peer-tokens',
        headers: bearer(consumer.token),
        payload: { peer: b.platform.config.publicUrl },
      });
      const token = minted.json().access_token as string;
      assert.equal(
        (await b.app.inject({ url: '/api/v1/grants', headers: bearer(token) })).statusCode,
        200,
      );
      const suspended = await b.app.inject({
        method: 'POST',
        url: `/api/v1/federation/peers/${peerAtB}/suspend`,
        headers: bearer(adminB),
      });
      assert.equal(suspended.json().status, 'suspended');
      assert.equal(
        (await b.app.inject({ url: '/api/v1/grants', headers: bearer(token) })).statusCode,
        401,
      );
      // A was told: it no longer counts B as active, so it mints no more tokens for it.
      const atA = (
        await a.app.inject({ url: '/api/v1/federation/peers', headers: bearer(adminA) })
      ).json();
      assert.equal(atA[0].status, 'pending');
      assert.ok((await ledgerTypes(b)).includes('federation.peer_suspended'));
    });
  });
}

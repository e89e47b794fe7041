import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { generateKeyPair, SignJWT, exportJWK } from 'jose';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  ADMIN_SECRET,
  adminToken,
  bearer,
  createClient,
  form,
  requestToken,
  startIdentityNode,
  TestClock,
  tokenFor,
} from './identity.testing.js';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

for (const backend of testBackends()) {
  describe(`access tokens (${backend})`, () => {
    const clock = new TestClock();
    let node: TestNode;
    let admin: string;

    before(async () => {
      node = await startIdentityNode(backend, { clock });
      admin = await adminToken(node);
    });
    after(() => node?.close());
    // Tests move the clock forward; a fresh admin token keeps each one independent.
    beforeEach(async () => {
      admin = await adminToken(node);
    });

    const me = (token: string) =>
      node.app.inject({ method: 'GET', url: '/api/v1/me', headers: bearer(token) });

    it('issues a token for client credentials in the form body and accepts it', async () => {
      const client = await createClient(node, admin, ['publisher']);
      const res = await node.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({
          grant_type: 'client_credentials',
          client_id: client.clientId,
          client_secret: client.secret,
        }),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json();
      assert.equal(body.token_type, 'Bearer');
      assert.equal(body.expires_in, 300);
      const [header, payload] = (body.access_token as string)
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      assert.equal(header.alg, 'EdDSA');
      assert.equal(header.typ, 'at+jwt');
      assert.equal(payload.iss, 'http://ocp.test');
      assert.equal(payload.sub, client.clientId);
      assert.equal(payload.exp - payload.iat, 300);

      const who = await me(body.access_token);
      assert.equal(who.statusCode, 200, who.body);
      assert.deepEqual(who.json(), {
        kind: 'client',
        id: client.clientId,
        organisationId: client.organisationId,
        roles: ['publisher'],
      });
    });

    it('accepts client_secret_basic', async () => {
      const client = await createClient(node, admin, ['consumer']);
      const res = await node.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(
            `${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.secret)}`,
          ).toString('base64')}`,
        },
        payload: form({ grant_type: 'client_credentials' }),
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((await me(res.json().access_token)).statusCode, 200);
    });

    it('refuses wrong secrets, unknown clients and other grants with OAuth errors', async () => {
      const client = await createClient(node, admin, ['consumer']);
      const wrong = await requestToken(node, client.clientId, `${client.secret}x`);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
      const unknown = await requestToken(node, 'cli_doesnotexist', client.secret);
      assert.equal(unknown.status, 401);
      assert.equal(unknown.body.error, 'invalid_client');

      const grant = await node.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ grant_type: 'password', username: 'a', password: 'b' }),
      });
      assert.equal(grant.statusCode, 400);
      assert.equal(grant.json().error, 'unsupported_grant_type');
      const missing = await node.app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: form({ client_id: client.clientId }),
      });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error, 'invalid_request');
    });

    it('rejects a token once it has expired (platform clock)', async () => {
      const client = await createClient(node, admin, ['consumer']);
      assert.equal((await me(client.token)).statusCode, 200);
      clock.advance(299);
      assert.equal((await me(client.token)).statusCode, 200);
      clock.advance(2);
      const res = await me(client.token);
      assert.equal(res.statusCode, 401);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.match(String(res.headers['www-authenticate']), /invalid_token/);
    });

    it('stops a disabled client at once, and lets it back in when re-enabled', async () => {
      const client = await createClient(node, admin, ['publisher']);
      assert.equal((await me(client.token)).statusCode, 200);
      const disable = await node.app.inject({
        method: 'PATCH',
        url: `/api/v1/clients/${client.clientId}`,
        headers: bearer(admin),
        payload: { status: 'disabled' },
      });
      assert.equal(disable.statusCode, 200, disable.body);
      assert.equal(disable.json().status, 'disabled');
      assert.equal((await me(client.token)).statusCode, 401);
      assert.equal((await requestToken(node, client.clientId, client.secret)).status, 401);

      await node.app.inject({
        method: 'PATCH',
        url: `/api/v1/clients/${client.clientId}`,
        headers: bearer(admin),
        payload: { status: 'active' },
      });
      assert.equal((await me(client.token)).statusCode, 200);
    });

    it('rotating a secret retires the old secret and the tokens issued with it', async () => {
      const client = await createClient(node, admin, ['consumer']);
      const rotate = await node.app.inject({
        method: 'POST',
        url: `/api/v1/clients/${client.clientId}/secret`,
        headers: bearer(admin),
      });
      assert.equal(rotate.statusCode, 200, rotate.body);
      const fresh = rotate.json().clientSecret as string;
      assert.notEqual(fresh, client.secret);
      assert.equal((await requestToken(node, client.clientId, client.secret)).status, 401);
      assert.equal((await me(client.token)).statusCode, 401);
      const token = await tokenFor(node, client.clientId, fresh);
      assert.equal((await me(token)).statusCode, 200);
    });

    it('a revoked role is gone from the next request', async () => {
      const client = await createClient(node, admin, ['consumer', 'publisher']);
      const revoke = await node.app.inject({
        method: 'DELETE',
        url: `/api/v1/clients/${client.clientId}/roles/publisher`,
        headers: bearer(admin),
      });
      assert.deepEqual(revoke.json(), { roles: ['consumer'] });
      assert.deepEqual((await me(client.token)).json().roles, ['consumer']);
    });

    it('keeps a rotated-out signing key in the JWKS until its tokens have expired', async () => {
      const client = await createClient(node, admin, ['consumer']);
      const oldToken = client.token;
      const jwks = async () =>
        (await node.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys as {
          kid: string;
          kty: string;
          crv: string;
          d?: string;
        }[];
      const before = await jwks();
      assert.equal(before.length, 1);
      assert.equal(before[0]!.crv, 'Ed25519');
      assert.equal(before[0]!.d, undefined, 'no private key material in the JWKS');

      const rotate = await node.app.inject({
        method: 'POST',
        url: '/api/v1/signing-keys/rotate',
        headers: bearer(admin),
      });
      assert.equal(rotate.statusCode, 200, rotate.body);
      assert.equal(rotate.json().retiredKid, before[0]!.kid);
      const during = await jwks();
      assert.deepEqual(during.map((k) => k.kid).sort(), [before[0]!.kid, rotate.json().kid].sort());

      // Old tokens keep working; new tokens carry the new kid.
      assert.equal((await me(oldToken)).statusCode, 200);
      const newToken = await tokenFor(node, client.clientId, client.secret);
      const kid = JSON.parse(Buffer.from(newToken.split('.')[0]!, 'base64url').toString()).kid;
      assert.equal(kid, rotate.json().kid);

      clock.advance(301);
      assert.deepEqual(
        (await jwks()).map((k) => k.kid),
        [rotate.json().kid],
      );
      assert.equal((await me(oldToken)).statusCode, 401);
      admin = await adminToken(node);
    });

    it('rejects tampered, unsigned, alg:none and foreign tokens', async () => {
      const client = await createClient(node, admin, ['consumer']);
      const [h, p, s] = client.token.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const header = JSON.parse(Buffer.from(h, 'base64url').toString());

      const elevated = `${h}.${b64({ ...payload, sub: 'admin' })}.${s}`;
      const flipped = `${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`;
      const unsigned = `${h}.${p}.`;
      const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`;
      const noneWithKid = `${b64({ ...header, alg: 'none' })}.${p}.`;
      const hs256 = `${b64({ ...header, alg: 'HS256' })}.${p}.${s}`;

      // A well-formed token from an issuer the node does not trust, signed by its own key.
      const foreignKeys = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const now = Math.floor(clock.now().getTime() / 1000);
      const foreign = await new SignJWT({ client_id: client.clientId, ver: payload.ver })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'key_foreign' })
        .setIssuer('https://idp.example.org')
        .setAudience('http://ocp.test')
        .setSubject(client.clientId)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(foreignKeys.privateKey);
      // The same claims as ours, but signed by a foreign key under our kid.
      const forgedKid = await new SignJWT(payload)
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: header.kid })
        .sign(foreignKeys.privateKey);
      assert.ok((await exportJWK(foreignKeys.publicKey)).x);

      for (const [name, token] of Object.entries({
        elevated,
        flipped,
        unsigned,
        none,
        noneWithKid,
        hs256,
        foreign,
        forgedKid,
        garbage: 'not-a-jwt',
      })) {
        const res = await me(token);
        assert.equal(res.statusCode, 401, `${name} token must be rejected`);
        assert.equal(res.json().type, 'urn:ocp:problem:unauthorized');
      }
      assert.equal((await me(client.token)).statusCode, 200);
    });

    it('bootstrap: the admin client can manage the registry, others cannot', async () => {
      const consumer = await createClient(node, admin, ['consumer']);
      const denied = await node.app.inject({
        method: 'GET',
        url: '/api/v1/organisations',
        headers: bearer(consumer.token),
      });
      assert.equal(denied.statusCode, 403);
      const anonymous = await node.app.inject({ method: 'GET', url: '/api/v1/organisations' });
      assert.equal(anonymous.statusCode, 401);
      const ok = await node.app.inject({
        method: 'GET',
        url: '/api/v1/organisations',
        headers: bearer(admin),
      });
      assert.equal(ok.statusCode, 200);
      assert.ok((await requestToken(node, 'admin', ADMIN_SECRET)).status === 200);
    });
  });
}

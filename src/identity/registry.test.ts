import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode } from '../node.js';
import { createTestDatabase, testBackends } from '../platform/testing/database.js';
import { testConfig, type TestNode } from '../platform/testing/node.js';
import {
  adminToken,
  bearer,
  createClient,
  identityFeatures,
  requestToken,
  startIdentityNode,
  TestClock,
} from './identity.testing.js';

for (const backend of testBackends()) {
  describe(`identity registry (${backend})`, () => {
    let node: TestNode;
    let admin: string;

    before(async () => {
      node = await startIdentityNode(backend);
      admin = await adminToken(node);
    });
    after(() => node?.close());

    const call = (
      method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
      url: string,
      payload?: object,
    ) => node.app.inject({ method, url, headers: bearer(admin), ...(payload ? { payload } : {}) });

    const ledger = async () =>
      (
        await node.platform.db.query<{ event: Record<string, unknown> }>(
          'SELECT event FROM ledger_queue ORDER BY id',
        )
      ).rows.map((r) => r.event);

    it('registers, lists and verifies organisations, recording each change for the ledger', async () => {
      const created = await call('POST', '/api/v1/organisations', {
        name: 'Parks department',
        kind: 'city_department',
      });
      assert.equal(created.statusCode, 201, created.body);
      const org = created.json();
      assert.match(org.id, /^org_[A-Za-z0-9]+$/);
      assert.equal(org.verified, false);

      const verified = await call('PATCH', `/api/v1/organisations/${org.id}`, { verified: true });
      assert.equal(verified.json().verified, true);
      assert.equal((await call('GET', `/api/v1/organisations/${org.id}`)).json().verified, true);
      const list = (await call('GET', '/api/v1/organisations')).json() as { id: string }[];
      assert.ok(list.some((o) => o.id === org.id));

      const events = (await ledger()).filter((e) => (e.subject as { id: string }).id === org.id);
      assert.deepEqual(
        events.map((e) => e.type),
        ['organisation.created', 'organisation.verified'],
      );
      assert.deepEqual(events[0]!.actor, {
        organisationId: 'org_node',
        clientId: 'admin',
        personHash: null,
      });
    });

    it('refuses bad input with problem+json and changes nothing', async () => {
      const before = (await ledger()).length;
      const bad = await call('POST', '/api/v1/organisations', { name: 'X', kind: 'cartel' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.headers['content-type'], 'application/problem+json; charset=utf-8');
      const missing = await call('POST', '/api/v1/clients', {
        organisationId: 'org_doesnotexist',
        name: 'nobody',
        roles: [],
      });
      assert.equal(missing.statusCode, 404);
      const badRole = await call('PUT', '/api/v1/clients/admin/roles/emperor');
      assert.equal(badRole.statusCode, 400);
      assert.equal((await call('GET', '/api/v1/clients/cli_nothere')).statusCode, 404);
      assert.equal((await ledger()).length, before);
    });

    it('creates clients with a secret shown once and stored only as a scrypt hash', async () => {
      const client = await createClient(node, admin, ['publisher', 'consumer']);
      assert.match(client.clientId, /^cli_/);
      const shown = (await call('GET', `/api/v1/clients/${client.clientId}`)).json();
      assert.deepEqual(shown.roles, ['consumer', 'publisher']);
      assert.equal(JSON.stringify(shown).includes(client.secret), false);
      const { rows } = await node.platform.db.query<{ secret_hash: string }>(
        'SELECT secret_hash FROM identity_clients WHERE id = $1',
        [client.clientId],
      );
      assert.match(rows[0]!.secret_hash, /^scrypt\$/);
      assert.equal(rows[0]!.secret_hash.includes(client.secret), false);
      const listed = (
        await call('GET', `/api/v1/clients?organisationId=${client.organisationId}`)
      ).json() as { id: string }[];
      assert.deepEqual(
        listed.map((c) => c.id),
        [client.clientId],
      );
    });

    it('manages local accounts and their roles; the ledger sees people only as hashes', async () => {
      const org = (
        await call('POST', '/api/v1/organisations', { name: 'University', kind: 'research' })
      ).json();
      const created = await call('POST', '/api/v1/people', {
        organisationId: org.id,
        username: 'jane.doe',
        password: 'correct horse battery',
        displayName: 'Jane Doe',
        email: 'jane@example.org',
        roles: ['consumer'],
      });
      assert.equal(created.statusCode, 201, created.body);
      const person = created.json();
      assert.match(person.id, /^per_/);
      assert.equal(JSON.stringify(person).includes('correct horse'), false);
      const taken = await call('POST', '/api/v1/people', {
        organisationId: org.id,
        username: 'jane.doe',
        password: 'another password',
        roles: [],
      });
      assert.equal(taken.statusCode, 409);

      const granted = await call('PUT', `/api/v1/people/${person.id}/roles/steward`);
      assert.deepEqual(granted.json(), { roles: ['consumer', 'steward'] });
      const members = (await call('GET', `/api/v1/organisations/${org.id}/members`)).json();
      assert.deepEqual(
        members.map((m: { id: string; roles: string[] }) => [m.id, m.roles]),
        [[person.id, ['consumer', 'steward']]],
      );

      const all = JSON.stringify(await ledger());
      for (const personal of [person.id, 'jane.doe', 'Jane Doe', 'jane@example.org']) {
        assert.equal(all.includes(personal), false, `${personal} must not reach the ledger`);
      }
      assert.ok(all.includes('role.granted'));
    });
  });

  describe(`bootstrap and rate limits (${backend})`, () => {
    it('OCP_BOOTSTRAP_ADMIN_SECRET creates, keeps and resets the admin client', async () => {
      const database = await createTestDatabase(backend);
      const start = (secret: string) =>
        startNode(
          testConfig({
            OCP_MQTT_URL: 'none',
            OCP_BOOTSTRAP_ADMIN_SECRET: secret,
            ...(database.url ? { OCP_DATABASE_URL: database.url } : {}),
          }),
          { db: database.db, listen: false, features: identityFeatures },
        );
      try {
        let node = await start('first-secret-0123456789');
        const token = async (secret: string) =>
          (await requestToken(node as TestNode, 'admin', secret)).status;
        assert.equal(await token('first-secret-0123456789'), 200);
        await node.close();

        node = await start('second-secret-0123456789');
        assert.equal(await token('first-secret-0123456789'), 401);
        assert.equal(await token('second-secret-0123456789'), 200);
        await node.close();

        node = await start('second-secret-0123456789');
        assert.equal(await token('second-secret-0123456789'), 200);
        await node.close();
        const { rows } = await database.db.query<{ type: string }>(
          `SELECT event->>'type' AS type FROM ledger_queue WHERE event->'subject'->>'id' = 'admin' ORDER BY id`,
        );
        assert.deepEqual(
          rows.map((r) => r.type),
          ['client.created', 'client.secret_rotated'],
        );
      } finally {
        await database.close();
      }
    });

    it('limits anonymous callers per IP and clients per client, with 429 and Retry-After', async () => {
      const clock = new TestClock(Date.parse('2026-03-01T10:00:10Z'));
      const node = await startIdentityNode(backend, {
        clock,
        env: {
          OCP_RATE_LIMIT: 'on',
          OCP_RATE_LIMIT_IP_PER_MINUTE: '3',
          OCP_RATE_LIMIT_CLIENT_PER_MINUTE: '5',
        },
      });
      try {
        const jwks = (headers: Record<string, string> = {}) =>
          node.app.inject({ method: 'GET', url: '/.well-known/jwks.json', headers });
        // The token request itself counts against the IP.
        const admin = await adminToken(node);
        assert.equal((await jwks()).statusCode, 200);
        assert.equal((await jwks()).statusCode, 200);
        const limited = await jwks();
        assert.equal(limited.statusCode, 429);
        assert.equal(limited.headers['retry-after'], '50');
        assert.equal(limited.json().type, 'urn:ocp:problem:rate-limited');
        assert.equal((await node.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);

        // Authenticated callers have their own budget.
        for (let i = 0; i < 5; i += 1) assert.equal((await jwks(bearer(admin))).statusCode, 200);
        assert.equal((await jwks(bearer(admin))).statusCode, 429);

        clock.advance(50);
        assert.equal((await jwks()).statusCode, 200);
        assert.equal((await jwks(bearer(admin))).statusCode, 200);
      } finally {
        await node.close();
      }
    });
  });
}

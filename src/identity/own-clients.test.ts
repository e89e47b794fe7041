import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  adminToken,
  bearer,
  createClient,
  requestToken,
  startIdentityNode,
} from './identity.testing.js';

for (const backend of testBackends()) {
  describe(`own organisation's API clients (${backend})`, () => {
    let node: TestNode;
    let consumer: Awaited<ReturnType<typeof createClient>>;
    let other: Awaited<ReturnType<typeof createClient>>;
    let steward: Awaited<ReturnType<typeof createClient>>;

    before(async () => {
      node = await startIdentityNode(backend);
      const admin = await adminToken(node);
      consumer = await createClient(node, admin, ['consumer']);
      other = await createClient(node, admin, ['consumer']);
      steward = await createClient(node, admin, ['steward']);
    });
    after(() => node?.close());

    const call = (token: string, method: 'GET' | 'POST', url: string, payload?: object) =>
      node.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

    it('creates a consumer-only client for the caller’s organisation, secret shown once', async () => {
      const res = await call(consumer.token, 'POST', '/api/v1/me/clients', { name: 'Dashboard' });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const { client, clientSecret } = res.json();
      assert.equal(client.organisationId, consumer.organisationId);
      assert.deepEqual(client.roles, ['consumer']);
      assert.equal((await requestToken(node, client.id, clientSecret)).status, 200);

      const list = (await call(consumer.token, 'GET', '/api/v1/me/clients')).json() as {
        id: string;
        organisationId: string;
      }[];
      assert.ok(list.some((c) => c.id === client.id));
      assert.ok(list.every((c) => c.organisationId === consumer.organisationId));
      assert.ok(!JSON.stringify(list).includes(clientSecret), 'the listing never has secrets');

      const rotated = await call(consumer.token, 'POST', `/api/v1/me/clients/${client.id}/secret`);
      assert.equal(rotated.statusCode, 200, rotated.body);
      const fresh = rotated.json().clientSecret as string;
      assert.notEqual(fresh, clientSecret);
      assert.equal((await requestToken(node, client.id, clientSecret)).status, 401);
      assert.equal((await requestToken(node, client.id, fresh)).status, 200);
    });

    it('another organisation cannot see or rotate it; other roles and bad input are refused', async () => {
      const mine = (
        await call(consumer.token, 'POST', '/api/v1/me/clients', { name: 'Mine' })
      ).json().client.id as string;
      const theirs = await call(other.token, 'POST', `/api/v1/me/clients/${mine}/secret`);
      assert.equal(theirs.statusCode, 404);
      const list = (await call(other.token, 'GET', '/api/v1/me/clients')).json() as {
        id: string;
      }[];
      assert.ok(!list.some((c) => c.id === mine));
      assert.equal((await call(steward.token, 'GET', '/api/v1/me/clients')).statusCode, 403);
      assert.equal(
        (await node.app.inject({ method: 'GET', url: '/api/v1/me/clients' })).statusCode,
        401,
      );
      const bad = await call(consumer.token, 'POST', '/api/v1/me/clients', {
        name: 'x',
        roles: ['admin'],
      });
      assert.equal(bad.statusCode, 400);
      const empty = await call(consumer.token, 'POST', '/api/v1/me/clients', { name: '' });
      assert.equal(empty.statusCode, 400);
      assert.equal(empty.headers['content-type'], 'application/problem+json; charset=utf-8');
    });

    it('a consumer cannot see or rotate a client of its organisation that holds more roles', async () => {
      const admin = await adminToken(node);
      const colleague = await createClient(node, admin, ['steward'], consumer.organisationId);
      const rotate = await call(
        consumer.token,
        'POST',
        `/api/v1/me/clients/${colleague.clientId}/secret`,
      );
      assert.equal(rotate.statusCode, 404, rotate.body);
      assert.equal(
        (await requestToken(node, colleague.clientId, colleague.secret)).status,
        200,
        'the steward client’s secret is unchanged',
      );
      const list = (await call(consumer.token, 'GET', '/api/v1/me/clients')).json() as {
        id: string;
        roles: string[];
      }[];
      assert.ok(!list.some((c) => c.id === colleague.clientId));
      assert.ok(list.every((c) => c.roles.join() === 'consumer'));
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Actor } from '../../platform/http/access.js';
import { testBackends } from '../../platform/testing/database.js';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';

const actors: Record<string, Actor> = {
  a: { kind: 'client', id: 'cli_a', organisationId: 'org_a', roles: ['publisher'] },
  b: { kind: 'client', id: 'cli_b', organisationId: 'org_b', roles: ['publisher'] },
  consumer: { kind: 'client', id: 'cli_c', organisationId: 'org_c', roles: ['consumer'] },
  admin: { kind: 'client', id: 'cli_admin', organisationId: null, roles: ['admin'] },
};

for (const backend of testBackends()) {
  describe(`NGSI-LD access scoping (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off' });
      // Test-only: the caller is named by a header.
      node.app.authenticators.push(async (request) => {
        const who = request.headers['x-test-actor'];
        return typeof who === 'string' ? (actors[who] ?? null) : null;
      });
    });
    after(() => node.close());

    const as = (who: string | null, method: string, url: string, payload?: unknown) =>
      node.app.inject({
        method: method as 'GET',
        url: `/ngsi-ld/v1${url}`,
        headers: {
          ...(who ? { 'x-test-actor': who } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });

    it('requires the publisher role to write', async () => {
      const entity = { id: 'urn:ngsi-ld:Lamp:x', type: 'Lamp' };
      assert.equal((await as(null, 'POST', '/entities', entity)).statusCode, 401);
      assert.equal((await as('consumer', 'POST', '/entities', entity)).statusCode, 403);
      assert.equal(
        (await as('consumer', 'POST', '/entityOperations/upsert', [entity])).statusCode,
        403,
      );
    });

    it("scopes reads and writes to the owner's organisation; admins see all", async () => {
      assert.equal(
        (await as('a', 'POST', '/entities', { id: 'urn:ngsi-ld:Lamp:a', type: 'Lamp', power: 5 }))
          .statusCode,
        201,
      );
      assert.equal(
        (await as('b', 'POST', '/entities', { id: 'urn:ngsi-ld:Lamp:b', type: 'Lamp', lux: 9 }))
          .statusCode,
        201,
      );
      const owner = await node.platform.db.query<{ owner_org: string }>(
        'SELECT owner_org FROM ngsi_entities WHERE id = $1',
        ['urn:ngsi-ld:Lamp:a'],
      );
      assert.equal(owner.rows[0]!.owner_org, 'org_a');

      assert.equal((await as('a', 'GET', '/entities/urn:ngsi-ld:Lamp:a')).statusCode, 200);
      assert.equal((await as('a', 'GET', '/entities/urn:ngsi-ld:Lamp:b')).statusCode, 404);
      assert.equal((await as(null, 'GET', '/entities/urn:ngsi-ld:Lamp:a')).statusCode, 404);
      assert.equal((await as('consumer', 'GET', '/entities/urn:ngsi-ld:Lamp:a')).statusCode, 404);

      const query = await as('a', 'GET', '/entities?type=Lamp&count=true');
      assert.deepEqual(
        query.json().map((e: { id: string }) => e.id),
        ['urn:ngsi-ld:Lamp:a'],
      );
      assert.equal(query.headers['ngsild-results-count'], '1');
      const batchQuery = await as('b', 'POST', '/entityOperations/query', {
        type: 'Query',
        entities: [{ type: 'Lamp' }],
      });
      assert.deepEqual(
        batchQuery.json().map((e: { id: string }) => e.id),
        ['urn:ngsi-ld:Lamp:b'],
      );
      const anonymous = await as(null, 'GET', '/entities?type=Lamp&count=true');
      assert.equal(anonymous.headers['ngsild-results-count'], '0');
      const all = await as('admin', 'GET', '/entities?type=Lamp&count=true');
      assert.equal(all.headers['ngsild-results-count'], '2');

      assert.deepEqual((await as('a', 'GET', '/attributes')).json().attributeList, ['power']);
      assert.deepEqual((await as('b', 'GET', '/attributes')).json().attributeList, ['lux']);
      assert.equal((await as('a', 'GET', '/attributes/lux')).statusCode, 404);
      assert.equal((await as('a', 'GET', '/types/Lamp')).json().entityCount, 1);
      assert.deepEqual((await as('consumer', 'GET', '/types')).json().typeList, []);

      // Writes to another organisation's entity look like writes to a missing one.
      assert.equal((await as('a', 'DELETE', '/entities/urn:ngsi-ld:Lamp:b')).statusCode, 404);
      assert.equal(
        (await as('a', 'PATCH', '/entities/urn:ngsi-ld:Lamp:b/attrs', { lux: 1 })).statusCode,
        404,
      );
      const batch = await as('a', 'POST', '/entityOperations/upsert', [
        { id: 'urn:ngsi-ld:Lamp:b', type: 'Lamp' },
      ]);
      assert.equal(batch.statusCode, 207);
      assert.equal(
        batch.json().errors[0].error.type,
        'https://uri.etsi.org/ngsi-ld/errors/AlreadyExists',
      );
      assert.equal(
        (await as('admin', 'GET', '/entities/urn:ngsi-ld:Lamp:b?options=keyValues')).json().lux,
        9,
      );
      assert.equal((await as('admin', 'DELETE', '/entities/urn:ngsi-ld:Lamp:b')).statusCode, 204);
    });
  });
}

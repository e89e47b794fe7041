import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../../platform/testing/database.js';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';
const json = { 'content-type': 'application/json' };

for (const backend of testBackends()) {
  describe(`NGSI-LD entities (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off', env: { OCP_ANONYMOUS_ROLE: 'admin' } });
    });
    after(() => node.close());

    const inject = (
      method: string,
      url: string,
      payload?: unknown,
      headers: Record<string, string> = {},
    ) =>
      node.app.inject({
        method: method as 'GET',
        url: `/ngsi-ld/v1${url}`,
        headers: payload === undefined ? headers : { ...json, ...headers },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });

    it('creates, retrieves and deletes an entity', async () => {
      const entity = {
        id: 'urn:ngsi-ld:Room:1',
        type: 'Room',
        temperature: {
          type: 'Property',
          value: 21.5,
          unitCode: 'CEL',
          observedAt: '2026-01-01T00:00:00Z',
        },
        isIn: { type: 'Relationship', object: 'urn:ngsi-ld:Building:1' },
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [4.9, 52.37] } },
      };
      const created = await inject('POST', '/entities', entity);
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.headers.location, '/ngsi-ld/v1/entities/urn%3Angsi-ld%3ARoom%3A1');
      const got = await inject('GET', '/entities/urn:ngsi-ld:Room:1');
      assert.equal(got.statusCode, 200, got.body);
      assert.match(String(got.headers.link), new RegExp(CORE.replaceAll('.', '\\.')));
      const body = got.json();
      assert.equal(body.id, entity.id);
      assert.equal(body.type, 'Room');
      assert.deepEqual(body.temperature, {
        type: 'Property',
        value: 21.5,
        unitCode: 'CEL',
        observedAt: '2026-01-01T00:00:00.000Z',
      });
      const kv = (await inject('GET', '/entities/urn:ngsi-ld:Room:1?options=keyValues')).json();
      assert.deepEqual(kv, {
        id: entity.id,
        type: 'Room',
        temperature: 21.5,
        isIn: 'urn:ngsi-ld:Building:1',
        location: { type: 'Point', coordinates: [4.9, 52.37] },
      });
      const dup = await inject('POST', '/entities', entity);
      assert.equal(dup.statusCode, 409);
      assert.equal(dup.json().type, 'https://uri.etsi.org/ngsi-ld/errors/AlreadyExists');
      const q = await inject('GET', '/entities?type=Room&count=true');
      assert.equal(q.statusCode, 200, q.body);
      assert.equal(q.headers['ngsild-results-count'], '1');
      const del = await inject('DELETE', '/entities/urn:ngsi-ld:Room:1');
      assert.equal(del.statusCode, 204);
      assert.equal((await inject('GET', '/entities/urn:ngsi-ld:Room:1')).statusCode, 404);
    });
  });
}

/**
 * Distributed operations against real second nodes: registrations, fan-out of query and
 * retrieve per mode, a failing source, a loop between two nodes, validation, access.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { testBackends } from '../platform/testing/database.js';
import { ADMIN_SECRET, adminToken, bearer, createClient } from '../identity/identity.testing.js';

const json = { 'content-type': 'application/json' };

function env(publicUrl: string, extra: Record<string, string> = {}) {
  return {
    OCP_PUBLIC_URL: publicUrl,
    OCP_FETCH_ALLOW_PRIVATE: 'true',
    OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
    ...extra,
  };
}

for (const backend of testBackends()) {
  describe(`distributed operations (${backend})`, () => {
    let a: TestNode;
    let b: TestNode;
    let admin: string;

    before(async () => {
      // B plays "any NGSI-LD broker": open to anonymous callers.
      b = await startTestNode({
        backend,
        mqtt: 'off',
        env: env('http://b.test', { OCP_ANONYMOUS_ROLE: 'admin' }),
      });
      a = await startTestNode({ backend, mqtt: 'off', env: env('http://a.test') });
      admin = await adminToken(a);
      for (const e of [
        { id: 'urn:ngsi-ld:Sensor:1', type: 'Sensor', humidity: { type: 'Property', value: 40 } },
        { id: 'urn:ngsi-ld:Sensor:2', type: 'Sensor', humidity: { type: 'Property', value: 41 } },
      ]) {
        const res = await b.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          headers: json,
          payload: e,
        });
        assert.equal(res.statusCode, 201, res.body);
      }
      const res = await a.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { ...json, ...bearer(admin) },
        payload: {
          id: 'urn:ngsi-ld:Sensor:1',
          type: 'Sensor',
          temperature: { type: 'Property', value: 20 },
        },
      });
      assert.equal(res.statusCode, 201, res.body);
    });
    after(async () => {
      await a?.close();
      await b?.close();
    });

    const register = (node: TestNode, body: object, token = admin) =>
      node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/csourceRegistrations',
        headers: { ...json, ...bearer(token) },
        payload: { type: 'ContextSourceRegistration', ...body },
      });
    const remove = (location: string) =>
      a.app.inject({ method: 'DELETE', url: location, headers: bearer(admin) });

    test('inclusive: query and retrieve merge local and remote entities; local=true does not', async () => {
      const created = await register(a, {
        information: [{ entities: [{ type: 'Sensor' }] }],
        endpoint: b.url,
      });
      assert.equal(created.statusCode, 201, created.body);
      const location = created.headers.location as string;
      assert.match(
        location,
        /^\/ngsi-ld\/v1\/csourceRegistrations\/urn:ngsi-ld:ContextSourceRegistration:/,
      );
      try {
        const q = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities?type=Sensor&count=true',
          headers: bearer(admin),
        });
        assert.equal(q.statusCode, 200, q.body);
        const list = q.json() as { id: string; temperature?: unknown; humidity?: unknown }[];
        assert.deepEqual(
          list.map((e) => e.id),
          ['urn:ngsi-ld:Sensor:1', 'urn:ngsi-ld:Sensor:2'],
        );
        assert.ok(list[0]!.temperature && list[0]!.humidity, 'attributes of both nodes merged');
        assert.equal(q.headers['ngsild-results-count'], '2');
        assert.equal(q.headers['ngsild-warning'], undefined);

        const paged = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities?type=Sensor&limit=1&offset=1',
          headers: bearer(admin),
        });
        assert.deepEqual(
          (paged.json() as { id: string }[]).map((e) => e.id),
          ['urn:ngsi-ld:Sensor:2'],
        );

        const local = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities?type=Sensor&local=true',
          headers: bearer(admin),
        });
        assert.equal((local.json() as unknown[]).length, 1);

        const one = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:2',
          headers: bearer(admin),
        });
        assert.equal(one.statusCode, 200, one.body);
        assert.equal(one.json().humidity.value, 41);

        const reg = await a.app.inject({ method: 'GET', url: location, headers: bearer(admin) });
        assert.equal(reg.statusCode, 200);
        assert.equal(reg.json().status, 'ok');
        assert.ok(reg.json().timesSent >= 1);
      } finally {
        await remove(location);
      }
    });

    test('exclusive: the source answers for its attributes of its ids', async () => {
      // A holds temperature of Sensor:1 locally; B is registered as exclusive for it.
      const put = await b.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:1/attrs',
        headers: json,
        payload: { temperature: { type: 'Property', value: 99 } },
      });
      assert.equal(put.statusCode, 204, put.body);
      const created = await register(a, {
        mode: 'exclusive',
        information: [
          {
            entities: [{ id: 'urn:ngsi-ld:Sensor:1', type: 'Sensor' }],
            propertyNames: ['temperature'],
          },
        ],
        endpoint: b.url,
      });
      assert.equal(created.statusCode, 201, created.body);
      try {
        const clash = await register(a, {
          mode: 'exclusive',
          information: [
            {
              entities: [{ id: 'urn:ngsi-ld:Sensor:1', type: 'Sensor' }],
              propertyNames: ['temperature'],
            },
          ],
          endpoint: 'http://127.0.0.1:9',
        });
        assert.equal(clash.statusCode, 409, clash.body);
        const one = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:1',
          headers: bearer(admin),
        });
        assert.equal(one.statusCode, 200, one.body);
        assert.equal(one.json().temperature.value, 99, 'the exclusive source wins');
        assert.equal(
          one.json().humidity,
          undefined,
          'only the registered attributes are asked for',
        );
      } finally {
        await remove(created.headers.location as string);
      }
    });

    test('a failing source gives a partial result with an NGSILD-Warning', async () => {
      const created = await register(a, {
        registrationName: 'down',
        information: [{ entities: [{ type: 'Sensor' }] }],
        endpoint: 'http://127.0.0.1:9',
        management: { timeout: 500 },
      });
      assert.equal(created.statusCode, 201, created.body);
      try {
        const q = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities?type=Sensor',
          headers: bearer(admin),
        });
        assert.equal(q.statusCode, 200, q.body);
        assert.equal((q.json() as unknown[]).length, 1);
        assert.match(
          String(q.headers['ngsild-warning']),
          /^199 urn:ngsi-ld:ContextSourceRegistration:\S+ "source failed/,
        );
        const reg = await a.app.inject({
          method: 'GET',
          url: created.headers.location as string,
          headers: bearer(admin),
        });
        assert.equal(reg.json().status, 'failed');
      } finally {
        await remove(created.headers.location as string);
      }
    });

    test('a loop between two nodes is stopped by Via', async () => {
      const ab = await register(a, {
        information: [{ entities: [{ type: 'Sensor' }] }],
        endpoint: b.url,
      });
      const ba = await b.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/csourceRegistrations',
        headers: json,
        payload: {
          type: 'ContextSourceRegistration',
          information: [{ entities: [{ type: 'Sensor' }] }],
          endpoint: a.url,
        },
      });
      assert.equal(ab.statusCode, 201);
      assert.equal(ba.statusCode, 201, ba.body);
      try {
        const q = await a.app.inject({
          method: 'GET',
          url: '/ngsi-ld/v1/entities?type=Sensor',
          headers: bearer(admin),
        });
        assert.equal(q.statusCode, 200, q.body);
        assert.equal((q.json() as unknown[]).length, 2);
      } finally {
        await remove(ab.headers.location as string);
        await b.app.inject({ method: 'DELETE', url: ba.headers.location as string });
      }
    });

    test('temporal: query and retrieve merge instances by entity and attribute', async () => {
      const gauge = (id: string, values: [number, string][]) => ({
        id: `urn:ngsi-ld:Gauge:${id}`,
        type: 'Gauge',
        level: values.map(([value, observedAt]) => ({ type: 'Property', value, observedAt })),
      });
      const history = async (node: TestNode, body: object, token?: string) => {
        const res = await node.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/temporal/entities',
          headers: { ...json, ...(token ? bearer(token) : {}) },
          payload: body,
        });
        assert.equal(res.statusCode, 201, res.body);
      };
      const day = (d: number) => `2026-01-0${d}T00:00:00.000Z`;
      await history(
        a,
        gauge('1', [
          [1, day(1)],
          [3, day(3)],
        ]),
        admin,
      );
      await history(
        b,
        gauge('1', [
          [2, day(2)],
          [4, day(4)],
        ]),
      );
      await history(b, gauge('2', [[5, day(5)]]));
      const created = await register(a, {
        information: [{ entities: [{ type: 'Gauge' }] }],
        endpoint: b.url,
      });
      assert.equal(created.statusCode, 201, created.body);
      const read = async (path: string) => {
        const res = await a.app.inject({
          url: `/ngsi-ld/v1/temporal/entities${path}`,
          headers: bearer(admin),
        });
        assert.ok([200, 404].includes(res.statusCode), res.body);
        return res;
      };
      const since = 'timerel=after&timeAt=2025-12-31T00:00:00Z';
      type Instance = { value: number; observedAt: string };
      try {
        const q = await read(`?type=Gauge&${since}&count=true`);
        const list = q.json() as { id: string; level: Instance[] | Instance }[];
        assert.deepEqual(
          list.map((e) => e.id),
          ['urn:ngsi-ld:Gauge:1', 'urn:ngsi-ld:Gauge:2'],
        );
        assert.deepEqual(
          (list[0]!.level as Instance[]).map((i) => [i.value, i.observedAt]),
          [1, 2, 3, 4].map((v) => [v, day(v)]),
          'instances of both nodes, in time order',
        );
        assert.equal(q.headers['ngsild-results-count'], '2');
        assert.equal(q.headers['ngsild-warning'], undefined);

        const simplified = await read(`?type=Gauge&${since}&options=temporalValues&lastN=3`);
        const values = (simplified.json()[0].level as { values: [number, string][] }).values;
        assert.deepEqual(
          values.map(([v]) => v),
          [2, 3, 4],
          'lastN applies to the merged values',
        );

        const one = await read(`/urn:ngsi-ld:Gauge:1?${since}`);
        assert.equal(one.statusCode, 200);
        assert.equal((one.json().level as Instance[]).length, 4);
        const remoteOnly = await read(`/urn:ngsi-ld:Gauge:2?${since}`);
        assert.equal(remoteOnly.statusCode, 200, remoteOnly.body);
        assert.equal(remoteOnly.json().level[0].value, 5);
        assert.equal((await read(`/urn:ngsi-ld:Gauge:3?${since}`)).statusCode, 404);

        const local = await read(`?type=Gauge&${since}&local=true`);
        assert.deepEqual(
          (local.json() as { id: string }[]).map((e) => e.id),
          ['urn:ngsi-ld:Gauge:1'],
        );

        // Aggregates over partial histories cannot be combined: one source's are kept.
        const sums = await read(`?type=Gauge&${since}&options=aggregatedValues&aggrMethods=sum`);
        assert.equal(sums.json()[0].level.sum[0][0], 4, 'A’s own sum, 1 + 3');
        assert.match(String(sums.headers['ngsild-warning']), /aggregates of level/);
      } finally {
        await remove(created.headers.location as string);
      }

      const down = await register(a, {
        information: [{ entities: [{ type: 'Gauge' }] }],
        endpoint: 'http://127.0.0.1:9',
        management: { timeout: 500 },
      });
      try {
        const q = await read(`?type=Gauge&${since}`);
        assert.equal((q.json() as unknown[]).length, 1);
        assert.match(String(q.headers['ngsild-warning']), /^199 \S+ "source failed/);
      } finally {
        await remove(down.headers.location as string);
      }
    });

    test('validation errors are NGSI-LD problem details and change nothing', async () => {
      const cases: object[] = [
        { information: [{ entities: [{ type: 'Sensor' }] }] },
        { information: [], endpoint: b.url },
        { information: [{ entities: [{ id: 'x y' }] }], endpoint: b.url },
        {
          mode: 'exclusive',
          information: [{ entities: [{ type: 'Sensor' }], propertyNames: ['t'] }],
          endpoint: b.url,
        },
        { mode: 'sometimes', information: [{ entities: [{ type: 'Sensor' }] }], endpoint: b.url },
        { operations: ['fly'], information: [{ entities: [{ type: 'Sensor' }] }], endpoint: b.url },
        {
          expiresAt: '2000-01-01T00:00:00Z',
          information: [{ entities: [{ type: 'Sensor' }] }],
          endpoint: b.url,
        },
        { information: [{ entities: [{ type: 'Sensor' }] }], endpoint: 'ftp://x' },
      ];
      for (const body of cases) {
        const res = await register(a, body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        assert.equal(res.json().type, 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData');
      }
      const list = await a.app.inject({
        method: 'GET',
        url: '/ngsi-ld/v1/csourceRegistrations?count=true',
        headers: bearer(admin),
      });
      assert.equal(list.headers['ngsild-results-count'], '0');
    });

    test('only admins and stewards may read or change registrations', async () => {
      const consumer = await createClient(a, admin, ['consumer']);
      const publisher = await createClient(a, admin, ['publisher']);
      const steward = await createClient(a, admin, ['steward']);
      const body = { information: [{ entities: [{ type: 'Sensor' }] }], endpoint: b.url };
      assert.equal((await register(a, body, consumer.token)).statusCode, 403);
      assert.equal((await register(a, body, publisher.token)).statusCode, 403);
      const anon = await a.app.inject({ method: 'GET', url: '/ngsi-ld/v1/csourceRegistrations' });
      assert.equal(anon.statusCode, 401);
      const read = await a.app.inject({
        method: 'GET',
        url: '/ngsi-ld/v1/csourceRegistrations',
        headers: bearer(consumer.token),
      });
      assert.equal(read.statusCode, 403);
      const created = await register(a, body, steward.token);
      assert.equal(created.statusCode, 201, created.body);
      const patched = await a.app.inject({
        method: 'PATCH',
        url: created.headers.location as string,
        headers: { ...json, ...bearer(steward.token) },
        payload: { mode: 'auxiliary' },
      });
      assert.equal(patched.statusCode, 204, patched.body);
      const got = await a.app.inject({
        method: 'GET',
        url: created.headers.location as string,
        headers: bearer(steward.token),
      });
      assert.equal(got.json().mode, 'auxiliary');
      await remove(created.headers.location as string);
      const gone = await a.app.inject({
        method: 'GET',
        url: created.headers.location as string,
        headers: bearer(admin),
      });
      assert.equal(gone.statusCode, 404);
    });
  });
}

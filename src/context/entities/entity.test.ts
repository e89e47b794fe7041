import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../../platform/testing/database.js';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';
const ERR = 'https://uri.etsi.org/ngsi-ld/errors/';
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

export function ngsi(node: TestNode) {
  return (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
    node.app.inject({
      method: method as 'GET',
      url: `/ngsi-ld/v1${url}`,
      headers: payload === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
}

const room = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:Room:${n}`,
  type: 'Room',
  temperature: { type: 'Property', value: 20 + n, unitCode: 'CEL' },
  ...extra,
});

for (const backend of testBackends()) {
  describe(`NGSI-LD entities (${backend})`, () => {
    let node: TestNode;
    let call: ReturnType<typeof ngsi>;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off', env: { OCP_ANONYMOUS_ROLE: 'admin' } });
      call = ngsi(node);
    });
    after(() => node.close());

    const count = async (sql: string, params: unknown[] = []) =>
      (await node.platform.db.query<{ n: number }>(sql, params)).rows[0]!.n;

    it('creates, retrieves in every representation and deletes an entity', async () => {
      const entity = {
        id: 'urn:ngsi-ld:Room:crud',
        type: 'Room',
        temperature: {
          type: 'Property',
          value: 21.5,
          unitCode: 'CEL',
          observedAt: '2026-01-01T00:00:00Z',
          accuracy: { type: 'Property', value: 0.1 },
        },
        isIn: { type: 'Relationship', object: 'urn:ngsi-ld:Building:1' },
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [4.9, 52.37] } },
        name: { type: 'LanguageProperty', languageMap: { en: 'Kitchen', nl: 'Keuken' } },
        config: { type: 'JsonProperty', json: { a: [1, 2], b: null } },
        category: { type: 'VocabProperty', vocab: 'Office' },
        readings: { type: 'ListProperty', valueList: [1, 2, 3] },
        neighbours: { type: 'ListRelationship', objectList: [{ object: 'urn:ngsi-ld:Room:2' }] },
      };
      const created = await call('POST', '/entities', entity);
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.headers.location, '/ngsi-ld/v1/entities/urn:ngsi-ld:Room:crud');

      const got = await call('GET', '/entities/urn:ngsi-ld:Room:crud');
      assert.equal(got.statusCode, 200, got.body);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(
        got.headers.link,
        `<${CORE}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
      );
      const body = got.json();
      assert.deepEqual(body.temperature, {
        type: 'Property',
        value: 21.5,
        unitCode: 'CEL',
        observedAt: '2026-01-01T00:00:00Z',
        accuracy: { type: 'Property', value: 0.1 },
      });
      assert.deepEqual(body.isIn, { type: 'Relationship', object: 'urn:ngsi-ld:Building:1' });
      assert.deepEqual(body.name, entity.name);
      assert.deepEqual(body.config, entity.config);
      assert.deepEqual(body.category, entity.category);
      assert.deepEqual(body.readings, entity.readings);
      assert.deepEqual(body.neighbours, entity.neighbours);
      assert.equal(body.createdAt, undefined);

      const kv = (await call('GET', '/entities/urn:ngsi-ld:Room:crud?options=keyValues')).json();
      assert.equal(kv.temperature, 21.5);
      assert.equal(kv.isIn, 'urn:ngsi-ld:Building:1');
      assert.deepEqual(kv.location, { type: 'Point', coordinates: [4.9, 52.37] });
      assert.deepEqual(kv.readings, [1, 2, 3]);

      const concise = (await call('GET', '/entities/urn:ngsi-ld:Room:crud?format=concise')).json();
      assert.deepEqual(concise.temperature, {
        value: 21.5,
        unitCode: 'CEL',
        observedAt: '2026-01-01T00:00:00Z',
        accuracy: 0.1,
      });
      assert.deepEqual(concise.isIn, { object: 'urn:ngsi-ld:Building:1' });
      // A concise payload is accepted back and reads the same.
      await call('DELETE', '/entities/urn:ngsi-ld:Room:crud');
      const again = await call('POST', '/entities', concise);
      assert.equal(again.statusCode, 201, again.body);
      const roundTrip = (await call('GET', '/entities/urn:ngsi-ld:Room:crud')).json();
      assert.deepEqual(roundTrip, body);

      const sys = (await call('GET', '/entities/urn:ngsi-ld:Room:crud?options=sysAttrs')).json();
      assert.match(sys.createdAt, /^\d{4}-\d\d-\d\dT/);
      assert.match(sys.temperature.modifiedAt, /^\d{4}-\d\d-\d\dT/);

      const ld = await call('GET', '/entities/urn:ngsi-ld:Room:crud', undefined, {
        accept: 'application/ld+json',
      });
      assert.equal(ld.headers['content-type'], 'application/ld+json');
      assert.equal(ld.json()['@context'], CORE);
      assert.equal(ld.headers.link, undefined);

      const geo = await call('GET', '/entities/urn:ngsi-ld:Room:crud', undefined, {
        accept: 'application/geo+json',
      });
      assert.equal(geo.headers['content-type'], 'application/geo+json');
      assert.deepEqual(geo.json().geometry, { type: 'Point', coordinates: [4.9, 52.37] });
      assert.equal(geo.json().type, 'Feature');

      const lang = (await call('GET', '/entities/urn:ngsi-ld:Room:crud?lang=nl')).json();
      assert.deepEqual(lang.name, { type: 'Property', value: 'Keuken', lang: 'nl' });

      const bad = await call('GET', '/entities/urn:ngsi-ld:Room:crud', undefined, {
        accept: 'text/html',
      });
      assert.equal(bad.statusCode, 406);

      const dup = await call('POST', '/entities', entity);
      assert.equal(dup.statusCode, 409);
      assert.equal(dup.json().type, `${ERR}AlreadyExists`);

      assert.equal((await call('DELETE', '/entities/urn:ngsi-ld:Room:crud')).statusCode, 204);
      const gone = await call('GET', '/entities/urn:ngsi-ld:Room:crud');
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().type, `${ERR}ResourceNotFound`);
      assert.equal((await call('DELETE', '/entities/urn:ngsi-ld:Room:crud')).statusCode, 404);
    });

    it('writes history and the geo index in the same transaction', async () => {
      await call(
        'POST',
        '/entities',
        room(500, { location: { type: 'Point', coordinates: [1, 2] } }),
      );
      assert.equal(
        await count(
          `SELECT count(*)::int8 AS n FROM ngsi_attribute_history WHERE entity_id = $1 AND op = 'create'`,
          ['urn:ngsi-ld:Room:500'],
        ),
        2,
      );
      assert.equal(
        await count(`SELECT count(*)::int8 AS n FROM ngsi_entity_geo WHERE entity_id = $1`, [
          'urn:ngsi-ld:Room:500',
        ]),
        1,
      );
      await call('PATCH', '/entities/urn:ngsi-ld:Room:500/attrs', { temperature: 30 });
      const rows = (
        await node.platform.db.query<{
          op: string;
          instance: { value: number } | null;
          attr: string;
        }>(
          `SELECT op, instance, attr FROM ngsi_attribute_history WHERE entity_id = $1 ORDER BY seq`,
          ['urn:ngsi-ld:Room:500'],
        )
      ).rows;
      assert.deepEqual(rows.at(-1)?.op, 'update');
      assert.equal(rows.at(-1)?.instance?.value, 30);
      assert.equal(rows.at(-1)?.attr, `${DEFAULT}temperature`);
      await call('DELETE', '/entities/urn:ngsi-ld:Room:500');
      assert.equal(
        await count(
          `SELECT count(*)::int8 AS n FROM ngsi_attribute_history WHERE entity_id = $1 AND op = 'delete'`,
          ['urn:ngsi-ld:Room:500'],
        ),
        2,
      );
      assert.equal(
        await count(`SELECT count(*)::int8 AS n FROM ngsi_entity_geo WHERE entity_id = $1`, [
          'urn:ngsi-ld:Room:500',
        ]),
        0,
      );
    });

    it('rejects invalid entities with BadRequestData and changes nothing', async () => {
      const before = await count('SELECT count(*)::int8 AS n FROM ngsi_entities');
      const history = await count('SELECT count(*)::int8 AS n FROM ngsi_attribute_history');
      const cases: unknown[] = [
        { id: 'not a uri', type: 'Room' },
        { id: 'urn:ngsi-ld:Room:x', type: 'Ro om' },
        { id: 'urn:ngsi-ld:Room:x' },
        { type: 'Room' },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', 'bad(name)': 1 },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', '@graph': 1 },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', temperature: { type: 'Property', value: null } },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', temperature: null },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', owner: { type: 'Relationship', object: 'nope' } },
        {
          id: 'urn:ngsi-ld:Room:x',
          type: 'Room',
          location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [500, 1] } },
        },
        {
          id: 'urn:ngsi-ld:Room:x',
          type: 'Room',
          t: { type: 'Property', value: 1, observedAt: 'yesterday' },
        },
        {
          id: 'urn:ngsi-ld:Room:x',
          type: 'Room',
          t: [
            { type: 'Property', value: 1 },
            { type: 'Property', value: 2 },
          ],
        },
        [room(1)],
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', location: { type: 'Property', value: 'here' } },
        { id: 'urn:ngsi-ld:Room:x', type: 'Room', location: 'here' },
      ];
      for (const payload of cases) {
        const res = await call('POST', '/entities', payload);
        assert.equal(res.statusCode, 400, `${JSON.stringify(payload)} → ${res.body}`);
        assert.equal(res.json().type, `${ERR}BadRequestData`);
      }
      const invalidJson = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'application/json' },
        payload: '{"id": ',
      });
      assert.equal(invalidJson.statusCode, 400);
      assert.equal(invalidJson.json().type, `${ERR}InvalidRequest`);
      const wrongType = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'text/plain' },
        payload: 'x',
      });
      assert.equal(wrongType.statusCode, 415);
      const wrongPatch = await node.app.inject({
        method: 'PATCH',
        url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Room:x/attrs',
        headers: { 'content-type': 'application/xml' },
        payload: '<a/>',
      });
      assert.equal(wrongPatch.statusCode, 415);
      assert.match(String(wrongPatch.headers['accept-patch']), /merge-patch/);
      assert.equal(await count('SELECT count(*)::int8 AS n FROM ngsi_entities'), before);
      assert.equal(await count('SELECT count(*)::int8 AS n FROM ngsi_attribute_history'), history);
      assert.equal((await call('GET', '/entities/not-a-uri')).statusCode, 400);
    });

    it('takes the @context from the Link header, the ld+json body, inline and compound', async () => {
      const added = await call('POST', '/jsonldContexts', {
        '@context': { ex: 'https://example.org/', Sensor: 'ex:Sensor', level: 'ex:level' },
      });
      assert.equal(added.statusCode, 201, added.body);
      const path = String(added.headers.location);
      const url = `http://ocp.test${path}`;
      const link = {
        link: `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
      };
      const res = await call(
        'POST',
        '/entities',
        { id: 'urn:ngsi-ld:Sensor:1', type: 'Sensor', level: 3 },
        link,
      );
      assert.equal(res.statusCode, 201, res.body);
      // Stored expanded.
      const row = (
        await node.platform.db.query<{ types: string[]; attrs: Record<string, unknown> }>(
          'SELECT types, attrs FROM ngsi_entities WHERE id = $1',
          ['urn:ngsi-ld:Sensor:1'],
        )
      ).rows[0]!;
      assert.deepEqual(row.types, ['https://example.org/Sensor']);
      assert.ok('https://example.org/level' in row.attrs);
      // Without the context, names come back expanded.
      const plain = (await call('GET', '/entities/urn:ngsi-ld:Sensor:1')).json();
      assert.equal(plain.type, 'https://example.org/Sensor');
      assert.ok('https://example.org/level' in plain);
      const withLink = await call('GET', '/entities/urn:ngsi-ld:Sensor:1', undefined, link);
      assert.equal(withLink.json().type, 'Sensor');
      assert.equal(withLink.json().level.value, 3);
      assert.match(String(withLink.headers.link), new RegExp(path));
      // Query by type through the same context.
      const q = await call('GET', '/entities?type=Sensor', undefined, link);
      assert.equal(q.json().length, 1);
      assert.equal((await call('GET', '/entities?type=Sensor')).json().length, 0);
      assert.equal(
        (await call('GET', '/entities?type=https://example.org/Sensor')).json().length,
        1,
      );

      // application/ld+json with an inline, compound @context.
      const ld = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify({
          id: 'urn:ngsi-ld:Sensor:2',
          type: 'Sensor',
          level: 4,
          '@context': [url, { depth: 'https://example.org/depth' }, CORE],
        }),
      });
      assert.equal(ld.statusCode, 201, ld.body);
      const two = (await call('GET', '/entities/urn:ngsi-ld:Sensor:2', undefined, link)).json();
      assert.equal(two.level.value, 4);
      // ld+json without @context, json with @context: both refused.
      const noCtx = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify({ id: 'urn:ngsi-ld:Sensor:3', type: 'Sensor' }),
      });
      assert.equal(noCtx.statusCode, 400);
      const jsonCtx = await call('POST', '/entities', {
        id: 'urn:ngsi-ld:Sensor:3',
        type: 'Sensor',
        '@context': CORE,
      });
      assert.equal(jsonCtx.statusCode, 400);
      // Every core context version resolves locally.
      for (const v of ['1.3', '1.4', '1.5', '1.6', '1.7', '1.8', '1.9']) {
        const r = await call('GET', '/entities/urn:ngsi-ld:Sensor:1', undefined, {
          link: `<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v${v}.jsonld>; rel="http://www.w3.org/ns/json-ld#context"`,
        });
        assert.equal(r.statusCode, 200);
      }
      // An unreachable context fails fast with LdContextNotAvailable.
      const started = Date.now();
      const unreachable = await call('GET', '/entities/urn:ngsi-ld:Sensor:1', undefined, {
        link: '<http://127.0.0.1:1/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
      });
      assert.equal(unreachable.statusCode, 503);
      assert.equal(unreachable.json().type, `${ERR}LdContextNotAvailable`);
      assert.ok(Date.now() - started < 5000);

      // /jsonldContexts list, get, details, delete.
      const list = (await call('GET', '/jsonldContexts')).json();
      assert.ok(list.includes(CORE) && list.includes(url));
      const got = await call('GET', path.replace('/ngsi-ld/v1', ''));
      assert.equal(got.json()['@context'].level, 'ex:level');
      const details = (await call('GET', `${path.replace('/ngsi-ld/v1', '')}?details=true`)).json();
      assert.equal(details.kind, 'Hosted');
      assert.ok(details.numberOfHits >= 1);
      assert.equal((await call('DELETE', path.replace('/ngsi-ld/v1', ''))).statusCode, 204);
      assert.equal((await call('GET', path.replace('/ngsi-ld/v1', ''))).statusCode, 404);
      assert.equal((await call('DELETE', '/jsonldContexts/core')).statusCode, 400);
    });

    it('appends, updates, patches, replaces and deletes attributes', async () => {
      await call('POST', '/entities', room(10));
      const id = '/entities/urn:ngsi-ld:Room:10';
      let res = await call('POST', `${id}/attrs`, { humidity: { type: 'Property', value: 40 } });
      assert.equal(res.statusCode, 204, res.body);
      res = await call('POST', `${id}/attrs?options=noOverwrite`, {
        humidity: { type: 'Property', value: 99 },
        pressure: { type: 'Property', value: 1000 },
      });
      assert.equal(res.statusCode, 207, res.body);
      assert.deepEqual(res.json().updated, ['pressure']);
      assert.equal(res.json().notUpdated[0].attributeName, 'humidity');
      let e = (await call('GET', `${id}?options=keyValues`)).json();
      assert.equal(e.humidity, 40);
      assert.equal(e.pressure, 1000);

      res = await call('PATCH', `${id}/attrs`, {
        humidity: { type: 'Property', value: 41 },
        missing: 1,
      });
      assert.equal(res.statusCode, 207);
      assert.deepEqual(res.json().updated, ['humidity']);
      assert.equal(res.json().notUpdated[0].attributeName, 'missing');
      e = (await call('GET', `${id}?options=keyValues`)).json();
      assert.equal(e.humidity, 41);
      assert.equal(e.missing, undefined);

      res = await call('PATCH', `${id}/attrs/temperature`, { value: 25 });
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', id)).json();
      assert.deepEqual(e.temperature, { type: 'Property', value: 25, unitCode: 'CEL' });

      res = await call('PUT', `${id}/attrs/temperature`, { type: 'Property', value: 26 });
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', id)).json();
      assert.deepEqual(e.temperature, { type: 'Property', value: 26 });

      assert.equal((await call('PATCH', `${id}/attrs/nothing`, { value: 1 })).statusCode, 404);
      assert.equal((await call('POST', `${id}/attrs`, {})).statusCode, 400);
      assert.equal((await call('PATCH', `${id}/attrs`, {})).statusCode, 400);
      assert.equal(
        (await call('PATCH', `/entities/urn:ngsi-ld:Room:404/attrs/temperature`, { value: 1 }))
          .statusCode,
        404,
      );
      assert.equal((await call('DELETE', `${id}/attrs/pressure`)).statusCode, 204);
      assert.equal((await call('DELETE', `${id}/attrs/pressure`)).statusCode, 404);
      e = (await call('GET', id)).json();
      assert.equal(e.pressure, undefined);
    });

    it('keeps multi-attributes per datasetId', async () => {
      await call(
        'POST',
        '/entities',
        room(20, {
          speed: [
            { type: 'Property', value: 10 },
            { type: 'Property', value: 11, datasetId: 'urn:ngsi-ld:Dataset:gps' },
          ],
        }),
      );
      const id = '/entities/urn:ngsi-ld:Room:20';
      let e = (await call('GET', id)).json();
      assert.equal(e.speed.length, 2);
      let res = await call('POST', `${id}/attrs`, {
        speed: { type: 'Property', value: 12, datasetId: 'urn:ngsi-ld:Dataset:radar' },
      });
      assert.equal(res.statusCode, 204);
      res = await call('PATCH', `${id}/attrs/speed`, {
        value: 13,
        datasetId: 'urn:ngsi-ld:Dataset:gps',
      });
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', id)).json();
      assert.equal(e.speed.length, 3);
      assert.equal(
        e.speed.find((s: { datasetId?: string }) => s.datasetId === 'urn:ngsi-ld:Dataset:gps')
          .value,
        13,
      );
      assert.deepEqual((await call('GET', `${id}?options=keyValues`)).json().speed, {
        dataset: { '@none': 10, 'urn:ngsi-ld:Dataset:gps': 13, 'urn:ngsi-ld:Dataset:radar': 12 },
      });
      const onlyGps = (await call('GET', `${id}?datasetId=urn:ngsi-ld:Dataset:gps`)).json();
      assert.deepEqual(onlyGps.speed.datasetId, 'urn:ngsi-ld:Dataset:gps');
      assert.equal(onlyGps.temperature, undefined);
      const onlyDefault = (await call('GET', `${id}?datasetId=@none`)).json();
      assert.equal(onlyDefault.speed.value, 10);
      res = await call('DELETE', `${id}/attrs/speed?datasetId=urn:ngsi-ld:Dataset:gps`);
      assert.equal(res.statusCode, 204);
      assert.equal(
        (await call('DELETE', `${id}/attrs/speed?datasetId=urn:ngsi-ld:Dataset:gps`)).statusCode,
        404,
      );
      e = (await call('GET', id)).json();
      assert.equal(e.speed.length, 2);
      assert.equal((await call('DELETE', `${id}/attrs/speed?deleteAll=true`)).statusCode, 204);
      e = (await call('GET', id)).json();
      assert.equal(e.speed, undefined);
    });

    it('replaces with PUT and merges with PATCH (null removes)', async () => {
      await call(
        'POST',
        '/entities',
        room(30, { a: 1, b: { type: 'Property', value: { x: 1 }, note: 'n' } }),
      );
      const id = '/entities/urn:ngsi-ld:Room:30';
      let res = await node.app.inject({
        method: 'PATCH',
        url: `/ngsi-ld/v1${id}`,
        headers: { 'content-type': 'application/merge-patch+json' },
        payload: JSON.stringify({ a: null, b: { value: { x: 2 } }, c: 3 }),
      });
      assert.equal(res.statusCode, 204, res.body);
      let e = (await call('GET', `${id}?options=keyValues`)).json();
      assert.equal(e.a, undefined);
      assert.deepEqual(e.b, { x: 2 });
      assert.equal(e.c, 3);
      assert.equal(e.temperature, 50);
      const normal = (await call('GET', id)).json();
      assert.deepEqual(normal.b.note, { type: 'Property', value: 'n' });
      res = await call('PUT', id, { type: 'Room', d: 4 });
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', `${id}?options=keyValues`)).json();
      assert.deepEqual(e, { id: 'urn:ngsi-ld:Room:30', type: 'Room', d: 4 });
      assert.equal(
        (await call('PUT', '/entities/urn:ngsi-ld:Room:404', { type: 'Room' })).statusCode,
        404,
      );
      assert.equal(
        (await call('PATCH', '/entities/urn:ngsi-ld:Room:404', { a: 1 })).statusCode,
        404,
      );
      assert.equal((await call('PATCH', id, { id: 'urn:other:1', a: 1 })).statusCode, 400);
    });

    it('queries by type expression, id, idPattern, attrs, q with pick/omit and pagination', async () => {
      const t = 'urn:ngsi-ld:Q';
      const batch = [
        { id: `${t}:a`, type: 'Car', speed: 10, brand: 'x' },
        { id: `${t}:b`, type: ['Car', 'Electric'], speed: 20 },
        {
          id: `${t}:c`,
          type: 'Bike',
          speed: 5,
          name: { type: 'LanguageProperty', languageMap: { en: 'Bike' } },
        },
        { id: `${t}:d`, type: 'Truck', weight: 30 },
      ];
      const res = await call('POST', '/entityOperations/create', batch);
      assert.equal(res.statusCode, 201, res.body);
      const ids = async (query: string) => {
        const r = await call('GET', `/entities?${query}`);
        assert.equal(r.statusCode, 200, `${query}: ${r.body}`);
        return (r.json() as { id: string }[])
          .map((e) => e.id.slice(t.length + 1))
          .sort()
          .join('');
      };
      assert.equal(await ids('type=Car'), 'ab');
      assert.equal(await ids('type=Car,Bike'), 'abc');
      assert.equal(await ids('type=Car|Truck'), 'abd');
      assert.equal(await ids('type=Car;Electric'), 'b');
      assert.equal(await ids('type=(Car;Electric)|Bike'), 'bc');
      assert.equal(await ids(`id=${t}:a,${t}:d`), 'ad');
      assert.equal(await ids(`idPattern=^${t}:[bc]$`), 'bc');
      assert.equal(await ids('type=Car,Bike,Truck&attrs=weight,brand'), 'ad');
      assert.equal(await ids('type=Car,Bike,Truck&q=speed>=10'), 'ab');
      assert.equal(await ids('q=speed<10;speed>1'), 'c');
      assert.equal(await ids('type=Car,Bike,Truck&scopeQ=/nowhere'), '');
      await call('POST', `/entities/${t}:a/attrs`, {
        address: { type: 'Property', value: { city: 'Porto', street: { name: 'Rua A' } } },
      });
      assert.equal(await ids('q=address[city]=="Porto"'), 'a');
      assert.equal(await ids('q=address[street.name]=="Rua A"'), 'a');
      assert.equal(await ids('q=address[city]=="Lisboa"'), '');
      assert.equal(await ids('type=Bike&q=name[en]=="Bike"'), 'c');
      const langKv = (await call('GET', `/entities?id=${t}:c&options=keyValues&lang=en`)).json();
      assert.equal(langKv[0].name, 'Bike');
      const picked = (
        await call('GET', `/entities?id=${t}:a&pick=id,speed&options=keyValues`)
      ).json();
      assert.deepEqual(picked, [{ id: `${t}:a`, speed: 10 }]);
      const omitted = (
        await call('GET', `/entities?id=${t}:a&omit=speed,type,address&options=keyValues`)
      ).json();
      assert.deepEqual(omitted, [{ id: `${t}:a`, brand: 'x' }]);
      const projected = (
        await call('GET', `/entities?id=${t}:a&attrs=brand&options=keyValues`)
      ).json();
      assert.deepEqual(projected, [{ id: `${t}:a`, type: 'Car', brand: 'x' }]);

      const page1 = await call('GET', '/entities?type=Car,Bike,Truck&limit=2&count=true');
      assert.equal(page1.headers['ngsild-results-count'], '4');
      assert.equal(page1.json().length, 2);
      const links = page1.headers.link as unknown as string[];
      assert.ok(Array.isArray(links) && links.length === 2, String(page1.headers.link));
      assert.match(
        links[1]!,
        /^<\/ngsi-ld\/v1\/entities\?type=Car%2CBike%2CTruck&limit=2&count=true&offset=2>; rel="next"/,
      );
      const page2 = await call('GET', '/entities?type=Car,Bike,Truck&limit=2&offset=2');
      assert.equal(page2.json().length, 2);
      assert.match(String(page2.headers.link), /limit=2&offset=0>; rel="prev"/);
      assert.notDeepEqual(page1.json()[0].id, page2.json()[0].id);
      const onlyCount = await call('GET', '/entities?type=Car&limit=0&count=true');
      assert.equal(onlyCount.statusCode, 200);
      assert.deepEqual(onlyCount.json(), []);
      assert.equal(onlyCount.headers['ngsild-results-count'], '2');

      const geo = await call('GET', '/entities?type=Car', undefined, {
        accept: 'application/geo+json',
      });
      assert.equal(geo.json().type, 'FeatureCollection');
      assert.equal(geo.json().features.length, 2);

      const tooMany = await call('GET', '/entities?type=Car&limit=5000');
      assert.equal(tooMany.statusCode, 403);
      assert.equal(tooMany.json().type, `${ERR}TooManyResults`);
      for (const bad of [
        '',
        'type=Car&limit=0',
        'type=Car&limit=-1',
        'type=(Car',
        'idPattern=(',
        'q=speed>>1',
        'type=Car&options=keyValues,concise',
        'type=Car&pick=a&omit=b',
      ]) {
        const r = await call('GET', `/entities?${bad}`);
        assert.equal(r.statusCode, 400, `${bad}: ${r.body}`);
        assert.equal(r.json().type, `${ERR}BadRequestData`, bad);
      }
    });

    it('answers geo-queries from the geo index kept on every write', async () => {
      const point = (lon: number, lat: number) => ({
        type: 'GeoProperty',
        value: { type: 'Point', coordinates: [lon, lat] },
      });
      await call('POST', '/entityOperations/create', [
        { id: 'urn:ngsi-ld:G:dam', type: 'Place', location: point(4.8913, 52.3731) },
        { id: 'urn:ngsi-ld:G:station', type: 'Place', location: point(4.9003, 52.3791) },
        { id: 'urn:ngsi-ld:G:utrecht', type: 'Place', location: point(5.1214, 52.0907) },
      ]);
      const ids = async (query: string) => {
        const r = await call('GET', `/entities?type=Place&${query}`);
        assert.equal(r.statusCode, 200, `${query}: ${r.body}`);
        return (r.json() as { id: string }[])
          .map((e) => e.id.split(':').at(-1))
          .sort()
          .join(',');
      };
      assert.equal(
        await ids('georel=near;maxDistance==2000&geometry=Point&coordinates=[4.8913,52.3731]'),
        'dam,station',
      );
      assert.equal(
        await ids('georel=near;minDistance==2000&geometry=Point&coordinates=[4.8913,52.3731]'),
        'utrecht',
      );
      assert.equal(
        await ids(
          'georel=within&geometry=Polygon&coordinates=[[[4.8,52.3],[5.0,52.3],[5.0,52.4],[4.8,52.4],[4.8,52.3]]]',
        ),
        'dam,station',
      );
      // Moving an entity moves it in the index.
      await call('PATCH', '/entities/urn:ngsi-ld:G:utrecht/attrs', {
        location: point(4.89, 52.37),
      });
      assert.equal(
        await ids(
          'georel=within&geometry=Polygon&coordinates=[[[4.8,52.3],[5.0,52.3],[5.0,52.4],[4.8,52.4],[4.8,52.3]]]',
        ),
        'dam,station,utrecht',
      );
      const box = '[[[4.8,52.3],[5.0,52.3],[5.0,52.4],[4.8,52.4],[4.8,52.3]]]';
      assert.equal(
        await ids(`georel=intersects&geometry=Polygon&coordinates=${box}`),
        'dam,station,utrecht',
      );
      assert.equal(await ids(`georel=disjoint&geometry=Polygon&coordinates=${box}`), '');
      assert.equal(await ids('georel=equals&geometry=Point&coordinates=[4.8913,52.3731]'), 'dam');
      assert.equal(await ids('georel=contains&geometry=Point&coordinates=[4.8913,52.3731]'), 'dam');
      assert.equal(await ids(`georel=overlaps&geometry=Polygon&coordinates=${box}`), '');
      const bad = await call(
        'GET',
        '/entities?type=Place&georel=near&geometry=Point&coordinates=[1,2]',
      );
      assert.equal(bad.statusCode, 400);
      const res = await call('POST', '/entityOperations/query', {
        type: 'Query',
        entities: [{ type: 'Place' }],
        geoQ: {
          georel: 'near;maxDistance==100',
          geometry: 'Point',
          coordinates: [4.9003, 52.3791],
        },
      });
      assert.deepEqual(
        res.json().map((e: { id: string }) => e.id),
        ['urn:ngsi-ld:G:station'],
      );
    });

    it('runs batch operations with 201/204/207 semantics', async () => {
      const b = 'urn:ngsi-ld:B';
      let res = await call('POST', '/entityOperations/create', [
        { id: `${b}:1`, type: 'T', v: 1 },
        { id: `${b}:1`, type: 'T', v: 2 },
        { id: 'bad id', type: 'T' },
        { id: `${b}:2`, type: 'T', v: 2 },
      ]);
      assert.equal(res.statusCode, 207, res.body);
      assert.deepEqual(res.json().success.sort(), [`${b}:1`, `${b}:2`]);
      assert.equal(res.json().errors.length, 2);
      const dupError = res.json().errors.find((e: { entityId: string }) => e.entityId === `${b}:1`);
      assert.equal(dupError.error.type, `${ERR}AlreadyExists`);

      res = await call('POST', '/entityOperations/upsert', [
        { id: `${b}:1`, type: 'T', w: 1 },
        { id: `${b}:3`, type: 'T', v: 3 },
      ]);
      assert.equal(res.statusCode, 201, res.body);
      assert.deepEqual(res.json(), [`${b}:3`]);
      let e = (await call('GET', `/entities/${b}:1?options=keyValues`)).json();
      assert.deepEqual(e, { id: `${b}:1`, type: 'T', w: 1 });
      res = await call('POST', '/entityOperations/upsert?options=update', [
        { id: `${b}:1`, type: 'T', v: 9 },
      ]);
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', `/entities/${b}:1?options=keyValues`)).json();
      assert.deepEqual(e, { id: `${b}:1`, type: 'T', w: 1, v: 9 });

      res = await call('POST', '/entityOperations/update', [
        { id: `${b}:1`, v: 10 },
        { id: `${b}:404`, v: 1 },
      ]);
      assert.equal(res.statusCode, 207, res.body);
      assert.equal(res.json().errors[0].error.type, `${ERR}ResourceNotFound`);
      res = await call('POST', '/entityOperations/update?options=noOverwrite', [
        { id: `${b}:1`, v: 11, z: 1 },
      ]);
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', `/entities/${b}:1?options=keyValues`)).json();
      assert.equal(e.v, 10);
      assert.equal(e.z, 1);

      res = await call('POST', '/entityOperations/merge', [{ id: `${b}:1`, z: null, y: 2 }]);
      assert.equal(res.statusCode, 204, res.body);
      e = (await call('GET', `/entities/${b}:1?options=keyValues`)).json();
      assert.equal(e.z, undefined);
      assert.equal(e.y, 2);

      res = await call(
        'POST',
        '/entityOperations/query',
        {
          type: 'Query',
          entities: [{ type: 'T', idPattern: `^${b}:[12]$` }],
          attrs: ['v'],
        },
        {},
      );
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual((res.json() as { id: string }[]).map((x) => x.id).sort(), [
        `${b}:1`,
        `${b}:2`,
      ]);
      res = await call('POST', '/entityOperations/query?count=true&limit=1', {
        type: 'Query',
        entities: [{ type: 'T' }],
      });
      assert.equal(res.headers['ngsild-results-count'], '3');

      // application/ld+json batches: every entity carries its own @context.
      const ldBatch = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify([
          { id: `${b}:ld1`, type: 'T', v: 1, '@context': [{ v: 'https://example.org/v' }, CORE] },
          { id: `${b}:ld2`, type: 'T', v: 2, '@context': CORE },
          { id: `${b}:ld3`, type: 'T', v: 3 },
        ]),
      });
      assert.equal(ldBatch.statusCode, 400, ldBatch.body);
      const ldBatch2 = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify([
          { id: `${b}:ld1`, type: 'T', v: 1, '@context': [{ v: 'https://example.org/v' }, CORE] },
          { id: `${b}:ld2`, type: 'T', v: 2, '@context': CORE },
        ]),
      });
      assert.equal(ldBatch2.statusCode, 201, ldBatch2.body);
      const ld1 = (await call('GET', `/entities/${b}:ld1?options=keyValues`)).json();
      assert.equal(ld1['https://example.org/v'], 1);
      const ld2 = (await call('GET', `/entities/${b}:ld2?options=keyValues`)).json();
      assert.equal(ld2.v, 2);
      const ldQuery = await call('GET', `/entities?id=${b}:ld1,${b}:ld2`, undefined, {
        accept: 'application/ld+json',
      });
      assert.equal(ldQuery.headers['content-type'], 'application/ld+json');
      assert.ok(ldQuery.json().every((e: Record<string, unknown>) => e['@context'] === CORE));
      // An inline context gets a URL of its own for the Link header of a JSON response.
      const inlineQuery = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/query',
        headers: { 'content-type': 'application/ld+json', accept: 'application/json' },
        payload: JSON.stringify({
          type: 'Query',
          entities: [{ id: `${b}:ld1` }],
          '@context': [{ v: 'https://example.org/v' }, CORE],
        }),
      });
      assert.equal(inlineQuery.statusCode, 200, inlineQuery.body);
      assert.equal(inlineQuery.json()[0].v.value, 1);
      const implicitUrl = /^<([^>]+)>/.exec(String(inlineQuery.headers.link))![1]!;
      assert.match(implicitUrl, /^http:\/\/ocp\.test\/ngsi-ld\/v1\/jsonldContexts\/implicit-/);
      const viaLink = await call('GET', `/entities/${b}:ld1?options=keyValues`, undefined, {
        link: `<${implicitUrl}>; rel="http://www.w3.org/ns/json-ld#context"`,
      });
      assert.equal(viaLink.json().v, 1);
      const implicitList = (await call('GET', '/jsonldContexts?kind=ImplicitlyCreated')).json();
      assert.deepEqual(implicitList, [implicitUrl]);
      await call('POST', '/entityOperations/delete', [`${b}:ld1`, `${b}:ld2`]);

      res = await call('POST', '/entityOperations/delete', [`${b}:1`, `${b}:404`]);
      assert.equal(res.statusCode, 207, res.body);
      assert.deepEqual(res.json().success, [`${b}:1`]);
      res = await call('POST', '/entityOperations/delete', [`${b}:2`, `${b}:3`]);
      assert.equal(res.statusCode, 204);
      assert.equal((await call('POST', '/entityOperations/delete', [])).statusCode, 400);
      assert.equal(
        (await call('POST', '/entityOperations/create', { id: `${b}:9` })).statusCode,
        400,
      );
    });

    it('lets concurrent upserts of one new entity both succeed', async () => {
      const upsert = (v: number) =>
        call('POST', '/entityOperations/upsert?options=update', [
          { id: 'urn:ngsi-ld:Race:1', type: 'Race', [`v${v}`]: v },
        ]);
      const results = await Promise.all([upsert(1), upsert(2), upsert(3)]);
      assert.deepEqual(
        results.map((r) => r.statusCode).sort(),
        [201, 204, 204],
        results.map((r) => r.body).join(' | '),
      );
      const e = (await call('GET', '/entities/urn:ngsi-ld:Race:1?options=keyValues')).json();
      assert.deepEqual([e.v1, e.v2, e.v3], [1, 2, 3]);
    });

    it('calls change listeners inside the write transaction', async () => {
      const seen: string[] = [];
      let fail = false;
      node.app.ngsiEntities.onChange(async (tx, changes) => {
        for (const c of changes) seen.push(`${c.kind}:${c.entityId}`);
        await tx.query('SELECT 1');
        if (fail) throw new Error('listener failed');
      });
      await call('POST', '/entities', room(700));
      await call('PATCH', '/entities/urn:ngsi-ld:Room:700/attrs', { temperature: 1 });
      await call('DELETE', '/entities/urn:ngsi-ld:Room:700');
      assert.deepEqual(seen, [
        'created:urn:ngsi-ld:Room:700',
        'updated:urn:ngsi-ld:Room:700',
        'deleted:urn:ngsi-ld:Room:700',
      ]);
      fail = true;
      const res = await call('POST', '/entities', room(701));
      assert.equal(res.statusCode, 500);
      fail = false;
      assert.equal((await call('GET', '/entities/urn:ngsi-ld:Room:701')).statusCode, 404);
    });

    it('keeps scopes and filters by them', async () => {
      let res = await call('POST', '/entities', {
        id: 'urn:ngsi-ld:S:1',
        type: 'Scoped',
        scope: ['/Madrid/Gardens', '/Parks'],
      });
      assert.equal(res.statusCode, 201, res.body);
      await call('POST', '/entities', { id: 'urn:ngsi-ld:S:2', type: 'Scoped', scope: '/Berlin' });
      const e = (await call('GET', '/entities/urn:ngsi-ld:S:1')).json();
      assert.deepEqual(e.scope, ['/Madrid/Gardens', '/Parks']);
      const ids = async (q: string) =>
        (
          (await call('GET', `/entities?type=Scoped&scopeQ=${encodeURIComponent(q)}`)).json() as {
            id: string;
          }[]
        )
          .map((x) => x.id)
          .sort();
      assert.deepEqual(await ids('/Madrid/#'), ['urn:ngsi-ld:S:1']);
      assert.deepEqual(await ids('/Berlin,/Parks'), ['urn:ngsi-ld:S:1', 'urn:ngsi-ld:S:2']);
      res = await call('POST', '/entities', {
        id: 'urn:ngsi-ld:S:3',
        type: 'Scoped',
        scope: 'no-slash',
      });
      assert.equal(res.statusCode, 400);
      res = await call('POST', '/entities/urn:ngsi-ld:S:2/attrs', { scope: '/Bonn' });
      assert.equal(res.statusCode, 204, res.body);
      assert.deepEqual((await call('GET', '/entities/urn:ngsi-ld:S:2')).json().scope, [
        '/Berlin',
        '/Bonn',
      ]);
      res = await call('PATCH', '/entities/urn:ngsi-ld:S:2', { scope: null });
      assert.equal(res.statusCode, 204, res.body);
      assert.equal((await call('GET', '/entities/urn:ngsi-ld:S:2')).json().scope, undefined);
    });

    it('runs concurrent batches over the same new entities in any order', async () => {
      const ids = Array.from(
        { length: 20 },
        (_, i) => `urn:ngsi-ld:Par:${String(i).padStart(2, '0')}`,
      );
      const batch = (list: string[], v: number) =>
        call(
          'POST',
          '/entityOperations/upsert?options=update',
          list.map((id) => ({ id, type: 'Par', [`v${v}`]: v })),
        );
      const results = await Promise.all([
        batch(ids, 1),
        batch([...ids].reverse(), 2),
        batch(ids, 3),
      ]);
      for (const r of results) assert.ok([201, 204].includes(r.statusCode), r.body);
      const all = (await call('GET', '/entities?type=Par&options=keyValues&limit=100')).json();
      assert.equal(all.length, 20);
      for (const e of all) assert.deepEqual([e.v1, e.v2, e.v3], [1, 2, 3]);
    });

    it('isolates tenants and reports unknown ones', async () => {
      const tenant = { 'NGSILD-Tenant': 'city-a' };
      const unknown = await call('GET', '/entities?type=Room', undefined, {
        'NGSILD-Tenant': 'nobody',
      });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().type, `${ERR}NonexistentTenant`);
      assert.equal(
        (
          await call('DELETE', '/entities/urn:ngsi-ld:Room:1', undefined, {
            'NGSILD-Tenant': 'nobody',
          })
        ).statusCode,
        404,
      );
      const res = await call('POST', '/entities', room(1), tenant);
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['ngsild-tenant'], 'city-a');
      assert.equal(
        (await call('GET', '/entities/urn:ngsi-ld:Room:1', undefined, tenant)).statusCode,
        200,
      );
      assert.equal((await call('GET', '/entities/urn:ngsi-ld:Room:1')).statusCode, 404);
      // The same id may exist in another tenant.
      assert.equal((await call('POST', '/entities', room(1))).statusCode, 201);
      const types = (await call('GET', '/types', undefined, tenant)).json();
      assert.deepEqual(types.typeList, ['Room']);
    });

    it('describes types and attributes', async () => {
      await call('POST', '/entityOperations/upsert', [
        {
          id: 'urn:ngsi-ld:D:1',
          type: 'Desk',
          height: 70,
          owner: { type: 'Relationship', object: 'urn:x:1' },
        },
        { id: 'urn:ngsi-ld:D:2', type: 'Desk', height: 72 },
      ]);
      const types = (await call('GET', '/types')).json();
      assert.equal(types.type, 'EntityTypeList');
      assert.ok(types.typeList.includes('Desk'));
      const details = (await call('GET', '/types?details=true')).json();
      const desk = details.find((t: { typeName: string }) => t.typeName === 'Desk');
      assert.deepEqual(desk.attributeNames.sort(), ['height', 'owner']);
      assert.equal(desk.id, `${DEFAULT}Desk`);
      const info = (await call('GET', '/types/Desk')).json();
      assert.equal(info.entityCount, 2);
      assert.deepEqual(
        info.attributeDetails.map((a: { attributeName: string; attributeTypes: string[] }) => [
          a.attributeName,
          a.attributeTypes,
        ]),
        [
          ['height', ['Property']],
          ['owner', ['Relationship']],
        ],
      );
      assert.equal((await call('GET', '/types/Nothing')).statusCode, 404);
      const attrs = (await call('GET', '/attributes')).json();
      assert.equal(attrs.type, 'AttributeList');
      assert.ok(attrs.attributeList.includes('height'));
      const height = (await call('GET', '/attributes/height')).json();
      assert.equal(height.attributeCount, 2);
      assert.deepEqual(height.typeNames, ['Desk']);
      assert.ok(
        (await call('GET', '/attributes?details=true'))
          .json()
          .some((a: { attributeName: string }) => a.attributeName === 'owner'),
      );
      assert.equal((await call('GET', '/attributes/nothing')).statusCode, 404);
    });
  });
}

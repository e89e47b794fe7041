/**
 * The authorization matrix: every NGSI-LD read path × every kind of caller × open,
 * restricted and personal datasets and uncovered data. Each cell asserts the exact set
 * of entities (bodies), counts and page boundaries, and that hidden attributes neither
 * show nor match.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { catalogFeature } from '../catalog/catalog.feature.js';
import { testBackends } from '../platform/testing/database.js';
import { eventually, startReceiver, type Receiver } from '../subscriptions/receiver.testing.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  startGovernanceNode,
  type Caller,
} from './governance.testing.js';

const point = (lon: number, lat: number) => ({
  type: 'GeoProperty',
  value: { type: 'Point', coordinates: [lon, lat] },
});
const entity = (type: string, n: number, attrs: Record<string, unknown>) => ({
  id: `urn:ngsi-ld:${type}:${n}`,
  type,
  location: point(4.35 + n / 1000, 50.85),
  ...attrs,
});

const BENCH = [1, 2, 3].map((n) =>
  entity('Bench', n, {
    seats: { type: 'Property', value: n },
    secretNote: { type: 'Property', value: 'x' },
  }),
);
const PARKING = [1, 2].map((n) =>
  entity('Parking', n, { occupancy: { type: 'Property', value: n * 10 } }),
);
const PERSON = [1, 2].map((n) => entity('Person', n, { age: { type: 'Property', value: 30 + n } }));
const MISC = [entity('Misc', 1, { x: { type: 'Property', value: 1 } })];
const ALL = [...BENCH, ...PARKING, ...PERSON, ...MISC].map((e) => e.id).sort();
const ids = (list: { id: string }[]) => list.map((e) => e.id).sort();
const OPEN = ids(BENCH);
const GRANTED = ids([...BENCH, ...PARKING, ...PERSON]);

type Who =
  | 'anonymous'
  | 'unrelated'
  | 'otherPurpose'
  | 'granted'
  | 'expired'
  | 'revoked'
  | 'overQuota'
  | 'publisher'
  | 'admin';

const expected: Record<Who, { ids: string[]; owner: boolean }> = {
  anonymous: { ids: OPEN, owner: false },
  unrelated: { ids: OPEN, owner: false },
  otherPurpose: { ids: OPEN, owner: false },
  granted: { ids: GRANTED, owner: false },
  expired: { ids: OPEN, owner: false },
  revoked: { ids: OPEN, owner: false },
  overQuota: { ids: OPEN, owner: false },
  publisher: { ids: ALL, owner: true },
  admin: { ids: ALL, owner: true },
};

const TYPES = 'Bench,Parking,Person,Misc';

for (const backend of testBackends()) {
  describe(`governance authorization matrix (${backend})`, () => {
    let node: TestNode;
    let who: Record<Who, Caller | null>;
    /** Dataset ids and the entities each covers, for the catalog preview cells. */
    const datasets: { id: string; ids: string[] }[] = [];
    before(async () => {
      // The embedded broker: MQTT notifications go through the same delivery-time check.
      node = await startGovernanceNode(backend, {
        mqtt: 'embedded',
        features: [catalogFeature],
      });
      const c = await callers(node, {
        publisher: ['publisher', 'steward'],
        unrelated: ['consumer'],
        otherPurpose: ['consumer'],
        granted: ['consumer'],
        expired: ['consumer'],
        revoked: ['consumer'],
        overQuota: ['consumer'],
      });
      who = { anonymous: null, ...c };
      const pub = c.publisher;
      const created = await call(node, pub, 'POST', '/ngsi-ld/v1/entityOperations/create', [
        ...BENCH,
        ...PARKING,
        ...PERSON,
        ...MISC,
      ]);
      assert.equal(created.statusCode, 201, created.body);
      const open = await createDataset(node, pub, {
        types: ['Bench'],
        classification: 'open',
        transforms: { dropAttrs: ['secretNote'] },
      });
      const restricted = await createDataset(node, pub, {
        types: ['Parking'],
        classification: 'restricted',
        policy: policy(['research', 'education']),
      });
      const personal = await createDataset(node, pub, {
        types: ['Person'],
        classification: 'personal',
        policy: policy(['research', 'education']),
      });
      datasets.push(
        { id: open, ids: ids(BENCH) },
        { id: restricted, ids: ids(PARKING) },
        { id: personal, ids: ids(PERSON) },
      );
      for (const ds of [restricted, personal]) {
        await grantAccess(node, c.granted, pub, ds, 'research');
        await grantAccess(node, c.otherPurpose, pub, ds, 'education');
        await grantAccess(node, c.expired, pub, ds, 'research', {
          validFrom: '2020-01-01T00:00:00Z',
          validUntil: '2020-02-01T00:00:00Z',
        });
        const revoked = await grantAccess(node, c.revoked, pub, ds, 'research');
        const r = await call(node, pub, 'POST', `/api/v1/grants/${revoked}/revoke`, {
          reason: 'ended',
        });
        assert.equal(r.statusCode, 200, r.body);
        await grantAccess(node, c.overQuota, pub, ds, 'research', { quotaPerDay: 1 });
      }
      // The over-quota consumer spends its one request of the day…
      const first = await read(c.overQuota, `/entities?type=${TYPES}&limit=100`);
      assert.deepEqual(ids(first.json()), GRANTED);
      await node.app.governance.meter.flush();
      await notifyAll();
    });
    after(async () => {
      await mqttClient?.endAsync();
      await node.close();
      await receiver?.close();
    });

    let receiver: Receiver;
    let mqttClient: MqttClient | undefined;
    const topicRoot = `ocp-test/${randomBytes(4).toString('hex')}`;
    /** Notification bodies received over MQTT, by the caller whose topic they came to. */
    const overMqtt: { name: Who; body: { subscriptionId: string; data: { id: string }[] } }[] = [];
    /** Entity ids each subscriber was notified of after one batch update of all entities. */
    const notified = new Map<Who, Promise<string[]>>();
    const notifiedMqtt = new Map<Who, Promise<string[]>>();
    async function notifyAll(): Promise<void> {
      receiver = await startReceiver();
      const brokerUrl = node.platform.bus.brokerUrl!;
      mqttClient = await mqtt.connectAsync(brokerUrl);
      mqttClient.on('message', (topic, payload) =>
        overMqtt.push({
          name: topic.split('/').pop() as Who,
          body: JSON.parse(payload.toString()).body,
        }),
      );
      await mqttClient.subscribeAsync(`${topicRoot}/#`, { qos: 1 });
      const subs = new Map<string, Who>();
      for (const name of Object.keys(expected) as Who[]) {
        if (name === 'anonymous') continue;
        for (const uri of [
          receiver.url,
          `mqtt://${new URL(brokerUrl).host}/${topicRoot}/${name}`,
        ]) {
          const res = await call(
            node,
            who[name],
            'POST',
            '/ngsi-ld/v1/subscriptions',
            {
              type: 'Subscription',
              entities: TYPES.split(',').map((type) => ({ type })),
              notification: { endpoint: { uri, accept: 'application/json' } },
            },
            { 'ocp-purpose': 'research' },
          );
          assert.equal(res.statusCode, 201, res.body);
          subs.set(res.headers.location!.split('/').pop()!, name);
        }
      }
      const updated = await call(
        node,
        who.publisher,
        'POST',
        '/ngsi-ld/v1/entityOperations/update',
        ALL.map((id) => ({ id, type: id.split(':')[2], tick: { type: 'Property', value: 1 } })),
      );
      assert.equal(updated.statusCode, 204, updated.body);
      const seen = (name: Who) =>
        receiver.received
          .filter((r) => subs.get(decodeURIComponent(r.body.subscriptionId as string)) === name)
          .flatMap((r) => r.body.data.map((e) => e.id as string))
          .sort();
      const seenMqtt = (name: Who) =>
        overMqtt
          .filter((m) => m.name === name)
          .flatMap((m) => m.body.data.map((e) => e.id))
          .sort();
      for (const name of new Set(subs.values())) {
        notifiedMqtt.set(
          name,
          eventually(
            () => {
              const got = seenMqtt(name);
              return expected[name].ids.every((id) => got.includes(id)) ? got : undefined;
            },
            15_000,
            `MQTT notifications for ${name}`,
          ),
        );
        notified.set(
          name,
          eventually(
            () => {
              const got = seen(name);
              return expected[name].ids.every((id) => got.includes(id)) ? got : undefined;
            },
            15_000,
            `notifications for ${name}`,
          ),
        );
      }
    }

    function read(caller: Caller | null, path: string, payload?: unknown) {
      return call(
        node,
        caller,
        payload === undefined ? 'GET' : 'POST',
        `/ngsi-ld/v1${path}`,
        payload,
        { 'ocp-purpose': 'research' },
      );
    }

    for (const name of Object.keys(expected) as Who[]) {
      const want = expected[name];
      describe(name, () => {
        it('query: bodies, count and attributes', async () => {
          const res = await read(who[name], `/entities?type=${TYPES}&limit=100&count=true`);
          assert.equal(res.statusCode, 200, res.body);
          const body = res.json() as Record<string, unknown>[];
          assert.deepEqual(ids(body as { id: string }[]), want.ids);
          assert.equal(res.headers['ngsild-results-count'], String(want.ids.length));
          const bench = body.find((e) => e.id === 'urn:ngsi-ld:Bench:1')!;
          assert.equal('secretNote' in bench, want.owner, 'dropped attribute for open readers');
          assert.ok('seats' in bench);
        });

        it('pagination: page boundaries follow visible entities only', async () => {
          const seen: string[] = [];
          for (let offset = 0; offset < 9; offset += 2) {
            const res = await read(
              who[name],
              `/entities?type=${TYPES}&limit=2&offset=${offset}&count=true`,
            );
            assert.equal(res.statusCode, 200, res.body);
            assert.equal(res.headers['ngsild-results-count'], String(want.ids.length));
            const page = ids(res.json());
            assert.deepEqual(page, want.ids.slice(offset, offset + 2));
            seen.push(...page);
          }
          assert.deepEqual(seen, want.ids);
        });

        it('retrieve: 200 for visible entities, 404 for the rest', async () => {
          for (const id of ALL) {
            const res = await read(who[name], `/entities/${encodeURIComponent(id)}`);
            assert.equal(res.statusCode, want.ids.includes(id) ? 200 : 404, `${id}: ${res.body}`);
          }
        });

        it('batch query', async () => {
          const res = await read(who[name], '/entityOperations/query?limit=100&count=true', {
            type: 'Query',
            entities: TYPES.split(',').map((type) => ({ type })),
          });
          assert.equal(res.statusCode, 200, res.body);
          assert.deepEqual(ids(res.json()), want.ids);
          assert.equal(res.headers['ngsild-results-count'], String(want.ids.length));
        });

        it('geo-query', async () => {
          const res = await read(
            who[name],
            `/entities?type=${TYPES}&limit=100&count=true&georel=near;maxDistance==50000` +
              '&geometry=Point&coordinates=[4.35,50.85]',
          );
          assert.equal(res.statusCode, 200, res.body);
          assert.deepEqual(ids(res.json()), want.ids);
        });

        it('temporal query: entities and attributes', async () => {
          const res = await read(
            who[name],
            `/temporal/entities?type=${TYPES}&timerel=after&timeAt=2000-01-01T00:00:00Z&limit=100&count=true`,
          );
          assert.equal(res.statusCode, 200, res.body);
          const body = res.json() as Record<string, unknown>[];
          assert.deepEqual(ids(body as { id: string }[]), want.ids);
          assert.equal(res.headers['ngsild-results-count'], String(want.ids.length));
          const bench = body.find((e) => e.id === 'urn:ngsi-ld:Bench:1')!;
          if (!want.owner) assert.equal('secretNote' in bench, false, 'no dropped attributes');
        });

        it('temporal aggregation: buckets of visible entities only', async () => {
          const res = await read(
            who[name],
            `/temporal/entities?type=${TYPES}&attrs=tick&timeproperty=modifiedAt&timerel=after` +
              '&timeAt=2000-01-01T00:00:00Z' +
              '&options=aggregatedValues&aggrMethods=totalCount&aggrPeriodDuration=P1Y&limit=100',
          );
          assert.equal(res.statusCode, 200, res.body);
          const body = res.json() as { id: string; tick: { totalCount: [number][] } }[];
          assert.deepEqual(ids(body), want.ids);
          for (const e of body) {
            const total = e.tick.totalCount.reduce((sum, [n]) => sum + n, 0);
            assert.ok(total >= 1, `${e.id}: ${JSON.stringify(e.tick)}`);
          }
        });

        it('catalog preview: the dataset’s entities as this caller’s query reads them', async () => {
          for (const ds of datasets) {
            const res = await call(
              node,
              who[name],
              'GET',
              `/api/v1/catalog/datasets/${ds.id}/preview?limit=50`,
              undefined,
              { 'ocp-purpose': 'research' },
            );
            assert.equal(res.statusCode, 200, `${ds.id}: ${res.body}`);
            const visible = ds.ids.filter((id) => want.ids.includes(id));
            const body = res.json() as { total: number; entities: { id: string }[] };
            assert.deepEqual(ids(body.entities), visible, ds.id);
            assert.equal(body.total, visible.length, ds.id);
          }
        });

        it('filters on hidden attributes match nothing', async () => {
          const res = await read(who[name], '/entities?type=Bench&q=secretNote=="x"&count=true');
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.headers['ngsild-results-count'], want.owner ? '3' : '0');
        });

        if (name !== 'anonymous') {
          it('notifications carry visible entities only, checked at delivery', async () => {
            assert.deepEqual(await notified.get(name), want.ids);
          });

          it('MQTT notifications carry visible entities only, checked at delivery', async () => {
            assert.deepEqual(await notifiedMqtt.get(name), want.ids);
          });
        }

        it('types and attributes discovery', async () => {
          const types = await read(who[name], '/types');
          assert.equal(types.statusCode, 200, types.body);
          const wantTypes = [...new Set(want.ids.map((id) => id.split(':')[2]!))].sort();
          assert.deepEqual([...types.json().typeList].sort(), wantTypes);
          const attrs = await read(who[name], '/attributes');
          assert.equal(attrs.statusCode, 200, attrs.body);
          const list = attrs.json().attributeList as string[];
          assert.equal(list.includes('secretNote'), want.owner);
          assert.equal(list.includes('occupancy'), want.ids.includes('urn:ngsi-ld:Parking:1'));
          assert.equal(list.includes('age'), want.ids.includes('urn:ngsi-ld:Person:1'));
          assert.equal(list.includes('x'), want.ids.includes('urn:ngsi-ld:Misc:1'));
        });
      });
    }

    it('a revoked grant stops notifications at the next delivery', async () => {
      const grants = (await call(node, who.granted, 'GET', '/api/v1/grants')).json() as {
        id: string;
      }[];
      assert.equal(grants.length, 2);
      for (const g of grants) {
        const r = await call(node, who.publisher, 'POST', `/api/v1/grants/${g.id}/revoke`, {
          reason: 'ended',
        });
        assert.equal(r.statusCode, 200, r.body);
      }
      const subs = (await call(node, who.granted, 'GET', '/ngsi-ld/v1/subscriptions')).json() as {
        id: string;
        notification: { endpoint: { uri: string } };
      }[];
      assert.equal(subs.length, 2);
      const sub = subs.find((s) => s.notification.endpoint.uri === receiver.url)!.id;
      const from = receiver.received.length;
      const fromMqtt = overMqtt.length;
      const updated = await call(
        node,
        who.publisher,
        'POST',
        '/ngsi-ld/v1/entityOperations/update',
        ALL.map((id) => ({ id, type: id.split(':')[2], tick: { type: 'Property', value: 2 } })),
      );
      assert.equal(updated.statusCode, 204, updated.body);
      const got = await eventually(
        () => {
          const ids = receiver.received
            .slice(from)
            .filter((r) => decodeURIComponent(r.body.subscriptionId as string) === sub)
            .flatMap((r) => r.body.data.map((e) => e.id as string))
            .sort();
          return OPEN.every((id) => ids.includes(id)) ? ids : undefined;
        },
        15_000,
        'notification after revocation',
      );
      assert.deepEqual(got, OPEN);
      const gotMqtt = await eventually(
        () => {
          const ids = overMqtt
            .slice(fromMqtt)
            .filter((m) => m.name === 'granted')
            .flatMap((m) => m.body.data.map((e) => e.id))
            .sort();
          return OPEN.every((id) => ids.includes(id)) ? ids : undefined;
        },
        15_000,
        'MQTT notification after revocation',
      );
      assert.deepEqual(gotMqtt, OPEN);
    });

    it('without a stated purpose a granted consumer sees open data only', async () => {
      const res = await call(node, who.granted, 'GET', `/ngsi-ld/v1/entities?type=${TYPES}`);
      assert.deepEqual(ids(res.json()), OPEN);
    });

    it('a purpose outside the vocabulary syntax is a 400', async () => {
      const res = await call(
        node,
        who.granted,
        'GET',
        `/ngsi-ld/v1/entities?type=${TYPES}`,
        undefined,
        {
          'ocp-purpose': 'Not A Purpose!',
        },
      );
      assert.equal(res.statusCode, 400);
    });
  });
}

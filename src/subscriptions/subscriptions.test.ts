import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { recordActors } from '../identity/identity.testing.js';
import type { Actor } from '../platform/http/access.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { contextFeature } from '../context/context.feature.js';
import { eventually, startReceiver, type Receiver } from './receiver.testing.js';
import { subscriptionsFeature } from './subscriptions.feature.js';

/** The features these tests need, and nothing else. */
const features = [contextFeature, subscriptionsFeature];

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';
const ERR = 'https://uri.etsi.org/ngsi-ld/errors/';
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

const actors: Record<string, Actor> = {
  a: { kind: 'client', id: 'cli_a', organisationId: 'org_a', roles: ['publisher'] },
  a2: { kind: 'client', id: 'cli_a2', organisationId: 'org_a', roles: ['consumer'] },
  b: { kind: 'client', id: 'cli_b', organisationId: 'org_b', roles: ['publisher'] },
  admin: { kind: 'client', id: 'cli_admin', organisationId: null, roles: ['admin'] },
};

const room = (n: number, temperature = 20, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:Room:${n}`,
  type: 'Room',
  temperature: { type: 'Property', value: temperature },
  ...extra,
});

for (const backend of testBackends()) {
  describe(`NGSI-LD subscriptions (${backend})`, () => {
    let node: TestNode;
    let receiver: Receiver;
    before(async () => {
      node = await startTestNode({
        backend,
        features,
        mqtt: 'off',
        env: {
          OCP_FETCH_ALLOW_PRIVATE: 'true',
          OCP_NOTIFY_RETRY_BASE_MS: '50',
          OCP_NOTIFY_RETRY_MAX_MS: '200',
          OCP_NOTIFY_POLL_MS: '100',
          OCP_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent',
        },
      });
      node.app.authenticators.push(async (request) => {
        const who = request.headers['x-test-actor'];
        return typeof who === 'string' ? (actors[who] ?? null) : null;
      });
      // Notifications are sent with their creator as identity knows it at delivery.
      await recordActors(node.platform.db, Object.values(actors));
    });
    after(() => node.close());
    beforeEach(async () => {
      receiver = await startReceiver();
    });
    afterEach(async () => {
      await node.platform.db.query('DELETE FROM ngsi_subscriptions');
      await node.platform.db.query('DELETE FROM ngsi_entities');
      await receiver.close();
    });

    const call = (
      method: string,
      url: string,
      payload?: unknown,
      headers: Record<string, string> = {},
      who: string | null = 'a',
    ) =>
      node.app.inject({
        method: method as 'GET',
        url: `/ngsi-ld/v1${url}`,
        headers: {
          ...(who ? { 'x-test-actor': who } : {}),
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });

    const subscribe = async (body: Record<string, unknown>, who = 'a') => {
      const res = await call(
        'POST',
        '/subscriptions',
        {
          type: 'Subscription',
          ...body,
          notification: {
            endpoint: { uri: receiver.url, accept: 'application/json' },
            ...(body.notification as object),
          },
        },
        {},
        who,
      );
      assert.equal(res.statusCode, 201, res.body);
      return decodeURIComponent(res.headers.location!.split('/subscriptions/')[1]!);
    };

    const upsert = async (entities: unknown[], who = 'a') => {
      const res = await call('POST', '/entityOperations/upsert', entities, {}, who);
      assert.ok(res.statusCode === 201 || res.statusCode === 204, res.body);
    };

    /** Waits until every queued notification went out (the outbox is empty). */
    const settle = () =>
      eventually(async () => {
        const { rows } = await node.platform.db.query<{ n: number }>(
          'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox',
        );
        return rows[0]!.n === 0 ? true : undefined;
      });

    it('creates, retrieves, lists, updates and deletes a subscription', async () => {
      const id = await subscribe({
        id: 'urn:ngsi-ld:Subscription:crud',
        subscriptionName: 'rooms',
        entities: [{ type: 'Room' }],
        watchedAttributes: ['temperature'],
        q: 'temperature>25',
        notification: { attributes: ['temperature'], format: 'keyValues' },
        expiresAt: '2099-01-01T00:00:00Z',
        throttling: 5,
      });
      assert.equal(id, 'urn:ngsi-ld:Subscription:crud');
      const got = await call('GET', `/subscriptions/${id}`);
      assert.equal(got.statusCode, 200, got.body);
      assert.match(got.headers.link as string, /ngsi-ld-core-context/);
      const body = got.json();
      assert.equal(body.id, id);
      assert.equal(body.type, 'Subscription');
      assert.equal(body.status, 'active');
      assert.equal(body.isActive, true);
      assert.deepEqual(body.notificationTrigger, ['attributeCreated', 'attributeUpdated']);
      assert.equal(body.notification.format, 'keyValues');
      assert.equal(body.notification.timesSent, 0);
      assert.equal(body.notification.endpoint.uri, receiver.url);
      assert.equal(body.expiresAt, '2099-01-01T00:00:00.000Z');
      assert.equal(body.throttling, 5);

      const dup = await call('POST', '/subscriptions', {
        id,
        type: 'Subscription',
        entities: [{ type: 'Room' }],
        notification: { endpoint: { uri: receiver.url } },
      });
      assert.equal(dup.statusCode, 409);
      assert.equal(dup.json().type, `${ERR}AlreadyExists`);

      const patched = await call('PATCH', `/subscriptions/${id}`, {
        isActive: false,
        notification: { format: 'normalized' },
      });
      assert.equal(patched.statusCode, 204, patched.body);
      const after = (await call('GET', `/subscriptions/${id}?options=sysAttrs`)).json();
      assert.equal(after.status, 'paused');
      assert.equal(after.notification.format, 'normalized');
      assert.deepEqual(after.notification.attributes, ['temperature']);
      assert.equal(after.q, 'temperature>25');
      assert.ok(after.createdAt && after.modifiedAt);

      await subscribe({ entities: [{ type: 'Room' }] });
      await subscribe({ entities: [{ type: 'Room' }] });
      const page = await call('GET', '/subscriptions?limit=2&count=true');
      assert.equal(page.statusCode, 200);
      assert.equal(page.headers['ngsild-results-count'], '3');
      assert.equal(page.json().length, 2);
      assert.match(String(page.headers.link), /rel="next"/);
      const rest = await call('GET', '/subscriptions?limit=2&offset=2');
      assert.equal(rest.json().length, 1);

      assert.equal((await call('DELETE', `/subscriptions/${id}`)).statusCode, 204);
      const gone = await call('GET', `/subscriptions/${id}`);
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().type, `${ERR}ResourceNotFound`);
      assert.equal((await call('DELETE', `/subscriptions/${id}`)).statusCode, 404);
    });

    it('refuses invalid subscriptions with BadRequestData and changes nothing', async () => {
      const endpoint = { uri: receiver.url };
      const bad: [string, unknown][] = [
        ['no type', { entities: [{ type: 'Room' }], notification: { endpoint } }],
        ['no entities/watched', { type: 'Subscription', notification: { endpoint } }],
        ['no notification', { type: 'Subscription', entities: [{ type: 'Room' }] }],
        [
          'selector without type',
          { type: 'Subscription', entities: [{ id: 'urn:x:1' }], notification: { endpoint } },
        ],
        [
          'bad id',
          {
            id: 'not a uri',
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: { endpoint },
          },
        ],
        [
          'bad q',
          { type: 'Subscription', entities: [{ type: 'R' }], q: 'a>>', notification: { endpoint } },
        ],
        [
          'bad geoQ',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            geoQ: { geometry: 'Point', coordinates: [1], georel: 'near;maxDistance==5' },
            notification: { endpoint },
          },
        ],
        [
          'expired',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            expiresAt: '2000-01-01T00:00:00Z',
            notification: { endpoint },
          },
        ],
        [
          'timeInterval with watchedAttributes',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            watchedAttributes: ['a'],
            timeInterval: 10,
            notification: { endpoint },
          },
        ],
        [
          'timeInterval with throttling',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            throttling: 1,
            timeInterval: 10,
            notification: { endpoint },
          },
        ],
        [
          'unknown trigger',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notificationTrigger: ['entityRenamed'],
            notification: { endpoint },
          },
        ],
        [
          'ftp endpoint',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: { endpoint: { uri: 'ftp://x/y' } },
          },
        ],
        [
          'bad accept',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: { endpoint: { uri: receiver.url, accept: 'text/plain' } },
          },
        ],
        [
          'bad format',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: { format: 'flat', endpoint },
          },
        ],
        [
          'header value with a line break',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: {
              endpoint: { uri: receiver.url, receiverInfo: [{ key: 'X-A', value: 'a\r\nX-B: b' }] },
            },
          },
        ],
        [
          'bad MQTT QoS',
          {
            type: 'Subscription',
            entities: [{ type: 'R' }],
            notification: {
              endpoint: {
                uri: 'mqtt://127.0.0.1:1883/t',
                notifierInfo: [{ key: 'MQTT-QoS', value: '3' }],
              },
            },
          },
        ],
      ];
      for (const [what, body] of bad) {
        const res = await call('POST', '/subscriptions', body);
        assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
        assert.equal(res.json().type, `${ERR}BadRequestData`, what);
      }
      const malformed = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        headers: { 'content-type': 'application/json', 'x-test-actor': 'a' },
        payload: '{"type":',
      });
      assert.equal(malformed.statusCode, 400);
      assert.equal(malformed.json().type, `${ERR}InvalidRequest`);
      const text = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        headers: { 'content-type': 'text/plain', 'x-test-actor': 'a' },
        payload: 'x',
      });
      assert.equal(text.statusCode, 415);
      const count = await node.platform.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM ngsi_subscriptions',
      );
      assert.equal(count.rows[0]!.n, 0);
      const badPatch = await call('PATCH', '/subscriptions/urn:ngsi-ld:Subscription:none', {
        isActive: false,
      });
      assert.equal(badPatch.statusCode, 404);
    });

    it('refuses an idPattern PostgreSQL cannot compile (it runs inside every write)', async () => {
      const bad = await call('POST', '/subscriptions', {
        type: 'Subscription',
        entities: [{ type: 'Room', idPattern: '\\p{L}' }],
        notification: { endpoint: { uri: receiver.url } },
      });
      assert.equal(bad.statusCode, 400, bad.body);
      assert.equal(bad.json().type, `${ERR}BadRequestData`);
      // Valid ones work, inside the same writes.
      await subscribe({ entities: [{ type: 'Room', idPattern: '^urn:ngsi-ld:Room:[0-9]+$' }] });
      await upsert([room(1, 20)]);
      const [n] = await receiver.waitFor(1);
      assert.equal(n!.body.data[0]!.id, 'urn:ngsi-ld:Room:1');
    });

    it('shows and changes subscriptions only for their organisation and admins', async () => {
      assert.equal(
        (await call('POST', '/subscriptions', { type: 'Subscription' }, {}, null)).statusCode,
        401,
      );
      const id = await subscribe({ entities: [{ type: 'Room' }] }, 'a');
      assert.equal(
        (await call('GET', `/subscriptions/${id}`, undefined, {}, 'a2')).statusCode,
        200,
      );
      assert.equal((await call('GET', `/subscriptions/${id}`, undefined, {}, 'b')).statusCode, 404);
      assert.equal(
        (await call('PATCH', `/subscriptions/${id}`, { isActive: false }, {}, 'b')).statusCode,
        404,
      );
      assert.equal(
        (await call('DELETE', `/subscriptions/${id}`, undefined, {}, 'b')).statusCode,
        404,
      );
      assert.equal((await call('GET', '/subscriptions', undefined, {}, 'b')).json().length, 0);
      assert.equal((await call('GET', '/subscriptions', undefined, {}, 'admin')).json().length, 1);
      assert.equal(
        (await call('GET', `/subscriptions/${id}`, undefined, {}, 'admin')).statusCode,
        200,
      );
    });

    it('notifies an HTTP endpoint of matching changes, with status members', async () => {
      const id = await subscribe({
        entities: [{ type: 'Room' }],
        watchedAttributes: ['temperature'],
        notification: {
          endpoint: { uri: receiver.url, receiverInfo: [{ key: 'X-Token', value: 's3cret' }] },
        },
      });
      await upsert([room(1, 21)]);
      await upsert([{ id: 'urn:ngsi-ld:Lamp:1', type: 'Lamp', temperature: 5 }]);
      const [n] = await receiver.waitFor(1);
      assert.equal(n!.headers['content-type'], 'application/json');
      assert.equal(n!.headers['x-token'], 's3cret');
      assert.match(n!.headers.link as string, new RegExp(CORE.replaceAll('.', '\\.')));
      assert.equal(n!.body.type, 'Notification');
      assert.equal(n!.body.subscriptionId, id);
      assert.match(n!.body.id, /^urn:ngsi-ld:Notification:/);
      assert.equal(n!.body.triggerReason, 'attributeCreated');
      assert.deepEqual(n!.body.data, [room(1, 21)]);

      await upsert([room(1, 22)]);
      const [, second] = await receiver.waitFor(2);
      assert.equal(second!.body.triggerReason, 'attributeUpdated');
      assert.equal((second!.body.data[0]!.temperature as { value: number }).value, 22);
      const status = await eventually(async () => {
        const s = (await call('GET', `/subscriptions/${id}`)).json();
        return s.notification.timesSent === 2 ? s : undefined;
      });
      assert.equal(status.notification.status, 'ok');
      assert.equal(status.notification.timesFailed, 0);
      assert.ok(status.notification.lastSuccess);
      assert.ok(status.notification.lastNotification);
      assert.equal(receiver.received.length, 2, 'the Lamp matched nothing');
    });

    it('honours notificationTrigger for entity and attribute creation, update and deletion', async () => {
      const triggers = [
        'entityCreated',
        'entityUpdated',
        'entityDeleted',
        'attributeCreated',
        'attributeUpdated',
        'attributeDeleted',
      ];
      const receivers: Record<string, Receiver> = {};
      for (const t of triggers) {
        receivers[t] = await startReceiver();
        await subscribe({
          entities: [{ type: 'Room' }],
          notificationTrigger: [t],
          notification: { endpoint: { uri: receivers[t]!.url } },
        });
      }
      try {
        // Each step's notifications go out before the next step: a backlog would be sent
        // as one notification with the entity's latest state.
        assert.equal((await call('POST', '/entities', room(7, 20))).statusCode, 201);
        await settle();
        assert.equal(
          (await call('POST', '/entities/urn:ngsi-ld:Room:7/attrs', { humidity: 40 })).statusCode,
          204,
        );
        await settle();
        assert.equal(
          (await call('PATCH', '/entities/urn:ngsi-ld:Room:7/attrs', { temperature: 21 }))
            .statusCode,
          204,
        );
        await settle();
        assert.equal(
          (await call('DELETE', '/entities/urn:ngsi-ld:Room:7/attrs/humidity')).statusCode,
          204,
        );
        await settle();
        const expected: Record<string, number> = {
          entityCreated: 1,
          entityUpdated: 3,
          entityDeleted: 0,
          attributeCreated: 2,
          attributeUpdated: 1,
          attributeDeleted: 1,
        };
        for (const t of triggers) await receivers[t]!.waitFor(expected[t]!);
        assert.equal((await call('DELETE', '/entities/urn:ngsi-ld:Room:7')).statusCode, 204);
        expected.entityDeleted = 1;
        for (const t of triggers) {
          const got = await receivers[t]!.waitFor(expected[t]!);
          for (const n of got) assert.equal(n.body.triggerReason, t);
        }
        const deleted = receivers.entityDeleted!.received[0]!.body.data[0]!;
        assert.equal(deleted.id, 'urn:ngsi-ld:Room:7');
        assert.equal(deleted.type, 'Room');
        assert.ok(deleted.deletedAt);
        node.app.notificationWorker!.wake();
        await eventually(async () =>
          (
            await node.platform.db.query<{ n: number }>(
              'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox',
            )
          ).rows[0]!.n === 0
            ? true
            : undefined,
        );
        for (const t of triggers) assert.equal(receivers[t]!.received.length, expected[t], t);
      } finally {
        for (const r of Object.values(receivers)) await r.close();
      }
    });

    it('filters by id, idPattern, type expressions, q, scopeQ and geoQ', async () => {
      const r: Record<string, Receiver> = {};
      const subs: Record<string, Record<string, unknown>> = {
        id: { entities: [{ id: 'urn:ngsi-ld:Room:2', type: 'Room' }] },
        idPattern: { entities: [{ idPattern: '^urn:ngsi-ld:Room:1\\d$', type: 'Room' }] },
        typeOr: { entities: [{ type: 'Office|Hall' }] },
        typeAnd: { entities: [{ type: 'Room;Office' }] },
        q: { entities: [{ type: 'Room' }], q: 'temperature>30' },
        scopeQ: { entities: [{ type: 'Room' }], scopeQ: '/Madrid/#' },
        geoQ: {
          entities: [{ type: 'Room' }],
          geoQ: { geometry: 'Point', coordinates: [4.9, 52.37], georel: 'near;maxDistance==1000' },
        },
      };
      for (const [name, body] of Object.entries(subs)) {
        r[name] = await startReceiver();
        await subscribe({ ...body, notification: { endpoint: { uri: r[name]!.url } } });
      }
      try {
        await upsert([
          room(1, 20),
          room(2, 20),
          room(12, 20),
          room(3, 35),
          room(4, 20, { scope: '/Madrid/Centro' }),
          room(5, 20, {
            location: {
              type: 'GeoProperty',
              value: { type: 'Point', coordinates: [4.901, 52.371] },
            },
          }),
          room(6, 20, {
            location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [5.5, 52.0] } },
          }),
          { id: 'urn:ngsi-ld:Hall:1', type: 'Hall', temperature: 1 },
          { id: 'urn:ngsi-ld:Both:1', type: ['Room', 'Office'], temperature: 1 },
        ]);
        const ids = async (name: string) => {
          const [n] = await r[name]!.waitFor(1);
          return n!.body.data.map((e) => e.id).sort();
        };
        assert.deepEqual(await ids('id'), ['urn:ngsi-ld:Room:2']);
        assert.deepEqual(await ids('idPattern'), ['urn:ngsi-ld:Room:12']);
        assert.deepEqual(await ids('typeOr'), ['urn:ngsi-ld:Both:1', 'urn:ngsi-ld:Hall:1']);
        assert.deepEqual(await ids('typeAnd'), ['urn:ngsi-ld:Both:1']);
        assert.deepEqual(await ids('q'), ['urn:ngsi-ld:Room:3']);
        assert.deepEqual(await ids('scopeQ'), ['urn:ngsi-ld:Room:4']);
        assert.deepEqual(await ids('geoQ'), ['urn:ngsi-ld:Room:5']);
        // A change that leaves q unmatched notifies nobody; one that matches notifies.
        await upsert([room(1, 25)]);
        await upsert([room(1, 31)]);
        const [, second] = await r.q!.waitFor(2);
        assert.deepEqual(
          second!.body.data.map((e) => e.id),
          ['urn:ngsi-ld:Room:1'],
        );
      } finally {
        for (const x of Object.values(r)) await x.close();
      }
    });

    it('renders attributes, format, sysAttrs, showChanges and application/ld+json', async () => {
      await subscribe({
        entities: [{ type: 'Room' }],
        notification: {
          attributes: ['temperature'],
          format: 'keyValues',
          sysAttrs: false,
          endpoint: { uri: receiver.url, accept: 'application/ld+json' },
        },
      });
      const changes = await startReceiver();
      await subscribe({
        entities: [{ type: 'Room' }],
        notificationTrigger: ['attributeUpdated'],
        notification: { showChanges: true, sysAttrs: true, endpoint: { uri: changes.url } },
      });
      try {
        await upsert([room(1, 20, { humidity: { type: 'Property', value: 50 } })]);
        const [n] = await receiver.waitFor(1);
        assert.equal(n!.headers['content-type'], 'application/ld+json');
        assert.equal(n!.headers.link, undefined);
        assert.equal(n!.body['@context'], CORE);
        assert.deepEqual(n!.body.data, [
          { id: 'urn:ngsi-ld:Room:1', type: 'Room', temperature: 20 },
        ]);

        await upsert([room(1, 23)]);
        const [c] = await changes.waitFor(1);
        const temperature = c!.body.data[0]!.temperature as Record<string, unknown>;
        assert.equal(temperature.value, 23);
        assert.equal(temperature.previousValue, 20);
        assert.ok(temperature.modifiedAt, 'sysAttrs');
        assert.ok(c!.body.data[0]!.createdAt, 'sysAttrs on the entity');
      } finally {
        await changes.close();
      }
    });

    it('expands terms with the @context the subscription was created with', async () => {
      const context = { Room: 'https://example.org/Room', temperature: 'https://example.org/temp' };
      const res = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        headers: { 'content-type': 'application/ld+json', 'x-test-actor': 'a' },
        payload: JSON.stringify({
          '@context': [context, CORE],
          type: 'Subscription',
          entities: [{ type: 'Room' }],
          watchedAttributes: ['temperature'],
          notification: { format: 'keyValues', endpoint: { uri: receiver.url } },
        }),
      });
      assert.equal(res.statusCode, 201, res.body);
      // Default-context Room is another type: no notification for it.
      await upsert([room(1, 20)]);
      const ld = await node.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: { 'content-type': 'application/ld+json', 'x-test-actor': 'a' },
        payload: JSON.stringify([{ '@context': [context, CORE], ...room(2, 30) }]),
      });
      assert.equal(ld.statusCode, 201, ld.body);
      const [n] = await receiver.waitFor(1);
      assert.deepEqual(n!.body.data, [{ id: 'urn:ngsi-ld:Room:2', type: 'Room', temperature: 30 }]);
      const stored = await node.platform.db.query<{ types: string[] }>(
        "SELECT types FROM ngsi_entities WHERE id = 'urn:ngsi-ld:Room:1'",
      );
      assert.deepEqual(stored.rows[0]!.types, [`${DEFAULT}Room`]);
      assert.equal(receiver.received.length, 1);
    });

    it('notifies only what the creator may see, decided at delivery time', async () => {
      await subscribe({ entities: [{ type: 'Room' }] }, 'b');
      await upsert([room(1, 20)], 'a'); // org_a's entity: invisible to org_b
      await upsert([room(2, 20)], 'b');
      const [n] = await receiver.waitFor(1);
      assert.deepEqual(
        n!.body.data.map((e) => e.id),
        ['urn:ngsi-ld:Room:2'],
      );
      node.app.notificationWorker!.wake();
      await eventually(async () =>
        (
          await node.platform.db.query<{ n: number }>(
            'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox',
          )
        ).rows[0]!.n === 0
          ? true
          : undefined,
      );
      assert.equal(receiver.received.length, 1);
    });

    it('retries failed deliveries with backoff and counts failures, losing nothing', async () => {
      const id = await subscribe({ entities: [{ type: 'Room' }] });
      receiver.status = 500;
      await upsert([room(1, 1)]);
      await upsert([room(1, 2)]);
      await upsert([room(2, 1)]);
      const failing = await eventually(async () => {
        const s = (await call('GET', `/subscriptions/${id}`)).json();
        return s.notification.timesFailed >= 2 ? s : undefined;
      });
      assert.equal(failing.notification.status, 'failed');
      assert.ok(failing.notification.lastFailure);
      const attempts = await node.platform.db.query<{ attempts: number; n: number }>(
        'SELECT max(attempts) AS attempts, count(*)::int8 AS n FROM ngsi_notification_outbox',
      );
      assert.equal(attempts.rows[0]!.n, 3, 'nothing lost while failing');
      assert.ok(attempts.rows[0]!.attempts >= 2);
      receiver.status = 204;
      // The backlog goes out as one notification with each entity's current state.
      const [n] = await receiver.waitFor(1);
      assert.deepEqual(n!.body.data, [room(1, 2), room(2, 1)]);
      await settle();
      assert.equal(receiver.received.length, 1);
      const ok = (await call('GET', `/subscriptions/${id}`)).json();
      assert.equal(ok.notification.status, 'ok');
      assert.ok(ok.notification.lastSuccess > ok.notification.lastFailure);
      assert.equal(ok.notification.timesSent - ok.notification.timesFailed, 1);
    });

    it('throttles: changes within the window arrive together, after it', async () => {
      await subscribe({ entities: [{ type: 'Room' }], throttling: 1 });
      await upsert([room(1, 1)]);
      await receiver.waitFor(1);
      const first = receiver.received[0]!.at;
      await upsert([room(2, 1)]);
      await upsert([room(3, 1)]);
      const [, second] = await receiver.waitFor(2, 5000);
      assert.ok(second!.at - first >= 900, `second notification after ${second!.at - first} ms`);
      assert.deepEqual(second!.body.data.map((e) => e.id).sort(), [
        'urn:ngsi-ld:Room:2',
        'urn:ngsi-ld:Room:3',
      ]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.received.length, 2);
    });

    it('sends periodic notifications every timeInterval', async () => {
      await upsert([room(1, 20), room(2, 20)]);
      const id = await subscribe({ entities: [{ type: 'Room' }], timeInterval: 1 });
      const got = await receiver.waitFor(2, 5000);
      assert.ok(got[1]!.at - got[0]!.at >= 800, `${got[1]!.at - got[0]!.at} ms apart`);
      assert.deepEqual(got[0]!.body.data.map((e) => e.id).sort(), [
        'urn:ngsi-ld:Room:1',
        'urn:ngsi-ld:Room:2',
      ]);
      // Periodic subscriptions are not notified of changes in between.
      assert.equal(
        (await call('PATCH', `/subscriptions/${id}`, { isActive: false })).statusCode,
        204,
      );
      const before = receiver.received.length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(receiver.received.length <= before + 1, 'paused: at most the one in flight');
    });

    it('stops notifying when paused or expired', async () => {
      const id = await subscribe({ entities: [{ type: 'Room' }] });
      await call('PATCH', `/subscriptions/${id}`, { isActive: false });
      await upsert([room(1, 1)]);
      const expiring = await subscribe({
        entities: [{ type: 'Room' }],
        expiresAt: new Date(Date.now() + 300).toISOString(),
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      const expired = (await call('GET', `/subscriptions/${expiring}`)).json();
      assert.equal(expired.status, 'expired');
      await upsert([room(1, 2)]);
      const queued = await node.platform.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM ngsi_notification_outbox',
      );
      assert.equal(queued.rows[0]!.n, 0);
      await call('PATCH', `/subscriptions/${id}`, { isActive: true });
      await upsert([room(1, 3)]);
      const [n] = await receiver.waitFor(1);
      assert.equal((n!.body.data[0]!.temperature as { value: number }).value, 3);
    });

    it('refuses endpoints on denied or private hosts at delivery and counts the failure', async () => {
      const strict = await startTestNode({
        backend,
        features,
        mqtt: 'off',
        env: { OCP_ANONYMOUS_ROLE: 'admin', OCP_NOTIFY_RETRY_BASE_MS: '50' },
      });
      try {
        const res = await strict.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/subscriptions',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({
            type: 'Subscription',
            entities: [{ type: 'Room' }],
            notification: { endpoint: { uri: receiver.url } },
          }),
        });
        assert.equal(res.statusCode, 201);
        await strict.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(room(1)),
        });
        const s = await eventually(async () => {
          const list = (
            await strict.app.inject({ method: 'GET', url: '/ngsi-ld/v1/subscriptions' })
          ).json();
          return list[0].notification.timesFailed > 0 ? list[0] : undefined;
        });
        assert.equal(s.notification.status, 'failed');
        assert.equal(receiver.received.length, 0);
        const row = await strict.platform.db.query<{ last_error: string }>(
          'SELECT last_error FROM ngsi_notification_outbox',
        );
        assert.match(row.rows[0]!.last_error, /private address/);
      } finally {
        await strict.close();
      }
    });
  });
}

/**
 * /csourceSubscriptions against a real node and a real HTTP receiver: the lifecycle of
 * notifications as registrations are created, changed and deleted (newlyMatching,
 * updated, noLongerMatching), watchedAttributes, pausing, failed deliveries retried,
 * a rolled-back registration notifying nothing, validation and access.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contextFeature } from '../context/context.feature.js';
import { ADMIN_SECRET, adminToken, bearer, createClient } from '../identity/identity.testing.js';
import { identityFeature } from '../identity/identity.feature.js';
import { registryRepository } from '../identity/registry.repository.js';
import { opsFeature } from '../ops/ops.routes.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { eventually, startReceiver, type Receiver } from '../subscriptions/receiver.testing.js';
import { distributedFeature } from './distributed.feature.js';

const json = { 'content-type': 'application/json' };
const BAD_REQUEST = 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData';

for (const backend of testBackends()) {
  describe(`context source subscriptions (${backend})`, () => {
    let node: TestNode;
    let admin: string;
    let receiver: Receiver;

    before(async () => {
      node = await startTestNode({
        backend,
        mqtt: 'off',
        features: [opsFeature, identityFeature, contextFeature, distributedFeature],
        env: {
          OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
          OCP_FETCH_ALLOW_PRIVATE: 'true',
          OCP_RATE_LIMIT: 'off',
          OCP_NOTIFY_POLL_MS: '200',
          OCP_NOTIFY_RETRY_BASE_MS: '100',
          OCP_NOTIFY_RETRY_MAX_MS: '200',
        },
      });
      admin = await adminToken(node);
      receiver = await startReceiver();
    });
    after(async () => {
      await node?.close();
      await receiver?.close();
    });

    const send = (method: 'POST' | 'PATCH', url: string, body: object, token = admin) =>
      node.app.inject({ method, url, headers: { ...json, ...bearer(token) }, payload: body });
    const get = (url: string, token = admin) => node.app.inject({ url, headers: bearer(token) });
    const remove = (url: string) =>
      node.app.inject({ method: 'DELETE', url, headers: bearer(admin) });
    const subscribe = async (body: object) => {
      const res = await send('POST', '/ngsi-ld/v1/csourceSubscriptions', {
        type: 'Subscription',
        notification: { endpoint: { uri: receiver.url } },
        ...body,
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.headers.location as string;
    };
    const register = async (information: object[], extra: object = {}) => {
      const res = await send('POST', '/ngsi-ld/v1/csourceRegistrations', {
        type: 'ContextSourceRegistration',
        information,
        endpoint: 'http://127.0.0.1:9',
        ...extra,
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.headers.location as string;
    };
    const idOf = (location: string) => decodeURIComponent(location.split('/').pop()!);
    /** Waits for `n` more notifications than `from`; returns them. */
    const next = async (from: number, n = 1) =>
      (await receiver.waitFor(from + n)).slice(from).map((r) => r.body);
    const outboxLength = async () =>
      Number(
        (
          await node.platform.db.query<{ n: string }>(
            'SELECT count(*) AS n FROM ngsi_csource_notification_outbox',
          )
        ).rows[0]!.n,
      );

    test('notifications follow a registration as it starts matching, changes and stops', async () => {
      const sub = await subscribe({ entities: [{ type: 'Sensor' }] });
      const start = receiver.received.length;
      const sensors = await register([{ entities: [{ type: 'Sensor' }] }]);
      const buses = await register([{ entities: [{ type: 'Bus' }] }]);
      let got = await next(start);
      assert.equal(got[0]!.triggerReason, 'newlyMatching');
      assert.equal(got[0]!.subscriptionId, idOf(sub));
      assert.equal(got[0]!.type, 'Notification');
      assert.equal(got[0]!.data.length, 1);
      assert.equal(got[0]!.data[0]!.id, idOf(sensors));
      assert.equal(got[0]!.data[0]!.type, 'ContextSourceRegistration');
      assert.equal(got[0]!.data[0]!.endpoint, 'http://127.0.0.1:9');

      const patch = (url: string, body: object) =>
        send('PATCH', url, body).then((r) => assert.equal(r.statusCode, 204, r.body));
      await patch(sensors, { description: 'renamed' });
      await patch(sensors, { information: [{ entities: [{ type: 'Tram' }] }] });
      await patch(buses, { information: [{ entities: [{ type: 'Sensor' }] }] });
      await remove(buses);
      got = await next(start + 1, 4);
      assert.deepEqual(
        got.map((n) => [n.triggerReason, n.data[0]!.id]),
        [
          ['updated', idOf(sensors)],
          ['noLongerMatching', idOf(sensors)],
          ['newlyMatching', idOf(buses)],
          ['noLongerMatching', idOf(buses)],
        ],
      );
      assert.equal(got[0]!.data[0]!.description, 'renamed');
      // The Bus registration, before it became a Sensor one, notified nothing.
      assert.equal(receiver.received.length, start + 5);

      const status = await eventually(async () => {
        const body = (await get(sub)).json();
        return body.notification.timesSent === 5 ? body : undefined;
      });
      assert.equal(status.notification.status, 'ok');
      assert.equal(status.status, 'active');
      // Deleting the Tram registration, which no longer matched, queues nothing.
      await remove(sensors);
      assert.equal(await outboxLength(), 0);
      await remove(sub);
    });

    test('watchedAttributes, id patterns and pausing', async () => {
      const sub = await subscribe({
        entities: [{ idPattern: '^urn:ngsi-ld:Sensor:north-', type: 'Sensor' }],
        watchedAttributes: ['temperature'],
      });
      const start = receiver.received.length;
      const humidity = await register([
        { entities: [{ type: 'Sensor' }], propertyNames: ['humidity'] },
      ]);
      const south = await register([
        { entities: [{ id: 'urn:ngsi-ld:Sensor:south-1', type: 'Sensor' }] },
      ]);
      const temperature = await register([
        {
          entities: [{ id: 'urn:ngsi-ld:Sensor:north-1', type: 'Sensor' }],
          propertyNames: ['temperature'],
        },
      ]);
      const got = await next(start);
      assert.equal(got[0]!.data[0]!.id, idOf(temperature));

      const paused = await send('PATCH', sub, { isActive: false });
      assert.equal(paused.statusCode, 204, paused.body);
      assert.equal((await get(sub)).json().status, 'paused');
      await remove(temperature);
      assert.equal(await outboxLength(), 0, 'a paused subscription queues nothing');
      await send('PATCH', sub, { isActive: true });
      const again = await register([
        { entities: [{ type: 'Sensor' }], propertyNames: ['temperature', 'humidity'] },
      ]);
      const resumed = await next(start + 1);
      assert.equal(resumed[0]!.data[0]!.id, idOf(again));
      assert.equal(receiver.received.length, start + 2);
      for (const url of [humidity, south, again, sub]) await remove(url);
    });

    test('a failed delivery is retried and shows in the subscription status', async () => {
      const sub = await subscribe({ entities: [{ type: 'Pump' }] });
      const start = receiver.received.length;
      receiver.status = 500;
      const pump = await register([{ entities: [{ type: 'Pump' }] }]);
      const failed = await eventually(async () => {
        const body = (await get(sub)).json();
        return body.notification.timesFailed >= 1 ? body : undefined;
      });
      assert.equal(failed.notification.status, 'failed');
      receiver.status = 204;
      const got = await next(start);
      assert.equal(got[0]!.data[0]!.id, idOf(pump));
      await eventually(async () => ((await outboxLength()) === 0 ? true : undefined));
      await remove(pump);
      await remove(sub);
    });

    test('a registration change that is refused queues no notification', async () => {
      const sub = await subscribe({ entities: [{ type: 'Meter' }] });
      const start = receiver.received.length;
      const claim = {
        mode: 'exclusive',
        information: [
          { entities: [{ id: 'urn:ngsi-ld:Meter:1', type: 'Meter' }], propertyNames: ['reading'] },
        ],
      };
      const first = await register(claim.information, { mode: 'exclusive' });
      await next(start);
      const clash = await send('POST', '/ngsi-ld/v1/csourceRegistrations', {
        type: 'ContextSourceRegistration',
        endpoint: 'http://127.0.0.1:9',
        ...claim,
      });
      assert.equal(clash.statusCode, 409, clash.body);
      assert.equal(await outboxLength(), 0);
      assert.equal(receiver.received.length, start + 1);
      await remove(first);
      await next(start + 1);
      await remove(sub);
    });

    test('bad subscriptions are problem details and change nothing', async () => {
      const endpoint = { endpoint: { uri: receiver.url } };
      const cases: object[] = [
        { type: 'Subscription', entities: [{ type: 'Sensor' }] },
        { type: 'Subscriptions', entities: [{ type: 'Sensor' }], notification: endpoint },
        { type: 'Subscription', notification: endpoint },
        { type: 'Subscription', entities: [], notification: endpoint },
        { type: 'Subscription', entities: [{ type: 'Sensor' }], q: 'a==1', notification: endpoint },
        {
          type: 'Subscription',
          entities: [{ type: 'Sensor' }],
          timeInterval: 10,
          notification: endpoint,
        },
        {
          type: 'Subscription',
          entities: [{ type: 'Sensor' }],
          notification: { endpoint: { uri: 'mqtt://127.0.0.1/topic' } },
        },
        {
          type: 'Subscription',
          entities: [{ type: 'Sensor' }],
          notification: { endpoint: { uri: 'file:///etc/passwd' } },
        },
        {
          type: 'Subscription',
          entities: [{ type: 'Sensor' }],
          expiresAt: '2000-01-01T00:00:00Z',
          notification: endpoint,
        },
      ];
      for (const body of cases) {
        const res = await send('POST', '/ngsi-ld/v1/csourceSubscriptions', body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
        assert.equal(res.json().type, BAD_REQUEST);
      }
      const list = await get('/ngsi-ld/v1/csourceSubscriptions?count=true');
      assert.equal(list.statusCode, 200);
      assert.equal(list.headers['ngsild-results-count'], '0');
      assert.equal(
        (await get('/ngsi-ld/v1/csourceSubscriptions/urn:ngsi-ld:Subscription:none')).statusCode,
        404,
      );
      assert.equal((await get('/ngsi-ld/v1/csourceSubscriptions/not%20a%20uri')).statusCode, 400);
    });

    test('a creator who is no longer a steward is sent nothing more', async () => {
      const steward = await createClient(node, admin, ['steward']);
      const body = {
        type: 'Subscription',
        entities: [{ type: 'Kiosk' }],
        notification: { endpoint: { uri: receiver.url } },
      };
      const mine = await send('POST', '/ngsi-ld/v1/csourceSubscriptions', body, steward.token);
      assert.equal(mine.statusCode, 201, mine.body);
      const control = await subscribe({ entities: [{ type: 'Kiosk' }] });
      const reasonsFor = (location: string, from: number) =>
        receiver.received
          .slice(from)
          .filter((r) => r.body.subscriptionId === idOf(location))
          .map((r) => r.body.triggerReason as string);

      let from = receiver.received.length;
      const kiosks = await register([{ entities: [{ type: 'Kiosk' }] }]);
      const both = () =>
        reasonsFor(mine.headers.location as string, from).length === 1 &&
        reasonsFor(control, from).length === 1
          ? true
          : undefined;
      await eventually(both);
      assert.deepEqual(reasonsFor(control, from), ['newlyMatching']);

      const db = node.platform.db;
      assert.ok(await registryRepository.revokeRole(db, { clientId: steward.clientId }, 'steward'));
      from = receiver.received.length;
      const changed = await send('PATCH', kiosks, { description: 'moved' });
      assert.equal(changed.statusCode, 204, changed.body);
      await eventually(() => (reasonsFor(control, from).length === 1 ? true : undefined));
      await eventually(async () => ((await outboxLength()) === 0 ? true : undefined));
      assert.deepEqual(reasonsFor(mine.headers.location as string, from), []);
      await remove(kiosks);
      await remove(control);
      await remove(mine.headers.location as string);
    });

    test('only admins and stewards may read or change them', async () => {
      const consumer = await createClient(node, admin, ['consumer']);
      const publisher = await createClient(node, admin, ['publisher']);
      const steward = await createClient(node, admin, ['steward']);
      const body = {
        type: 'Subscription',
        entities: [{ type: 'Sensor' }],
        notification: { endpoint: { uri: receiver.url } },
      };
      const url = '/ngsi-ld/v1/csourceSubscriptions';
      assert.equal((await send('POST', url, body, consumer.token)).statusCode, 403);
      assert.equal((await send('POST', url, body, publisher.token)).statusCode, 403);
      assert.equal((await get(url, consumer.token)).statusCode, 403);
      assert.equal((await node.app.inject({ url })).statusCode, 401);
      const created = await send(
        'POST',
        url,
        { ...body, id: 'urn:ngsi-ld:Subscription:s1' },
        steward.token,
      );
      assert.equal(created.statusCode, 201, created.body);
      const location = created.headers.location as string;
      const dup = await send(
        'POST',
        url,
        { ...body, id: 'urn:ngsi-ld:Subscription:s1' },
        steward.token,
      );
      assert.equal(dup.statusCode, 409);
      assert.equal(
        (await send('PATCH', location, { isActive: false }, consumer.token)).statusCode,
        403,
      );
      const list = await get(`${url}?count=true`, steward.token);
      assert.equal(list.headers['ngsild-results-count'], '1');
      assert.equal(list.json()[0].id, 'urn:ngsi-ld:Subscription:s1');
      assert.equal(
        (
          await node.app.inject({
            method: 'DELETE',
            url: location,
            headers: bearer(consumer.token),
          })
        ).statusCode,
        403,
      );
      await remove(location);
      assert.equal((await get(location)).statusCode, 404);
    });
  });
}

/** The dead-letter admin API: who may call it, listing, paging, reading, deleting, purging. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, createClient } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import { deadLetterRepository } from './dead-letter.repository.js';
import { startDeviceNode, type DeviceNode } from './devices.testing.js';

const PROBLEM = /^application\/problem\+json/;

for (const backend of testBackends()) {
  describe(`dead-letter admin API (${backend})`, () => {
    let node: DeviceNode;
    let publisherToken: string;
    before(async () => {
      node = await startDeviceNode(backend, 'embedded');
      publisherToken = (await createClient(node, node.admin, ['publisher'])).token;
      const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 10, minute));
      await deadLetterRepository.insertMany(node.platform.db, [
        ...[0, 1, 2, 3, 4].map((minute) => ({
          receivedAt: at(minute),
          topic: `ocp/v1/_default/cli_a/measurements/urn%3Ax%3A${minute}`,
          tenant: '',
          clientId: 'cli_a',
          entityId: `urn:x:${minute}`,
          reason: 'malformed_json' as const,
          detail: 'not JSON',
          payload: Buffer.from(`{"t": ${minute}`),
          payloadBytes: 8,
          truncated: false,
        })),
        {
          receivedAt: at(5),
          topic: 'ocp/v1/_default/cli_b/entities',
          tenant: '',
          clientId: 'cli_b',
          entityId: null,
          reason: 'unauthorized' as const,
          detail: 'client cli_b is unknown or disabled',
          payload: Buffer.from([0xff, 0xfe, 0x00]),
          payloadBytes: 3,
          truncated: false,
        },
      ]);
    });
    after(() => node.close());

    const call = (method: 'GET' | 'DELETE', url: string, token: string | null = node.admin) =>
      node.app.inject({ method, url, headers: token ? bearer(token) : {} });

    it('is for admins only', async () => {
      for (const [method, url] of [
        ['GET', '/api/v1/devices/dead-letters'],
        ['GET', '/api/v1/devices/dead-letters/1'],
        ['DELETE', '/api/v1/devices/dead-letters/1'],
        ['DELETE', '/api/v1/devices/dead-letters'],
      ] as const) {
        const anonymous = await call(method, url, null);
        assert.equal(anonymous.statusCode, 401, `${method} ${url}`);
        assert.match(String(anonymous.headers['content-type']), PROBLEM);
        const publisher = await call(method, url, publisherToken);
        assert.equal(publisher.statusCode, 403, `${method} ${url}`);
        assert.match(String(publisher.headers['content-type']), PROBLEM);
      }
      assert.equal((await call('GET', '/api/v1/devices/dead-letters')).json().total, 6);
    });

    it('lists newest first, filters and pages', async () => {
      const all = (await call('GET', '/api/v1/devices/dead-letters')).json();
      assert.equal(all.total, 6);
      assert.equal(all.items[0].reason, 'unauthorized');
      assert.equal(all.items[0].payload, null, 'not UTF-8');
      assert.equal(all.items[0].payloadBase64, Buffer.from([0xff, 0xfe, 0x00]).toString('base64'));
      assert.equal(all.items[1].payload, '{"t": 4');
      assert.equal(all.nextBeforeId, null);

      const first = (
        await call('GET', '/api/v1/devices/dead-letters?reason=malformed_json&limit=2')
      ).json();
      assert.equal(first.total, 5);
      assert.deepEqual(
        first.items.map((l: { entityId: string }) => l.entityId),
        ['urn:x:4', 'urn:x:3'],
      );
      const second = (
        await call(
          'GET',
          `/api/v1/devices/dead-letters?reason=malformed_json&limit=2&beforeId=${first.nextBeforeId}`,
        )
      ).json();
      assert.deepEqual(
        second.items.map((l: { entityId: string }) => l.entityId),
        ['urn:x:2', 'urn:x:1'],
      );
      const byClient = (await call('GET', '/api/v1/devices/dead-letters?clientId=cli_b')).json();
      assert.equal(byClient.total, 1);
    });

    it('refuses bad filters with problem details', async () => {
      for (const query of [
        'reason=nope',
        'limit=0',
        'limit=501',
        'before=yesterday',
        'beforeId=-1',
      ]) {
        const res = await call('GET', `/api/v1/devices/dead-letters?${query}`);
        assert.equal(res.statusCode, 400, query);
        assert.match(String(res.headers['content-type']), PROBLEM);
      }
      const bad = await call('GET', '/api/v1/devices/dead-letters/abc');
      assert.equal(bad.statusCode, 400);
    });

    it('reads and deletes one letter; a missing one is 404', async () => {
      const id = (await call('GET', '/api/v1/devices/dead-letters?clientId=cli_b')).json().items[0]
        .id;
      const one = await call('GET', `/api/v1/devices/dead-letters/${id}`);
      assert.equal(one.statusCode, 200);
      assert.equal(one.json().detail, 'client cli_b is unknown or disabled');
      assert.equal((await call('DELETE', `/api/v1/devices/dead-letters/${id}`)).statusCode, 204);
      const gone = await call('GET', `/api/v1/devices/dead-letters/${id}`);
      assert.equal(gone.statusCode, 404);
      assert.match(String(gone.headers['content-type']), PROBLEM);
      assert.equal((await call('DELETE', `/api/v1/devices/dead-letters/${id}`)).statusCode, 404);
    });

    it('purges by filter, then everything', async () => {
      const older = await call(
        'DELETE',
        '/api/v1/devices/dead-letters?reason=malformed_json&before=2026-03-01T10:02:00Z',
      );
      assert.equal(older.statusCode, 200);
      assert.deepEqual(older.json(), { purged: 2 });
      assert.equal((await call('GET', '/api/v1/devices/dead-letters')).json().total, 3);
      assert.deepEqual((await call('DELETE', '/api/v1/devices/dead-letters')).json(), {
        purged: 3,
      });
      assert.equal((await call('GET', '/api/v1/devices/dead-letters')).json().total, 0);
    });
  });
}

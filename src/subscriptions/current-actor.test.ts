/**
 * Notifications are built with what their creator may do at delivery time, as identity
 * knows it then: a creator that lost a role sees less in the next notification, and a
 * disabled creator gets none.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, callers, createDataset, type Caller } from '../governance/governance.testing.js';
import { registryRepository } from '../identity/registry.repository.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { startGovernanceNode } from '../governance/governance.testing.js';
import { eventually, startReceiver, type Receiver } from './receiver.testing.js';

const BENCH = 'urn:ngsi-ld:Bench:1';
const MISC = 'urn:ngsi-ld:Misc:1';

for (const backend of testBackends()) {
  describe(`notifications under the creator's current identity (${backend})`, () => {
    let node: TestNode;
    let receiver: Receiver;
    let c: Record<'pub' | 'watcher', Caller> & { admin: Caller };
    let watcherId: string;
    let watcherSub: string;
    let pubSub: string;
    let tick = 0;

    before(async () => {
      node = await startGovernanceNode(backend);
      receiver = await startReceiver();
      c = await callers(node, { pub: ['publisher', 'steward'], watcher: ['admin'] });
      const created = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/create', [
        { id: BENCH, type: 'Bench', n: { type: 'Property', value: 0 } },
        { id: MISC, type: 'Misc', n: { type: 'Property', value: 0 } },
      ]);
      assert.equal(created.statusCode, 201, created.body);
      // Benches are open data; Misc is covered by no dataset (its publisher and admins only).
      await createDataset(node, c.pub, { types: ['Bench'], classification: 'open' });
      const subscribe = async (who: Caller, path: string) => {
        const res = await call(node, who, 'POST', '/ngsi-ld/v1/subscriptions', {
          type: 'Subscription',
          entities: [{ type: 'Bench' }, { type: 'Misc' }],
          notification: {
            endpoint: { uri: `${receiver.url}/${path}`, accept: 'application/json' },
          },
        });
        assert.equal(res.statusCode, 201, res.body);
        return res.headers.location!.split('/').pop()!;
      };
      watcherSub = await subscribe(c.watcher, 'watcher');
      pubSub = await subscribe(c.pub, 'pub');
      const me = await call(node, c.watcher, 'GET', '/api/v1/me');
      watcherId = me.json().id as string;
      assert.match(watcherId, /^cli_/);
    });
    after(async () => {
      await node?.close();
      await receiver?.close();
    });

    /** Updates both entities; the ids each subscription was notified of for that update. */
    async function change(): Promise<{ watcher: string[] | null; pub: string[] }> {
      const value = ++tick;
      const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/update', [
        { id: BENCH, type: 'Bench', n: { type: 'Property', value } },
        { id: MISC, type: 'Misc', n: { type: 'Property', value } },
      ]);
      assert.equal(res.statusCode, 204, res.body);
      const idsFor = (sub: string) => {
        const ids = receiver.received
          .filter((r) => decodeURIComponent(r.body.subscriptionId as string) === sub)
          .flatMap((r) => r.body.data)
          .filter((e) => (e.n as { value: number } | undefined)?.value === value)
          .map((e) => e.id as string);
        return [...new Set(ids)].sort();
      };
      // The publisher sees both: its notification says the round was delivered.
      const pub = await eventually(
        () => (idsFor(pubSub).length === 2 ? idsFor(pubSub) : undefined),
        15_000,
        `publisher notification ${value}`,
      );
      // Deliveries run in parallel: give the watcher's a moment more.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const watcher = idsFor(watcherSub);
      return { watcher: watcher.length > 0 ? watcher : null, pub };
    }

    it('an admin creator is notified of data no dataset covers', async () => {
      assert.deepEqual(await change(), { watcher: [BENCH, MISC], pub: [BENCH, MISC] });
    });

    it('after losing the admin role, only what its new role may see', async () => {
      const db = node.platform.db;
      assert.ok(await registryRepository.revokeRole(db, { clientId: watcherId }, 'admin'));
      assert.ok(
        await registryRepository.grantRole(db, { clientId: watcherId }, 'consumer', new Date()),
      );
      assert.deepEqual(await change(), { watcher: [BENCH], pub: [BENCH, MISC] });
    });

    it('a disabled creator is notified of nothing', async () => {
      const res = await call(node, c.admin, 'PATCH', `/api/v1/clients/${watcherId}`, {
        status: 'disabled',
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(await change(), { watcher: null, pub: [BENCH, MISC] });
    });
  });
}

/**
 * A node killed with SIGKILL after committing changes whose notifications could not be
 * sent yet (the receiver was down) delivers every one of them after a restart.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { testBackends } from '../platform/testing/database.js';
import { startChild, stopChild, post, storage } from './processes.testing.js';
import { eventually, startReceiver, type Receiver } from './receiver.testing.js';

const base = { PATH: process.env.PATH, HOME: process.env.HOME };

/** Entity ids notified so far, across notifications (a backlog arrives as one). */
const notifiedIds = (receiver: Receiver) =>
  receiver.received.flatMap((n) => n.body.data.map((e) => e.id as string));

const allNotified = (receiver: Receiver, count: number) =>
  eventually(
    () => (new Set(notifiedIds(receiver)).size >= count ? true : undefined),
    30_000,
    `${count} entities notified`,
  );

for (const backend of testBackends()) {
  describe(`notifications survive a crash (${backend})`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    });

    it('delivers every committed change after a SIGKILL and a restart', async () => {
      const store = await storage(backend);
      cleanups.push(store.drop);
      // The receiver is down while the changes commit: nothing can be delivered.
      const probe = await startReceiver();
      const port = probe.port;
      await probe.close();
      const first = await startChild({ ...base, ...store.env });
      cleanups.push(() => stopChild(first));
      const sub = await post(first.url, '/subscriptions', {
        type: 'Subscription',
        entities: [{ type: 'Room' }],
        notification: { format: 'keyValues', endpoint: { uri: `http://127.0.0.1:${port}/notify` } },
      });
      assert.equal(sub.status, 201);
      const changes = 30;
      for (let i = 0; i < changes; i++) {
        const res = await post(first.url, '/entityOperations/upsert', [
          { id: `urn:ngsi-ld:Room:${i}`, type: 'Room', temperature: i },
        ]);
        assert.ok(res.status === 201 || res.status === 204, String(res.status));
      }
      first.process.kill('SIGKILL');
      const killed = await first.exited;
      assert.equal(killed.signal, 'SIGKILL');

      const receiver = await startReceiver(port);
      cleanups.push(() => receiver.close());
      const second = await startChild({ ...base, ...store.env });
      cleanups.push(() => stopChild(second));
      await allNotified(receiver, changes);
      const ids = new Set(notifiedIds(receiver));
      for (let i = 0; i < changes; i++) assert.ok(ids.has(`urn:ngsi-ld:Room:${i}`), `Room:${i}`);
      // In commit order: the notification ids (outbox sequence of their first change) increase.
      const seq = receiver.received.map((n) => Number(n.body.id.split(':').pop()));
      assert.deepEqual(
        seq,
        [...seq].sort((a, b) => a - b),
      );
      await stopChild(second);
    });
  });
}

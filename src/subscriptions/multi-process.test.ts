/** Two nodes on one PostgreSQL database with one subscription: each change is delivered once. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { testDatabaseUrl } from '../platform/testing/database.js';
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

describe('notifications from two processes on one PostgreSQL', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it(
    'delivers each change once with two processes on one database',
    { skip: !testDatabaseUrl },
    async () => {
      const store = await storage('postgres');
      cleanups.push(store.drop);
      const receiver = await startReceiver();
      cleanups.push(() => receiver.close());
      const a = await startChild({ ...base, ...store.env });
      cleanups.push(() => stopChild(a));
      const b = await startChild({ ...base, ...store.env });
      cleanups.push(() => stopChild(b));
      const sub = await post(a.url, '/subscriptions', {
        type: 'Subscription',
        entities: [{ type: 'Room' }],
        notification: { format: 'keyValues', endpoint: { uri: receiver.url } },
      });
      assert.equal(sub.status, 201);
      const changes = 60;
      // Writes go to both processes, concurrently; both workers wake on every commit.
      await Promise.all(
        Array.from({ length: changes }, async (_, i) => {
          const res = await post(i % 2 ? a.url : b.url, '/entityOperations/upsert', [
            { id: `urn:ngsi-ld:Room:${i}`, type: 'Room', temperature: i },
          ]);
          assert.ok(res.status === 201 || res.status === 204, String(res.status));
        }),
      );
      await allNotified(receiver, changes);
      // Give a duplicate (if any) time to arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const notificationIds = receiver.received.map((n) => n.body.id);
      assert.equal(new Set(notificationIds).size, notificationIds.length, 'no duplicates');
      // Each change once: every entity (changed once each) is in exactly one notification.
      const ids = notifiedIds(receiver);
      assert.equal(ids.length, changes);
      assert.equal(new Set(ids).size, changes);
    },
  );
});

/**
 * Three cities' nodes on one machine — real HTTP between loopback ports, a database each —
 * peered with one another. A holds context-source registrations for B and C, so a query
 * at A fans out to both. Shows what issue 10 asks of federation as a whole:
 *   - a consumer of A, granted at B by B's steward, reads B's restricted data through A,
 *     and the access is in B's ledger; without the grant B gives A nothing of it;
 *   - one query at A merges entities of A, B and C;
 *   - a node that rewrites its log is caught by both of its witnesses;
 *   - a peer that suspends the peering is refused at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contextFeature } from '../context/context.feature.js';
import { distributedFeature } from '../distributed/distributed.feature.js';
import { governanceFeature } from '../governance/governance.feature.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  type Caller,
} from '../governance/governance.testing.js';
import { identityFeature } from '../identity/identity.feature.js';
import { bearer } from '../identity/identity.testing.js';
import { latestCheckpoint, queueLength, SEQUENCER_LOCK_KEY } from '../ledger/ledger.repository.js';
import { ledgerFeature } from '../ledger/ledger.routes.js';
import { recordEvents, waitForTree } from '../ledger/testing.js';
import { opsFeature } from '../ops/ops.routes.js';
import { systemClock } from '../platform/clock.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { temporalFeature } from '../temporal/temporal.feature.js';
import { federationFeature } from './federation.feature.js';
import { peerBoth, peerToken, startFederatedNode } from './federation.testing.js';
import { signRequest } from './http-signatures.js';
import { NodeKeys } from './node-keys.js';
import { witnessFeature } from './witness/witness.feature.js';

const features = [
  opsFeature,
  identityFeature,
  federationFeature,
  ledgerFeature,
  governanceFeature,
  contextFeature,
  temporalFeature,
  distributedFeature,
  witnessFeature,
];

const PURPOSE = 'research';

interface City {
  node: TestNode;
  admin: string;
  steward: Caller;
  nodeId: string;
}

async function startCity(backend: 'pglite' | 'postgres', name: string): Promise<City> {
  const node = await startFederatedNode(backend, name, features, {
    // Witness runs are started by the test, not by a timer.
    OCP_WITNESS_INTERVAL_SECONDS: '0',
    OCP_DISTRIBUTED_TIMEOUT_MS: '10000',
  });
  const c = await callers(node, { steward: ['steward', 'publisher'] });
  return {
    node,
    admin: c.admin.token!,
    steward: c.steward,
    nodeId: await new NodeKeys(node.platform.db, systemClock).nodeId(),
  };
}

/** Creates entities as the city's steward (their publisher) in one batch. */
async function publish(city: City, entities: object[]): Promise<void> {
  const res = await call(
    city.node,
    city.steward,
    'POST',
    '/ngsi-ld/v1/entityOperations/create',
    entities,
  );
  assert.equal(res.statusCode, 201, res.body);
}

/** A Sensor whose attributes were observed on the given day of November 2026. */
const sensor = (id: string, attrs: Record<string, number>, day = 10) => ({
  id: `urn:ngsi-ld:Sensor:${id}`,
  type: 'Sensor',
  ...Object.fromEntries(
    Object.entries(attrs).map(([name, value]) => [
      name,
      {
        type: 'Property',
        value,
        observedAt: `2026-11-${String(day).padStart(2, '0')}T00:00:00.000Z`,
      },
    ]),
  ),
});

/** Waits until the node's ledger has sequenced everything queued. */
async function settle(node: TestNode): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await queueLength(node.platform.db)) > 0 || !(await latestCheckpoint(node.platform.db))) {
    if (Date.now() > deadline) throw new Error('ledger did not settle');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const backend of testBackends()) {
  describe(`three federated nodes (${backend})`, () => {
    let a: City;
    let b: City;
    let c: City;
    let consumer: Caller;
    let datasetAtB: string;
    /** How B calls its peering with A. */
    let aAtB: string;
    /** How A calls its peering with C. */
    let cAtA: string;
    /** A's registration of B as a context source. */
    let bRegistration: string;

    before(async () => {
      [a, b, c] = await Promise.all([
        startCity(backend, 'City A'),
        startCity(backend, 'City B'),
        startCity(backend, 'City C'),
      ]);
      const ab = await peerBoth(a, b);
      aAtB = ab.atY;
      cAtA = (await peerBoth(a, c)).atX;
      await peerBoth(b, c);

      // A publishes Sensors openly; B's are restricted to research under a grant; C's are
      // open. One Sensor is known at A and at C with different attributes.
      await publish(a, [sensor('A1', { temperature: 20 }), sensor('shared', { temperature: 21 })]);
      await publish(b, [sensor('B1', { temperature: 30 })]);
      await publish(c, [
        sensor('C1', { temperature: 40 }),
        // C saw the shared Sensor's temperature earlier than A did.
        sensor('shared', { humidity: 50, temperature: 19 }, 5),
      ]);
      await createDataset(a.node, a.steward, { types: ['Sensor'], classification: 'open' });
      datasetAtB = await createDataset(b.node, b.steward, {
        types: ['Sensor'],
        classification: 'restricted',
        policy: policy([PURPOSE]),
      });
      await createDataset(c.node, c.steward, { types: ['Sensor'], classification: 'open' });

      for (const source of [b, c]) {
        const res = await call(
          a.node,
          { token: a.admin, organisationId: null },
          'POST',
          '/ngsi-ld/v1/csourceRegistrations',
          {
            type: 'ContextSourceRegistration',
            information: [{ entities: [{ type: 'Sensor' }] }],
            endpoint: source.node.platform.config.publicUrl,
          },
        );
        assert.equal(res.statusCode, 201, res.body);
        if (source === b) bRegistration = (res.headers.location as string).split('/').pop()!;
      }
      consumer = (await callers(a.node, { consumer: ['consumer'] })).consumer;
    });
    after(async () => {
      await Promise.all([a?.node.close(), b?.node.close(), c?.node.close()]);
    });

    const queryAtA = async () => {
      const res = await call(
        a.node,
        consumer,
        'GET',
        '/ngsi-ld/v1/entities?type=Sensor&count=true',
        undefined,
        {
          'ocp-purpose': PURPOSE,
        },
      );
      assert.equal(res.statusCode, 200, res.body);
      return {
        entities: res.json() as {
          id: string;
          temperature?: { value: number };
          humidity?: { value: number };
        }[],
        count: res.headers['ngsild-results-count'],
        warning: res.headers['ngsild-warning'],
      };
    };
    const ids = (list: { id: string }[]) =>
      list.map((e) => e.id.replace('urn:ngsi-ld:Sensor:', ''));

    test('without a grant at B, B’s restricted data is not in A’s answer', async () => {
      const answer = await queryAtA();
      assert.deepEqual(ids(answer.entities), ['A1', 'C1', 'shared']);
      assert.equal(answer.warning, undefined, 'B answered, with nothing the caller may read');
    });

    test('a consumer of A granted at B reads B’s restricted data through A, and B’s ledger records it', async () => {
      // The consumer asks B for access as its organisation is known at B (through a peer
      // token from A), and B's steward approves.
      const atB: Caller = {
        token: await peerToken(a.node, consumer.token!, b.node),
        organisationId: null,
      };
      const grant = await grantAccess(b.node, atB, b.steward, datasetAtB, PURPOSE);
      const { rows } = await b.node.platform.db.query<{ organisation_id: string }>(
        'SELECT organisation_id FROM federation_peer_organisations WHERE remote_id = $1',
        [consumer.organisationId],
      );
      const mapped = rows[0]!.organisation_id;

      const answer = await queryAtA();
      assert.ok(ids(answer.entities).includes('B1'), JSON.stringify(answer));
      assert.equal(answer.entities.find((e) => e.id.endsWith(':B1'))!.temperature!.value, 30);

      await b.node.app.governance.meter.flush();
      await settle(b.node);
      const res = await b.node.app.inject(
        `/ledger/entries?dataset=${encodeURIComponent(datasetAtB)}&type=data.accessed`,
      );
      assert.equal(res.statusCode, 200, res.body);
      const entries = res.json().entries as {
        actor: { organisationId: string };
        subject: { id: string };
        purpose: string;
        count: number;
      }[];
      assert.equal(entries.length, 1, res.body);
      assert.equal(entries[0]!.actor.organisationId, mapped);
      assert.equal(entries[0]!.subject.id, grant);
      assert.equal(entries[0]!.purpose, PURPOSE);
      assert.equal(entries[0]!.count, 1);
    });

    test('a query at A merges entities from A, B and C', async () => {
      const answer = await queryAtA();
      assert.deepEqual(ids(answer.entities), ['A1', 'B1', 'C1', 'shared']);
      assert.equal(answer.count, '4');
      assert.equal(answer.warning, undefined);
      const shared = answer.entities.find((e) => e.id.endsWith(':shared'))!;
      assert.equal(shared.temperature?.value, 21, 'from A, the more recent observation');
      assert.equal(shared.humidity?.value, 50, 'from C');

      // The temporal API fans out the same way: B's history under the grant, the shared
      // Sensor's temperature instances of A and C in one list, in time order.
      const res = await call(
        a.node,
        consumer,
        'GET',
        '/ngsi-ld/v1/temporal/entities?type=Sensor&timerel=after&timeAt=2026-11-01T00:00:00Z',
        undefined,
        { 'ocp-purpose': PURPOSE },
      );
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['ngsild-warning'], undefined);
      const history = res.json() as { id: string; temperature: { value: number }[] }[];
      assert.deepEqual(ids(history), ['A1', 'B1', 'C1', 'shared']);
      assert.deepEqual(
        history.find((e) => e.id.endsWith(':shared'))!.temperature.map((i) => i.value),
        [19, 21],
      );
      assert.deepEqual(
        history.find((e) => e.id.endsWith(':B1'))!.temperature.map((i) => i.value),
        [30],
      );
    });

    test('a node that forks its log is detected by both of its witnesses', async () => {
      const witness = async (city: City) => {
        const res = await city.node.app.inject({
          method: 'POST',
          url: '/api/v1/federation/witness/run',
          headers: bearer(city.admin),
        });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json<{ peers: Record<string, { status: string }> }>();
        return Object.fromEntries(Object.entries(body.peers).map(([id, p]) => [id, p.status]));
      };
      await Promise.all([a, b, c].map((city) => settle(city.node)));
      for (const city of [a, b]) assert.equal((await witness(city))[c.nodeId], 'first_seen');
      const seen = (await latestCheckpoint(c.node.platform.db))!.size;

      // C rewrites its history: the log is emptied and refilled with other entries under
      // the same key, to a larger tree than its witnesses saw.
      await c.node.platform.db.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SEQUENCER_LOCK_KEY]);
        await tx.query('DELETE FROM ledger_entries');
        await tx.query('DELETE FROM ledger_tiles');
        await tx.query('DELETE FROM ledger_checkpoints');
      });
      await recordEvents(c.node, seen + 3, 1000);
      await waitForTree(c.node, seen + 3);

      for (const city of [a, b]) {
        const outcome = await witness(city);
        assert.equal(outcome[c.nodeId], 'fork', `${city.nodeId} sees C's fork`);
        const other = city === a ? b : a;
        assert.notEqual(outcome[other.nodeId], 'fork');
        const forks = (await city.node.app.inject('/federation/witness/forks')).json<{
          forks: { peerNodeId: string; kind: string }[];
        }>().forks;
        assert.deepEqual(
          forks.map((f) => [f.peerNodeId, f.kind]),
          [[c.nodeId, 'inconsistent']],
        );
      }
    });

    test('a suspended peer is refused at once', async () => {
      assert.ok(ids((await queryAtA()).entities).includes('B1'));
      const suspended = await b.node.app.inject({
        method: 'POST',
        url: `/api/v1/federation/peers/${aAtB}/suspend`,
        headers: bearer(b.admin),
      });
      assert.equal(suspended.statusCode, 200, suspended.body);
      assert.equal(suspended.json().status, 'suspended');
      // A was told and sends B nothing more; the warning says why B is missing.
      const answer = await queryAtA();
      assert.deepEqual(ids(answer.entities), ['A1', 'C1', 'shared']);
      assert.match(
        String(answer.warning),
        new RegExp(`^199 ${bRegistration} "not sent: the peering with City B is pending"$`),
      );
      // And B refuses A by itself, whatever A believes: a request A signs is turned away.
      const url = `${b.node.platform.config.publicUrl}/ngsi-ld/v1/entities?type=Sensor`;
      const keyA = await new NodeKeys(a.node.platform.db, systemClock).active();
      const signed = await fetch(url, {
        headers: signRequest({ method: 'GET', url, headers: {} }, keyA, new Date()),
      });
      assert.equal(signed.status, 401);
    });

    test('a removed peer is asked nothing more', async () => {
      assert.ok(ids((await queryAtA()).entities).includes('C1'));
      const removed = await a.node.app.inject({
        method: 'DELETE',
        url: `/api/v1/federation/peers/${cAtA}`,
        headers: bearer(a.admin),
      });
      assert.ok(removed.statusCode < 300, removed.body);
      const answer = await queryAtA();
      assert.deepEqual(ids(answer.entities), ['A1', 'shared']);
      assert.equal(answer.entities[1]!.humidity, undefined, 'nothing of C merged');
      assert.match(String(answer.warning), /"not sent: the peering with City C is removed"/);
    });
  });
}

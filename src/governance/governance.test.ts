/**
 * The governance API: datasets (validation, policy profile, who may change what), the
 * purpose vocabulary, the request → grant flow with its ledger events, metering figures
 * and monthly statements checked against independently computed expectations, and the
 * retention job.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminToken, createClient, TestClock, tokenFor } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  ODRL,
  policy,
  startGovernanceNode,
  type Caller,
} from './governance.testing.js';
import { applyRetention } from './retention.js';
import { buildEntry, normaliseEvent, searchKeys } from '../ledger/entry.js';
import type { LedgerEvent } from '../ledger/ledger.events.js';

async function ledgerEvents(node: TestNode, type: string) {
  const { rows } = await node.platform.db.query<{ event: Record<string, unknown> }>(
    `SELECT event FROM ledger_queue WHERE event->>'type' = $1 ORDER BY id`,
    [type],
  );
  return rows.map((r) => r.event);
}

for (const backend of testBackends()) {
  describe(`governance API (${backend})`, () => {
    let node: TestNode;
    let c: Record<'steward' | 'publisher' | 'other' | 'consumer' | 'consumer2', Caller> & {
      admin: Caller;
    };
    before(async () => {
      node = await startGovernanceNode(backend);
      c = await callers(node, {
        steward: ['steward', 'publisher'],
        publisher: ['publisher'],
        other: ['steward', 'publisher'],
        consumer: ['consumer'],
        consumer2: ['consumer'],
      });
    });
    after(() => node.close());

    it('rejects policies outside the profile, naming each offending term', async () => {
      const res = await call(node, c.steward, 'POST', '/api/v1/datasets', {
        types: ['Parking'],
        classification: 'restricted',
        licence: { spdx: 'CC-BY-4.0' },
        policy: {
          '@context': ODRL,
          '@type': 'Set',
          permission: [
            {
              action: 'use',
              constraint: [
                { leftOperand: 'purpose', operator: 'isAnyOf', rightOperand: ['astrology'] },
                { leftOperand: 'recipient', operator: 'eq', rightOperand: 'x' },
              ],
            },
            { action: 'print' },
          ],
          obligation: [],
        },
      });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      const paths = (res.json().errors as { path: string }[]).map((e) => e.path).sort();
      assert.deepEqual(paths, [
        '/policy/obligation',
        '/policy/permission/0/constraint/0/rightOperand/0',
        '/policy/permission/0/constraint/1/leftOperand',
        '/policy/permission/1/action',
      ]);
    });

    it('accepts the documented profile and renders it in plain language', async () => {
      const res = await call(node, c.steward, 'POST', '/api/v1/datasets', {
        types: ['Parking'],
        classification: 'restricted',
        licence: { spdx: 'CC-BY-4.0' },
        retentionDays: 30,
        catalog: { title: 'Parking occupancy', keywords: ['mobility'] },
        policy: {
          '@context': ODRL,
          '@type': 'Offer',
          permission: [
            {
              action: 'use',
              constraint: [
                { leftOperand: 'purpose', operator: 'isAnyOf', rightOperand: ['research'] },
                { leftOperand: 'count', operator: 'lteq', rightOperand: 500, unit: 'perDay' },
                { leftOperand: 'dateTime', operator: 'lt', rightOperand: '2099-01-01T00:00:00Z' },
                { leftOperand: 'ocp:spatialResolution', operator: 'gteq', rightOperand: 100 },
              ],
              duty: [
                { action: 'attribute' },
                {
                  action: 'delete',
                  constraint: [
                    { leftOperand: 'elapsedTime', operator: 'lteq', rightOperand: 'P90D' },
                  ],
                },
              ],
            },
          ],
          prohibition: [{ action: 'commercialize' }],
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      const d = res.json();
      assert.equal(d.publisherOrg, c.steward.organisationId);
      assert.deepEqual(d.types, ['https://uri.etsi.org/ngsi-ld/default-context/Parking']);
      assert.deepEqual(d.policyText, [
        'You may use this data only for: research.',
        'Commercial use is not allowed.',
        'Use is permitted until 2099-01-01T00:00:00.000Z.',
        'At most 500 requests per day.',
        'Locations are no finer than 100 m.',
        'You must credit the publisher.',
        'You must delete the data within P90D.',
      ]);
      // The policy decides requests: another purpose or commercial use is refused.
      const bad = await call(node, c.consumer, 'POST', `/api/v1/datasets/${d.id}/access-requests`, {
        purpose: 'education',
        durationDays: 10,
        commercial: false,
        justification: 'x',
      });
      assert.equal(bad.statusCode, 403, bad.body);
      const commercial = await call(
        node,
        c.consumer,
        'POST',
        `/api/v1/datasets/${d.id}/access-requests`,
        { purpose: 'research', durationDays: 10, commercial: true, justification: 'x' },
      );
      assert.equal(commercial.statusCode, 403, commercial.body);
      // The grant takes the policy's daily count as its quota.
      const grant = await grantAccess(node, c.consumer, c.steward, d.id, 'research');
      const grants = (await call(node, c.consumer, 'GET', '/api/v1/grants')).json();
      assert.equal(grants.find((g: { id: string }) => g.id === grant).quotaPerDay, 500);
    });

    it('lets only stewards and publishers of the publisher organisation (or admins) change a dataset', async () => {
      const id = await createDataset(node, c.steward, { types: ['Bench'], classification: 'open' });
      const body = {
        types: ['Bench'],
        classification: 'restricted',
        licence: { spdx: 'MIT' },
        policy: policy(),
      };
      assert.equal((await call(node, null, 'POST', '/api/v1/datasets', body)).statusCode, 401);
      assert.equal(
        (await call(node, c.consumer, 'POST', '/api/v1/datasets', body)).statusCode,
        403,
      );
      assert.equal(
        (
          await call(node, c.other, 'POST', '/api/v1/datasets', {
            ...body,
            publisherOrg: c.steward.organisationId,
          })
        ).statusCode,
        403,
      );
      assert.equal(
        (await call(node, c.other, 'PUT', `/api/v1/datasets/${id}`, body)).statusCode,
        403,
      );
      assert.equal((await call(node, c.other, 'DELETE', `/api/v1/datasets/${id}`)).statusCode, 403);
      const put = await call(node, c.steward, 'PUT', `/api/v1/datasets/${id}`, body);
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().classification, 'restricted');
      const admin = await call(node, c.admin, 'DELETE', `/api/v1/datasets/${id}`);
      assert.equal(admin.statusCode, 204);
      assert.equal((await call(node, null, 'GET', `/api/v1/datasets/${id}`)).statusCode, 404);
      const kinds = (await ledgerEvents(node, 'dataset.updated')).map(
        (e) => (e.subject as { id: string }).id,
      );
      assert.ok(kinds.includes(id));
      assert.equal((await ledgerEvents(node, 'dataset.deleted')).length, 1);
    });

    it('hides confidential datasets from the catalog for outsiders', async () => {
      const id = await createDataset(node, c.steward, {
        types: ['Vault'],
        classification: 'confidential',
      });
      assert.equal((await call(node, null, 'GET', `/api/v1/datasets/${id}`)).statusCode, 404);
      assert.equal((await call(node, c.consumer, 'GET', `/api/v1/datasets/${id}`)).statusCode, 404);
      assert.equal((await call(node, c.steward, 'GET', `/api/v1/datasets/${id}`)).statusCode, 200);
      const list = (await call(node, null, 'GET', '/api/v1/datasets')).json() as { id: string }[];
      assert.ok(!list.some((d) => d.id === id));
    });

    it('runs request → approve / deny → revoke with ledger events in the same transaction', async () => {
      const ds = await createDataset(node, c.steward, {
        types: ['Meter'],
        classification: 'personal',
        policy: policy(['research']),
      });
      const ask = (who: Caller) =>
        call(node, who, 'POST', `/api/v1/datasets/${ds}/access-requests`, {
          purpose: 'research',
          durationDays: 7,
          commercial: false,
          justification: 'study',
        });
      const r1 = (await ask(c.consumer)).json();
      const r2 = (await ask(c.consumer2)).json();
      assert.equal(r1.status, 'pending');
      // Consumers cannot decide; a steward of another organisation cannot see it.
      assert.equal(
        (await call(node, c.consumer, 'POST', `/api/v1/access-requests/${r1.id}/approve`, {}))
          .statusCode,
        403,
      );
      assert.equal(
        (await call(node, c.other, 'POST', `/api/v1/access-requests/${r1.id}/approve`, {}))
          .statusCode,
        404,
      );
      const approved = await call(
        node,
        c.steward,
        'POST',
        `/api/v1/access-requests/${r1.id}/approve`,
        {
          quotaPerDay: 10,
          fee: { currency: 'EUR', perThousandEntities: 1.5 },
        },
      );
      assert.equal(approved.statusCode, 201, approved.body);
      const g = approved.json();
      assert.equal(
        Date.parse(g.validUntil) - Date.parse(g.validFrom),
        7 * 86_400_000,
        'validity follows the requested duration',
      );
      assert.equal(
        (await call(node, c.steward, 'POST', `/api/v1/access-requests/${r1.id}/approve`, {}))
          .statusCode,
        409,
      );
      const denied = await call(node, c.steward, 'POST', `/api/v1/access-requests/${r2.id}/deny`, {
        reason: 'no legal basis',
      });
      assert.equal(denied.statusCode, 204);
      const mine = (await call(node, c.consumer2, 'GET', '/api/v1/access-requests')).json();
      assert.deepEqual(
        mine.map((r: { status: string; reason: string }) => [r.status, r.reason]),
        [['denied', 'no legal basis']],
      );
      const revoked = await call(node, c.steward, 'POST', `/api/v1/grants/${g.id}/revoke`, {
        reason: 'ended',
      });
      assert.equal(revoked.statusCode, 200, revoked.body);
      assert.ok(revoked.json().revokedAt);

      const approvedEvents = await ledgerEvents(node, 'grant.approved');
      const e = approvedEvents.find((x) => (x.subject as { id: string }).id === g.id)!;
      assert.equal(e.purpose, 'research');
      assert.equal(
        (e.actor as { organisationId: string }).organisationId,
        c.steward.organisationId,
      );
      assert.equal((await ledgerEvents(node, 'access.denied')).length, 1);
      assert.equal((await ledgerEvents(node, 'grant.revoked')).length, 1);
      assert.ok((await ledgerEvents(node, 'access.requested')).length >= 2);
    });

    it('keeps a city-editable purpose vocabulary', async () => {
      const put = await call(node, c.admin, 'PUT', '/api/v1/purposes/mobility-planning', {
        label: 'Mobility planning',
      });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(
        (await call(node, c.steward, 'PUT', '/api/v1/purposes/x', { label: 'x' })).statusCode,
        403,
      );
      const list = (await call(node, null, 'GET', '/api/v1/purposes')).json() as { id: string }[];
      assert.ok(list.some((p) => p.id === 'mobility-planning'));
      // In use by a request: cannot be removed.
      assert.equal(
        (await call(node, c.admin, 'DELETE', '/api/v1/purposes/research')).statusCode,
        409,
      );
      assert.equal(
        (await call(node, c.admin, 'DELETE', '/api/v1/purposes/mobility-planning')).statusCode,
        204,
      );
    });

    it('meters requests, entities and attribute instances per grant and day, and bills them', async () => {
      const entities = [1, 2, 3].map((n) => ({
        id: `urn:ngsi-ld:Sensor:${n}`,
        type: 'Sensor',
        temperature: { type: 'Property', value: n },
        humidity: [
          { type: 'Property', value: n, datasetId: 'urn:ngsi-ld:Dataset:a' },
          { type: 'Property', value: n + 1, datasetId: 'urn:ngsi-ld:Dataset:b' },
        ],
      }));
      const created = await call(
        node,
        c.steward,
        'POST',
        '/ngsi-ld/v1/entityOperations/create',
        entities,
      );
      assert.equal(created.statusCode, 201, created.body);
      const ds = await createDataset(node, c.steward, {
        types: ['Sensor'],
        classification: 'restricted',
        policy: policy(['research']),
      });
      const grant = await grantAccess(node, c.consumer2, c.steward, ds, 'research', {
        fee: { currency: 'EUR', perThousandEntities: 2.5 },
      });
      const read = (url: string) =>
        call(node, c.consumer2, 'GET', `/ngsi-ld/v1${url}`, undefined, {
          'ocp-purpose': 'research',
        });
      // 4 requests: 3 + 2 + 1 entities; one more that returns nothing is not metered.
      assert.equal((await read('/entities?type=Sensor')).json().length, 3);
      assert.equal((await read('/entities?type=Sensor&limit=2')).json().length, 2);
      assert.equal(
        (await read(`/entities/${encodeURIComponent('urn:ngsi-ld:Sensor:1')}`)).statusCode,
        200,
      );
      assert.equal((await read('/entities?type=Sensor&q=temperature==3')).json().length, 1);
      assert.equal((await read('/entities?type=Sensor&q=temperature==9')).json().length, 0);
      await node.app.governance.meter.flush();
      const { rows } = await node.platform.db.query<Record<string, string>>(
        'SELECT requests, entities, attributes, notifications FROM gov_usage WHERE grant_id = $1',
        [grant],
      );
      // Each Sensor carries 3 attribute instances (1 temperature + 2 humidity).
      const entitiesReturned = 3 + 2 + 1 + 1;
      assert.deepEqual(
        rows.map((r) => [
          Number(r.requests),
          Number(r.entities),
          Number(r.attributes),
          Number(r.notifications),
        ]),
        [[4, entitiesReturned, entitiesReturned * 3, 0]],
      );
      // A second flush with nothing new adds nothing.
      await node.app.governance.meter.flush();
      const again = await node.platform.db.query<{ requests: string }>(
        'SELECT requests FROM gov_usage WHERE grant_id = $1',
        [grant],
      );
      assert.equal(Number(again.rows[0]!.requests), 4);
      const accessed = (await ledgerEvents(node, 'data.accessed')).find(
        (e) => (e.subject as { id: string }).id === grant,
      )!;
      assert.equal(accessed.count, entitiesReturned);
      assert.equal(accessed.purpose, 'research');
      // Named the way the ledger indexes it, so /ledger/entries?dataset= finds the access.
      const entry = buildEntry(normaliseEvent(accessed as unknown as LedgerEvent), 0, new Date());
      assert.equal(searchKeys(entry).datasetId, ds);

      const month = new Date().toISOString().slice(0, 7);
      const statement = await call(node, c.consumer2, 'GET', `/api/v1/usage/statements/${month}`);
      assert.equal(statement.statusCode, 200, statement.body);
      const line = statement.json().lines.find((l: { grantId: string }) => l.grantId === grant);
      // 7 entities at 2.50 EUR per 1,000 = 0.0175 EUR, billed as 0.02.
      assert.equal(line.entities, 7);
      assert.equal(line.amount, 0.02);
      const csv = await call(
        node,
        c.consumer2,
        'GET',
        `/api/v1/usage/statements/${month}?format=csv`,
      );
      assert.match(String(csv.headers['content-type']), /text\/csv/);
      const lines = csv.body.trim().split('\r\n');
      assert.equal(
        lines[0],
        'grantId,datasetId,purpose,commercial,requests,entities,attributes,notifications,currency,perThousandEntities,amount',
      );
      assert.ok(lines.includes(`${grant},${ds},research,false,4,7,21,0,EUR,2.5,0.02`), csv.body);
      // Another organisation's statement is not the caller's to read.
      assert.equal(
        (
          await call(
            node,
            c.consumer,
            'GET',
            `/api/v1/usage/statements/${month}?organisationId=${c.consumer2.organisationId}`,
          )
        ).statusCode,
        404,
      );
    });
  });

  describe(`privacy transforms (${backend})`, () => {
    let node: TestNode;
    let c: Record<'pub' | 'consumer', Caller> & { admin: Caller };
    const LON = 4.351234;
    const LAT = 50.846789;
    before(async () => {
      node = await startGovernanceNode(backend);
      c = await callers(node, { pub: ['steward', 'publisher'], consumer: ['consumer'] });
      const tram = (n: number) => ({
        id: `urn:ngsi-ld:Tram:${n}`,
        type: 'Tram',
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [LON, LAT] } },
        speed: { type: 'Property', value: 30, observedAt: '2026-03-01T10:47:13Z' },
        driver: { type: 'Property', value: 'D-17' },
      });
      const van = { ...tram(1), id: 'urn:ngsi-ld:Van:1', type: 'Van' };
      const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/create', [
        tram(1),
        van,
      ]);
      assert.equal(res.statusCode, 201, res.body);
      const transforms = {
        dropAttrs: ['driver'],
        locationGridMetres: 1000,
        observedAtBucketSeconds: 3600,
      };
      await createDataset(node, c.pub, { types: ['Tram'], classification: 'open', transforms });
      const vans = await createDataset(node, c.pub, {
        types: ['Van'],
        classification: 'restricted',
        policy: policy(['research']),
        transforms: { ...transforms, applyToGrants: true },
      });
      await grantAccess(node, c.consumer, c.pub, vans, 'research');
    });
    after(() => node.close());

    /** The grid snap computed independently of the SQL. */
    function snapped(): [number, number] {
      const latStep = 1000 / 111_320;
      const lat = Math.round(LAT / latStep) * latStep;
      const lonStep = 1000 / (111_320 * Math.cos((lat * Math.PI) / 180));
      return [Math.round(LON / lonStep) * lonStep, lat];
    }

    const get = (who: Caller | null, id: string) =>
      call(node, who, 'GET', `/ngsi-ld/v1/entities/${encodeURIComponent(id)}`, undefined, {
        'ocp-purpose': 'research',
      });

    for (const [label, id, reader] of [
      ['open readers', 'urn:ngsi-ld:Tram:1', 'anonymous'],
      ['grants when the dataset says so', 'urn:ngsi-ld:Van:1', 'consumer'],
    ] as const) {
      it(`coarsens location and observedAt and drops attributes for ${label}`, async () => {
        const res = await get(reader === 'anonymous' ? null : c.consumer, id);
        assert.equal(res.statusCode, 200, res.body);
        const e = res.json();
        const [lon, lat] = e.location.value.coordinates as number[];
        const [wantLon, wantLat] = snapped();
        assert.ok(Math.abs(lon! - wantLon) < 1e-6, `${lon} vs ${wantLon}`);
        assert.ok(Math.abs(lat! - wantLat) < 1e-6, `${lat} vs ${wantLat}`);
        assert.notEqual(lon, LON);
        assert.equal(e.speed.observedAt, '2026-03-01T10:00:00Z');
        assert.equal(e.speed.value, 30);
        assert.equal('driver' in e, false);
      });
    }

    it('leaves the publisher’s view untouched', async () => {
      const e = (await get(c.pub, 'urn:ngsi-ld:Tram:1')).json();
      assert.deepEqual(e.location.value.coordinates, [LON, LAT]);
      assert.equal(e.speed.observedAt, '2026-03-01T10:47:13Z');
      assert.equal(e.driver.value, 'D-17');
    });

    it('applies the same transforms in queries and batch queries', async () => {
      const q = await call(node, null, 'GET', '/ngsi-ld/v1/entities?type=Tram,Van');
      assert.deepEqual(
        (q.json() as { id: string }[]).map((e) => e.id),
        ['urn:ngsi-ld:Tram:1'],
      );
      const b = await call(node, null, 'POST', '/ngsi-ld/v1/entityOperations/query', {
        type: 'Query',
        entities: [{ type: 'Tram' }],
      });
      for (const e of [q.json()[0], b.json()[0]]) {
        assert.equal(e.speed.observedAt, '2026-03-01T10:00:00Z');
        assert.equal('driver' in e, false);
        assert.notEqual(e.location.value.coordinates[0], LON);
      }
    });
  });

  describe(`retention (${backend})`, () => {
    const clock = new TestClock(Date.parse('2026-01-01T00:00:00Z'));
    let node: TestNode;
    before(async () => {
      node = await startGovernanceNode(backend, { clock });
    });
    after(() => node.close());

    it('deletes history older than each dataset’s retention, once, and records it', async () => {
      const client = await createClient(node, await adminToken(node), ['steward', 'publisher']);
      const pub: Caller = { token: client.token, organisationId: client.organisationId };
      const write = (type: string, value: number) =>
        call(node, pub, 'POST', '/ngsi-ld/v1/entityOperations/upsert', [
          { id: `urn:ngsi-ld:${type}:1`, type, level: { type: 'Property', value } },
        ]);
      assert.equal((await write('Bin', 1)).statusCode, 201);
      assert.equal((await write('Tree', 1)).statusCode, 201);
      clock.advance(40 * 86_400);
      pub.token = await tokenFor(node, client.clientId, client.secret);
      assert.equal((await write('Bin', 2)).statusCode, 204);
      const ds = await createDataset(node, pub, {
        types: ['Bin'],
        classification: 'open',
        retentionDays: 30,
      });
      const count = async (type: string) =>
        Number(
          (
            await node.platform.db.query<{ n: string }>(
              `SELECT count(*) AS n FROM ngsi_attribute_history WHERE entity_id = $1`,
              [`urn:ngsi-ld:${type}:1`],
            )
          ).rows[0]!.n,
        );
      const binBefore = await count('Bin');
      const oldBin = Number(
        (
          await node.platform.db.query<{ n: string }>(
            `SELECT count(*) AS n FROM ngsi_attribute_history WHERE entity_id = 'urn:ngsi-ld:Bin:1' AND modified_at < $1`,
            [new Date(clock.now().getTime() - 30 * 86_400_000)],
          )
        ).rows[0]!.n,
      );
      assert.ok(oldBin > 0 && oldBin < binBefore, `${oldBin} of ${binBefore}`);
      const treeBefore = await count('Tree');
      // Two runs at once: one takes the lock, the other does nothing.
      const runs = await Promise.all([
        applyRetention(node.platform.db, clock),
        applyRetention(node.platform.db, clock),
      ]);
      const deleted = runs.flatMap((r) => r.deleted);
      assert.deepEqual(
        deleted.map((d) => [d.datasetId, d.rows]),
        [[ds, oldBin]],
      );
      assert.equal(await count('Bin'), binBefore - oldBin);
      assert.equal(await count('Tree'), treeBefore, 'uncovered history is kept');
      const events = await ledgerEvents(node, 'retention.applied');
      assert.equal(events.length, 1);
      assert.equal(events[0]!.count, oldBin);
      const rerun = await applyRetention(node.platform.db, clock);
      assert.deepEqual(rerun.deleted, []);
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminToken, bearer, createClient } from '../identity/identity.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import {
  createOrganisation,
  queuedEvents,
  sampleAlgorithm,
  sampleTechnology,
  startRegisterNode,
} from './register.testing.js';

for (const backend of testBackends()) {
  describe(`technology and algorithm registers (${backend})`, () => {
    let node: TestNode;
    let admin: string;
    let steward: Awaited<ReturnType<typeof createClient>>;
    let otherSteward: Awaited<ReturnType<typeof createClient>>;
    let consumer: Awaited<ReturnType<typeof createClient>>;

    before(async () => {
      node = await startRegisterNode(backend);
      admin = await adminToken(node);
      const mobility = await createOrganisation(node, admin, 'Mobility department');
      steward = await createClient(node, admin, ['steward'], mobility);
      otherSteward = await createClient(node, admin, ['steward']);
      consumer = await createClient(node, admin, ['consumer']);
    });
    after(() => node?.close());

    const inject = (
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      url: string,
      token?: string,
      payload?: object,
    ) =>
      node.app.inject({
        method,
        url,
        ...(token ? { headers: bearer(token) } : {}),
        ...(payload ? { payload } : {}),
      });

    const countEntries = async () =>
      Number(
        (
          await node.platform.db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM register_entries',
          )
        ).rows[0]!.n,
      );

    it('a steward publishes a technology entry; anyone reads it; the ledger gets the event', async () => {
      const created = await inject(
        'POST',
        '/api/v1/technologies',
        steward.token,
        sampleTechnology(),
      );
      assert.equal(created.statusCode, 201, created.body);
      const body = created.json();
      assert.match(body.id, /^tec_/);
      assert.equal(created.headers.location, `/api/v1/technologies/${body.id}`);
      assert.equal(body.organisationId, steward.organisationId);
      assert.equal(body.version, 1);
      assert.deepEqual(body.locations[0], {
        lat: 45.5017,
        lon: -73.5673,
        label: 'Sainte-Catherine / Peel',
      });

      const read = await inject('GET', `/api/v1/technologies/${body.id}`);
      assert.equal(read.statusCode, 200);
      assert.equal(read.json().name.fr, 'Caméra de comptage (Traffic counting camera)');
      assert.deepEqual(read.json().retention, { elements: ['data_retained'], days: 30 });

      const list = await inject('GET', '/api/v1/technologies?q=PEEL');
      assert.equal(list.json().total, 1);
      assert.equal(
        (await inject('GET', '/api/v1/technologies?q=nothing-like-this')).json().total,
        0,
      );

      const events = await queuedEvents(node, 'technology.created');
      assert.equal(events.length, 1);
      assert.equal(events[0]!.subject.id, body.id);
      assert.equal(events[0]!.actor.clientId, steward.clientId);
    });

    it('refuses anonymous callers, non-stewards and bad input without writing anything', async () => {
      const before = await countEntries();
      assert.equal(
        (await inject('POST', '/api/v1/technologies', undefined, sampleTechnology())).statusCode,
        401,
      );
      assert.equal(
        (await inject('POST', '/api/v1/technologies', consumer.token, sampleTechnology()))
          .statusCode,
        403,
      );
      const unknownElement = sampleTechnology();
      unknownElement.purpose.elements = ['mobility', 'video_camera'];
      const bad = await inject('POST', '/api/v1/technologies', steward.token, unknownElement);
      assert.equal(bad.statusCode, 400);
      assert.match(bad.headers['content-type'] as string, /application\/problem\+json/);
      assert.equal(bad.json().errors[0].path, '/purpose/elements');
      assert.match(bad.json().errors[0].message, /video_camera/);
      const oneLanguage = { ...sampleTechnology(), name: { en: 'English only' } };
      assert.equal(
        (await inject('POST', '/api/v1/technologies', steward.token, oneLanguage)).statusCode,
        400,
      );
      const farAway = { ...sampleTechnology(), locations: [{ lat: 91, lon: 0 }] };
      assert.equal(
        (await inject('POST', '/api/v1/technologies', steward.token, farAway)).statusCode,
        400,
      );
      const huge = { ...sampleTechnology(), summary: { en: 'x'.repeat(1001), fr: 'y' } };
      assert.equal(
        (await inject('POST', '/api/v1/technologies', steward.token, huge)).statusCode,
        400,
      );
      assert.equal(await countEntries(), before);
      assert.equal((await inject('GET', '/api/v1/technologies/tec_doesnotexist')).statusCode, 404);
      assert.equal((await inject('GET', '/api/v1/technologies/not-an-id')).statusCode, 400);
    });

    it('only the publishing organisation (or an admin) changes or removes an entry', async () => {
      const id = (
        await inject('POST', '/api/v1/technologies', steward.token, sampleTechnology('Air sensor'))
      ).json().id;
      const changed = { ...sampleTechnology('Air sensor'), status: 'retired' };
      assert.equal(
        (await inject('PUT', `/api/v1/technologies/${id}`, otherSteward.token, changed)).statusCode,
        403,
      );
      assert.equal(
        (await inject('DELETE', `/api/v1/technologies/${id}`, otherSteward.token)).statusCode,
        403,
      );
      const updated = await inject('PUT', `/api/v1/technologies/${id}`, steward.token, changed);
      assert.equal(updated.statusCode, 200, updated.body);
      assert.equal(updated.json().version, 2);
      assert.equal(updated.json().status, 'retired');
      assert.equal((await queuedEvents(node, 'technology.updated')).at(-1)!.subject.id, id);
      assert.equal(
        (await inject('PUT', `/api/v1/technologies/${id}`, admin, changed)).json().version,
        3,
      );
      assert.equal(
        (await inject('DELETE', `/api/v1/technologies/${id}`, steward.token)).statusCode,
        204,
      );
      assert.equal((await inject('GET', `/api/v1/technologies/${id}`)).statusCode, 404);
      assert.equal((await queuedEvents(node, 'technology.removed')).at(-1)!.subject.id, id);
    });

    it('algorithm register: standard fields, node-maintained metadata, ledger events', async () => {
      const created = await inject('POST', '/api/v1/algorithms', steward.token, sampleAlgorithm());
      assert.equal(created.statusCode, 201, created.body);
      const body = created.json();
      assert.match(body.id, /^alg_/);
      assert.equal(body.standard_version, '0.3.1');
      assert.match(body.uuid, /^[0-9a-f-]{36}$/);
      assert.match(body.publication_date, /^\d{4}-\d{2}-\d{2}$/);
      assert.equal(body.risk_category, 'minimal');
      const { risks: _risks, ...missingRequired } = sampleAlgorithm();
      assert.equal(
        (await inject('POST', '/api/v1/algorithms', steward.token, missingRequired)).statusCode,
        400,
      );
      const badEnum = { ...sampleAlgorithm(), risk_category: 'none' };
      assert.equal(
        (await inject('POST', '/api/v1/algorithms', steward.token, badEnum)).statusCode,
        400,
      );
      const updated = await inject('PUT', `/api/v1/algorithms/${body.id}`, steward.token, {
        ...sampleAlgorithm(),
        status: 'retired',
      });
      assert.equal(updated.json().uuid, body.uuid, 'the uuid stays with the entry');
      assert.equal(updated.json().version, 2);
      const list = await inject('GET', '/api/v1/algorithms');
      assert.equal(list.json().items[0].name, 'Pothole repair prioritisation');
      assert.equal((await queuedEvents(node, 'algorithm.created'))[0]!.subject.id, body.id);
    });

    it('publishes the DTPR taxonomy with its attribution', async () => {
      const res = await inject('GET', '/api/v1/register/dtpr');
      assert.equal(res.statusCode, 200);
      assert.match(res.json().licence, /CC BY 4\.0/);
      assert.ok(res.json().elements.some((e: { id: string }) => e.id === 'video_camera'));
      assert.deepEqual(
        res
          .json()
          .categories.map((c: { id: string }) => c.id)
          .sort(),
        ['access', 'accountable', 'data', 'process', 'purpose', 'retention', 'storage', 'tech'],
      );
    });
  });
}

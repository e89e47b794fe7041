/**
 * The federated catalog between two real nodes on free ports: node A harvests node B's
 * anonymous DCAT catalog through HTTP, answers federation-wide searches (DCAT and CKAN)
 * with links to B, asks conditionally the second time (304), follows B's changes, drops
 * a peer that is no longer active, and runs a round only under the lease.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, callers, createDataset, type Caller } from '../governance/governance.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { catalogRepository } from './catalog.repository.js';
import { startCatalogNode } from './catalog.testing.js';
import { freePort } from '../platform/testing/ports.js';

type Doc = Record<string, unknown>;

for (const backend of testBackends()) {
  describe(`federated catalog harvest (${backend})`, () => {
    let a: TestNode;
    let b: TestNode;
    let bUrl: string;
    let adminA: Caller;
    let pubB: Caller;
    let openB: string;
    const B_NODE = 'node_cityb';

    before(async () => {
      const port = await freePort();
      bUrl = `http://127.0.0.1:${port}`;
      b = await startCatalogNode(
        backend,
        {
          OCP_PORT: String(port),
          OCP_HOST: '127.0.0.1',
          OCP_PUBLIC_URL: bUrl,
          OCP_CATALOG_TITLE: 'City B',
        },
        true,
      );
      a = await startCatalogNode(backend, { OCP_CATALOG_TITLE: 'City A' });
      const cb = await callers(b, { publisher: ['publisher', 'steward'] });
      pubB = cb.publisher;
      openB = await createDataset(b, pubB, {
        types: ['TrafficFlow'],
        classification: 'open',
        catalog: { title: 'Traffic counts of city B', keywords: ['traffic'] },
      });
      await createDataset(b, pubB, {
        types: ['Vault'],
        classification: 'confidential',
        catalog: { title: 'B secrets' },
      });
      const ca = await callers(a, { publisher: ['publisher', 'steward'] });
      adminA = ca.admin;
      await createDataset(a, ca.publisher, {
        types: ['Bench'],
        classification: 'open',
        catalog: { title: 'Benches of city A', keywords: ['street'] },
      });
      // The peer as fed-core's directory stores it once peering is mutual.
      const now = new Date();
      await a.platform.db.query(
        `INSERT INTO federation_peers (id, node_id, url, name, jurisdiction, fingerprint, descriptor,
           signature, status, peer_confirmed, created_at, updated_at, fetched_at)
         VALUES ('peer_b', $1, $2, 'City B', 'CA-QC', 'sha256:b', $3, 'sig', 'active', true, $4, $4, $4)`,
        [
          B_NODE,
          bUrl,
          JSON.stringify({
            ledger: { origin: 'city-b', keys: [], checkpointUrl: `${bUrl}/ledger/checkpoint` },
            endpoints: { catalog: `${bUrl}/catalog`, ngsiLd: `${bUrl}/ngsi-ld/v1` },
          }),
          now,
        ],
      );
    });
    after(async () => {
      await a?.close();
      await b?.close().catch(() => undefined);
    });

    const harvest = async () => {
      const res = await call(a, adminA, 'POST', '/api/v1/catalog/harvest');
      assert.equal(res.statusCode, 200, res.body);
      return res.json().peers as { nodeId: string; status: number | string; datasets?: number }[];
    };

    it('harvests the peer’s public catalog and searches across the federation', async () => {
      assert.deepEqual(await harvest(), [{ nodeId: B_NODE, status: 200, datasets: 1 }]);

      const local = await call(a, null, 'GET', '/catalog');
      assert.deepEqual(
        (local.json()['dcat:dataset'] as Doc[]).map((d) => d['dct:title']),
        ['Benches of city A'],
      );
      const fed = await call(a, null, 'GET', '/catalog?scope=federation');
      const datasets = fed.json()['dcat:dataset'] as Doc[];
      assert.deepEqual(
        datasets.map((d) => d['dct:title']),
        ['Benches of city A', 'Traffic counts of city B'],
      );
      const fromB = datasets[1]!;
      assert.equal(fromB['@id'], `${bUrl}/catalog/datasets/${openB}`);
      assert.deepEqual(fromB['dcat:landingPage'], { '@id': `${bUrl}/datasets/${openB}` });
      const found = await call(a, null, 'GET', '/catalog?scope=federation&q=traffic');
      assert.equal(found.json()['hydra:view']['hydra:totalItems'], 1);

      const ckan = await call(
        a,
        null,
        'GET',
        '/api/3/action/package_search?ext_scope=federation&q=traffic',
      );
      const result = ckan.json().result;
      assert.equal(result.count, 1);
      const pkg = result.results[0];
      assert.equal(pkg.url, `${bUrl}/datasets/${openB}`);
      assert.ok(pkg.resources[0].url.startsWith(`${bUrl}/ngsi-ld/v1/entities?`));
      assert.deepEqual(
        pkg.extras.filter((e: { key: string }) => e.key.startsWith('home_node')),
        [
          { key: 'home_node_id', value: B_NODE },
          { key: 'home_node_name', value: 'City B' },
        ],
      );
      const show = await call(a, null, 'GET', `/api/3/action/package_show?id=${pkg.name}`);
      assert.equal(show.json().result.title, 'Traffic counts of city B');
      const localOnly = await call(a, null, 'GET', '/api/3/action/package_search?q=traffic');
      assert.equal(localOnly.json().result.count, 0);
    });

    it('asks conditionally: an unchanged catalog is a 304, a changed one is harvested again', async () => {
      assert.deepEqual(await harvest(), [{ nodeId: B_NODE, status: 304 }]);
      const [source] = (await call(a, adminA, 'GET', '/api/v1/catalog/sources')).json();
      assert.equal(source.lastStatus, 304);
      assert.ok(source.etag);
      assert.equal(source.datasetCount, 1);

      const changed = await call(b, pubB, 'PUT', `/api/v1/datasets/${openB}`, {
        types: ['TrafficFlow'],
        classification: 'open',
        licence: { spdx: 'CC-BY-4.0' },
        policy: {
          '@context': 'http://www.w3.org/ns/odrl.jsonld',
          '@type': 'Set',
          permission: [{ action: 'use' }],
        },
        catalog: { title: 'Traffic counts of city B (hourly)', keywords: ['traffic'] },
      });
      assert.equal(changed.statusCode, 200, changed.body);
      assert.deepEqual(await harvest(), [{ nodeId: B_NODE, status: 200, datasets: 1 }]);
      const fed = await call(a, null, 'GET', '/catalog?scope=federation&q=hourly');
      assert.equal(fed.json()['hydra:view']['hydra:totalItems'], 1);
    });

    it('runs once across processes (lease) and forgets peers that are no longer active', async () => {
      const db = a.platform.db;
      const now = new Date();
      assert.ok(
        await catalogRepository.takeLease(
          db,
          'catalog-harvest',
          'other-process',
          now,
          new Date(now.getTime() + 60_000),
        ),
      );
      const busy = await call(a, adminA, 'POST', '/api/v1/catalog/harvest');
      assert.equal(busy.statusCode, 409);
      assert.equal(await a.app.catalog.harvester.runOnce(), null);
      await catalogRepository.releaseLease(db, 'catalog-harvest', 'other-process');

      await db.query(`UPDATE federation_peers SET status = 'suspended' WHERE id = 'peer_b'`);
      assert.deepEqual(await harvest(), []);
      const fed = await call(a, null, 'GET', '/catalog?scope=federation');
      assert.deepEqual(
        (fed.json()['dcat:dataset'] as Doc[]).map((d) => d['dct:title']),
        ['Benches of city A'],
      );
      await db.query(`UPDATE federation_peers SET status = 'active' WHERE id = 'peer_b'`);
    });

    it('records a failing peer without harvesting anything from it', async () => {
      await b.close();
      const outcomes = await harvest();
      assert.equal(outcomes.length, 1);
      assert.equal(outcomes[0]!.status, 'failed');
      const [source] = (await call(a, adminA, 'GET', '/api/v1/catalog/sources')).json();
      assert.match(source.lastError, /network|timeout|http_status/);
    });
  });
}

/**
 * The catalog APIs on one node: DCAT-AP 3 shape (mandatory and recommended properties of
 * the profile, checked here from the specification) and visibility per classification and
 * caller; the CKAN envelope, search semantics and errors; and the live preview, which must
 * return exactly what the caller's own NGSI-LD query returns.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  type Caller,
} from '../governance/governance.testing.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { startCatalogNode } from './catalog.testing.js';

const DCAT = 'dcat:';
type Doc = Record<string, unknown>;

/** DCAT-AP 3.0 mandatory (M) and recommended (R) properties, from the specification. */
const DATASET_MANDATORY = ['dct:title', 'dct:description'];
const DATASET_RECOMMENDED = [
  'dcat:contactPoint',
  'dcat:distribution',
  'dcat:keyword',
  'dct:publisher',
  'dct:spatial',
  'dct:temporal',
  'dcat:theme',
];
const CATALOG_MANDATORY = ['dct:title', 'dct:description', 'dct:publisher'];
const CATALOG_RECOMMENDED = ['foaf:homepage', 'dct:language', 'dct:modified'];
const DISTRIBUTION_MANDATORY = ['dcat:accessURL'];
const DATA_SERVICE_MANDATORY = ['dcat:endpointURL', 'dct:title'];
const AGENT_MANDATORY = ['foaf:name'];

function assertProps(node: unknown, props: string[], what: string): void {
  assert.ok(node && typeof node === 'object', `${what} is an object`);
  for (const p of props) {
    const v = (node as Doc)[p];
    assert.ok(
      v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0),
      `${what} has ${p}`,
    );
  }
}

const ACCESS = 'http://publications.europa.eu/resource/authority/access-right/';

function assertDcatDataset(d: Doc): void {
  assert.equal(d['@type'], 'dcat:Dataset');
  assert.match(String(d['@id']), /^http:\/\/ocp\.test\/catalog\/datasets\/ds_/);
  assertProps(d, DATASET_MANDATORY, 'dataset');
  assertProps(d['dct:publisher'], AGENT_MANDATORY, 'publisher');
  assert.equal((d['dct:publisher'] as Doc)['@type'], 'foaf:Agent');
  const dists = d['dcat:distribution'] as Doc[];
  assert.ok(Array.isArray(dists) && dists.length > 0);
  for (const dist of dists) {
    assert.equal(dist['@type'], 'dcat:Distribution');
    assertProps(dist, DISTRIBUTION_MANDATORY, 'distribution');
    const service = dist['dcat:accessService'] as Doc;
    assert.equal(service['@type'], 'dcat:DataService');
    assertProps(service, DATA_SERVICE_MANDATORY, 'data service');
  }
  assert.ok(String((d['dct:accessRights'] as Doc)['@id']).startsWith(ACCESS));
  assert.match(String((d['dct:license'] as Doc)['@id']), /^https?:\/\//);
  assert.ok((d['odrl:hasPolicy'] as Doc).permission, 'the ODRL policy is embedded');
  assert.match(String((d['dcat:landingPage'] as Doc)['@id']), /^http:\/\/ocp\.test\/datasets\//);
  assert.equal((d['dct:modified'] as Doc)['@type'], 'xsd:dateTime');
  assert.equal((d['dct:issued'] as Doc)['@type'], 'xsd:dateTime');
}

const point = (lon: number, lat: number) => ({
  type: 'GeoProperty',
  value: { type: 'Point', coordinates: [lon, lat] },
});

const BENCHES = [1, 2, 3].map((n) => ({
  id: `urn:ngsi-ld:Bench:${n}`,
  type: 'Bench',
  location: point(-73.56 + n / 1000, 45.5 + n / 1000),
  seats: { type: 'Property', value: n },
  secretNote: { type: 'Property', value: 'do not show' },
}));
const PARKING = [1, 2].map((n) => ({
  id: `urn:ngsi-ld:Parking:${n}`,
  type: 'Parking',
  occupancy: { type: 'Property', value: n * 10 },
}));
const SECRET = [{ id: 'urn:ngsi-ld:Vault:1', type: 'Vault', code: { type: 'Property', value: 1 } }];

for (const backend of testBackends()) {
  describe(`catalog APIs (${backend})`, () => {
    let node: TestNode;
    let c: Record<'publisher' | 'consumer' | 'outsider' | 'admin', Caller>;
    const ds: Record<'open' | 'restricted' | 'personal' | 'confidential', string> = {
      open: '',
      restricted: '',
      personal: '',
      confidential: '',
    };

    before(async () => {
      node = await startCatalogNode(backend);
      c = await callers(node, {
        publisher: ['publisher', 'steward'],
        consumer: ['consumer'],
        outsider: ['steward', 'publisher'],
      });
      const created = await call(node, c.publisher, 'POST', '/ngsi-ld/v1/entityOperations/create', [
        ...BENCHES,
        ...PARKING,
        ...SECRET,
      ]);
      assert.equal(created.statusCode, 201, created.body);
      ds.open = await createDataset(node, c.publisher, {
        types: ['Bench'],
        classification: 'open',
        transforms: { dropAttrs: ['secretNote'], locationGridMetres: 1000 },
        catalog: {
          title: 'Benches',
          description: 'Public benches and their seats.',
          keywords: ['benches', 'street-furniture'],
          themes: ['http://publications.europa.eu/resource/authority/data-theme/GOVE'],
          spatial: 'Montréal',
          temporal: { start: '2024-01-01' },
          contact: 'data@city.example',
        },
      });
      ds.restricted = await createDataset(node, c.publisher, {
        types: ['Parking'],
        classification: 'restricted',
        licence: { spdx: 'ODbL-1.0' },
        policy: policy(['research']),
        catalog: { title: 'Parking occupancy', keywords: ['parking', 'mobility'] },
      });
      ds.personal = await createDataset(node, c.publisher, {
        types: ['Person'],
        classification: 'personal',
        policy: policy(['research']),
        catalog: { title: 'Residents survey', keywords: ['survey'] },
      });
      ds.confidential = await createDataset(node, c.publisher, {
        types: ['Vault'],
        classification: 'confidential',
        catalog: { title: 'Vault codes', keywords: ['secret'] },
      });
      await grantAccess(node, c.consumer, c.publisher, ds.restricted, 'research');
    });
    after(() => node.close());

    const get = (who: Caller | null, url: string, headers: Record<string, string> = {}) =>
      call(node, who, 'GET', url, undefined, headers);

    describe('DCAT-AP 3', () => {
      it('serves the catalog with the profile’s mandatory and recommended properties', async () => {
        const res = await get(null, '/catalog');
        assert.equal(res.statusCode, 200, res.body);
        assert.match(String(res.headers['content-type']), /^application\/ld\+json/);
        const doc = res.json() as Doc;
        assert.equal(doc['@type'], 'dcat:Catalog');
        assert.equal((doc['@context'] as Doc).dcat, 'http://www.w3.org/ns/dcat#');
        assertProps(doc, CATALOG_MANDATORY, 'catalog');
        assertProps(doc, CATALOG_RECOMMENDED, 'catalog');
        const datasets = doc[`${DCAT}dataset`] as Doc[];
        for (const d of datasets) assertDcatDataset(d);
        const bench = datasets.find((d) => d['dct:identifier'] === ds.open)!;
        assertProps(bench, DATASET_RECOMMENDED, 'the fully described dataset');
        assert.deepEqual(bench['dct:accessRights'], { '@id': `${ACCESS}PUBLIC` });
        const contact = bench['dcat:contactPoint'] as Doc;
        assert.equal(contact['@type'], 'vcard:Kind');
        assert.deepEqual(contact['vcard:hasEmail'], { '@id': 'mailto:data@city.example' });
        const dist = (bench['dcat:distribution'] as Doc[])[0]!;
        const access = new URL(String((dist['dcat:accessURL'] as Doc)['@id']));
        assert.equal(access.pathname, '/ngsi-ld/v1/entities');
        assert.equal(
          access.searchParams.get('type'),
          'https://uri.etsi.org/ngsi-ld/default-context/Bench',
        );
        const service = dist['dcat:accessService'] as Doc;
        assert.deepEqual(service['dcat:endpointURL'], { '@id': 'http://ocp.test/ngsi-ld/v1' });
        assert.ok(service['dct:conformsTo']);
        const view = doc['hydra:view'] as Doc;
        assert.equal(view['hydra:totalItems'], 3);
      });

      it('maps classifications to EU access rights and hides confidential datasets from outsiders', async () => {
        const rights = async (who: Caller | null) => {
          const res = await get(who, '/catalog');
          assert.equal(res.statusCode, 200);
          return Object.fromEntries(
            (res.json()['dcat:dataset'] as Doc[]).map((d) => [
              d['dct:identifier'],
              String((d['dct:accessRights'] as Doc)['@id']).slice(ACCESS.length),
            ]),
          );
        };
        const visible = {
          [ds.open]: 'PUBLIC',
          [ds.restricted]: 'RESTRICTED',
          [ds.personal]: 'RESTRICTED',
        };
        assert.deepEqual(await rights(null), visible);
        assert.deepEqual(await rights(c.consumer), visible);
        assert.deepEqual(await rights(c.outsider), visible);
        const all = { ...visible, [ds.confidential]: 'NON_PUBLIC' };
        assert.deepEqual(await rights(c.publisher), all);
        assert.deepEqual(await rights(c.admin), all);
        for (const who of [null, c.consumer, c.outsider]) {
          const one = await get(who, `/catalog/datasets/${ds.confidential}`);
          assert.equal(one.statusCode, 404);
        }
        const mine = await get(c.publisher, `/catalog/datasets/${ds.confidential}`);
        assert.equal(mine.statusCode, 200);
        assert.equal(mine.headers['cache-control'], 'private, no-cache');
      });

      it('serves one dataset with its ODRL policy; 404 for unknown or malformed ids', async () => {
        const res = await get(null, `/catalog/datasets/${ds.restricted}`);
        assert.equal(res.statusCode, 200, res.body);
        const d = res.json() as Doc;
        assert.ok(d['@context']);
        assertDcatDataset(d);
        const policy = d['odrl:hasPolicy'] as Doc;
        assert.equal(policy['@context'], 'http://www.w3.org/ns/odrl.jsonld');
        assert.equal(policy.uid, `http://ocp.test/catalog/datasets/${ds.restricted}#policy`);
        assert.deepEqual(d['dct:license'], {
          '@id': 'https://spdx.org/licenses/ODbL-1.0',
          '@type': 'dct:LicenseDocument',
          'dct:title': 'ODbL-1.0',
        });
        assert.equal((await get(null, '/catalog/datasets/ds_nothere')).statusCode, 404);
        assert.equal((await get(null, '/catalog/datasets/not-an-id')).statusCode, 400);
      });

      it('negotiates JSON-LD and JSON, refuses others, and answers conditional requests', async () => {
        const json = await get(null, '/catalog', { accept: 'application/json' });
        assert.match(String(json.headers['content-type']), /^application\/json/);
        const refused = await get(null, '/catalog', { accept: 'text/html' });
        assert.equal(refused.statusCode, 406);
        assert.match(String(refused.headers['content-type']), /problem\+json/);
        const first = await get(null, '/catalog');
        const etag = String(first.headers.etag);
        const lastModified = String(first.headers['last-modified']);
        assert.match(etag, /^W\/".+"$/);
        assert.ok(!Number.isNaN(Date.parse(lastModified)));
        const again = await get(null, '/catalog', { 'if-none-match': etag });
        assert.equal(again.statusCode, 304);
        assert.equal(again.body, '');
        const since = await get(null, '/catalog', { 'if-modified-since': lastModified });
        assert.equal(since.statusCode, 304);
        // Another caller's view is another document: the anonymous ETag does not match.
        const admin = await get(c.admin, '/catalog', { 'if-none-match': etag });
        assert.equal(admin.statusCode, 200);
      });

      it('pages with Hydra', async () => {
        const res = await get(null, '/catalog?pageSize=2');
        const doc = res.json() as Doc;
        assert.equal((doc['dcat:dataset'] as Doc[]).length, 2);
        const view = doc['hydra:view'] as Doc;
        assert.equal(view['hydra:totalItems'], 3);
        const next = new URL(String(view['hydra:next']));
        const second = await get(null, `${next.pathname}${next.search}`);
        const view2 = second.json()['hydra:view'] as Doc;
        assert.equal((second.json()['dcat:dataset'] as Doc[]).length, 1);
        assert.equal(view2['hydra:next'], undefined);
        assert.ok(view2['hydra:previous']);
        assert.equal((await get(null, '/catalog?pageSize=0')).statusCode, 400);
        assert.equal((await get(null, '/catalog?pageSize=501')).statusCode, 400);
        assert.equal((await get(null, '/catalog?scope=everything')).statusCode, 400);
      });
    });

    describe('CKAN API', () => {
      const action = (who: Caller | null, name: string, query = '') =>
        get(who, `/api/3/action/${name}${query ? `?${query}` : ''}`);

      it('package_list and package_show in the CKAN envelope', async () => {
        const list = await action(null, 'package_list');
        assert.equal(list.statusCode, 200);
        const body = list.json();
        assert.equal(body.success, true);
        assert.equal(body.help, 'http://ocp.test/api/3/action/help_show?name=package_list');
        assert.deepEqual(
          body.result,
          [ds.open, ds.restricted, ds.personal].map((id) => id.toLowerCase()).sort(),
        );
        const show = await action(null, 'package_show', `id=${ds.open}`);
        assert.equal(show.statusCode, 200);
        const pkg = show.json().result;
        assert.equal(pkg.id, ds.open);
        assert.equal(pkg.name, ds.open.toLowerCase());
        assert.equal(pkg.title, 'Benches');
        assert.equal(pkg.notes, 'Public benches and their seats.');
        assert.equal(pkg.license_id, 'CC-BY-4.0');
        assert.deepEqual(
          pkg.tags.map((t: { name: string }) => t.name),
          ['benches', 'street-furniture'],
        );
        assert.equal(pkg.organization.id, c.publisher.organisationId);
        assert.equal(pkg.owner_org, c.publisher.organisationId);
        assert.equal(pkg.resources.length, 1);
        assert.equal(pkg.resources[0].format, 'JSON-LD');
        assert.match(pkg.resources[0].url, /^http:\/\/ocp\.test\/ngsi-ld\/v1\/entities\?type=/);
        assert.ok(pkg.extras.some((e: { key: string }) => e.key === 'uri'));
        assert.equal(pkg.state, 'active');
        assert.equal(pkg.private, false);
        // By name as well as by id.
        const byName = await action(null, 'package_show', `id=${ds.open.toLowerCase()}`);
        assert.equal(byName.json().result.id, ds.open);
      });

      it('errors as CKAN does: 409 validation, 404 not found, 400 unknown action', async () => {
        const missing = await action(null, 'package_show');
        assert.equal(missing.statusCode, 409);
        assert.deepEqual(missing.json().error, {
          __type: 'Validation Error',
          id: ['Missing value'],
        });
        assert.equal(missing.json().success, false);
        const none = await action(null, 'package_show', 'id=ds_nothere');
        assert.equal(none.statusCode, 404);
        assert.equal(none.json().error.__type, 'Not Found Error');
        const hidden = await action(c.outsider, 'package_show', `id=${ds.confidential}`);
        assert.equal(hidden.statusCode, 404);
        assert.deepEqual(hidden.json().error, none.json().error);
        const unknown = await action(null, 'package_create');
        assert.equal(unknown.statusCode, 400);
        assert.equal(unknown.json().success, false);
        const badRows = await action(null, 'package_search', 'rows=abc');
        assert.equal(badRows.statusCode, 409);
        assert.deepEqual(badRows.json().error.rows, ['Invalid integer']);
        const badFq = await action(null, 'package_search', 'fq=nonsense_field:x');
        assert.equal(badFq.statusCode, 409);
        assert.equal(badFq.json().error.__type, 'Search Query Error');
        const badSort = await action(null, 'package_search', 'sort=size%20desc');
        assert.equal(badSort.statusCode, 409);
        const post = await node.app.inject({
          method: 'POST',
          url: '/api/3/action/package_search',
          headers: { 'content-type': 'application/json' },
          payload: '{not json',
        });
        assert.equal(post.statusCode, 400);
        assert.equal(post.json().success, false);
      });

      it('package_search: q, fq clauses, rows/start paging, counts and sort', async () => {
        const search = async (query: string, who: Caller | null = null) => {
          const res = await action(who, 'package_search', query);
          assert.equal(res.statusCode, 200, res.body);
          const r = res.json().result;
          return { count: r.count as number, ids: r.results.map((p: { id: string }) => p.id) };
        };
        assert.equal((await search('')).count, 3);
        assert.equal((await search('', c.publisher)).count, 4);
        assert.deepEqual((await search('q=parking')).ids, [ds.restricted]);
        assert.deepEqual((await search('q=benches%20seats')).ids, [ds.open]);
        assert.equal((await search('q=benches%20nothing')).count, 0);
        assert.deepEqual((await search('fq=tags:mobility')).ids, [ds.restricted]);
        assert.deepEqual((await search('fq=license_id:ODbL-1.0')).ids, [ds.restricted]);
        assert.equal((await search('fq=res_format:JSON-LD')).count, 3);
        assert.equal((await search('fq=res_format:CSV')).count, 0);
        const org = c.publisher.organisationId!.toLowerCase();
        assert.equal((await search(`fq=organization:${org}`)).count, 3);
        assert.equal((await search('fq=organization:someone-else')).count, 0);
        assert.deepEqual(
          (
            await search(
              `fq=${encodeURIComponent(`organization:${org} -tags:survey +tags:parking`)}`,
            )
          ).ids,
          [ds.restricted],
        );
        assert.equal(
          (
            await search(
              `fq=${encodeURIComponent('+dataset_type:dataset metadata_modified:[2000-01-01T00:00:00Z TO *]')}`,
            )
          ).count,
          3,
        );
        assert.equal(
          (
            await search(
              `fq=${encodeURIComponent('metadata_modified:[* TO 2000-01-01T00:00:00Z]')}`,
            )
          ).count,
          0,
        );
        // Paging: counts stay whole, pages are disjoint and cover the set.
        const byName = 'sort=name%20asc';
        const page1 = await search(`${byName}&rows=2&start=0`);
        const page2 = await search(`${byName}&rows=2&start=2`);
        assert.equal(page1.count, 3);
        assert.equal(page2.count, 3);
        assert.equal(page1.ids.length, 2);
        assert.equal(page2.ids.length, 1);
        assert.deepEqual(
          [...page1.ids, ...page2.ids].map((id: string) => id.toLowerCase()),
          [ds.open, ds.restricted, ds.personal].map((id) => id.toLowerCase()).sort(),
        );
        const desc = await search('sort=name%20desc&rows=3');
        assert.deepEqual(desc.ids, [...page1.ids, ...page2.ids].reverse());
        const titles = await action(null, 'package_search', 'sort=title_string%20asc');
        assert.deepEqual(
          titles.json().result.results.map((p: { title: string }) => p.title),
          ['Benches', 'Parking occupancy', 'Residents survey'],
        );
        // rows is bounded (CKAN caps at its maximum), start beyond the end is an empty page.
        const big = await search('rows=100000');
        assert.equal(big.ids.length, 3);
        assert.deepEqual((await search('start=10')).ids, []);
        // POST with a JSON body, as some clients send.
        const posted = await node.app.inject({
          method: 'POST',
          url: '/api/3/action/package_search',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ q: 'parking', rows: 5 }),
        });
        assert.equal(posted.json().result.count, 1);
      });

      it('organization_list and organization_show', async () => {
        const names = await action(null, 'organization_list');
        const org = c.publisher.organisationId!;
        assert.deepEqual(names.json().result, [org.toLowerCase()]);
        const full = await action(null, 'organization_list', 'all_fields=true');
        const [dict] = full.json().result;
        assert.equal(dict.id, org);
        assert.equal(dict.package_count, 3);
        assert.equal(dict.is_organization, true);
        const own = await action(c.publisher, 'organization_list', 'all_fields=true');
        assert.equal(own.json().result[0].package_count, 4);
        const show = await action(null, 'organization_show', `id=${org}&include_datasets=true`);
        assert.equal(show.statusCode, 200);
        assert.equal(show.json().result.packages.length, 3);
        assert.equal((await action(null, 'organization_show', 'id=org_none')).statusCode, 404);
        assert.equal((await action(null, 'organization_show')).statusCode, 409);
      });
    });

    describe('live preview', () => {
      const ngsi = async (who: Caller | null, query: string, purpose?: string) => {
        const res = await get(
          who,
          `/ngsi-ld/v1/entities?${query}&options=keyValues&limit=50`,
          purpose ? { 'ocp-purpose': purpose } : {},
        );
        assert.equal(res.statusCode, 200, res.body);
        return res.json() as Doc[];
      };
      const preview = async (who: Caller | null, id: string, purpose?: string) =>
        get(
          who,
          `/api/v1/catalog/datasets/${id}/preview?limit=50`,
          purpose ? { 'ocp-purpose': purpose } : {},
        );
      const byId = (list: Doc[]) =>
        [...list].sort((a, b) => String(a.id).localeCompare(String(b.id)));

      it('returns the open view to anonymous callers: hidden attributes absent, transforms applied', async () => {
        const res = await preview(null, ds.open);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.total, 3);
        for (const e of body.entities as Doc[]) {
          assert.equal(e.secretNote, undefined, 'dropped attribute absent');
          const [lon, lat] = (e.location as { coordinates: number[] }).coordinates;
          // 1 km grid: the 0.001° offsets of the stored points are gone.
          assert.notDeepEqual([lon, lat], [-73.56, 45.5]);
        }
        assert.deepEqual(byId(body.entities), byId(await ngsi(null, 'type=Bench')));
        const raw = BENCHES.map((b) => b.location.value.coordinates);
        const shown = (body.entities as Doc[]).map(
          (e) => (e.location as { coordinates: number[] }).coordinates,
        );
        assert.ok(shown.every((p) => !raw.some((r) => r[0] === p[0] && r[1] === p[1])));
      });

      it('equals the caller’s NGSI-LD query for every caller', async () => {
        for (const [who, purpose] of [
          [null, undefined],
          [c.consumer, 'research'],
          [c.consumer, undefined],
          [c.outsider, undefined],
          [c.publisher, undefined],
        ] as [Caller | null, string | undefined][]) {
          for (const [id, type] of [
            [ds.open, 'Bench'],
            [ds.restricted, 'Parking'],
          ]) {
            const res = await preview(who, id!, purpose);
            assert.equal(res.statusCode, 200, res.body);
            assert.deepEqual(
              byId(res.json().entities),
              byId(await ngsi(who, `type=${type}`, purpose)),
            );
          }
        }
        // Restricted data: nothing without a grant and purpose, all of it with them.
        assert.equal((await preview(null, ds.restricted)).json().total, 0);
        assert.equal((await preview(c.consumer, ds.restricted, 'research')).json().total, 2);
        // The publisher sees its own data untransformed.
        const own = (await preview(c.publisher, ds.open)).json().entities as Doc[];
        assert.ok(own.every((e) => e.secretNote === 'do not show'));
      });

      it('is bounded, and 404 for datasets the caller may not see', async () => {
        const one = await get(null, `/api/v1/catalog/datasets/${ds.open}/preview?limit=1`);
        assert.equal(one.json().entities.length, 1);
        assert.equal(one.json().total, 3);
        assert.equal(
          (await get(null, `/api/v1/catalog/datasets/${ds.open}/preview?limit=51`)).statusCode,
          400,
        );
        assert.equal((await preview(null, ds.confidential)).statusCode, 404);
        assert.equal((await preview(c.outsider, ds.confidential)).statusCode, 404);
        assert.equal((await preview(c.publisher, ds.confidential)).statusCode, 200);
        assert.equal((await preview(null, 'ds_nothere')).statusCode, 404);
        const badPurpose = await preview(null, ds.open, 'NOT A PURPOSE');
        assert.equal(badPurpose.statusCode, 400);
      });
    });

    describe('harvest controls', () => {
      it('are for admins only', async () => {
        for (const who of [null, c.consumer, c.publisher]) {
          const res = await call(node, who, 'POST', '/api/v1/catalog/harvest');
          assert.ok([401, 403].includes(res.statusCode));
          assert.ok([401, 403].includes((await get(who, '/api/v1/catalog/sources')).statusCode));
        }
        const run = await call(node, c.admin, 'POST', '/api/v1/catalog/harvest');
        assert.equal(run.statusCode, 200, run.body);
        assert.deepEqual(run.json(), { peers: [] });
      });
    });
  });
}

/**
 * Every Smart Data Models NGSI-LD example in ../shared/fixtures (normalized and keyValues
 * `.jsonld` files) is sent as application/ld+json: valid ones are created, read back in
 * normalized, keyValues and concise form and found by type and by one attribute; invalid
 * ones are rejected with ProblemDetails and change nothing. The Smart Data Models
 * @contexts are remote and this suite runs offline, so each one is stood in for by an
 * empty context in the node's context cache (terms then expand with the default vocabulary).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../../platform/testing/database.js';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';
import {
  INVALID_SMART_DATA_MODEL_EXAMPLES,
  smartDataModelExamples,
} from '../../platform/testing/smart-data-models.js';

const ERR = 'https://uri.etsi.org/ngsi-ld/errors/';
const INVALID = INVALID_SMART_DATA_MODEL_EXAMPLES;

const CORE_PREFIX = 'https://uri.etsi.org/ngsi-ld/';
const contextUrls = (body: Record<string, unknown>) => {
  const ctx = body['@context'];
  return (Array.isArray(ctx) ? ctx : [ctx]).filter(
    (c): c is string => typeof c === 'string' && /^https?:/.test(c),
  );
};

/** A q expression that selects the entity by one of its attributes. */
function qFor(body: Record<string, unknown>, normalized: boolean): string {
  for (const [name, raw] of Object.entries(body)) {
    if (['id', 'type', '@context'].includes(name)) continue;
    const value = normalized ? (raw as { type?: string; value?: unknown }).value : raw;
    if (normalized && (raw as { type?: string }).type !== 'Property') continue;
    if (typeof value === 'number' && Number.isFinite(value)) return `${name}==${value}`;
    if (typeof value === 'string' && /^[\w .-]{1,60}$/.test(value)) return `${name}=="${value}"`;
  }
  const first = Object.keys(body).find((k) => !['id', 'type', '@context'].includes(k));
  return first ?? '';
}

const all = smartDataModelExamples();

for (const backend of testBackends()) {
  describe(`Smart Data Models examples (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({
        backend,
        mqtt: 'off',
        env: { OCP_ANONYMOUS_ROLE: 'admin', OCP_RATE_LIMIT: 'off' },
      });
      const urls = new Set(
        all
          .flatMap((e) => (e.body ? contextUrls(e.body) : []))
          .filter((u) => !u.startsWith(CORE_PREFIX)),
      );
      for (const url of urls) {
        await node.platform.db.query(
          `INSERT INTO ngsi_jsonld_contexts (id, url, kind, body, created_at, fetched_at)
           VALUES ($1, $1, 'cached', '{"@context": {}}', now(), now() + interval '1 day')`,
          [url],
        );
      }
    });
    after(() => node.close());

    const entities = async () =>
      (await node.platform.db.query<{ n: number }>('SELECT count(*)::int8 AS n FROM ngsi_entities'))
        .rows[0]!.n;

    it('has a fixture set to test', { skip: all.length === 0 && 'fixtures not present' }, () => {
      assert.ok(all.length > 150, `${all.length} examples`);
    });

    for (const example of all) {
      it(example.file, async () => {
        const post = await node.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          headers: { 'content-type': 'application/ld+json' },
          payload: example.text,
        });
        if (!example.body) {
          assert.equal(post.statusCode, 400, post.body);
          assert.equal(post.json().type, `${ERR}InvalidRequest`);
          assert.equal(await entities(), 0);
          return;
        }
        if (example.file in INVALID) {
          assert.equal(post.statusCode, 400, `${example.file}: ${post.body}`);
          assert.equal(post.json().type, `${ERR}BadRequestData`);
          assert.equal(post.json().status, 400);
          assert.equal(await entities(), 0);
          return;
        }
        assert.equal(post.statusCode, 201, `${example.file}: ${post.body}`);
        const body = example.body;
        const id = body.id as string;
        const type = body.type as string;
        const normalized = example.file.endsWith('example-normalized.jsonld');
        const sdm = contextUrls(body).find((u) => !u.startsWith(CORE_PREFIX));
        const headers: Record<string, string> = sdm
          ? {
              link: `<${sdm}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
            }
          : {};
        const get = async (query: string) => {
          const res = await node.app.inject({
            method: 'GET',
            url: `/ngsi-ld/v1/entities/${encodeURIComponent(id)}${query}`,
            headers,
          });
          assert.equal(res.statusCode, 200, res.body);
          return res.json() as Record<string, unknown>;
        };
        const attrs = Object.keys(body).filter((k) => !['id', 'type', '@context'].includes(k));

        const norm = await get('');
        assert.equal(norm.id, id);
        assert.equal(norm.type, type);
        const keyValues = await get('?options=keyValues');
        const concise = await get('?format=concise');
        for (const name of attrs) {
          assert.ok(name in norm, `${name} in normalized`);
          assert.ok(name in concise, `${name} in concise`);
          const source = body[name] as Record<string, unknown>;
          if (normalized) {
            const kind = source.type as string;
            const expected = kind === 'Relationship' ? source.object : source.value;
            if (kind === 'Property' || kind === 'GeoProperty' || kind === 'Relationship') {
              assert.deepEqual(keyValues[name], expected, `${name} keyValues`);
              assert.deepEqual(
                (norm[name] as Record<string, unknown>)[
                  kind === 'Relationship' ? 'object' : 'value'
                ],
                expected,
              );
            }
          } else {
            assert.deepEqual(keyValues[name], source, `${name} keyValues`);
          }
        }

        const query = async (params: Record<string, string>) => {
          const res = await node.app.inject({
            method: 'GET',
            url: `/ngsi-ld/v1/entities?${new URLSearchParams(params).toString()}`,
            headers,
          });
          assert.equal(res.statusCode, 200, res.body);
          return (res.json() as { id: string }[]).map((e) => e.id);
        };
        assert.deepEqual(await query({ type }), [id]);
        const q = qFor(body, normalized);
        assert.deepEqual(await query({ type, q }), [id], `q=${q}`);

        const del = await node.app.inject({
          method: 'DELETE',
          url: `/ngsi-ld/v1/entities/${encodeURIComponent(id)}`,
        });
        assert.equal(del.statusCode, 204);
      });
    }
  });
}

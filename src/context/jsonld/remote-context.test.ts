import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';

describe('remote @contexts through the guarded fetcher', () => {
  let server: Server;
  let origin: string;
  let node: TestNode;
  const hits: Record<string, number> = {};
  let version = 'ex:level';
  let failing = false;
  let now = new Date('2026-01-01T00:00:00Z');
  const clock = { now: () => now };
  before(async () => {
    server = createServer((req, res) => {
      hits[req.url ?? ''] = (hits[req.url ?? ''] ?? 0) + 1;
      if (failing) {
        res.writeHead(500);
        return res.end();
      }
      if (req.url === '/ctx.jsonld') {
        res.setHeader('content-type', 'application/ld+json');
        return res.end(
          JSON.stringify({ '@context': { ex: 'https://example.org/', level: version } }),
        );
      }
      if (req.url === '/nested.jsonld') {
        return res.end(
          JSON.stringify({ '@context': [`${origin}/ctx.jsonld`, { depth: 'ex:depth' }] }),
        );
      }
      // /hang never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    node = await startTestNode({
      clock,
      mqtt: 'off',
      env: {
        OCP_ANONYMOUS_ROLE: 'admin',
        OCP_FETCH_ALLOW_PRIVATE: 'true',
        OCP_FETCH_TIMEOUT_MS: '1500',
      },
    });
  });
  after(async () => {
    await node.close();
    server.closeAllConnections();
    server.close();
  });

  const link = (url: string) => ({
    link: `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`,
  });

  it('fetches once, caches, lists and reloads a remote context', async () => {
    const post = await node.app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { 'content-type': 'application/json', ...link(`${origin}/nested.jsonld`) },
      payload: JSON.stringify({ id: 'urn:ngsi-ld:Tank:1', type: 'Tank', level: 5, depth: 2 }),
    });
    assert.equal(post.statusCode, 201, post.body);
    const row = await node.platform.db.query<{ attrs: Record<string, unknown> }>(
      'SELECT attrs FROM ngsi_entities',
    );
    assert.deepEqual(Object.keys(row.rows[0]!.attrs).sort(), [
      'https://example.org/depth',
      'https://example.org/level',
    ]);
    for (let i = 0; i < 3; i++) {
      const get = await node.app.inject({
        method: 'GET',
        url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Tank:1?options=keyValues',
        headers: link(`${origin}/ctx.jsonld`),
      });
      assert.equal(get.json().level, 5);
    }
    assert.equal(hits['/ctx.jsonld'], 1);
    assert.equal(hits['/nested.jsonld'], 1);
    const list = await node.app.inject({
      method: 'GET',
      url: '/ngsi-ld/v1/jsonldContexts?kind=Cached&details=true',
    });
    const cached = list.json().find((c: { URL: string }) => c.URL === `${origin}/ctx.jsonld`);
    assert.equal(cached.kind, 'Cached');

    version = 'ex:levelV2';
    const reload = await node.app.inject({
      method: 'DELETE',
      url: `/ngsi-ld/v1/jsonldContexts/${encodeURIComponent(`${origin}/ctx.jsonld`)}?reload=true`,
    });
    assert.equal(reload.statusCode, 204, reload.body);
    assert.equal(hits['/ctx.jsonld'], 2);
    const get = await node.app.inject({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Tank:1?options=keyValues',
      headers: link(`${origin}/ctx.jsonld`),
    });
    // "level" now means another IRI, so the stored attribute shows expanded.
    assert.equal(get.json()['https://example.org/level'], 5);
  });

  it('fetches again after the TTL, and keeps serving the stale copy when the origin fails', async () => {
    const get = () =>
      node.app.inject({
        method: 'GET',
        url: '/ngsi-ld/v1/entities?type=Tank&options=keyValues',
        headers: link(`${origin}/ctx.jsonld`),
      });
    assert.equal((await get()).statusCode, 200);
    const before = hits['/ctx.jsonld']!;
    assert.equal((await get()).statusCode, 200);
    assert.equal(hits['/ctx.jsonld'], before);
    now = new Date(now.getTime() + 3601_000);
    assert.equal((await get()).statusCode, 200);
    assert.equal(hits['/ctx.jsonld'], before + 1);
    now = new Date(now.getTime() + 3601_000);
    failing = true;
    const stale = await get();
    assert.equal(stale.statusCode, 200, stale.body);
    assert.equal(hits['/ctx.jsonld'], before + 2);
    // The origin is not asked again right away.
    assert.equal((await get()).statusCode, 200);
    assert.equal(hits['/ctx.jsonld'], before + 2);
    failing = false;
  });

  it('answers LdContextNotAvailable within the timeout when the origin hangs', async () => {
    const started = Date.now();
    const res = await node.app.inject({
      method: 'GET',
      url: '/ngsi-ld/v1/entities?type=Tank',
      headers: link(`${origin}/hang`),
    });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().type, 'https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable');
    assert.ok(Date.now() - started < 4000);
  });
});

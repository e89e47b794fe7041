import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Type } from 'typebox';
import { features } from '../../features.js';
import { startTestNode, type TestNode } from '../testing/node.js';
import type { Actor } from './access.js';
import { notFound } from './errors.js';
import type { Feature } from './server.js';

/** Routes that exercise the shared HTTP machinery; mounted only in this test. */
const probe: Feature = {
  name: 'probe',
  register(app) {
    app.post(
      '/probe/echo',
      {
        config: { access: 'public' },
        schema: {
          body: Type.Object({
            name: Type.String({ minLength: 1 }),
            count: Type.Integer({ minimum: 0 }),
          }),
          response: { 200: Type.Object({ name: Type.String(), count: Type.Integer() }) },
        },
      },
      async (request) => request.body,
    );
    app.get('/probe/crash', { config: { access: 'public' } }, async () => {
      throw new Error('relation "secret_table" does not exist at SELECT password FROM users');
    });
    app.get('/ngsi-ld/v1/probe', { config: { access: 'public' } }, async () => {
      throw notFound('No such entity');
    });
    app.get('/probe/members', { config: { access: 'authenticated' } }, async (request) => ({
      kind: request.actor.kind,
    }));
    app.get('/probe/ip', { config: { access: 'public' } }, async (request) => ({
      ip: request.ip,
    }));
    app.get('/probe/stewards', { config: { access: { roles: ['steward'] } } }, async () => ({
      ok: true,
    }));
  },
};

/** Test-only: `x-probe-actor: <role>` identifies the caller as a client with that role. */
function probeAuthenticator(node: TestNode) {
  node.app.authenticators.push(async (request) => {
    const role = request.headers['x-probe-actor'];
    if (typeof role !== 'string') return null;
    return { kind: 'client', id: 'cli_probe', organisationId: 'org_probe', roles: [role] } as Actor;
  });
}

describe('HTTP server', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({
      features: [...features, probe],
      listen: false,
      mqtt: 'off',
      env: { OCP_BODY_LIMIT: '2048' },
    });
    probeAuthenticator(node);
  });
  after(() => node.close());

  it('answers unknown routes with problem+json and a request id', async () => {
    const response = await node.app.inject({ method: 'GET', url: '/no/such/route?x=1' });
    assert.equal(response.statusCode, 404);
    assert.match(String(response.headers['content-type']), /^application\/problem\+json/);
    const body = response.json();
    assert.equal(body.type, 'urn:ocp:problem:not-found');
    assert.equal(body.status, 404);
    assert.equal(body.instance, '/no/such/route');
    assert.equal(body.requestId, response.headers['x-request-id']);
    assert.match(body.requestId, /^req_/);
  });

  it('keeps a well-formed caller request id and replaces a malformed one', async () => {
    const kept = await node.app.inject({
      url: '/health',
      headers: { 'x-request-id': 'lb-7f3a.42' },
    });
    assert.equal(kept.headers['x-request-id'], 'lb-7f3a.42');
    const replaced = await node.app.inject({
      url: '/health',
      headers: { 'x-request-id': 'a b\u0001<script>' },
    });
    assert.match(String(replaced.headers['x-request-id']), /^req_/);
  });

  it('validates bodies against the route schema and lists every problem', async () => {
    const ok = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      payload: { name: 'a', count: 2 },
    });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { name: 'a', count: 2 });

    const bad = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      payload: { name: '', count: -1 },
    });
    assert.equal(bad.statusCode, 400);
    const body = bad.json();
    assert.equal(body.type, 'urn:ocp:problem:bad-request');
    assert.deepEqual(body.errors.map((e: { path: string }) => e.path).sort(), [
      'body/count',
      'body/name',
    ]);
  });

  it('rejects malformed JSON, oversized bodies and unknown media types', async () => {
    const malformed = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name": ',
    });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().type, 'urn:ocp:problem:invalid-request');

    const large = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      payload: { name: 'x'.repeat(4096), count: 1 },
    });
    assert.equal(large.statusCode, 413);
    assert.equal(large.json().type, 'urn:ocp:problem:payload-too-large');

    const xml = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    assert.equal(xml.statusCode, 415);
  });

  it('turns unexpected errors into a plain 500 that reveals nothing internal', async () => {
    const response = await node.app.inject({ url: '/probe/crash' });
    assert.equal(response.statusCode, 500);
    const text = response.body;
    assert.ok(!/secret_table|SELECT|password|at /.test(text), text);
    assert.equal(response.json().type, 'urn:ocp:problem:internal');
    assert.equal(response.json().requestId, response.headers['x-request-id']);
  });

  it('uses the NGSI-LD error types on NGSI-LD routes', async () => {
    const response = await node.app.inject({ url: '/ngsi-ld/v1/probe' });
    assert.equal(response.statusCode, 404);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.json().type, 'https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound');
    const unknown = await node.app.inject({ url: '/ngsi-ld/v1/nothing-here' });
    assert.equal(unknown.json().type, 'https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound');
  });

  it('enforces each route’s declared access', async () => {
    const anonymous = await node.app.inject({ url: '/probe/members' });
    assert.equal(anonymous.statusCode, 401);
    assert.equal(anonymous.headers['www-authenticate'], 'Bearer');
    const member = await node.app.inject({
      url: '/probe/members',
      headers: { 'x-probe-actor': 'consumer' },
    });
    assert.equal(member.statusCode, 200);

    const wrongRole = await node.app.inject({
      url: '/probe/stewards',
      headers: { 'x-probe-actor': 'consumer' },
    });
    assert.equal(wrongRole.statusCode, 403);
    const steward = await node.app.inject({
      url: '/probe/stewards',
      headers: { 'x-probe-actor': 'steward' },
    });
    assert.equal(steward.statusCode, 200);
    const admin = await node.app.inject({
      url: '/probe/stewards',
      headers: { 'x-probe-actor': 'admin' },
    });
    assert.equal(admin.statusCode, 200);
  });

  it('publishes an OpenAPI 3.1 document and serves the API docs locally', async () => {
    const spec = (await node.app.inject({ url: '/openapi.json' })).json();
    assert.equal(spec.openapi, '3.1.0');
    assert.ok(spec.paths['/probe/echo'].post.requestBody);
    assert.ok(spec.paths['/ready'].get);
    const docs = await node.app.inject({ url: '/docs' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger-ui/);
    assert.ok(!/(src|href)="https?:/.test(docs.body), 'every asset comes from this node');
    const bundle = await node.app.inject({ url: '/docs/static/swagger-ui-bundle.js' });
    assert.equal(bundle.statusCode, 200);
  });

  it('refuses what PostgreSQL cannot store, and malformed URLs, as problems (not 500)', async () => {
    const problems = [
      await node.app.inject({ method: 'GET', url: '/ledger/entries?type=a%00b' }),
      await node.app.inject({ method: 'GET', url: '/probe/members/%ED%A0%80' }),
      await node.app.inject({
        method: 'POST',
        url: '/probe/echo',
        headers: { 'content-type': 'application/json' },
        payload: '{"name":"a\\u0000b","count":1}',
      }),
      await node.app.inject({
        method: 'POST',
        url: '/probe/echo',
        headers: { 'content-type': 'application/json' },
        payload: '{"name":"\\ud800","count":1}',
      }),
      await node.app.inject({
        method: 'POST',
        url: '/probe/echo',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__":{"x":1},"name":"a","count":1}',
      }),
    ];
    for (const response of problems) {
      assert.equal(response.statusCode, 400, response.body);
      assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(response.json().status, 400);
    }
    // Escaped backslashes and paired surrogates are fine.
    const fine = await node.app.inject({
      method: 'POST',
      url: '/probe/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"\\\\u0000 \\ud83d\\ude00","count":1}',
    });
    assert.equal(fine.statusCode, 200, fine.body);
    assert.equal(fine.json().name, '\\u0000 \u{1F600}');
  });
});

describe('route declarations', () => {
  it('a route without an access declaration stops the node from starting', async () => {
    const careless: Feature = {
      name: 'careless',
      register(app) {
        app.get('/careless', async () => 'oops');
      },
    };
    await assert.rejects(
      startTestNode({ features: [careless], listen: false, mqtt: 'off' }),
      /route GET \/careless declares no access requirement/,
    );
  });

  it('OCP_ANONYMOUS_ROLE gives anonymous callers a role (development only)', async () => {
    const node = await startTestNode({
      features: [...features, probe],
      listen: false,
      mqtt: 'off',
      env: { OCP_ANONYMOUS_ROLE: 'steward' },
    });
    try {
      assert.equal((await node.app.inject({ url: '/probe/stewards' })).statusCode, 200);
      const ready = (await node.app.inject({ url: '/ready' })).json();
      assert.match(ready.warnings[0], /OCP_ANONYMOUS_ROLE=steward/);
    } finally {
      await node.close();
    }
  });

  it('believes X-Forwarded-For only from the proxies named in OCP_TRUST_PROXY', async () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.9' };
    const plain = await startTestNode({ features: [probe], listen: false, mqtt: 'off' });
    const proxied = await startTestNode({
      features: [probe],
      listen: false,
      mqtt: 'off',
      env: { OCP_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' },
    });
    try {
      const ipOf = async (node: TestNode, remoteAddress: string) =>
        (await node.app.inject({ url: '/probe/ip', headers: forwarded, remoteAddress })).json().ip;
      assert.equal(await ipOf(plain, '127.0.0.1'), '127.0.0.1');
      assert.equal(await ipOf(proxied, '127.0.0.1'), '203.0.113.9');
      assert.equal(await ipOf(proxied, '10.1.2.3'), '203.0.113.9');
      // A caller that is not a named proxy cannot choose its own address.
      assert.equal(await ipOf(proxied, '198.51.100.7'), '198.51.100.7');
    } finally {
      await Promise.all([plain.close(), proxied.close()]);
    }
  });
});

/**
 * Single sign-on through an external issuer, over real HTTP: node A runs the built-in
 * provider and lists node B among its applications (OCP_OIDC_PROVIDER_CLIENTS); node B
 * trusts A as an external issuer (OCP_OIDC_ISSUERS) and maps its claims to B's own
 * organisations and roles.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type RunningNode } from '../node.js';
import { createTestDatabase, type TestDatabase } from '../platform/testing/database.js';
import { startTestNode, testConfig, type TestNode } from '../platform/testing/node.js';
import { ADMIN_SECRET, form } from './identity.testing.js';
import { freePort } from '../platform/testing/ports.js';

/** A browser over real HTTP: one cookie jar per origin, redirects followed by hand. */
class HttpBrowser {
  private readonly jars = new Map<string, Map<string, string>>();

  async request(
    method: 'GET' | 'POST',
    url: string,
    body?: string,
    headers: Record<string, string> = {},
  ) {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    this.jars.set(origin, jar);
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...headers,
      },
      ...(body ? { body } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  async follow(
    res: Response,
    visited: string[] = [],
  ): Promise<{ res: Response; visited: string[] }> {
    let current = res;
    while (current.status >= 300 && current.status < 400) {
      const next = new URL(current.headers.get('location')!, current.url).toString();
      visited.push(next);
      current = await this.request('GET', next);
    }
    return { res: current, visited };
  }

  cookie(origin: string, name: string) {
    return this.jars.get(origin)?.get(name);
  }
}

describe('single sign-on through an external issuer (another node over HTTP)', () => {
  let a: TestNode;
  let b: RunningNode;
  let dbB: TestDatabase;
  let orgOnB: string;
  let urls: { a: string; b: string };
  const clientSecret = 'node-b-client-secret-0123456789abcdef';

  before(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const urlA = `http://127.0.0.1:${portA}`;
    const urlB = `http://127.0.0.1:${portB}`;
    const common = { OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET, OCP_RATE_LIMIT: 'off' };
    a = await startTestNode({
      mqtt: 'off',
      env: {
        ...common,
        OCP_PORT: String(portA),
        OCP_PUBLIC_URL: urlA,
        OCP_OIDC_PROVIDER_CLIENTS: JSON.stringify([
          { clientId: 'node-b', clientSecret, redirectUris: [`${urlB}/auth/callback`] },
        ]),
      },
    });
    // A: an organisation and a local account with role steward.
    const adminA = await tokenAt(urlA);
    const orgA = await api(urlA, adminA, 'POST', '/api/v1/organisations', {
      name: 'Province water board',
      kind: 'government',
    });
    await api(urlA, adminA, 'POST', '/api/v1/people', {
      organisationId: orgA.id,
      username: 'rita',
      password: 'rita has a long password',
      displayName: 'Rita',
      roles: ['steward'],
    });

    // B: its own organisation for people of A's organisation; A's stewards become consumers.
    // B starts once to create that organisation, then again with A as its issuer.
    dbB = await createTestDatabase('pglite');
    const startB = (env: Record<string, string>) =>
      startNode(
        testConfig({
          ...common,
          OCP_MQTT_URL: 'none',
          OCP_PORT: String(portB),
          OCP_PUBLIC_URL: urlB,
          ...env,
        }),
        { db: dbB.db },
      );
    b = await startB({});
    const adminB = await tokenAt(urlB);
    orgOnB = (
      await api(urlB, adminB, 'POST', '/api/v1/organisations', {
        name: 'Water board (guest)',
        kind: 'government',
      })
    ).id;
    await b.close();
    b = await startB({
      OCP_OIDC_ISSUERS: JSON.stringify([
        {
          name: 'province',
          issuer: `${urlA}/oidc`,
          clientId: 'node-b',
          clientSecret,
          scope: 'openid profile ocp',
          organisationClaim: 'organisation_id',
          organisations: { [orgA.id]: orgOnB },
          rolesClaim: 'roles',
          roles: { steward: 'consumer' },
        },
      ]),
    });
    urls = { a: urlA, b: urlB };
  });
  after(async () => {
    await b?.close();
    await dbB?.close();
    await a?.close();
  });

  it('signs in at A, lands on B with a session, organisation and roles mapped', async () => {
    const browser = new HttpBrowser();
    const start = await browser.request('GET', `${urls.b}/auth/login?returnTo=/welcome`);
    assert.equal(start.status, 302);
    assert.ok(start.headers.get('location')!.startsWith(`${urls.a}/oidc/auth?`));
    const { res: page, visited } = await browser.follow(start);
    assert.equal(page.status, 200);
    const html = await page.text();
    const csrf = /name="csrf" value="([^"]*)"/.exec(html)![1]!;
    const loginUrl = `${visited.at(-1)!}/login`;
    const submitted = await browser.request(
      'POST',
      loginUrl,
      form({ username: 'rita', password: 'rita has a long password', csrf }),
    );
    assert.equal(submitted.status, 303, await submitted.clone().text());
    const done = await browser.follow(submitted);
    assert.ok(done.visited.some((v) => v.startsWith(`${urls.b}/auth/callback?`)));
    assert.equal(done.visited.at(-1), `${urls.b}/welcome`);
    assert.ok(browser.cookie(urls.b, 'ocp_session'), 'B started a session');

    const me = await browser.request('GET', `${urls.b}/api/v1/me`);
    assert.equal(me.status, 200);
    const actor = (await me.json()) as {
      kind: string;
      id: string;
      organisationId: string;
      roles: string[];
    };
    assert.equal(actor.kind, 'person');
    assert.match(actor.id, /^per_/);
    assert.equal(actor.organisationId, orgOnB);
    assert.deepEqual(actor.roles, ['consumer']);

    // The person is B's own record, keyed by A's issuer and subject.
    const { rows } = await dbB.db.query<{ issuer: string }>(
      'SELECT issuer FROM identity_people WHERE id = $1',
      [actor.id],
    );
    assert.equal(rows[0]!.issuer, `${urls.a}/oidc`);
  });

  it('B does not accept an issuer it has not configured', async () => {
    const browser = new HttpBrowser();
    const res = await browser.request('GET', `${urls.b}/auth/login?issuer=local`);
    assert.equal(res.status, 400);
    // B runs no provider of its own while an external issuer is configured.
    const discovery = await browser.request(
      'GET',
      `${urls.b}/oidc/.well-known/openid-configuration`,
    );
    assert.equal(discovery.status, 404);
  });
});

async function tokenAt(url: string): Promise<string> {
  const res = await fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form({
      grant_type: 'client_credentials',
      client_id: 'admin',
      client_secret: ADMIN_SECRET,
    }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function api(url: string, token: string, method: string, path: string, body: object) {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path} → ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as { id: string };
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ledgerPersonHash } from '../ledger/ledger.events.js';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { adminToken, bearer, form, startIdentityNode } from './identity.testing.js';

const HOST = 'ocp.test';

/** A browser, as far as sign-in needs one: a cookie jar and redirects followed by hand. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly node: TestNode) {}

  private remember(res: LightMyRequestResponse) {
    for (const cookie of res.cookies as { name: string; value: string; maxAge?: number }[]) {
      if (cookie.maxAge === 0 || cookie.value === '') this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
  }

  async request(
    method: 'GET' | 'POST',
    url: string,
    options: { payload?: string; headers?: Record<string, string> } = {},
  ): Promise<LightMyRequestResponse> {
    const target = new URL(url, `http://${HOST}`);
    assert.equal(target.host, HOST, `the flow must stay on the node, went to ${url}`);
    const res = await this.node.app.inject({
      method,
      url: target.pathname + target.search,
      headers: {
        host: HOST,
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(options.payload ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        ...options.headers,
      },
      ...(options.payload ? { payload: options.payload } : {}),
    });
    this.remember(res);
    return res;
  }

  /** Follows redirects until a page that is not one; returns it and the URLs visited. */
  async follow(res: LightMyRequestResponse, visited: string[] = []) {
    while (res.statusCode >= 300 && res.statusCode < 400) {
      const location = String(res.headers.location);
      visited.push(location);
      res = await this.request('GET', location);
    }
    return { res, visited };
  }
}

function hiddenField(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  assert.ok(match, `no ${name} field in the page`);
  return match[1]!;
}

for (const backend of testBackends()) {
  describe(`single sign-on with the built-in OpenID Provider (${backend})`, () => {
    let node: TestNode;
    let personId: string;

    before(async () => {
      node = await startIdentityNode(backend);
      const admin = await adminToken(node);
      const org = await node.app.inject({
        method: 'POST',
        url: '/api/v1/organisations',
        headers: bearer(admin),
        payload: { name: 'Mobility department', kind: 'city_department', verified: true },
      });
      const account = await node.app.inject({
        method: 'POST',
        url: '/api/v1/people',
        headers: bearer(admin),
        payload: {
          organisationId: org.json().id,
          username: 'steward.sam',
          password: 'a long local password',
          displayName: 'Sam Steward',
          roles: ['steward'],
        },
      });
      assert.equal(account.statusCode, 201, account.body);
      personId = account.json().id;
    });
    after(() => node?.close());

    async function startSignIn(browser: Browser) {
      const start = await browser.request('GET', '/auth/login?returnTo=/portal/requests');
      assert.equal(start.statusCode, 302, start.body);
      const authorize = new URL(String(start.headers.location));
      assert.equal(authorize.origin + authorize.pathname, 'http://ocp.test/oidc/auth');
      assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
      assert.match(authorize.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(authorize.searchParams.get('state'));
      assert.ok(authorize.searchParams.get('nonce'));
      const { res, visited } = await browser.follow(start);
      assert.equal(res.statusCode, 200, res.body);
      assert.match(visited.at(-1)!, /^\/oidc\/interaction\/[^/]+$/);
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
      return { page: res, loginUrl: `${visited.at(-1)!}/login` };
    }

    it('signs a person in: authorization code + PKCE, over HTTP, into a session cookie', async () => {
      const browser = new Browser(node);
      const { page, loginUrl } = await startSignIn(browser);
      const csrf = hiddenField(page.body, 'csrf');

      const wrong = await browser.request('POST', loginUrl, {
        payload: form({ username: 'steward.sam', password: 'not the password', csrf }),
      });
      assert.equal(wrong.statusCode, 401);
      assert.match(wrong.body, /wrong password/);

      const submitted = await browser.request('POST', loginUrl, {
        payload: form({ username: 'steward.sam', password: 'a long local password', csrf }),
      });
      assert.equal(submitted.statusCode, 303, submitted.body);
      const { res, visited } = await browser.follow(submitted);
      const callback = visited.find((v) => v.includes('/auth/callback'));
      assert.ok(callback, `no callback in ${visited.join(' → ')}`);
      assert.match(callback, /[?&]code=/);
      assert.equal(visited.at(-1), '/portal/requests');
      assert.equal(res.statusCode, 404); // the portal page itself is not part of this node yet

      const session = browser.cookies.get('ocp_session');
      assert.ok(session, 'a session cookie is set');
      const me = await browser.request('GET', '/api/v1/me');
      assert.equal(me.statusCode, 200, me.body);
      assert.deepEqual(me.json(), {
        kind: 'person',
        id: personId,
        organisationId: me.json().organisationId,
        roles: ['steward'],
      });
      assert.match(me.json().organisationId, /^org_/);

      const info = (await browser.request('GET', '/auth/session')).json();
      assert.equal(info.signedIn, true);
      assert.equal(info.personId, personId);

      // State-changing requests with the cookie need the CSRF token.
      const noCsrf = await browser.request('POST', '/auth/logout');
      assert.equal(noCsrf.statusCode, 403);
      const badCsrf = await browser.request('POST', '/auth/logout', {
        headers: { 'x-csrf-token': 'guess' },
      });
      assert.equal(badCsrf.statusCode, 403);
      const out = await browser.request('POST', '/auth/logout', {
        headers: { 'x-csrf-token': info.csrfToken },
      });
      assert.equal(out.statusCode, 204);
      assert.equal(browser.cookies.has('ocp_session'), false);
      // The old cookie value is dead on the server too.
      const replay = await node.app.inject({
        method: 'GET',
        url: '/api/v1/me',
        headers: { cookie: `ocp_session=${session}` },
      });
      assert.equal(replay.statusCode, 401);
    });

    it('sets the session cookie HttpOnly and SameSite', async () => {
      const browser = new Browser(node);
      const { page, loginUrl } = await startSignIn(browser);
      let res = await browser.request('POST', loginUrl, {
        payload: form({
          username: 'steward.sam',
          password: 'a long local password',
          csrf: hiddenField(page.body, 'csrf'),
        }),
      });
      let sessionHeader: string | undefined;
      while (res.statusCode >= 300 && res.statusCode < 400) {
        const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
        sessionHeader ??= cookies.find((c) => c.startsWith('ocp_session='));
        res = await browser.request('GET', String(res.headers.location));
      }
      assert.ok(sessionHeader);
      assert.match(sessionHeader, /HttpOnly/);
      assert.match(sessionHeader, /SameSite=Lax/);
      assert.match(sessionHeader, /Path=\//);
    });

    it('disabling a person ends their sessions at once and blocks sign-in', async () => {
      const browser = new Browser(node);
      const { page, loginUrl } = await startSignIn(browser);
      const signedIn = await browser.follow(
        await browser.request('POST', loginUrl, {
          payload: form({
            username: 'steward.sam',
            password: 'a long local password',
            csrf: hiddenField(page.body, 'csrf'),
          }),
        }),
      );
      assert.ok(signedIn.visited.some((v) => v.includes('/auth/callback')));
      assert.equal((await browser.request('GET', '/api/v1/me')).statusCode, 200);

      const admin = await adminToken(node);
      const setStatus = (status: string) =>
        node.app.inject({
          method: 'PATCH',
          url: `/api/v1/people/${personId}`,
          headers: bearer(admin),
          payload: { status },
        });
      assert.equal((await setStatus('disabled')).json().status, 'disabled');
      assert.equal((await browser.request('GET', '/api/v1/me')).statusCode, 401);

      const again = new Browser(node);
      const second = await startSignIn(again);
      const refused = await again.request('POST', second.loginUrl, {
        payload: form({
          username: 'steward.sam',
          password: 'a long local password',
          csrf: hiddenField(second.page.body, 'csrf'),
        }),
      });
      assert.equal(refused.statusCode, 401);
      assert.equal((await setStatus('active')).json().status, 'active');

      const { rows } = await node.platform.db.query<{ type: string; id: string }>(
        `SELECT event->>'type' AS type, event->'subject'->>'id' AS id FROM ledger_queue
         WHERE event->>'type' IN ('person.disabled', 'person.enabled') ORDER BY ledger_queue.id`,
      );
      assert.deepEqual(
        rows.map((r) => r.type),
        ['person.disabled', 'person.enabled'],
      );
      assert.equal(rows[0]!.id, await ledgerPersonHash(node.platform.db, personId));
    });

    it('refuses a login form without its CSRF token', async () => {
      const browser = new Browser(node);
      const { loginUrl } = await startSignIn(browser);
      const res = await browser.request('POST', loginUrl, {
        payload: form({ username: 'steward.sam', password: 'a long local password', csrf: 'x' }),
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.headers.location, undefined);
    });

    it('refuses a callback from another browser, a replayed state and a forged code', async () => {
      const victim = new Browser(node);
      const { page, loginUrl } = await startSignIn(victim);
      let res = await victim.request('POST', loginUrl, {
        payload: form({
          username: 'steward.sam',
          password: 'a long local password',
          csrf: hiddenField(page.body, 'csrf'),
        }),
      });
      // Stop right before the callback and hand it to another browser.
      while (!String(res.headers.location).includes('/auth/callback')) {
        res = await victim.request('GET', String(res.headers.location));
      }
      const callback = String(res.headers.location);
      const attacker = new Browser(node);
      const stolen = await attacker.request('GET', callback);
      assert.equal(stolen.statusCode, 401);
      assert.equal(attacker.cookies.has('ocp_session'), false);
      // The attempt is gone now, even for the browser that started it.
      const late = await victim.request('GET', callback);
      assert.equal(late.statusCode, 401);

      const forged = new Browser(node);
      const start = await forged.request('GET', '/auth/login');
      const state = new URL(String(start.headers.location)).searchParams.get('state')!;
      const fake = await forged.request(
        'GET',
        `/auth/callback?code=forged-code&state=${encodeURIComponent(state)}`,
      );
      assert.equal(fake.statusCode, 401);
      assert.equal(forged.cookies.has('ocp_session'), false);
    });

    it('never redirects sign-in to another site', async () => {
      const browser = new Browser(node);
      const sneaky = [
        '//evil.example/x',
        '/\t/evil.example',
        '/\\evil.example',
        'https://evil.example',
      ];
      for (const returnTo of sneaky) {
        const res = await browser.request(
          'GET',
          `/auth/login?returnTo=${encodeURIComponent(returnTo)}`,
        );
        assert.equal(res.statusCode, 302);
      }
      const { rows } = await node.platform.db.query<{ return_to: string }>(
        `SELECT DISTINCT return_to FROM identity_login_attempts WHERE return_to <> '/portal/requests'`,
      );
      assert.deepEqual(
        rows.map((r) => r.return_to),
        ['/'],
      );
      const unknown = await browser.request('GET', '/auth/login?issuer=elsewhere');
      assert.equal(unknown.statusCode, 400);
    });

    it('publishes OpenID discovery for the built-in provider', async () => {
      const res = await node.app.inject({
        method: 'GET',
        url: '/oidc/.well-known/openid-configuration',
        headers: { host: HOST },
      });
      assert.equal(res.statusCode, 200, res.body);
      const meta = res.json();
      assert.equal(meta.issuer, 'http://ocp.test/oidc');
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    });
  });
}

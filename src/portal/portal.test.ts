/** The portal's pages and assets as the node serves them, and language negotiation. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityFeature } from '../identity/identity.feature.js';
import { ledgerFeature } from '../ledger/ledger.routes.js';
import { opsFeature } from '../ops/ops.routes.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { registerFeature } from '../register/register.feature.js';
import { buildPortal } from './build.js';
import { pickLanguage } from './language.js';
import { portalFeature, portalPages } from './portal.feature.js';
import { keysOf } from './ui/i18n.js';

describe('portal language', () => {
  it('takes ?lang= first, then Accept-Language by preference, then English', () => {
    assert.equal(pickLanguage('fr', 'en-CA'), 'fr');
    assert.equal(pickLanguage('en', 'fr-CA'), 'en');
    assert.equal(pickLanguage('de', 'fr-CA,fr;q=0.9'), 'fr');
    assert.equal(pickLanguage(undefined, 'de-DE, en;q=0.5, fr;q=0.8'), 'fr');
    assert.equal(pickLanguage(undefined, 'fr;q=0, en;q=0.1'), 'en');
    assert.equal(pickLanguage(undefined, 'es, de'), 'en');
    assert.equal(pickLanguage(undefined, undefined), 'en');
    assert.equal(pickLanguage(undefined, 'x'.repeat(10_000)), 'en');
  });

  it('has every word in both languages', () => {
    assert.deepEqual(keysOf('fr'), keysOf('en'));
  });
});

describe('portal pages and assets', () => {
  let node: TestNode;
  before(async () => {
    await buildPortal();
    node = await startTestNode({
      mqtt: 'off',
      listen: false,
      features: [opsFeature, identityFeature, ledgerFeature, registerFeature, portalFeature],
    });
  });
  after(() => node?.close());

  it('serves every page with the language chosen, a strict CSP and no caching', async () => {
    for (const url of portalPages) {
      const path = url.replace(':id', 'tec_abc');
      const res = await node.app.inject({ url: path, headers: { 'accept-language': 'fr-CA' } });
      assert.equal(res.statusCode, 200, path);
      assert.match(res.headers['content-type'] as string, /^text\/html/);
      assert.match(res.body, /<html lang="fr"/);
      assert.equal(res.headers['content-language'], 'fr');
      assert.match(res.headers['content-security-policy'] as string, /default-src 'self'/);
      assert.match(res.headers['content-security-policy'] as string, /frame-ancestors 'none'/);
      assert.doesNotMatch(res.body, /https?:\/\//, 'nothing loaded from elsewhere');
    }
    const en = await node.app.inject({
      url: '/consultations?lang=en',
      headers: { 'accept-language': 'fr' },
    });
    assert.match(en.body, /<html lang="en"/);
    const bad = await node.app.inject({ url: `/?lang=${'x'.repeat(20)}` });
    assert.equal(bad.statusCode, 400);
  });

  it('leaves the APIs alone: their 404s stay problem+json, their routes win', async () => {
    for (const url of [
      '/api/v1/nothing',
      '/datasets/a/b',
      '/technologies/x/y',
      '/ledger/nothing',
    ]) {
      const res = await node.app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/, url);
    }
    assert.equal((await node.app.inject({ url: '/api/v1/technologies' })).statusCode, 200);
    const checkpoint = await node.app.inject({ url: '/ledger/checkpoint' });
    assert.match(checkpoint.headers['content-type'] as string, /text\/plain/);
    assert.equal((await node.app.inject({ method: 'POST', url: '/technologies' })).statusCode, 404);
  });

  it('serves the built assets immutable, and nothing else under /_portal/', async () => {
    const page = await node.app.inject({ url: '/' });
    const script = /src="(\/_portal\/[^"]+\.js)"/.exec(page.body)![1]!;
    const style = /href="(\/_portal\/[^"]+\.css)"/.exec(page.body)![1]!;
    const js = await node.app.inject({ url: script });
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /^text\/javascript/);
    assert.match(js.headers['cache-control'] as string, /immutable/);
    assert.match(
      (await node.app.inject({ url: style })).headers['content-type'] as string,
      /^text\/css/,
    );
    for (const url of [
      '/_portal/missing.js',
      '/_portal/..%2Fpackage.json',
      '/_portal/.source-hash',
    ]) {
      assert.equal((await node.app.inject({ url })).statusCode, 404, url);
    }
  });
});

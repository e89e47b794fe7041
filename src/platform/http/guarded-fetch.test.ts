import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createGuardedFetcher, GuardedFetchError, isPrivateAddress } from './guarded-fetch.js';

const base = { timeoutMs: 500, maxBytes: 1024, allowHosts: [], denyHosts: [], allowPrivate: true };

describe('guarded fetch', () => {
  let server: Server;
  let origin: string;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return res.end('{"@context":{}}');
      if (req.url === '/big') return res.end('x'.repeat(5000));
      if (req.url === '/redirect') {
        res.writeHead(302, {
          location: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ok`,
        });
        return res.end();
      }
      if (req.url === '/missing') {
        res.writeHead(404);
        return res.end();
      }
      // /hang: never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://localhost:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const reason = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof GuardedFetchError);
      return error.reason;
    }
    assert.fail('expected a failure');
  };

  it('classifies private addresses', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      '::ffff:10.0.0.1',
    ]) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['8.8.8.8', '145.1.2.3', '2a00:1450::1'])
      assert.equal(isPrivateAddress(a), false, a);
  });

  it('refuses loopback and private hosts unless allowed', async () => {
    const strict = createGuardedFetcher({ ...base, allowPrivate: false });
    assert.equal(await reason(strict.fetchText(`${origin}/ok`)), 'private_address');
    assert.equal(
      await reason(strict.fetchText('http://169.254.169.254/latest')),
      'private_address',
    );
    assert.equal(await reason(strict.fetchText('file:///etc/passwd')), 'invalid_url');
    const open = createGuardedFetcher(base);
    assert.equal((await open.fetchText(`${origin}/ok`)).body, '{"@context":{}}');
  });

  it('applies allow and deny lists, also to redirect targets', async () => {
    const denied = createGuardedFetcher({ ...base, denyHosts: ['localhost'] });
    assert.equal(await reason(denied.fetchText(`${origin}/ok`)), 'denied');
    const onlyLocalhost = createGuardedFetcher({ ...base, allowHosts: ['localhost'] });
    assert.equal((await onlyLocalhost.fetchText(`${origin}/ok`)).status, 200);
    // The redirect goes to 127.0.0.1, which is not on the allow list.
    assert.equal(await reason(onlyLocalhost.fetchText(`${origin}/redirect`)), 'denied');
    const open = createGuardedFetcher(base);
    assert.equal((await open.fetchText(`${origin}/redirect`)).body, '{"@context":{}}');
  });

  it('caps size and time, and reports HTTP errors', async () => {
    const fetcher = createGuardedFetcher(base);
    assert.equal(await reason(fetcher.fetchText(`${origin}/big`)), 'too_large');
    const started = Date.now();
    assert.equal(await reason(fetcher.fetchText(`${origin}/hang`)), 'timeout');
    assert.ok(Date.now() - started < 3000);
    assert.equal(await reason(fetcher.fetchText(`${origin}/missing`)), 'http_status');
  });
});

import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { testBackends } from '../platform/testing/database.js';
import { recordEvents, waitForTree } from './testing.js';
import { leafHash, verifyConsistency, verifyInclusion } from './merkle.js';
import { openNote, parseCheckpoint, parseVkey } from './note.js';

for (const backend of testBackends()) {
  describe(`ledger HTTP API (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, listen: false, mqtt: 'off' });
      await recordEvents(node, 260);
      await waitForTree(node, 260);
    });
    after(() => node.close());

    const get = (url: string) => node.app.inject({ method: 'GET', url });

    it('serves the checkpoint as a signed note verifiable with /ledger/key', async () => {
      const checkpoint = await get('/ledger/checkpoint');
      assert.equal(checkpoint.statusCode, 200);
      assert.equal(checkpoint.headers['content-type'], 'text/plain; charset=utf-8');
      assert.match(String(checkpoint.headers['cache-control']), /no-cache/);
      const key = await get('/ledger/key');
      assert.equal(key.statusCode, 200);
      const opened = openNote(checkpoint.body, [parseVkey(key.body)]);
      const parsed = parseCheckpoint(opened.text);
      assert.equal(parsed.origin, 'ocp.test/ledger');
      assert.equal(parsed.size, 260);
      const keys = (await get('/ledger/keys')).json<{ keys: { vkey: string }[] }>();
      assert.equal(keys.keys[0]!.vkey, key.body.trim());
    });

    it('serves full and partial tiles and entry bundles with tlog-tiles paths', async () => {
      const full = await get('/ledger/tile/0/000');
      assert.equal(full.statusCode, 200);
      assert.equal(full.headers['content-type'], 'application/octet-stream');
      assert.match(String(full.headers['cache-control']), /immutable/);
      assert.equal(full.rawPayload.length, 8192);
      const partial = await get('/ledger/tile/0/001.p/4');
      assert.equal(partial.rawPayload.length, 4 * 32);
      const smaller = await get('/ledger/tile/0/001.p/2');
      assert.deepEqual(smaller.rawPayload, partial.rawPayload.subarray(0, 64));
      const level1 = await get('/ledger/tile/1/000.p/1');
      assert.equal(level1.rawPayload.length, 32);

      const bundle = (await get('/ledger/tile/entries/001.p/4')).rawPayload;
      let offset = 0;
      const hashes: Buffer[] = [];
      while (offset < bundle.length) {
        const length = bundle.readUInt16BE(offset);
        hashes.push(leafHash(bundle.subarray(offset + 2, offset + 2 + length)));
        offset += 2 + length;
      }
      assert.equal(hashes.length, 4);
      assert.deepEqual(Buffer.concat(hashes), partial.rawPayload);
    });

    it('compresses entry bundles for clients that accept gzip', async () => {
      const plain = await get('/ledger/tile/entries/000');
      const zipped = await node.app.inject({
        method: 'GET',
        url: '/ledger/tile/entries/000',
        headers: { 'accept-encoding': 'gzip, identity' },
      });
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.ok(zipped.rawPayload.length < plain.rawPayload.length);
      assert.deepEqual(gunzipSync(zipped.rawPayload), plain.rawPayload);
    });

    it('reports the ledger size and queue in the metrics', async () => {
      const text = (await get('/metrics')).body;
      assert.match(text, /^ocp_ledger_entries 260$/m);
      assert.match(text, /^ocp_ledger_queue_length 0$/m);
      assert.match(text, /^ocp_ledger_sequencing_failures_total 0$/m);
    });

    it('answers 404 for tiles beyond the signed tree and for non-canonical paths', async () => {
      for (const url of [
        '/ledger/tile/0/001',
        '/ledger/tile/0/001.p/5',
        '/ledger/tile/0/002.p/1',
        '/ledger/tile/1/000',
        '/ledger/tile/entries/001',
        '/ledger/tile/0/1',
        '/ledger/tile/0/x000/001',
        '/ledger/tile/0/000.p/0',
        '/ledger/tile/0/000.p/256',
        '/ledger/tile/64/000',
        '/ledger/tile/x/000',
      ]) {
        const response = await get(url);
        assert.equal(response.statusCode, 404, url);
        assert.match(String(response.headers['content-type']), /^application\/problem\+json/, url);
      }
    });

    it('returns entries, and inclusion and consistency proofs that verify', async () => {
      const entry = await get('/ledger/entries/257');
      assert.equal(entry.statusCode, 200);
      const body = entry.json<{
        leafHash: string;
        entry: { index: number; subject: { id: string } };
      }>();
      assert.equal(body.entry.index, 257);
      assert.equal(body.entry.subject.id, 'gr_257');

      const inclusion = (await get('/ledger/proofs/inclusion?index=257&treeSize=259')).json<{
        leafHash: string;
        rootHash: string;
        proof: string[];
      }>();
      assert.equal(inclusion.leafHash, body.leafHash);
      const b = (s: string) => Buffer.from(s, 'base64');
      verifyInclusion(
        257,
        259,
        b(inclusion.leafHash),
        inclusion.proof.map(b),
        b(inclusion.rootHash),
      );

      const consistency = (await get('/ledger/proofs/consistency?from=259')).json<{
        to: number;
        fromRoot: string;
        toRoot: string;
        proof: string[];
      }>();
      assert.equal(consistency.to, 260);
      assert.equal(consistency.fromRoot, inclusion.rootHash);
      verifyConsistency(
        259,
        260,
        consistency.proof.map(b),
        b(consistency.fromRoot),
        b(consistency.toRoot),
      );
      const checkpoint = parseCheckpoint(
        (await get('/ledger/checkpoint')).body.split('\n\n')[0] + '\n',
      );
      assert.equal(consistency.toRoot, checkpoint.root.toString('base64'));
    });

    it('rejects bad proof and entry requests', async () => {
      assert.equal((await get('/ledger/entries/260')).statusCode, 404);
      assert.equal((await get('/ledger/entries/-1')).statusCode, 400);
      assert.equal((await get('/ledger/entries/abc')).statusCode, 400);
      assert.equal((await get('/ledger/proofs/inclusion?index=5&treeSize=999')).statusCode, 400);
      assert.equal((await get('/ledger/proofs/inclusion')).statusCode, 400);
      assert.equal((await get('/ledger/proofs/consistency?from=0')).statusCode, 400);
      assert.equal((await get('/ledger/entries?limit=1000')).statusCode, 400);
      assert.equal((await get('/ledger/entries?from=yesterday')).statusCode, 400);
    });

    it('searches by dataset, grant, organisation and time, with pages', async () => {
      type Page = {
        entries: { index: number; details: { datasetId: string } }[];
        next: number | null;
      };
      const first = (await get('/ledger/entries?dataset=ds_1&limit=50')).json<Page>();
      assert.equal(first.entries.length, 50);
      assert.ok(first.entries.every((e) => e.details.datasetId === 'ds_1'));
      assert.equal(first.next, first.entries.at(-1)!.index);
      const second = (
        await get(`/ledger/entries?dataset=ds_1&limit=50&after=${first.next}`)
      ).json<Page>();
      assert.equal(first.entries.length + second.entries.length, 87);
      assert.equal(second.next, null);

      const grant = (await get('/ledger/entries?grant=gr_7')).json<Page>();
      assert.deepEqual(
        grant.entries.map((e) => e.index),
        [7],
      );
      const org = (await get('/ledger/entries?organisation=org_city&limit=1')).json<Page>();
      assert.equal(org.entries.length, 1);
      const none = (await get('/ledger/entries?organisation=org_other')).json<Page>();
      assert.equal(none.entries.length, 0);
      const future = (await get('/ledger/entries?from=2999-01-01T00:00:00Z')).json<Page>();
      assert.equal(future.entries.length, 0);
    });

    it('lets only admins rotate the key', async () => {
      const response = await node.app.inject({ method: 'POST', url: '/ledger/key/rotate' });
      assert.equal(response.statusCode, 401);
    });
  });
}

describe('ledger key rotation over HTTP', () => {
  let node: TestNode;
  before(async () => {
    node = await startTestNode({
      listen: false,
      mqtt: 'off',
      env: { OCP_ANONYMOUS_ROLE: 'admin' },
    });
    await waitForTree(node, 0);
  });
  after(() => node.close());

  it('rotates for an admin, logs the rotation and co-signs with both keys', async () => {
    const oldKey = (await node.app.inject({ method: 'GET', url: '/ledger/key' })).body.trim();
    const response = await node.app.inject({ method: 'POST', url: '/ledger/key/rotate' });
    assert.equal(response.statusCode, 200);
    const { keyId, previousKeyId } = response.json<{ keyId: string; previousKeyId: string }>();
    assert.notEqual(keyId, previousKeyId);
    await waitForTree(node, 1);
    const newKey = (await node.app.inject({ method: 'GET', url: '/ledger/key' })).body.trim();
    assert.notEqual(newKey, oldKey);
    const note = (await node.app.inject({ method: 'GET', url: '/ledger/checkpoint' })).body;
    assert.equal(openNote(note, [parseVkey(oldKey)]).verifiedBy.length, 1);
    assert.equal(openNote(note, [parseVkey(newKey)]).verifiedBy.length, 1);
    const entry = (await node.app.inject({ method: 'GET', url: '/ledger/entries/0' })).json<{
      entry: { type: string; subject: { id: string }; details: { previousKeyId: string } };
    }>().entry;
    assert.equal(entry.type, 'ledger.key_rotated');
    assert.equal(entry.subject.id, keyId);
    assert.equal(entry.details.previousKeyId, previousKeyId);
    const keys = (await node.app.inject({ method: 'GET', url: '/ledger/keys' })).json<{
      keys: { id: string; status: string }[];
    }>().keys;
    assert.deepEqual(
      keys.map((key) => [key.id, key.status]),
      [
        [keyId, 'active'],
        [previousKeyId, 'retired'],
      ],
    );
  });
});

/**
 * The browser's ledger verifier (ui/verify.ts) run in Node against a real node's tiles:
 * tree sizes that need level-0 and level-1 tiles and partial tiles, inclusion proofs that
 * verify, and tampered data that does not. Node 20 has the same fetch and WebCrypto.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ledgerFeature } from '../ledger/ledger.routes.js';
import { recordEvents, waitForTree } from '../ledger/testing.js';
import { opsFeature } from '../ops/ops.routes.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { fromBase64, parseCheckpoint, recomputeRoot, verifyInclusion } from './ui/verify.js';

for (const backend of testBackends()) {
  describe(`in-browser ledger verification (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off', features: [opsFeature, ledgerFeature] });
    });
    after(() => node?.close());

    const checkpoint = async () =>
      parseCheckpoint(await (await fetch(`${node.url}/ledger/checkpoint`)).text());

    it('recomputes the signed root from tiles at several tree sizes', async () => {
      let recorded = 0;
      for (const size of [1, 7, 256, 300, 1000]) {
        await recordEvents(node, size - recorded, recorded);
        recorded = size;
        await waitForTree(node, size);
        const cp = await checkpoint();
        assert.equal(cp.size, size);
        const { root, tiles } = await recomputeRoot(`${node.url}/ledger`, cp.size);
        assert.equal(Buffer.from(root).toString('base64'), cp.root, `size ${size}`);
        if (size > 256) assert.ok(tiles >= 2, 'level-1 and level-0 tiles are both used');
      }
    });

    it('verifies inclusion proofs and rejects tampered ones', async () => {
      const cp = await checkpoint();
      const root = fromBase64(cp.root);
      for (const index of [0, 1, 255, 256, 511, 999]) {
        const p = (await (
          await fetch(`${node.url}/ledger/proofs/inclusion?index=${index}&treeSize=${cp.size}`)
        ).json()) as { proof: string[]; leafHash: string };
        const proof = (p.proof as string[]).map(fromBase64);
        const leaf = fromBase64(p.leafHash);
        assert.equal(
          await verifyInclusion(index, cp.size, leaf, proof, root),
          true,
          `entry ${index}`,
        );
        const wrongLeaf = leaf.slice();
        wrongLeaf[0]! ^= 1;
        assert.equal(await verifyInclusion(index, cp.size, wrongLeaf, proof, root), false);
        assert.equal(await verifyInclusion(index ^ 1, cp.size, leaf, proof, root), false);
        assert.equal(await verifyInclusion(index, cp.size, leaf, proof.slice(1), root), false);
      }
    });

    it('notices a wrong root', async () => {
      const cp = await checkpoint();
      const { root } = await recomputeRoot(`${node.url}/ledger`, cp.size);
      const other = await recomputeRoot(`${node.url}/ledger`, cp.size - 1);
      assert.notEqual(
        Buffer.from(root).toString('base64'),
        Buffer.from(other.root).toString('base64'),
      );
      assert.throws(() => parseCheckpoint('origin\nnot-a-number\nroot'), /malformed/);
    });
  });
}

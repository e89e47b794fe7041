import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  consistencyProof,
  inclusionProof,
  leafHash,
  memoryReader,
  rootFromLeafHashes,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  verifySubtreeConsistency,
  verifySubtreeInclusion,
} from './merkle.js';

const FIXTURES = '/work/shared/fixtures/tlog';
const TESTDATA = path.join(FIXTURES, 'merkle-testdata');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : name.endsWith('.json') ? [full] : [];
  });
}

type Vector = Record<string, unknown> & { wantErr: boolean; desc: string };

/** Sizes beyond 2^53 appear in the error vectors; keep them exact as strings. */
function readVector(file: string): Vector {
  const text = readFileSync(file, 'utf8').replace(/:\s*(\d{16,})/g, ': "$1"');
  return JSON.parse(text) as Vector;
}

const b64 = (value: unknown) => Buffer.from((value as string | null) ?? '', 'base64');
const proofOf = (value: unknown) => ((value as string[] | null) ?? []).map(b64);
const big = (value: unknown) => BigInt(value as number | string);

function outcome(check: () => void): boolean {
  try {
    check();
    return false;
  } catch {
    return true;
  }
}

const suites: Record<string, (v: Vector) => void> = {
  inclusion: (v) =>
    verifyInclusion(
      big(v.leafIdx),
      big(v.treeSize),
      b64(v.leafHash),
      proofOf(v.proof),
      b64(v.root),
    ),
  consistency: (v) =>
    verifyConsistency(big(v.size1), big(v.size2), proofOf(v.proof), b64(v.root1), b64(v.root2)),
  subtreeinclusion: (v) =>
    verifySubtreeInclusion(
      big(v.leafIdx),
      big(v.start),
      big(v.end),
      b64(v.leafHash),
      proofOf(v.proof),
      b64(v.root),
    ),
  subtreeconsistency: (v) =>
    verifySubtreeConsistency(
      big(v.start),
      big(v.end),
      big(v.size),
      proofOf(v.proof),
      b64(v.root1),
      b64(v.root2),
    ),
};

describe('merkle test vectors (transparency-dev/merkle testdata)', () => {
  for (const [suite, verify] of Object.entries(suites)) {
    const vectors = files(path.join(TESTDATA, suite));
    it(`${suite}: ${vectors.length} vectors`, () => {
      assert.ok(vectors.length > 50);
      const failures: string[] = [];
      for (const file of vectors) {
        const vector = readVector(file);
        const failed = outcome(() => verify(vector));
        if (failed !== vector.wantErr) {
          failures.push(
            `${path.relative(TESTDATA, file)} (${vector.desc}): wantErr ${vector.wantErr}`,
          );
        }
      }
      assert.deepEqual(failures, []);
    });
  }

  it('covers all 518 vector files', () => {
    assert.equal(files(TESTDATA).length, 518);
  });
});

describe('RFC 6962 roots', () => {
  const fixture = JSON.parse(readFileSync(path.join(FIXTURES, 'rfc6962-roots.json'), 'utf8')) as {
    leaves: string[];
    roots: Record<string, string>;
  };
  const leaves = fixture.leaves.map((hex) => leafHash(Buffer.from(hex, 'hex')));

  it('computes every root, in memory and through a subtree reader', async () => {
    for (const [size, hex] of Object.entries(fixture.roots)) {
      const n = Number(size);
      assert.equal(rootFromLeafHashes(leaves.slice(0, n)).toString('hex'), hex, `size ${n}`);
      assert.equal((await treeRoot(memoryReader(leaves), n)).toString('hex'), hex, `size ${n}`);
    }
  });

  it('generates inclusion and consistency proofs that verify, for every pair of sizes', async () => {
    const read = memoryReader(leaves);
    const root = (n: number) => Buffer.from(fixture.roots[String(n)]!, 'hex');
    for (let size = 1; size <= leaves.length; size++) {
      for (let index = 0; index < size; index++) {
        const proof = await inclusionProof(read, index, size);
        verifyInclusion(index, size, leaves[index]!, proof, root(size));
        if (proof.length > 0) {
          const bad = proof.map((h) => Buffer.from(h));
          bad[0]![0]! ^= 1;
          assert.throws(() => verifyInclusion(index, size, leaves[index]!, bad, root(size)));
        }
      }
      for (let size1 = 1; size1 <= size; size1++) {
        const proof = await consistencyProof(read, size1, size);
        verifyConsistency(size1, size, proof, root(size1), root(size));
        if (size1 < size) {
          assert.throws(() => verifyConsistency(size1, size, proof, root(size1), root(size - 1)));
        }
      }
    }
  });

  it('generates proofs over a larger tree', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
    const read = memoryReader(many);
    for (const [m, n] of [
      [1, 1000],
      [255, 256],
      [256, 257],
      [511, 999],
      [600, 1000],
    ] as const) {
      const root1 = rootFromLeafHashes(many.slice(0, m));
      const root2 = rootFromLeafHashes(many.slice(0, n));
      verifyConsistency(m, n, await consistencyProof(read, m, n), root1, root2);
      verifyInclusion(m - 1, n, many[m - 1]!, await inclusionProof(read, m - 1, n), root2);
    }
  });
});

/**
 * RFC 9162 §2.1 Merkle trees: leaf and node hashing, proof generation over stored
 * subtree hashes, and proof verification. Verification follows the RFC's algorithms
 * (§2.1.3.2, §2.1.4.2) and, for subtree proofs, the "Merkle Tree Certificates" draft
 * (§4.3, §4.4); positions are bigints there because proofs come from strangers and may
 * name sizes up to 2^64.
 */
import { createHash } from 'node:crypto';

export const HASH_SIZE = 32;

export type Hash = Buffer;

export function sha256(...parts: Uint8Array[]): Hash {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Hash {
  return sha256(LEAF_PREFIX, entry);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  return sha256(NODE_PREFIX, left, right);
}

/** The root of the empty tree: SHA-256 of the empty string. */
export const emptyRoot: Hash = sha256();

/** Largest power of two strictly smaller than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over a list of leaf hashes held in memory (tests, the verifier, a tile's root). */
export function rootFromLeafHashes(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return emptyRoot;
  if (leaves.length === 1) return leaves[0]!;
  const k = splitPoint(leaves.length);
  return nodeHash(rootFromLeafHashes(leaves.slice(0, k)), rootFromLeafHashes(leaves.slice(k)));
}

/**
 * Returns the hash of the full subtree of 2^height leaves starting at leaf
 * index·2^height. The log reads these from stored tiles; tests from memory.
 */
export type HashReader = (height: number, index: number) => Promise<Hash>;

/** A reader over leaf hashes held in memory. */
export function memoryReader(leaves: readonly Hash[]): HashReader {
  return async (height, index) => {
    const width = 2 ** height;
    const start = index * width;
    if (start + width > leaves.length) throw new RangeError('subtree beyond the tree');
    return rootFromLeafHashes(leaves.slice(start, start + width));
  };
}

/**
 * MTH(D[start:end]) for a range whose start is a multiple of the largest power of two
 * not above its size, which is every range the RFC's recursions visit: the range is
 * then a run of full subtrees of decreasing size, folded from the right.
 */
export async function rangeHash(read: HashReader, start: number, end: number): Promise<Hash> {
  if (end <= start) throw new RangeError(`empty range [${start}, ${end})`);
  const parts: Hash[] = [];
  let position = start;
  let remaining = end - start;
  for (let height = Math.floor(Math.log2(remaining)); height >= 0; height--) {
    const width = 2 ** height;
    if (remaining >= width) {
      if (position % width !== 0) throw new RangeError(`[${start}, ${end}) is not aligned`);
      parts.push(await read(height, position / width));
      position += width;
      remaining -= width;
    }
  }
  let hash = parts.pop()!;
  while (parts.length > 0) hash = nodeHash(parts.pop()!, hash);
  return hash;
}

/** The root hash of the tree of the first `size` leaves. */
export async function treeRoot(read: HashReader, size: number): Promise<Hash> {
  return size === 0 ? emptyRoot : rangeHash(read, 0, size);
}

/** RFC 9162 §2.1.3.1 PATH(index, D[size]). */
export async function inclusionProof(
  read: HashReader,
  index: number,
  size: number,
): Promise<Hash[]> {
  if (!(index >= 0 && index < size)) throw new RangeError(`index ${index} not in tree ${size}`);
  const path: Hash[] = [];
  let start = 0;
  let end = size;
  let m = index;
  const siblings: Hash[] = [];
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      siblings.push(await rangeHash(read, start + k, end));
      end = start + k;
    } else {
      siblings.push(await rangeHash(read, start, start + k));
      start += k;
      m -= k;
    }
  }
  // The recursion appends on the way back up, so the deepest sibling comes first.
  for (let i = siblings.length - 1; i >= 0; i--) path.push(siblings[i]!);
  return path;
}

/** RFC 9162 §2.1.4.1 PROOF(size1, D[size2]); empty when the sizes are equal. */
export async function consistencyProof(
  read: HashReader,
  size1: number,
  size2: number,
): Promise<Hash[]> {
  if (!(size1 > 0 && size1 <= size2)) {
    throw new RangeError(`no consistency proof from ${size1} to ${size2}`);
  }
  if (size1 === size2) return [];
  const nodes: Hash[] = [];
  let start = 0;
  let end = size2;
  let m = size1;
  let complete = true;
  while (m !== end - start) {
    const k = splitPoint(end - start);
    if (m <= k) {
      nodes.push(await rangeHash(read, start + k, end));
      end = start + k;
    } else {
      nodes.push(await rangeHash(read, start, start + k));
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) nodes.push(await rangeHash(read, start, end));
  return nodes.reverse();
}

// ---------------------------------------------------------------------------------------
// Verification

export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofError';
  }
}

type Position = bigint | number;

function isHash(value: Uint8Array | null | undefined): value is Uint8Array {
  return !!value && value.length === HASH_SIZE;
}

function requireHashes(proof: readonly Uint8Array[] | null | undefined): Uint8Array[] {
  const list = proof ?? [];
  if (!list.every((hash) => isHash(hash))) throw new ProofError('proof holds a malformed hash');
  return [...list];
}

const isOdd = (n: bigint) => (n & 1n) === 1n;

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * Recomputes a root from an inclusion proof (RFC 9162 §2.1.3.2). `index` is relative to
 * the tree (or subtree) the proof is for, `last` is the index of its last leaf.
 */
function chainInclusion(index: bigint, last: bigint, leaf: Uint8Array, proof: Uint8Array[]): Hash {
  let fn = index;
  let sn = last;
  let r: Hash = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0n) throw new ProofError('inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError('inclusion proof is too short');
  return r;
}

/** Throws ProofError unless `proof` shows the leaf at `index` is in the tree `root` of `size`. */
export function verifyInclusion(
  index: Position,
  size: Position,
  leaf: Uint8Array,
  proof: readonly Uint8Array[] | null | undefined,
  root: Uint8Array,
): void {
  const i = BigInt(index);
  const n = BigInt(size);
  if (!(i >= 0n && i < n)) throw new ProofError(`index ${i} is not below tree size ${n}`);
  if (!isHash(leaf) || !isHash(root)) throw new ProofError('malformed leaf or root hash');
  const computed = chainInclusion(i, n - 1n, leaf, requireHashes(proof));
  if (!equal(computed, root)) throw new ProofError('inclusion proof does not lead to the root');
}

/** Throws ProofError unless `proof` shows tree (size1, root1) is a prefix of (size2, root2). */
export function verifyConsistency(
  size1: Position,
  size2: Position,
  proof: readonly Uint8Array[] | null | undefined,
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  const first = BigInt(size1);
  const second = BigInt(size2);
  const nodes = requireHashes(proof);
  if (first === 0n) throw new ProofError('a consistency proof from the empty tree is meaningless');
  if (first > second) throw new ProofError(`tree size went down from ${first} to ${second}`);
  if (first === second) {
    if (nodes.length > 0) throw new ProofError('equal sizes need an empty proof');
    if (!equal(root1, root2)) throw new ProofError('equal sizes but different roots');
    return;
  }
  if (!isHash(root1) || !isHash(root2)) throw new ProofError('malformed root hash');
  if (nodes.length === 0) throw new ProofError('empty consistency proof');
  // RFC 9162 §2.1.4.2.
  if ((first & (first - 1n)) === 0n) nodes.unshift(root1);
  let fn = first - 1n;
  let sn = second - 1n;
  while (isOdd(fn)) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Hash = Buffer.from(nodes[0]!);
  let sr: Hash = Buffer.from(nodes[0]!);
  for (const c of nodes.slice(1)) {
    if (sn === 0n) throw new ProofError('consistency proof is too long');
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError('consistency proof is too short');
  if (!equal(fr, root1)) throw new ProofError('consistency proof does not match the old root');
  if (!equal(sr, root2)) throw new ProofError('consistency proof does not match the new root');
}

/** [start, end) is a subtree: non-empty and start a multiple of BIT_CEIL(end − start). */
export function isValidSubtree(start: Position, end: Position): boolean {
  const s = BigInt(start);
  const e = BigInt(end);
  if (s < 0n || e <= s) return false;
  let ceil = 1n;
  while (ceil < e - s) ceil <<= 1n;
  return s % ceil === 0n;
}

/** Subtree inclusion (MTC draft §4.3.3): the leaf at `index` is in subtree [start, end). */
export function verifySubtreeInclusion(
  index: Position,
  start: Position,
  end: Position,
  leaf: Uint8Array,
  proof: readonly Uint8Array[] | null | undefined,
  subtreeHash: Uint8Array,
): void {
  const i = BigInt(index);
  const s = BigInt(start);
  const e = BigInt(end);
  if (!isValidSubtree(s, e)) throw new ProofError(`[${s}, ${e}) is not a valid subtree`);
  if (!(i >= s && i < e)) throw new ProofError(`index ${i} is outside [${s}, ${e})`);
  if (!isHash(leaf) || !isHash(subtreeHash)) throw new ProofError('malformed hash');
  const computed = chainInclusion(i - s, e - s - 1n, leaf, requireHashes(proof));
  if (!equal(computed, subtreeHash)) throw new ProofError('proof does not lead to the subtree');
}

/** Subtree consistency (MTC draft §4.4.3): subtree [start, end) sits in the tree of `size`. */
export function verifySubtreeConsistency(
  start: Position,
  end: Position,
  size: Position,
  proof: readonly Uint8Array[] | null | undefined,
  subtreeHash: Uint8Array,
  root: Uint8Array,
): void {
  const s = BigInt(start);
  const e = BigInt(end);
  const n = BigInt(size);
  const nodes = requireHashes(proof);
  // The empty subtree sits in every tree; its hash is the empty tree's.
  if (s === e && s >= 0n && e <= n) {
    if (nodes.length > 0) throw new ProofError('an empty subtree needs an empty proof');
    if (!equal(subtreeHash, emptyRoot)) throw new ProofError('empty subtree with a non-empty hash');
    return;
  }
  if (!isValidSubtree(s, e) || e > n) {
    throw new ProofError(`[${s}, ${e}) is not a subtree of a tree of size ${n}`);
  }
  let fn = s;
  let sn = e - 1n;
  let tn = n - 1n;
  const up = () => {
    fn >>= 1n;
    sn >>= 1n;
    tn >>= 1n;
  };
  if (sn === tn) {
    while (fn !== sn) up();
  } else {
    while (fn !== sn && isOdd(sn)) up();
  }
  let fr: Hash;
  let sr: Hash;
  let rest: Uint8Array[];
  if (fn === sn) {
    fr = Buffer.from(subtreeHash);
    sr = Buffer.from(subtreeHash);
    rest = nodes;
  } else {
    if (nodes.length === 0) throw new ProofError('empty subtree consistency proof');
    fr = Buffer.from(nodes[0]!);
    sr = Buffer.from(nodes[0]!);
    rest = nodes.slice(1);
  }
  for (const c of rest) {
    if (tn === 0n) throw new ProofError('subtree consistency proof is too long');
    if (isOdd(sn) || sn === tn) {
      if (fn < sn) fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(sn) && sn !== 0n) up();
    } else {
      sr = nodeHash(sr, c);
    }
    up();
  }
  if (tn !== 0n) throw new ProofError('subtree consistency proof is too short');
  if (!equal(fr, subtreeHash)) throw new ProofError('proof does not match the subtree hash');
  if (!equal(sr, root)) throw new ProofError('proof does not match the root');
}

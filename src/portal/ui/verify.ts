/**
 * Recomputes the ledger's tree head in the browser from C2SP tlog-tiles (height 8) with
 * WebCrypto SHA-256, and checks RFC 9162 inclusion proofs. The root of a tree of size N
 * is built from the complete subtrees of N's binary decomposition; a subtree of 2^k
 * leaves is the Merkle root of 2^(k-8L) consecutive hashes of tile level L = ⌊k/8⌋.
 */
const WIDTH = 256;

async function sha256(...parts: Uint8Array[]): Promise<Uint8Array> {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

const node = (left: Uint8Array, right: Uint8Array) => sha256(new Uint8Array([1]), left, right);

export const fromBase64 = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
export const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

function encodeIndex(index: number): string {
  const groups: string[] = [];
  let rest = index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** Merkle root of a power-of-two list of hashes. */
async function perfectRoot(hashes: Uint8Array[]): Promise<Uint8Array> {
  let level = hashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(await node(level[i]!, level[i + 1]!));
    level = next;
  }
  return level[0]!;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: string;
  text: string;
}

export function parseCheckpoint(text: string): Checkpoint {
  const [origin = '', size = '', root = ''] = text.split('\n');
  if (!/^\d+$/.test(size) || !root) throw new Error('malformed checkpoint');
  return { origin, size: Number(size), root, text };
}

/** Fetches the tiles the root of `size` needs and recomputes it. */
export async function recomputeRoot(
  prefix: string,
  size: number,
): Promise<{ root: Uint8Array; tiles: number }> {
  if (size === 0) return { root: await sha256(), tiles: 0 };
  const cache = new Map<string, Uint8Array>();
  const hashAt = async (level: number, index: number): Promise<Uint8Array> => {
    const tileIndex = Math.floor(index / WIDTH);
    const available = Math.floor(size / WIDTH ** level);
    const width = Math.min(WIDTH, available - tileIndex * WIDTH);
    const path = `${prefix}/tile/${level}/${encodeIndex(tileIndex)}${width < WIDTH ? `.p/${width}` : ''}`;
    let tile = cache.get(path);
    if (!tile) {
      const res = await fetch(path);
      if (!res.ok) throw new Error(`tile ${path}: HTTP ${res.status}`);
      tile = new Uint8Array(await res.arrayBuffer());
      if (tile.length !== width * 32) throw new Error(`tile ${path} has the wrong length`);
      cache.set(path, tile);
    }
    const at = (index % WIDTH) * 32;
    return tile.slice(at, at + 32);
  };
  // Complete subtrees, largest first.
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (let k = Math.floor(Math.log2(size)); k >= 0; k--) {
    if (size - start < 2 ** k) continue;
    const level = Math.floor(k / 8);
    const count = 2 ** (k - 8 * level);
    const first = start / WIDTH ** level;
    const hashes: Uint8Array[] = [];
    for (let i = 0; i < count; i++) hashes.push(await hashAt(level, first + i));
    chunks.push(await perfectRoot(hashes));
    start += 2 ** k;
  }
  let root = chunks.pop()!;
  while (chunks.length > 0) root = await node(chunks.pop()!, root);
  return { root, tiles: cache.size };
}

/** RFC 9162 §2.1.3.2: verify an inclusion proof. */
export async function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: Uint8Array[],
  root: Uint8Array,
): Promise<boolean> {
  if (index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await node(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await node(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && toBase64(r) === toBase64(root);
}

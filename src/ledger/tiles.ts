/**
 * C2SP tlog-tiles: the tree stored as tiles of height 8. Tile (L, N) holds up to 256
 * hashes: hash i is MTH of the full subtree of 256^L leaves starting at leaf
 * (N·256 + i)·256^L. Interior levels between tile levels are recomputed from at most
 * 256 hashes, so any proof needs a handful of tiles, never all leaves.
 */
import { HASH_SIZE, nodeHash, rootFromLeafHashes, type Hash, type HashReader } from './merkle.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
/** Tile level 63 is the spec's maximum; 2^53 leaves need only 7 levels. */
const MAX_LEVEL = 63;

export type TileLevel = number | 'entries';

export interface TileAddress {
  level: TileLevel;
  index: number;
  /** Width of a partial tile; null for a full one. */
  width: number | null;
}

/** `1234067` → `x001/x234/067`. */
export function encodeTileIndex(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`bad tile index ${index}`);
  const groups: string[] = [];
  let rest = index;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join('/');
}

/** `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, relative to the log prefix. */
export function tilePath(address: TileAddress): string {
  const suffix = address.width === null ? '' : `.p/${address.width}`;
  return `tile/${address.level}/${encodeTileIndex(address.index)}${suffix}`;
}

/**
 * Parses what follows `tile/`. Strict: one encoding per tile, so caches and mirrors
 * never hold two copies under different names. Returns null for anything else.
 */
export function parseTilePath(rest: string): TileAddress | null {
  const parts = rest.split('/');
  const levelPart = parts.shift();
  let level: TileLevel;
  if (levelPart === 'entries') level = 'entries';
  else if (levelPart && /^(0|[1-9]\d?)$/.test(levelPart) && Number(levelPart) <= MAX_LEVEL) {
    level = Number(levelPart);
  } else return null;

  let width: number | null = null;
  const last = parts.at(-1);
  const beforeLast = parts.at(-2);
  if (beforeLast?.endsWith('.p') && last !== undefined) {
    if (!/^[1-9]\d{0,2}$/.test(last) || Number(last) > TILE_WIDTH - 1) return null;
    width = Number(last);
    parts.pop();
    parts[parts.length - 1] = beforeLast.slice(0, -2);
  }
  if (parts.length === 0) return null;
  let index = 0;
  for (const [i, part] of parts.entries()) {
    const isLast = i === parts.length - 1;
    const match = (isLast ? /^(\d{3})$/ : /^x(\d{3})$/).exec(part);
    if (!match) return null;
    index = index * 1000 + Number(match[1]);
  }
  // Reject non-canonical encodings such as x000/001 for 1.
  if (!Number.isSafeInteger(index) || encodeTileIndex(index) !== parts.join('/')) return null;
  return { level, index, width };
}

export function splitHashes(tile: Uint8Array): Hash[] {
  const out: Hash[] = [];
  for (let offset = 0; offset + HASH_SIZE <= tile.length; offset += HASH_SIZE) {
    out.push(Buffer.from(tile.subarray(offset, offset + HASH_SIZE)));
  }
  return out;
}

/** Number of hashes tile level `level` holds for a tree of `size` leaves. */
export function hashesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** Reads stored tiles (possibly partial) by level and index; null when absent. */
export type TileSource = (level: number, index: number) => Promise<Uint8Array | null>;

/**
 * Hashes of complete subtrees, keyed `height/index`. Such a hash never changes, so one
 * memo can serve every reader of a log in a process; it is cleared when it grows past
 * `limit` entries.
 */
export class SubtreeMemo {
  private readonly hashes = new Map<string, Hash>();
  constructor(private readonly limit = 100_000) {}
  get(key: string): Hash | undefined {
    return this.hashes.get(key);
  }
  set(key: string, hash: Hash): void {
    if (this.hashes.size >= this.limit) this.hashes.clear();
    this.hashes.set(key, hash);
  }
}

/**
 * A HashReader over tiles, caching the tiles it reads for the reader's lifetime. A
 * subtree inside a tile is hashed from its two halves, so with a shared memo each inner
 * node is computed once per process rather than once per proof.
 */
export function tileReader(source: TileSource, memo = new SubtreeMemo(4096)): HashReader {
  const cache = new Map<string, Promise<Uint8Array | null>>();
  const leaf = async (height: number, index: number): Promise<Hash> => {
    const level = height / TILE_HEIGHT;
    const tileIndex = Math.floor(index / TILE_WIDTH);
    const offset = index % TILE_WIDTH;
    const key = `${level}/${tileIndex}`;
    let tile = cache.get(key);
    if (!tile) {
      tile = source(level, tileIndex);
      cache.set(key, tile);
    }
    const bytes = await tile;
    if (!bytes || bytes.length < (offset + 1) * HASH_SIZE) {
      throw new Error(`tile ${level}/${tileIndex} is missing or too short for this tree`);
    }
    return Buffer.from(bytes.subarray(offset * HASH_SIZE, (offset + 1) * HASH_SIZE));
  };
  const read = async (height: number, index: number): Promise<Hash> => {
    if (height % TILE_HEIGHT === 0) return leaf(height, index);
    const key = `${height}/${index}`;
    const known = memo.get(key);
    if (known) return known;
    const [left, right] = await Promise.all([
      read(height - 1, 2 * index),
      read(height - 1, 2 * index + 1),
    ]);
    const hash = nodeHash(left, right);
    memo.set(key, hash);
    return hash;
  };
  return read;
}

export interface TileUpdate {
  level: number;
  index: number;
  hashes: Buffer;
}

/**
 * Appends leaf hashes to a tree of `size` leaves and returns every tile that changed.
 * A tile that fills up contributes its root as the next hash one level up; partial
 * tiles never do (tlog-tiles "Partial Tiles").
 */
export async function appendToTiles(
  size: number,
  leaves: readonly Hash[],
  source: TileSource,
): Promise<TileUpdate[]> {
  const changed = new Map<string, TileUpdate>();
  async function load(level: number, index: number): Promise<TileUpdate> {
    const key = `${level}/${index}`;
    let tile = changed.get(key);
    if (!tile) {
      const stored = await source(level, index);
      tile = { level, index, hashes: Buffer.from(stored ?? Buffer.alloc(0)) };
      changed.set(key, tile);
    }
    return tile;
  }
  async function add(level: number, position: number, hash: Hash): Promise<void> {
    const index = Math.floor(position / TILE_WIDTH);
    const tile = await load(level, index);
    const expected = position % TILE_WIDTH;
    if (tile.hashes.length !== expected * HASH_SIZE) {
      throw new Error(
        `tile ${level}/${index} holds ${tile.hashes.length / HASH_SIZE} hashes, expected ${expected}`,
      );
    }
    tile.hashes = Buffer.concat([tile.hashes, hash]);
    if (expected === TILE_WIDTH - 1) {
      await add(level + 1, index, rootFromLeafHashes(splitHashes(tile.hashes)));
    }
  }
  for (const [i, leaf] of leaves.entries()) await add(0, size + i, leaf);
  return [...changed.values()];
}

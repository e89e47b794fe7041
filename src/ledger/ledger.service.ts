/**
 * Reading the ledger: the tlog-tiles resources and the JSON conveniences (entries,
 * proofs, search). Everything is answered for the newest signed checkpoint, so a
 * reader never sees an entry or hash that no signed tree covers.
 */
import type { Queryable } from '../platform/db/database.js';
import type { LedgerEntry } from './entry.js';
import {
  entriesBetween,
  getTile,
  latestCheckpoint,
  searchEntries,
  type SearchFilter,
} from './ledger.repository.js';
import { consistencyProof, HASH_SIZE, inclusionProof, leafHash, treeRoot } from './merkle.js';
import { hashesAtLevel, SubtreeMemo, TILE_WIDTH, tileReader, type TileAddress } from './tiles.js';

export type Found<T> =
  { ok: true; value: T } | { ok: false; reason: 'not_found' | 'bad_request'; detail: string };

const notFound = (detail: string) => ({ ok: false, reason: 'not_found', detail }) as const;
const bad = (detail: string) => ({ ok: false, reason: 'bad_request', detail }) as const;

/** Tiles kept in memory per process (at most 8 KiB each). */
const TILE_CACHE = 2048;

export class LedgerReader {
  private readonly tiles = new Map<string, Buffer>();
  private readonly subtrees = new SubtreeMemo();

  constructor(private readonly db: Queryable) {}

  /**
   * A tile source for reading the tree of `size` entries. Tiles only ever grow by
   * appending (a partial tile is a prefix of the full one), so a cached copy serves every
   * tree it is long enough for, and the database is asked only for tiles that grew.
   */
  private tilesFor(size: number) {
    return async (level: number, index: number): Promise<Buffer | null> => {
      const key = `${level}/${index}`;
      const needed = Math.min(TILE_WIDTH, hashesAtLevel(size, level) - index * TILE_WIDTH);
      const cached = this.tiles.get(key);
      if (cached && cached.length >= needed * HASH_SIZE) return cached;
      const tile = await getTile(this.db, level, index);
      if (tile) {
        if (!cached && this.tiles.size >= TILE_CACHE) {
          this.tiles.delete(this.tiles.keys().next().value!);
        }
        this.tiles.set(key, tile);
      }
      return tile;
    };
  }

  async checkpoint(): Promise<{ size: number; root: Buffer; note: string } | null> {
    const latest = await latestCheckpoint(this.db);
    return latest && { size: latest.size, root: latest.root, note: latest.note };
  }

  private async size(): Promise<number> {
    return (await latestCheckpoint(this.db))?.size ?? 0;
  }

  /** A hash tile or entry bundle, if the signed tree has (at least) that much of it. */
  async tile(address: TileAddress): Promise<Buffer | null> {
    const size = await this.size();
    const width = address.width ?? TILE_WIDTH;
    const level = address.level === 'entries' ? 0 : address.level;
    const available = hashesAtLevel(size, level) - address.index * TILE_WIDTH;
    if (available < width) return null;
    if (address.level === 'entries') {
      const start = address.index * TILE_WIDTH;
      const entries = await entriesBetween(this.db, start, start + width);
      if (entries.length !== width) return null;
      return Buffer.concat(
        entries.flatMap((entry) => {
          const length = Buffer.alloc(2);
          length.writeUInt16BE(entry.length);
          return [length, entry];
        }),
      );
    }
    const stored = await getTile(this.db, address.level, address.index);
    if (!stored || stored.length < width * HASH_SIZE) return null;
    return stored.subarray(0, width * HASH_SIZE);
  }

  async entry(
    index: number,
  ): Promise<Found<{ entry: LedgerEntry; leafHash: Buffer; treeSize: number }>> {
    const size = await this.size();
    if (index >= size) return notFound(`entry ${index} is not in the log (size ${size})`);
    const [bytes] = await entriesBetween(this.db, index, index + 1);
    if (!bytes) return notFound(`entry ${index} is not in the log`);
    return {
      ok: true,
      value: {
        entry: JSON.parse(bytes.toString('utf8')) as LedgerEntry,
        leafHash: leafHash(bytes),
        treeSize: size,
      },
    };
  }

  async inclusion(
    index: number,
    treeSize?: number,
  ): Promise<
    Found<{ index: number; treeSize: number; leafHash: Buffer; rootHash: Buffer; proof: Buffer[] }>
  > {
    const latest = await latestCheckpoint(this.db);
    const size = latest?.size ?? 0;
    const target = treeSize ?? size;
    if (target > size) return bad(`treeSize ${target} is larger than the log (${size})`);
    if (index >= target) return notFound(`entry ${index} is not in the tree of size ${target}`);
    const read = tileReader(this.tilesFor(target), this.subtrees);
    const [bytes] = await entriesBetween(this.db, index, index + 1);
    if (!bytes) return notFound(`entry ${index} is not in the log`);
    return {
      ok: true,
      value: {
        index,
        treeSize: target,
        leafHash: leafHash(bytes),
        // The signed root is the tree's root; recompute only for older tree sizes.
        rootHash: target === size ? latest!.root : await treeRoot(read, target),
        proof: await inclusionProof(read, index, target),
      },
    };
  }

  async consistency(
    from: number,
    to?: number,
  ): Promise<
    Found<{ from: number; to: number; fromRoot: Buffer; toRoot: Buffer; proof: Buffer[] }>
  > {
    const size = await this.size();
    const target = to ?? size;
    if (target > size) return bad(`to ${target} is larger than the log (${size})`);
    if (from < 1 || from > target) return bad(`from must be between 1 and ${target}`);
    const read = tileReader(this.tilesFor(target), this.subtrees);
    return {
      ok: true,
      value: {
        from,
        to: target,
        fromRoot: await treeRoot(read, from),
        toRoot: await treeRoot(read, target),
        proof: await consistencyProof(read, from, target),
      },
    };
  }

  async search(
    filter: Omit<SearchFilter, 'below'>,
  ): Promise<{ treeSize: number; entries: LedgerEntry[] }> {
    const size = await this.size();
    const rows = await searchEntries(this.db, { ...filter, below: size });
    return {
      treeSize: size,
      entries: rows.map((bytes) => JSON.parse(bytes.toString('utf8')) as LedgerEntry),
    };
  }
}

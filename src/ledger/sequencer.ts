/**
 * The sequencer: moves queued events into the Merkle log and signs a checkpoint. Any
 * number of node processes run one; a transaction-scoped advisory lock lets exactly
 * one of them work at a time, and a whole batch — entries, tiles, checkpoint, queue
 * clean-up — commits together or not at all.
 *
 * Before signing, the new tree is checked against the newest signed checkpoint with a
 * consistency proof built from the stored tiles, so the node never signs a tree that
 * does not extend what it signed before; if that fails the batch rolls back and the
 * ledger stops growing (loudly) rather than publish a forked history.
 */
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Logger } from '../platform/logging.js';
import { CoalescedRun } from '../platform/coalesced.js';
import { buildEntry, entryBytes, normaliseEvent, searchKeys } from './entry.js';
import { LEDGER_QUEUE_CHANNEL, type LedgerEvent } from './ledger.events.js';
import {
  deleteQueued,
  entryCount,
  getTile,
  insertCheckpoint,
  insertEntries,
  type EntryRow,
  latestCheckpoint,
  putTile,
  readQueue,
  tryLockSequencer,
} from './ledger.repository.js';
import { checkpointSigners } from './keys.js';
import { consistencyProof, leafHash, treeRoot, verifyConsistency, type Hash } from './merkle.js';
import { formatCheckpoint, parseCheckpoint, signNote } from './note.js';
import { appendToTiles, tileReader } from './tiles.js';

export interface SequencerOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  /** Checkpoint origin and key name, see `ledgerOrigin`. */
  origin: string;
  /** Events per transaction. */
  batchSize?: number;
  /** Fallback poll interval when no notification arrives. */
  pollMs?: number;
  /** Called when a background run fails (after logging), e.g. to count failures. */
  onError?: (error: unknown) => void;
}

export interface RunResult {
  /** False when another sequencer held the lock. */
  ran: boolean;
  sequenced: number;
  size: number;
}

export class InconsistentTreeError extends Error {
  constructor(message: string) {
    super(`refusing to sign: ${message}`);
    this.name = 'InconsistentTreeError';
  }
}

export class Sequencer {
  private readonly batchSize: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => Promise<void>) | null = null;
  private stopped = true;
  private readonly loop = new CoalescedRun(
    () => this.drain().then(() => undefined),
    (error) => {
      this.options.logger.error({ err: error }, 'ledger sequencing failed');
      this.options.onError?.(error);
    },
    () => this.stopped,
  );

  constructor(private readonly options: SequencerOptions) {
    this.batchSize = options.batchSize ?? 2_000;
    this.pollMs = options.pollMs ?? 2_000;
  }

  /** Sequences one batch if this process gets the lock. */
  async runOnce(): Promise<RunResult> {
    const { db, clock, origin } = this.options;
    return db.transaction(async (tx) => {
      if (!(await tryLockSequencer(tx))) return { ran: false, sequenced: 0, size: -1 };
      const previous = await latestCheckpoint(tx);
      const size = await entryCount(tx);
      if ((previous?.size ?? 0) !== size) {
        throw new InconsistentTreeError(
          `the log holds ${size} entries but the newest checkpoint is for ${previous?.size ?? 0}`,
        );
      }
      const queued = await readQueue(tx, this.batchSize);
      const { signers, activeKeyId } = await checkpointSigners(tx, origin, clock);
      const resign =
        !previous ||
        previous.keyId !== activeKeyId ||
        parseCheckpoint(previous.note.slice(0, previous.note.indexOf('\n\n') + 1)).origin !==
          origin;
      if (queued.length === 0 && !resign) return { ran: true, sequenced: 0, size };

      const leaves: Hash[] = [];
      const rows: EntryRow[] = [];
      for (const [i, item] of queued.entries()) {
        // Queued events were checked by recordLedgerEvent; check again, since the
        // queue is a table anyone with database access could write to.
        const entry = buildEntry(
          normaliseEvent(item.event as LedgerEvent),
          size + i,
          item.recordedAt,
        );
        const bytes = entryBytes(entry);
        const keys = searchKeys(entry);
        rows.push({
          index: entry.index,
          entry: bytes,
          type: entry.type,
          recordedAt: item.recordedAt,
          organisationId: keys.organisationId,
          subjectKind: entry.subject.kind,
          subjectId: entry.subject.id,
          datasetId: keys.datasetId,
          grantId: keys.grantId,
        });
        leaves.push(leafHash(bytes));
      }
      await insertEntries(tx, rows);
      // Tiles read and written in this batch, so each is fetched from the database once.
      const tiles = new Map<string, Buffer | null>();
      const source = async (level: number, index: number) => {
        const key = `${level}/${index}`;
        if (!tiles.has(key)) tiles.set(key, await getTile(tx, level, index));
        return tiles.get(key)!;
      };
      const changed = await appendToTiles(size, leaves, source);
      for (const tile of changed) {
        await putTile(tx, tile.level, tile.index, tile.hashes);
        tiles.set(`${tile.level}/${tile.index}`, tile.hashes);
      }
      const newSize = size + leaves.length;
      const read = tileReader(source);
      const root = await treeRoot(read, newSize);
      await this.checkExtends(previous, newSize, root, source);

      const note = signNote(formatCheckpoint({ origin, size: newSize, root }), signers);
      await insertCheckpoint(tx, {
        size: newSize,
        root,
        note,
        keyId: activeKeyId,
        signedAt: clock.now(),
      });
      if (queued.length > 0)
        await deleteQueued(
          tx,
          queued.map((item) => item.id),
        );
      return { ran: true, sequenced: queued.length, size: newSize };
    });
  }

  private async checkExtends(
    previous: { size: number; root: Buffer } | null,
    size: number,
    root: Hash,
    source: (level: number, index: number) => Promise<Buffer | null>,
  ): Promise<void> {
    if (!previous || previous.size === 0) return;
    try {
      const proof = await consistencyProof(tileReader(source), previous.size, size);
      verifyConsistency(previous.size, size, proof, previous.root, root);
    } catch (error) {
      throw new InconsistentTreeError(
        `tree ${size} does not extend the signed tree ${previous.size}: ${(error as Error).message}`,
      );
    }
  }

  /** Runs batches until the queue is empty (or another process has the lock). */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.runOnce();
      total += result.sequenced;
      if (!result.ran || result.sequenced < this.batchSize) return total;
    }
  }

  /** Starts the background loop: wakes on queue notifications and polls as a fallback. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    this.unlisten = await this.options.db.listen(LEDGER_QUEUE_CHANNEL, () => this.wake());
    const tick = () => {
      if (this.stopped) return;
      this.wake();
      this.timer = setTimeout(tick, this.pollMs);
      this.timer.unref();
    };
    tick();
  }

  /** Asks for a run; coalesces with a run in progress. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops the loop and waits for a batch in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.unlisten?.().catch(() => undefined);
    this.unlisten = null;
    await this.loop.settled();
  }
}

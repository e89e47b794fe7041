/**
 * The witness: for each active peer it fetches the peer's checkpoint, verifies the
 * signature with the keys of the peer's pinned descriptor, and checks with a consistency
 * proof (computed from the peer's own tiles, the same code `ocp verify` uses) that the
 * checkpoint extends the largest one it saw of that log before. Only then it stores the
 * checkpoint and cosigns it (C2SP tlog-cosignature, cosignature/v1) with the node's
 * identity key, and delivers the cosignature to the peer.
 *
 * Two validly signed checkpoints that cannot both belong to one append-only log (the same
 * size with different roots, or a larger tree that does not extend the smaller) are a
 * fork: the evidence is stored, a ledger event is recorded in the same transaction, and
 * the peer's log is not cosigned again.
 *
 * It also receives the cosignatures peers' witnesses make of this node's checkpoints,
 * accepting one only with the key the peer's pinned fingerprint names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { recordLedgerEvent } from '../../ledger/ledger.events.js';
import { latestCheckpoint } from '../../ledger/ledger.repository.js';
import { ProofError } from '../../ledger/merkle.js';
import {
  NoteError,
  openNote,
  parseCheckpoint,
  parseVkey,
  type Checkpoint,
  type Verifier,
} from '../../ledger/note.js';
import { checkConsistency, remoteTileReader } from '../../ledger/verify.js';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import type { Logger } from '../../platform/logging.js';
import {
  CosignatureError,
  formatWitnessVkey,
  parseCosignatureLine,
  parseWitnessVkey,
  splitNote,
  verifyCosignature,
  witnessName,
  witnessSigner,
  type ParsedCosignature,
} from './cosignature.js';
import type { WitnessPeer, WitnessWiring } from './directory.js';
import type { PeerLog } from './peer-log.js';
import {
  claimLease,
  cosignatureLines,
  insertFork,
  isFlagged,
  lockSeen,
  readSeen,
  saveReceivedCosignature,
  saveSeen,
  signedCheckpointText,
  type ForkRecord,
  type SeenCheckpoint,
} from './witness.repository.js';

/** How far in the future a received cosignature's timestamp may be (clock skew). */
const MAX_FUTURE_SKEW_SECONDS = 600;
const LEASE_NAME = 'witness';

export type PeerOutcome =
  | {
      status: 'first_seen' | 'extended' | 'unchanged';
      size: number;
      /** HTTP status of the delivery to the peer, or the reason it failed. */
      delivery: number | string;
    }
  | { status: 'rejected'; reason: string }
  | { status: 'stale'; size: number; known: number }
  | { status: 'fork'; fork: ForkRecord; recorded: boolean }
  | { status: 'flagged' }
  | { status: 'unreachable'; reason: string };

export interface WitnessRun {
  ran: boolean;
  peers: Map<string, PeerOutcome>;
}

export type ReceiveResult =
  | { ok: true; stored: boolean }
  | { ok: false; reason: 'bad_request' | 'forbidden' | 'not_found'; detail: string };

export interface WitnessOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  log: PeerLog;
  /** This node's witness key name (`<host>/witness`). */
  name: string;
  /** This node's ledger origin (received cosignatures must be of it). */
  origin: string;
  wiring: () => WitnessWiring;
  /** How long one process keeps the job once it ran it (the job's interval). */
  leaseMs: number;
  onOutcome?: (peer: WitnessPeer, outcome: PeerOutcome) => void;
}

const hex = (value: Buffer) => value.toString('hex');

function fingerprintOf(rawPublicKey: Buffer): string {
  return `sha256:${createHash('sha256').update(rawPublicKey).digest('hex')}`;
}

export class Witness {
  /** Identifies this process as lease holder. */
  readonly holder = `wp_${randomBytes(8).toString('hex')}`;

  constructor(private readonly options: WitnessOptions) {}

  /** The key peers pin for this node's cosignatures (cosignature/v1 vkey). */
  async verifierKey(): Promise<string> {
    const key = await this.options.wiring().keys.active();
    return formatWitnessVkey(this.options.name, key.publicKey);
  }

  /** One run over every active peer, unless another process of the node holds the job. */
  async runOnce(): Promise<WitnessRun> {
    const { db, clock, leaseMs } = this.options;
    const now = clock.now();
    const claimed = await claimLease(
      db,
      LEASE_NAME,
      this.holder,
      now,
      new Date(now.getTime() + leaseMs),
    );
    const peers = new Map<string, PeerOutcome>();
    if (!claimed) return { ran: false, peers };
    for (const peer of await this.options.wiring().directory.listActivePeers()) {
      let outcome: PeerOutcome;
      try {
        outcome = await this.witnessPeer(peer);
      } catch (error) {
        // A peer's failure must not stop the others; the run reports it.
        outcome = { status: 'unreachable', reason: (error as Error).message };
      }
      peers.set(peer.nodeId, outcome);
      this.options.onOutcome?.(peer, outcome);
    }
    return { ran: true, peers };
  }

  /** Fetches, verifies, checks and cosigns one peer's checkpoint. */
  async witnessPeer(peer: WitnessPeer): Promise<PeerOutcome> {
    const { db, log } = this.options;
    let note: string;
    try {
      note = await log.checkpoint(peer.checkpointUrl);
    } catch (error) {
      return { status: 'unreachable', reason: (error as Error).message };
    }
    const opened = this.openPeerCheckpoint(peer, note);
    if (!opened.ok) return { status: 'rejected', reason: opened.reason };
    const { checkpoint, text } = opened;

    if (await isFlagged(db, checkpoint.origin)) return { status: 'flagged' };
    const known = await readSeen(db, checkpoint.origin);

    if (known) {
      if (checkpoint.size < known.size) {
        return { status: 'stale', size: checkpoint.size, known: known.size };
      }
      if (checkpoint.size === known.size && !checkpoint.root.equals(known.root)) {
        return this.flagFork(
          peer,
          known,
          checkpoint,
          note,
          'same_size',
          'same size, different root',
        );
      }
      if (checkpoint.size > known.size) {
        const ledgerUrl = peer.checkpointUrl.replace(/\/checkpoint$/, '');
        const read = remoteTileReader((path) => log.tile(ledgerUrl, path), checkpoint.size);
        try {
          await checkConsistency(read, known, checkpoint);
        } catch (error) {
          if (!(error instanceof ProofError)) {
            // Tiles missing or unreachable prove nothing: try again next run.
            return { status: 'unreachable', reason: (error as Error).message };
          }
          return this.flagFork(peer, known, checkpoint, note, 'inconsistent', error.message);
        }
      }
    }
    return this.cosign(peer, known, checkpoint, text, note);
  }

  private openPeerCheckpoint(
    peer: WitnessPeer,
    note: string,
  ): { ok: true; checkpoint: Checkpoint; text: string } | { ok: false; reason: string } {
    const verifiers: Verifier[] = [];
    for (const vkey of peer.ledgerKeys) {
      try {
        const verifier = parseVkey(vkey);
        // A checkpoint key is named after the log's origin (docs/ledger.md).
        if (verifier.name === peer.ledgerOrigin) verifiers.push(verifier);
      } catch {
        // An unusable pinned key verifies nothing; the others may.
      }
    }
    try {
      const { text } = openNote(note, verifiers);
      const checkpoint = parseCheckpoint(text);
      if (checkpoint.origin !== peer.ledgerOrigin) {
        return { ok: false, reason: `origin "${checkpoint.origin}" is not the peer's log` };
      }
      return { ok: true, checkpoint, text };
    } catch (error) {
      if (error instanceof NoteError) return { ok: false, reason: error.message };
      throw error;
    }
  }

  private async cosign(
    peer: WitnessPeer,
    known: SeenCheckpoint | null,
    checkpoint: Checkpoint,
    text: string,
    note: string,
  ): Promise<PeerOutcome> {
    const { db, clock, log, name } = this.options;
    const key = await this.options.wiring().keys.active();
    const signer = witnessSigner(name, key.privateKey);
    const now = clock.now();
    const line = await db.transaction(async (tx) => {
      const current = await lockSeen(tx, checkpoint.origin);
      // Another process moved on meanwhile: never cosign a tree smaller than one seen.
      if (current && current.size > checkpoint.size) return null;
      if (current && current.size === checkpoint.size && !current.root.equals(checkpoint.root)) {
        return null;
      }
      if ((current?.size ?? -1) !== (known?.size ?? -1)) return null;
      const cosignature = signer.cosign(text, Math.floor(now.getTime() / 1000));
      await saveSeen(tx, {
        origin: checkpoint.origin,
        peerNodeId: peer.nodeId,
        size: checkpoint.size,
        root: checkpoint.root,
        note,
        cosignature,
        seenAt: now,
        cosignedAt: now,
      });
      return cosignature;
    });
    if (line === null) return { status: 'unreachable', reason: 'checkpoint changed meanwhile' };
    let delivery: number | string;
    try {
      delivery = await log.deliver(
        peer.url,
        `${text}\n${line}\n`,
        formatWitnessVkey(name, key.publicKey),
      );
    } catch (error) {
      delivery = (error as Error).message;
    }
    const status = !known
      ? 'first_seen'
      : known.size === checkpoint.size
        ? 'unchanged'
        : 'extended';
    return { status, size: checkpoint.size, delivery };
  }

  private async flagFork(
    peer: WitnessPeer,
    known: SeenCheckpoint,
    checkpoint: Checkpoint,
    note: string,
    kind: ForkRecord['kind'],
    detail: string,
  ): Promise<PeerOutcome> {
    const { db, clock, logger } = this.options;
    const fork: ForkRecord = {
      id: `fork_${randomBytes(8).toString('hex')}`,
      origin: checkpoint.origin,
      peerNodeId: peer.nodeId,
      kind,
      knownSize: known.size,
      knownRoot: known.root,
      knownNote: known.note,
      newSize: checkpoint.size,
      newRoot: checkpoint.root,
      newNote: note,
      detail,
      detectedAt: clock.now(),
    };
    const recorded = await db.transaction(async (tx) => {
      if (!(await insertFork(tx, fork))) return false;
      await recordLedgerEvent(
        tx,
        {
          type: 'federation.witness.fork_detected',
          actor: { organisationId: null, clientId: null },
          subject: { kind: 'peer', id: peer.nodeId },
          details: {
            forkId: fork.id,
            origin: fork.origin,
            kind,
            knownSize: fork.knownSize,
            knownRoot: hex(fork.knownRoot),
            newSize: fork.newSize,
            newRoot: hex(fork.newRoot),
          },
        },
        fork.detectedAt,
      );
      return true;
    });
    if (recorded) {
      logger.error(
        {
          peer: peer.nodeId,
          origin: fork.origin,
          kind,
          knownSize: fork.knownSize,
          newSize: fork.newSize,
          forkId: fork.id,
        },
        'peer ledger fork detected',
      );
    }
    return { status: 'fork', fork, recorded };
  }

  /**
   * A peer's witness sends its cosignature of one of this node's checkpoints. Accepted
   * only when the key's fingerprint is an active peer's pinned one, the key is named
   * after that peer, the signature verifies and the checkpoint is one this node signed.
   */
  async receive(note: string, vkey: string | undefined): Promise<ReceiveResult> {
    const { db, clock, origin } = this.options;
    if (!vkey) return { ok: false, reason: 'bad_request', detail: 'the witness key is missing' };
    let witnessKey: ReturnType<typeof parseWitnessVkey>;
    let text: string;
    let lines: string[];
    try {
      witnessKey = parseWitnessVkey(vkey);
      ({ text, lines } = splitNote(note));
    } catch (error) {
      if (error instanceof CosignatureError) {
        return { ok: false, reason: 'bad_request', detail: error.message };
      }
      throw error;
    }
    const fingerprint = fingerprintOf(witnessKey.publicKey);
    const peers = await this.options.wiring().directory.listActivePeers();
    const peer = peers.find((p) => p.fingerprint === fingerprint);
    if (!peer || witnessKey.name !== witnessName(peer.url)) {
      return { ok: false, reason: 'forbidden', detail: 'the key is not an active peer’s key' };
    }
    let checkpoint: Checkpoint;
    try {
      checkpoint = parseCheckpoint(text);
    } catch (error) {
      return { ok: false, reason: 'bad_request', detail: (error as Error).message };
    }
    const cosignature = lines
      .map((line): ParsedCosignature | null => {
        try {
          return parseCosignatureLine(line);
        } catch {
          return null;
        }
      })
      .find(
        (parsed) =>
          parsed !== null &&
          parsed.name === witnessKey.name &&
          parsed.keyId.equals(witnessKey.keyId),
      );
    if (!cosignature || !verifyCosignature(text, cosignature, witnessKey)) {
      return { ok: false, reason: 'forbidden', detail: 'no cosignature by that key verifies' };
    }
    const now = clock.now();
    if (cosignature.timestamp > now.getTime() / 1000 + MAX_FUTURE_SKEW_SECONDS) {
      return { ok: false, reason: 'bad_request', detail: 'the cosignature is dated in the future' };
    }
    if (checkpoint.origin !== origin || !(await signedCheckpointText(db, text, checkpoint.size))) {
      return { ok: false, reason: 'not_found', detail: 'this node signed no such checkpoint' };
    }
    const stored = await saveReceivedCosignature(db, {
      keyName: witnessKey.name,
      keyId: hex(witnessKey.keyId),
      peerNodeId: peer.nodeId,
      checkpointSize: checkpoint.size,
      checkpointText: text,
      line: cosignature.line,
      signedAt: new Date(cosignature.timestamp * 1000),
      receivedAt: now,
    });
    return { ok: true, stored };
  }
}

/** This node's newest checkpoint with the peers' cosignatures of it appended. */
export async function cosignedCheckpoint(db: Database): Promise<string | null> {
  const latest = await latestCheckpoint(db);
  if (!latest) return null;
  const split = latest.note.lastIndexOf('\n\n');
  const lines = await cosignatureLines(db, latest.note.slice(0, split + 1));
  return `${latest.note}${lines.map((line) => `${line}\n`).join('')}`;
}

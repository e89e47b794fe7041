/**
 * Peering: adding a peer by URL and pinned fingerprint, the signed handshake that makes
 * peering mutual, and suspend / resume / remove. Every change of a peer's state is a
 * ledger event written in the same transaction as the change.
 *
 * Handshake: node X tells node Y "I peer with you" (or "I no longer do") with a signed
 * POST to Y's handshake endpoint (RFC 9421, X's node key). Y believes it only if the
 * signature verifies against the key Y itself pinned for X. When that confirmation is new
 * to Y and Y has X as a peer too, Y answers with its own signed handshake to X, so each
 * side activates a peer only on a signed statement from it, never on an HTTP status.
 */
import { randomBytes } from 'node:crypto';
import { recordLedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Config } from '../platform/config.js';
import type { Database, Queryable } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import { GuardedFetchError, type GuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Logger } from '../platform/logging.js';
import { DESCRIPTOR_PATH, normaliseFingerprint, verifyDescriptor } from './descriptor.js';
import { signRequest } from './http-signatures.js';
import type { NodeKeys } from './node-keys.js';
import {
  normalisePeerUrl,
  peerInfo,
  type PeerInfo,
  type PeerRow,
  type PeerStatus,
} from './peers.directory.js';

export const HANDSHAKE_PATH = '/api/v1/federation/handshake';

export type HandshakeAction = 'peer' | 'unpeer';

export type PeerOutcome<T> =
  { ok: true; value: T } | { ok: false; code: PeerFailure; detail: string };
export type PeerFailure = 'invalid' | 'unreachable' | 'bad_descriptor' | 'conflict' | 'not_found';

const fail = <T>(code: PeerFailure, detail: string): PeerOutcome<T> => ({
  ok: false,
  code,
  detail,
});

interface ChangeBy {
  organisationId: string | null;
  clientId: string | null;
}

const by = (actor: Actor | null): ChangeBy =>
  actor
    ? { organisationId: actor.organisationId, clientId: actor.kind === 'client' ? actor.id : null }
    : { organisationId: null, clientId: null };

const SELECT = 'SELECT * FROM federation_peers';

export class PeersService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly config: Config,
    private readonly keys: NodeKeys,
    private readonly fetcher: GuardedFetcher,
    private readonly logger: Logger,
  ) {}

  private async row(q: Queryable, id: string, lock = false): Promise<PeerRow | null> {
    const { rows } = await q.query<PeerRow>(
      `${SELECT} WHERE id = $1 AND status <> 'removed'${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ?? null;
  }

  async list(): Promise<PeerInfo[]> {
    const { rows } = await this.db.query<PeerRow>(
      `${SELECT} WHERE status <> 'removed' ORDER BY name, id`,
    );
    return rows.map(peerInfo);
  }

  async get(id: string): Promise<PeerInfo | null> {
    const row = await this.row(this.db, id);
    return row ? peerInfo(row) : null;
  }

  /** Fetches and verifies the descriptor at `url` against `pin`. */
  private async fetchDescriptor(url: string, pin: string) {
    let body: string;
    try {
      body = (
        await this.fetcher.fetchText(`${url}${DESCRIPTOR_PATH}`, { accept: 'application/json' })
      ).body;
    } catch (error) {
      const reason = error instanceof GuardedFetchError ? error.message : 'the fetch failed';
      return fail<never>('unreachable', `Cannot fetch the node descriptor: ${reason}`);
    }
    let document: unknown;
    try {
      document = JSON.parse(body);
    } catch {
      return fail<never>('bad_descriptor', 'The node descriptor is not JSON');
    }
    const check = verifyDescriptor(document, pin);
    if (!check.ok)
      return fail<never>('bad_descriptor', `The node descriptor is refused: ${check.reason}`);
    if (normalisePeerUrl(check.descriptor.url) !== url) {
      return fail<never>(
        'bad_descriptor',
        'The node descriptor names another URL than the one added',
      );
    }
    if (check.descriptor.nodeId === (await this.keys.nodeId())) {
      return fail<never>('invalid', 'A node cannot peer with itself');
    }
    return {
      ok: true as const,
      value: {
        descriptor: check.descriptor,
        signature: (document as { signature: string }).signature,
      },
    };
  }

  /**
   * Adds (or re-adds) a peer as pending after verifying its descriptor against the pin,
   * then tells it so. It becomes active when the peer confirms (see the module header).
   */
  async add(
    input: { url: string; fingerprint: string },
    actor: Actor,
  ): Promise<PeerOutcome<PeerInfo>> {
    const url = normalisePeerUrl(input.url);
    if (!url) return fail('invalid', 'url must be an http(s) URL without credentials');
    const pin = normaliseFingerprint(input.fingerprint);
    if (!pin) return fail('invalid', 'fingerprint must look like sha256:<64 hex digits>');
    const fetched = await this.fetchDescriptor(url, pin);
    if (!fetched.ok) return fetched;
    const { descriptor, signature } = fetched.value;
    const at = this.clock.now();
    const saved = await this.db.transaction(async (tx) => {
      const { rows: clashes } = await tx.query<PeerRow>(
        `${SELECT} WHERE (node_id = $1 OR url = $2 OR fingerprint = $3) FOR UPDATE`,
        [descriptor.nodeId, url, pin],
      );
      if (clashes.some((row) => row.status !== 'removed')) return null;
      // A removed peer keeps its row (its organisations' grants refer to it): reuse it.
      const previous = clashes.find((row) => row.node_id === descriptor.nodeId);
      for (const row of clashes.filter((r) => r !== previous)) {
        // A different removed node held this URL or key before: free them.
        await tx.query(
          `UPDATE federation_peers SET url = 'removed:' || id, fingerprint = 'removed:' || id
           WHERE id = $1`,
          [row.id],
        );
      }
      const id =
        previous?.id ??
        `peer_${randomBytes(12).toString('base64url').replace(/[-_]/g, '').slice(0, 16)}`;
      const { rows } = await tx.query<PeerRow>(
        `INSERT INTO federation_peers (id, node_id, url, name, jurisdiction, fingerprint, descriptor,
           signature, status, peer_confirmed, created_at, updated_at, fetched_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', false, $9, $9, $9)
         ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, name = EXCLUDED.name,
           jurisdiction = EXCLUDED.jurisdiction, fingerprint = EXCLUDED.fingerprint,
           descriptor = EXCLUDED.descriptor, signature = EXCLUDED.signature, status = 'pending',
           peer_confirmed = false, updated_at = EXCLUDED.updated_at, fetched_at = EXCLUDED.fetched_at
         RETURNING *`,
        [
          id,
          descriptor.nodeId,
          url,
          descriptor.name,
          descriptor.jurisdiction,
          pin,
          descriptor,
          signature,
          at,
        ],
      );
      await this.event(tx, 'federation.peer_added', rows[0]!, by(actor), at, { fingerprint: pin });
      return rows[0]!;
    });
    if (!saved) return fail('conflict', 'This node, URL or key is already a peer');
    await this.sendHandshake(saved, 'peer');
    return { ok: true, value: (await this.get(saved.id)) ?? peerInfo(saved) };
  }

  /** Fetches the descriptor again (same pin) and repeats the handshake. */
  async refresh(id: string, actor: Actor): Promise<PeerOutcome<PeerInfo>> {
    const current = await this.row(this.db, id);
    if (!current) return fail('not_found', 'No such peer');
    const fetched = await this.fetchDescriptor(current.url, current.fingerprint);
    if (!fetched.ok) return fetched;
    const { descriptor, signature } = fetched.value;
    if (descriptor.nodeId !== current.node_id) {
      return fail('bad_descriptor', 'The descriptor now names another node id');
    }
    const at = this.clock.now();
    const updated = await this.db.transaction(async (tx) => {
      const row = await this.row(tx, id, true);
      if (!row) return null;
      const { rows } = await tx.query<PeerRow>(
        `UPDATE federation_peers SET name = $2, jurisdiction = $3, descriptor = $4, signature = $5,
           updated_at = $6, fetched_at = $6 WHERE id = $1 RETURNING *`,
        [id, descriptor.name, descriptor.jurisdiction, descriptor, signature, at],
      );
      await this.event(tx, 'federation.peer_refreshed', rows[0]!, by(actor), at);
      return rows[0]!;
    });
    if (!updated) return fail('not_found', 'No such peer');
    if (updated.status === 'pending' || updated.status === 'active') {
      await this.sendHandshake(updated, 'peer');
    }
    return { ok: true, value: (await this.get(id)) ?? peerInfo(updated) };
  }

  /** suspend / resume / remove: effective for the next request, in every process. */
  async change(
    id: string,
    action: 'suspend' | 'resume' | 'remove',
    actor: Actor,
  ): Promise<PeerOutcome<PeerInfo>> {
    const at = this.clock.now();
    const result = await this.db.transaction(async (tx): Promise<PeerOutcome<PeerRow>> => {
      const row = await this.row(tx, id, true);
      if (!row) return fail('not_found', 'No such peer');
      let status: PeerStatus;
      if (action === 'suspend') {
        if (row.status === 'suspended') return { ok: true, value: row };
        status = 'suspended';
      } else if (action === 'resume') {
        if (row.status !== 'suspended') return fail('conflict', 'The peer is not suspended');
        // The peer was told we stopped; it must confirm again before data flows.
        status = 'pending';
      } else {
        status = 'removed';
      }
      const { rows } = await tx.query<PeerRow>(
        `UPDATE federation_peers SET status = $2, updated_at = $3,
           peer_confirmed = CASE WHEN $2 = 'pending' THEN false ELSE peer_confirmed END
         WHERE id = $1 RETURNING *`,
        [id, status, at],
      );
      const type = {
        suspend: 'federation.peer_suspended',
        resume: 'federation.peer_resumed',
        remove: 'federation.peer_removed',
      }[action];
      await this.event(tx, type, rows[0]!, by(actor), at);
      return { ok: true, value: rows[0]! };
    });
    if (!result.ok) return result;
    await this.sendHandshake(result.value, action === 'resume' ? 'peer' : 'unpeer');
    const info = peerInfo((await this.row(this.db, id)) ?? result.value);
    return { ok: true, value: info };
  }

  /**
   * A verified handshake from the peer with `fingerprint` (the caller checked the
   * signature against that pinned key). Returns this node's status for the peer, or null
   * when the key belongs to no peer.
   */
  async receiveHandshake(
    fingerprint: string,
    action: HandshakeAction,
  ): Promise<{ status: PeerStatus } | null> {
    const at = this.clock.now();
    const outcome = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<PeerRow>(
        `${SELECT} WHERE fingerprint = $1 AND status <> 'removed' FOR UPDATE`,
        [fingerprint],
      );
      const row = rows[0];
      if (!row) return null;
      const confirmed = action === 'peer';
      if (row.peer_confirmed === confirmed) return { row, changed: false };
      const status: PeerStatus =
        confirmed && row.status === 'pending'
          ? 'active'
          : !confirmed && row.status === 'active'
            ? 'pending'
            : row.status;
      const { rows: updated } = await tx.query<PeerRow>(
        `UPDATE federation_peers SET peer_confirmed = $2, status = $3, updated_at = $4
         WHERE id = $1 RETURNING *`,
        [row.id, confirmed, status, at],
      );
      await this.event(
        tx,
        confirmed ? 'federation.peer_confirmed' : 'federation.peer_withdrew',
        updated[0]!,
        { organisationId: null, clientId: null },
        at,
        { status },
      );
      return { row: updated[0]!, changed: true };
    });
    if (!outcome) return null;
    // Newly confirmed by the peer, and we peer with it: confirm back, signed, so that the
    // peer activates us on our signature rather than on this response.
    if (outcome.changed && action === 'peer' && outcome.row.status === 'active') {
      await this.sendHandshake(outcome.row, 'peer');
    }
    return { status: outcome.row.status };
  }

  /** Sends a signed handshake; failures are logged (the admin can refresh to retry). */
  private async sendHandshake(peer: PeerRow, action: HandshakeAction): Promise<void> {
    const target = peer.descriptor.endpoints.handshake;
    const url = `${target}?action=${action}`;
    try {
      const key = await this.keys.active();
      const headers = signRequest({ method: 'POST', url, headers: {} }, key, this.clock.now());
      const status = await this.fetcher.post(url, '', headers);
      if (status >= 300) {
        this.logger.info(
          { peer: peer.node_id, status, action },
          'peer did not accept the handshake',
        );
      }
    } catch (error) {
      this.logger.warn(
        { peer: peer.node_id, action, err: (error as Error).message },
        'handshake failed',
      );
    }
  }

  private async event(
    tx: Queryable,
    type: string,
    row: PeerRow,
    actor: ChangeBy,
    at: Date,
    details: Record<string, string> = {},
  ): Promise<void> {
    await recordLedgerEvent(
      tx,
      {
        type,
        actor,
        subject: { kind: 'peer', id: row.node_id },
        details: { peerUrl: row.url, status: row.status, ...details },
      },
      at,
    );
  }
}

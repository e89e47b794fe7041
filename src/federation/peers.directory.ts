/**
 * The peer directory: what other features (witnessing, the federated catalog, distributed
 * operations) need to know about this node's peers. Every call reads the database, so a
 * suspension or removal is seen by the very next call, in every process of the node;
 * nothing here is cached.
 */
import type { Queryable } from '../platform/db/database.js';
import type { NodeDescriptor } from './descriptor.js';

export type PeerStatus = 'pending' | 'active' | 'suspended' | 'removed';

export interface PeerInfo {
  /** Local id of the peering (`peer_…`). */
  peerId: string;
  /** The peer's node id, from its descriptor (`node_…`). */
  nodeId: string;
  name: string;
  jurisdiction: string;
  /** The peer's public base URL, without a trailing slash. */
  url: string;
  /** Origin line of the peer's ledger checkpoints (C2SP signed note). */
  ledgerOrigin: string;
  /** The peer's ledger verifier keys (C2SP vkey strings) as its pinned descriptor lists them. */
  ledgerKeys: string[];
  /** URL of the peer's checkpoint, as its descriptor gives it. */
  checkpointUrl: string;
  /** The peer's DCAT catalog, or null when its descriptor names none. */
  catalogUrl: string | null;
  /** The peer's NGSI-LD API base (…/ngsi-ld/v1). */
  ngsiLdUrl: string;
  /** The pinned fingerprint of the peer's node key (`sha256:…`). */
  fingerprint: string;
  status: PeerStatus;
  /** Whether the peer has confirmed, in a signed handshake, that it peers with us. */
  peerConfirmed: boolean;
}

export interface PeerDirectory {
  /** Peers data may flow with: both sides have added each other and nobody suspended. */
  listActivePeers(): Promise<PeerInfo[]>;
  /** Every peer that is not removed, whatever its state. */
  listPeers(): Promise<PeerInfo[]>;
  peerByNodeId(nodeId: string): Promise<PeerInfo | null>;
  /**
   * The peer whose public URL `url` is, or lies under (any path below its base URL).
   * Removed peers are left out unless `includeRemoved` (to refuse them rather than treat
   * their URL as any other).
   */
  peerByUrl(url: string, options?: { includeRemoved?: boolean }): Promise<PeerInfo | null>;
  peerByFingerprint(fingerprint: string): Promise<PeerInfo | null>;
}

export interface PeerRow {
  id: string;
  node_id: string;
  url: string;
  name: string;
  jurisdiction: string;
  fingerprint: string;
  descriptor: NodeDescriptor;
  status: PeerStatus;
  peer_confirmed: boolean;
}

export function peerInfo(row: PeerRow): PeerInfo {
  const d = row.descriptor;
  return {
    peerId: row.id,
    nodeId: row.node_id,
    name: row.name,
    jurisdiction: row.jurisdiction,
    url: row.url,
    ledgerOrigin: d.ledger.origin,
    ledgerKeys: d.ledger.keys.map((key) => key.vkey),
    checkpointUrl: d.ledger.checkpointUrl,
    catalogUrl: d.endpoints.catalog ?? null,
    ngsiLdUrl: d.endpoints.ngsiLd,
    fingerprint: row.fingerprint,
    status: row.status,
    peerConfirmed: row.peer_confirmed,
  };
}

const COLUMNS =
  'id, node_id, url, name, jurisdiction, fingerprint, descriptor, status, peer_confirmed';

/** Lower-cased scheme and host, default port dropped, no trailing slash, no query. */
export function normalisePeerUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password) return null;
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

export function peerDirectory(db: Queryable): PeerDirectory {
  const one = async (where: string, value: string): Promise<PeerInfo | null> => {
    const { rows } = await db.query<PeerRow>(
      `SELECT ${COLUMNS} FROM federation_peers WHERE ${where} = $1 AND status <> 'removed'`,
      [value],
    );
    return rows[0] ? peerInfo(rows[0]) : null;
  };
  return {
    async listActivePeers() {
      const { rows } = await db.query<PeerRow>(
        `SELECT ${COLUMNS} FROM federation_peers WHERE status = 'active' ORDER BY name, id`,
      );
      return rows.map(peerInfo);
    },
    async listPeers() {
      const { rows } = await db.query<PeerRow>(
        `SELECT ${COLUMNS} FROM federation_peers WHERE status <> 'removed' ORDER BY name, id`,
      );
      return rows.map(peerInfo);
    },
    peerByNodeId: (nodeId) => one('node_id', nodeId),
    peerByFingerprint: (fingerprint) => one('fingerprint', fingerprint),
    async peerByUrl(raw, options = {}) {
      const target = normalisePeerUrl(raw);
      if (!target) return null;
      const { rows } = await db.query<PeerRow>(
        `SELECT ${COLUMNS} FROM federation_peers
         WHERE ($2 OR status <> 'removed') AND ($1 = url OR left($1, length(url) + 1) = url || '/')
         ORDER BY length(url) DESC, status = 'removed' LIMIT 1`,
        [target, options.includeRemoved === true],
      );
      return rows[0] ? peerInfo(rows[0]) : null;
    },
  };
}

/**
 * Peer tokens: how a consumer organisation of this node acts at a peer without an account
 * there. This node mints a short-lived JWT signed with its node key:
 *   header  { alg: EdDSA, kid: <node key fingerprint>, typ: "ocp-peer+jwt" }
 *   claims  iss = this node's public URL, aud = the peer's URL, sub = the caller's id here,
 *           org / org_name / org_kind = the caller's organisation, roles = ["consumer"],
 *           node = this node's id, iat, exp, jti.
 * The peer verifies it with the key it pinned for us, maps `org` to a local record of our
 * organisation (created on first sight) and applies its own governance to it. A peer only
 * ever vouches for consumers: a token claiming any other role is refused outright.
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { recordLedgerEvent } from '../ledger/ledger.events.js';
import { newId } from '../identity/ids.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import { rawPublicKey, type NodeKeys } from './node-keys.js';
import type { PeerDirectory, PeerInfo } from './peers.directory.js';

export const PEER_TOKEN_TYPE = 'ocp-peer+jwt';
/** Longest lifetime a peer's token may claim (exp - iat), whatever the peer configured. */
export const MAX_PEER_TOKEN_SECONDS = 3600;
const ORG_KINDS = ['city_department', 'government', 'company', 'ngo', 'research'] as const;
const PARTY = /^[A-Za-z0-9_.-]{1,64}$/;
/** Serialises the creation of local records of peers' organisations. */
const LINK_LOCK = 0x0c9_0101;

export type MintOutcome =
  | { ok: true; token: string; expiresIn: number }
  | { ok: false; reason: 'no_organisation' | 'foreign_organisation' };

export type PeerTokenCheck =
  { ok: true; actor: Actor; peer: PeerInfo } | { ok: false; reason: string };

/** Whether a bearer token is a peer token (by its header; nothing is verified here). */
export function isPeerToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === PEER_TOKEN_TYPE;
  } catch {
    return false;
  }
}

export class PeerTokens {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly keys: NodeKeys,
    private readonly directory: PeerDirectory,
    /** This node's public URL: `iss` of the tokens it mints, `aud` of those it accepts. */
    private readonly publicUrl: string,
    private readonly ttlSeconds: number,
  ) {}

  /** A token for `actor`'s organisation to use at `peer`. Only organisations of this node. */
  async mint(actor: Actor, peer: PeerInfo, purpose: string | null): Promise<MintOutcome> {
    if (!actor.organisationId || actor.kind === 'anonymous' || !actor.id) {
      return { ok: false, reason: 'no_organisation' };
    }
    const { rows } = await this.db.query<{ name: string; kind: string; foreign: boolean }>(
      `SELECT o.name, o.kind,
              EXISTS (SELECT 1 FROM federation_peer_organisations f WHERE f.organisation_id = o.id) AS foreign
       FROM identity_organisations o WHERE o.id = $1`,
      [actor.organisationId],
    );
    const org = rows[0];
    if (!org) return { ok: false, reason: 'no_organisation' };
    // No transitive trust: an organisation we know only through a peer is not ours to vouch for.
    if (org.foreign) return { ok: false, reason: 'foreign_organisation' };
    const key = await this.keys.active();
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const token = await new SignJWT({
      org: actor.organisationId,
      org_name: org.name.slice(0, 200),
      org_kind: org.kind,
      roles: ['consumer'],
      node: await this.keys.nodeId(),
      ...(purpose ? { purpose } : {}),
    })
      .setProtectedHeader({ alg: 'EdDSA', kid: key.fingerprint, typ: PEER_TOKEN_TYPE })
      .setIssuer(this.publicUrl)
      .setAudience(peer.url)
      .setSubject(actor.id)
      .setIssuedAt(now)
      .setExpirationTime(now + this.ttlSeconds)
      .setJti(randomBytes(12).toString('base64url'))
      .sign(key.privateKey);
    return { ok: true, token, expiresIn: this.ttlSeconds };
  }

  /**
   * Verifies a peer token presented here: issued by an active peer (looked up now, so a
   * suspension refuses its tokens at once), signed with the key we pinned for it, for us,
   * unexpired, consumer only. Returns the actor it stands for.
   */
  async verify(token: string): Promise<PeerTokenCheck> {
    let kid: unknown;
    let iss: unknown;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'EdDSA' || header.typ !== PEER_TOKEN_TYPE)
        return { ok: false, reason: 'not a peer token' };
      kid = header.kid;
      iss = decodeJwt(token).iss;
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    if (typeof kid !== 'string' || typeof iss !== 'string')
      return { ok: false, reason: 'malformed token' };
    const peer = await this.directory.peerByFingerprint(kid);
    if (!peer || peer.status !== 'active')
      return { ok: false, reason: 'the issuer is not an active peer' };
    const issuer = await this.issuerOf(peer);
    if (iss !== issuer) return { ok: false, reason: 'the issuer does not match the peer' };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, rawPublicKey(await this.pinnedKey(peer)), {
        algorithms: ['EdDSA'],
        issuer,
        audience: this.publicUrl,
        typ: PEER_TOKEN_TYPE,
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'exp', 'iat', 'org'],
      }));
    } catch {
      return { ok: false, reason: 'the token does not verify or has expired' };
    }
    const { sub, org, org_name: orgName, org_kind: orgKind, roles, exp, iat } = payload;
    if ((exp as number) - (iat as number) > MAX_PEER_TOKEN_SECONDS) {
      return { ok: false, reason: 'the token lives too long' };
    }
    if (!Array.isArray(roles) || roles.length !== 1 || roles[0] !== 'consumer') {
      return { ok: false, reason: 'a peer may only vouch for consumers' };
    }
    if (
      typeof sub !== 'string' ||
      !PARTY.test(sub) ||
      typeof org !== 'string' ||
      !PARTY.test(org)
    ) {
      return { ok: false, reason: 'malformed subject or organisation' };
    }
    const name =
      typeof orgName === 'string' && orgName.trim() !== '' ? orgName.trim().slice(0, 200) : org;
    const kind = ORG_KINDS.find((k) => k === orgKind) ?? 'government';
    const organisationId = await this.localOrganisation(peer, org, name, kind);
    return {
      ok: true,
      peer,
      actor: { kind: 'client', id: `${peer.nodeId}:${sub}`, organisationId, roles: ['consumer'] },
    };
  }

  private async issuerOf(peer: PeerInfo): Promise<string> {
    const { rows } = await this.db.query<{ issuer: string }>(
      "SELECT descriptor->'token'->>'issuer' AS issuer FROM federation_peers WHERE id = $1",
      [peer.peerId],
    );
    return rows[0]?.issuer ?? peer.url;
  }

  private async pinnedKey(peer: PeerInfo): Promise<Buffer> {
    const { rows } = await this.db.query<{ x: string }>(
      `SELECT k->>'x' AS x FROM federation_peers, jsonb_array_elements(descriptor->'keys') AS k
       WHERE id = $1 AND k->>'fingerprint' = fingerprint`,
      [peer.peerId],
    );
    if (!rows[0]) throw new Error(`peer ${peer.nodeId} has no pinned key in its descriptor`);
    return Buffer.from(rows[0].x, 'base64url');
  }

  /** The pinned public key of a peer (raw Ed25519), for request signatures. */
  publicKeyOf(peer: PeerInfo): Promise<Buffer> {
    return this.pinnedKey(peer);
  }

  /**
   * The local organisation standing for `remoteId` of `peer`, created (and logged) on
   * first sight as "<name> (<peer name>)". Its id is a local `org_…` like any other, so
   * access requests, grants and read scopes treat it as any consumer organisation.
   */
  private async localOrganisation(
    peer: PeerInfo,
    remoteId: string,
    name: string,
    kind: (typeof ORG_KINDS)[number],
  ): Promise<string> {
    const find = async (q: Pick<Database, 'query'>) =>
      (
        await q.query<{ organisation_id: string }>(
          'SELECT organisation_id FROM federation_peer_organisations WHERE peer_id = $1 AND remote_id = $2',
          [peer.peerId, remoteId],
        )
      ).rows[0]?.organisation_id ?? null;
    const known = await find(this.db);
    if (known) return known;
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LINK_LOCK]);
      const raced = await find(tx);
      if (raced) return raced;
      const id = newId('org');
      const at = this.clock.now();
      await tx.query(
        `INSERT INTO identity_organisations (id, name, kind, verified, created_at, updated_at)
         VALUES ($1, $2, $3, false, $4, $4)`,
        [id, `${name} (${peer.name})`, kind, at],
      );
      await tx.query(
        `INSERT INTO federation_peer_organisations (organisation_id, peer_id, remote_id, created_at)
         VALUES ($1, $2, $3, $4)`,
        [id, peer.peerId, remoteId, at],
      );
      await recordLedgerEvent(
        tx,
        {
          type: 'federation.organisation_linked',
          actor: { organisationId: null, clientId: null },
          subject: { kind: 'organisation', id },
          details: { peerNodeId: peer.nodeId, remoteOrganisationId: remoteId },
        },
        at,
      );
      return id;
    });
  }
}

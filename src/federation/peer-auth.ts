/**
 * Recognises requests from peers: a peer token (`Authorization: Bearer`, typ
 * ocp-peer+jwt) and/or an RFC 9421 signature by a peer's node key. Runs before the
 * node's own bearer authenticator; anything else it leaves alone. Both are checked
 * against the peers table on every request, so a suspended or removed peer is refused
 * at once. A signed request whose body is not covered by a Content-Digest is refused,
 * and the digest itself is checked while the body is read (see `digestCheck`).
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import type { Actor, Authenticator } from '../platform/http/access.js';
import { AppError, badRequest } from '../platform/http/errors.js';
import { rememberNonce, signatureKeyId, verifyRequestSignature } from './http-signatures.js';
import { isPeerToken, type PeerTokens } from './peer-tokens.js';
import type { PeerDirectory, PeerInfo } from './peers.directory.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request carries a valid signature of an active peer. */
    federationPeer: { peer: PeerInfo; digest: string | null } | null;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function refused(detail: string): AppError {
  return new AppError('unauthorized', detail, {
    headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
  });
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (
    (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined
  );
}

export function peerAuthenticator(deps: {
  db: Database;
  clock: Clock;
  directory: PeerDirectory;
  tokens: PeerTokens;
  publicUrl: string;
  windowSeconds: number;
  /** Routes that check signatures themselves (the handshake). */
  skipRoutes: ReadonlySet<string>;
}): Authenticator {
  return async (request) => {
    const header = request.headers.authorization;
    const bearer = typeof header === 'string' ? BEARER.exec(header)?.[1] : undefined;
    const token = bearer && isPeerToken(bearer) ? bearer : null;
    const signed = request.headers['signature-input'] !== undefined;
    if (!token && !signed) return null;
    if (deps.skipRoutes.has(request.routeOptions.url ?? '')) return null;

    let signer: PeerInfo | null = null;
    if (signed) {
      const keyid = signatureKeyId(request.headers);
      const peer = keyid ? await deps.directory.peerByFingerprint(keyid) : null;
      if (!peer || peer.status !== 'active')
        throw refused('The request is not signed by an active peer');
      const now = deps.clock.now();
      const check = verifyRequestSignature(
        {
          method: request.method,
          targetUri: `${deps.publicUrl}${request.url}`,
          headers: request.headers,
        },
        await deps.tokens.publicKeyOf(peer),
        { now, windowSeconds: deps.windowSeconds },
      );
      if (!check.ok) throw refused(`The request signature is refused: ${check.reason}`);
      if (hasBody(request) && !check.coversBody) {
        throw refused('The request signature does not cover the body (Content-Digest)');
      }
      const expires = new Date((check.created + deps.windowSeconds) * 1000);
      if (!(await rememberNonce(deps.db, check.keyid, check.nonce, expires))) {
        throw refused('The request was replayed (nonce already used)');
      }
      const digest = request.headers['content-digest'];
      request.federationPeer = { peer, digest: typeof digest === 'string' ? digest : null };
      signer = peer;
    }

    if (!token) {
      // A node acting for nobody in particular: identified, but with no organisation and
      // no role, so it sees only what anyone may see.
      return {
        kind: 'client',
        id: signer!.nodeId,
        organisationId: null,
        roles: [],
      } satisfies Actor;
    }
    const check = await deps.tokens.verify(token);
    if (!check.ok) throw refused(`The peer token is refused: ${check.reason}`);
    if (signer && signer.nodeId !== check.peer.nodeId) {
      throw refused(
        'The peer token was issued by another node than the one that signed the request',
      );
    }
    return check.actor;
  };
}

/**
 * preParsing hook: for a signed request, the body must hash to the signed Content-Digest
 * (sha-256). The body is hashed as it streams in; a mismatch fails the request before any
 * handler sees it.
 */
export async function digestCheck(
  request: FastifyRequest,
  _reply: unknown,
  payload: NodeJS.ReadableStream,
): Promise<NodeJS.ReadableStream> {
  const signed = request.federationPeer;
  if (!signed || !hasBody(request)) return payload;
  const match = signed.digest
    ? /(?:^|,)\s*sha-256=:([A-Za-z0-9+/]+={0,2}):/.exec(signed.digest)
    : null;
  if (!match) throw badRequest('Content-Digest must give a sha-256 digest of the body');
  const expected = match[1]!;
  const hash = createHash('sha256');
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      if (hash.digest('base64') !== expected) {
        done(badRequest('The body does not match its Content-Digest'));
      } else done();
    },
  });
  payload.pipe(checked);
  return checked;
}

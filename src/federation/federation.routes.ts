/**
 * Federation routes: the public node descriptor, the admin API for peers, the signed
 * handshake between nodes, and peer tokens for this node's consumers.
 */
import { Type } from 'typebox';
import { publishedKeys } from '../ledger/keys.js';
import { ledgerOrigin } from '../ledger/note.js';
import type { Platform } from '../platform/platform.js';
import { AppError, badRequest, conflict, notFound, unauthorized } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import { productVersion } from '../platform/version.js';
import {
  DESCRIPTOR_PATH,
  DESCRIPTOR_VERSION,
  signDescriptor,
  type NodeDescriptor,
} from './descriptor.js';
import { rememberNonce, signatureKeyId, verifyRequestSignature } from './http-signatures.js';
import type { NodeKeys } from './node-keys.js';
import { PEER_TOKEN_TYPE, type PeerTokens } from './peer-tokens.js';
import type { PeerDirectory, PeerInfo } from './peers.directory.js';
import { HANDSHAKE_PATH, type PeerOutcome, type PeersService } from './peers.service.js';

const tags = ['federation'];
const NGSI_LD_PREFIX = '/ngsi-ld/v1';
export const PEER_TOKENS_PATH = '/api/v1/federation/peer-tokens';
const admin = { roles: ['admin'] as const };

const Peer = Type.Object({
  peerId: Type.String(),
  nodeId: Type.String(),
  name: Type.String(),
  jurisdiction: Type.String(),
  url: Type.String(),
  fingerprint: Type.String(),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('active'),
    Type.Literal('suspended'),
    Type.Literal('removed'),
  ]),
  peerConfirmed: Type.Boolean(),
  ledgerOrigin: Type.String(),
  catalogUrl: Type.Union([Type.String(), Type.Null()]),
  ngsiLdUrl: Type.String(),
});
const PeerParams = Type.Object({ peerId: Type.String({ pattern: '^peer_[A-Za-z0-9]{1,32}$' }) });

const view = (peer: PeerInfo) => ({
  peerId: peer.peerId,
  nodeId: peer.nodeId,
  name: peer.name,
  jurisdiction: peer.jurisdiction,
  url: peer.url,
  fingerprint: peer.fingerprint,
  status: peer.status,
  peerConfirmed: peer.peerConfirmed,
  ledgerOrigin: peer.ledgerOrigin,
  catalogUrl: peer.catalogUrl,
  ngsiLdUrl: peer.ngsiLdUrl,
});

function unwrap<T>(outcome: PeerOutcome<T>): T {
  if (outcome.ok) return outcome.value;
  switch (outcome.code) {
    case 'not_found':
      throw notFound(outcome.detail);
    case 'conflict':
      throw conflict(outcome.detail);
    default:
      throw badRequest(outcome.detail);
  }
}

export interface FederationServices {
  keys: NodeKeys;
  peers: PeersService;
  directory: PeerDirectory;
  tokens: PeerTokens;
}

export async function buildDescriptor(platform: Platform, keys: NodeKeys): Promise<NodeDescriptor> {
  const { config, db, clock } = platform;
  const url = config.publicUrl;
  const key = await keys.active();
  const origin = ledgerOrigin(url);
  return {
    version: DESCRIPTOR_VERSION,
    nodeId: await keys.nodeId(),
    name: config.federation.nodeName,
    jurisdiction: config.federation.jurisdiction,
    url,
    keys: [
      {
        fingerprint: key.fingerprint,
        alg: 'EdDSA',
        crv: 'Ed25519',
        x: key.publicKey.toString('base64url'),
        status: 'active',
      },
    ],
    ledger: {
      origin,
      checkpointUrl: `${url}/ledger/checkpoint`,
      keys: (await publishedKeys(db, origin)).map((k) => ({
        id: k.id,
        vkey: k.vkey,
        status: k.status,
      })),
    },
    token: { issuer: url, alg: 'EdDSA', typ: PEER_TOKEN_TYPE, keys: [key.fingerprint] },
    endpoints: {
      ngsiLd: `${url}${NGSI_LD_PREFIX}`,
      catalog: `${url}/catalog`,
      handshake: `${url}${HANDSHAKE_PATH}`,
      peerTokens: `${url}${PEER_TOKENS_PATH}`,
      ledger: `${url}/ledger`,
    },
    versions: { ocp: productVersion, descriptor: DESCRIPTOR_VERSION, ngsiLd: ['1.9'] },
    issuedAt: clock.now().toISOString(),
  };
}

export function registerFederationRoutes(
  app: App,
  platform: Platform,
  services: FederationServices,
) {
  const { keys, peers, directory, tokens } = services;
  const { config, clock, db } = platform;

  app.get(
    DESCRIPTOR_PATH,
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary:
          'The signed node descriptor (docs/federation.md): identity, keys, ledger, endpoints.',
        response: { 200: Type.Object({ descriptor: Type.Unknown(), signature: Type.String() }) },
      },
    },
    async (_request, reply) => {
      const signed = signDescriptor(await buildDescriptor(platform, keys), await keys.active());
      return reply.header('Cache-Control', 'public, max-age=60').send(signed);
    },
  );

  app.get(
    '/api/v1/federation/peers',
    {
      config: { access: admin },
      schema: {
        tags,
        summary: 'Peers of this node, in every state but removed.',
        response: { 200: Type.Array(Peer) },
      },
    },
    async () => (await peers.list()).map(view),
  );

  app.post(
    '/api/v1/federation/peers',
    {
      config: { access: admin },
      schema: {
        tags,
        summary:
          'Adds a peer by URL and pinned key fingerprint (obtained out of band). It is pending until the peer adds this node too.',
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048 }),
            fingerprint: Type.String({ minLength: 1, maxLength: 200 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: Peer },
      },
    },
    async (request, reply) =>
      reply.code(201).send(view(unwrap(await peers.add(request.body, request.actor)))),
  );

  app.get(
    '/api/v1/federation/peers/:peerId',
    {
      config: { access: admin },
      schema: { tags, summary: 'One peer.', params: PeerParams, response: { 200: Peer } },
    },
    async (request) => {
      const peer = await peers.get(request.params.peerId);
      if (!peer) throw notFound('No such peer');
      return view(peer);
    },
  );

  for (const action of ['suspend', 'resume', 'refresh'] as const) {
    app.post(
      `/api/v1/federation/peers/:peerId/${action}`,
      {
        config: { access: admin },
        schema: {
          tags,
          summary: {
            suspend: 'Suspends a peer: its tokens and signed requests are refused from now on.',
            resume: 'Resumes a suspended peer (pending until it confirms again).',
            refresh: 'Fetches the peer descriptor again (same pin) and repeats the handshake.',
          }[action],
          params: PeerParams,
          response: { 200: Peer },
        },
      },
      async (request) => {
        const { peerId } = request.params;
        const outcome =
          action === 'refresh'
            ? await peers.refresh(peerId, request.actor)
            : await peers.change(peerId, action, request.actor);
        return view(unwrap(outcome));
      },
    );
  }

  app.delete(
    '/api/v1/federation/peers/:peerId',
    {
      config: { access: admin },
      schema: {
        tags,
        summary: 'Removes a peer at once.',
        params: PeerParams,
      },
    },
    async (request, reply) => {
      unwrap(await peers.change(request.params.peerId, 'remove', request.actor));
      return reply.code(204).send();
    },
  );

  app.post(
    HANDSHAKE_PATH,
    {
      // Authenticated by the RFC 9421 signature of a node this node has pinned, below.
      config: { access: 'public' },
      bodyLimit: 1024,
      schema: {
        tags,
        summary:
          'Node to node: a signed statement that the calling node peers (or no longer peers) with this one.',
        querystring: Type.Object(
          { action: Type.Union([Type.Literal('peer'), Type.Literal('unpeer')]) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ status: Type.String() }) },
      },
    },
    async (request) => {
      if (request.headers['content-length'] && request.headers['content-length'] !== '0') {
        throw badRequest('The handshake has no body');
      }
      const keyid = signatureKeyId(request.headers);
      // Any peer we have not removed may tell us its state, a suspended one included.
      const peer = keyid ? await directory.peerByFingerprint(keyid) : null;
      if (!peer) throw unauthorized('The request is not signed by a peer of this node');
      const now = clock.now();
      const check = verifyRequestSignature(
        {
          method: request.method,
          targetUri: `${config.publicUrl}${request.url}`,
          headers: request.headers,
        },
        await tokens.publicKeyOf(peer),
        { now, windowSeconds: config.federation.signatureWindowSeconds },
      );
      if (!check.ok) throw unauthorized(`The request signature is refused: ${check.reason}`);
      const expires = new Date((check.created + config.federation.signatureWindowSeconds) * 1000);
      if (!(await rememberNonce(db, check.keyid, check.nonce, expires))) {
        throw unauthorized('The request was replayed (nonce already used)');
      }
      const result = await peers.receiveHandshake(peer.fingerprint, request.query.action);
      if (!result) throw unauthorized('The request is not signed by a peer of this node');
      return result;
    },
  );

  app.post(
    PEER_TOKENS_PATH,
    {
      config: { access: { roles: ['consumer'] } },
      schema: {
        tags,
        summary:
          "A short-lived token for the caller's organisation to use at an active peer (as a consumer).",
        body: Type.Object(
          {
            peer: Type.String({
              minLength: 1,
              maxLength: 2048,
              description: 'Node id or URL of the peer',
            }),
            purpose: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            access_token: Type.String(),
            token_type: Type.Literal('Bearer'),
            expires_in: Type.Integer(),
            audience: Type.String(),
          }),
        },
      },
    },
    async (request, reply) => {
      const { peer: ref, purpose } = request.body;
      const peer = ref.startsWith('node_')
        ? await directory.peerByNodeId(ref)
        : await directory.peerByUrl(ref);
      if (!peer || peer.status !== 'active') throw notFound('No active peer by that id or URL');
      const minted = await tokens.mint(request.actor, peer, purpose ?? null);
      if (!minted.ok) {
        throw new AppError(
          'forbidden',
          minted.reason === 'foreign_organisation'
            ? 'Peer tokens are issued only for organisations of this node'
            : 'Peer tokens are issued to callers acting for an organisation',
        );
      }
      return reply.header('Cache-Control', 'no-store').send({
        access_token: minted.token,
        token_type: 'Bearer' as const,
        expires_in: minted.expiresIn,
        audience: peer.url,
      });
    },
  );
}

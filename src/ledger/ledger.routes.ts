/**
 * The ledger feature: starts the sequencer with the node and serves the log — the
 * C2SP tlog-tiles read API any standard client can mirror, and JSON conveniences
 * (entries, proofs, search). Everything but key rotation is public.
 */
import { gzipSync } from 'node:zlib';
import { Counter, Gauge } from 'prom-client';
import { Type } from 'typebox';
import { cosignedCheckpoint } from '../federation/witness/witness.service.js';
import { badRequest, notFound } from '../platform/http/errors.js';
import type { Feature } from '../platform/http/server.js';
import { publishedKeys, rotateKey } from './keys.js';
import { latestCheckpoint, queueLength } from './ledger.repository.js';
import { LedgerReader, type Found } from './ledger.service.js';
import { ledgerOrigin } from './note.js';
import { Sequencer } from './sequencer.js';
import { parseTilePath } from './tiles.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const MAX_SEARCH = 200;

const b64 = (hash: Buffer) => hash.toString('base64');

function unwrap<T>(found: Found<T>): T {
  if (found.ok) return found.value;
  throw found.reason === 'not_found' ? notFound(found.detail) : badRequest(found.detail);
}

const Hash = Type.String({ description: 'SHA-256 hash, base64', contentEncoding: 'base64' });
const Index = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Entry = Type.Object(
  {
    index: Type.Integer(),
    type: Type.String(),
    time: Type.String({ format: 'date-time' }),
    actor: Type.Object({
      organisationId: Type.Union([Type.String(), Type.Null()]),
      clientId: Type.Union([Type.String(), Type.Null()]),
      personHash: Type.Union([Type.String(), Type.Null()]),
    }),
    subject: Type.Object({ kind: Type.String(), id: Type.String() }),
    purpose: Type.Union([Type.String(), Type.Null()]),
    count: Type.Union([Type.Integer(), Type.Null()]),
    details: Type.Record(
      Type.String(),
      Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
    ),
  },
  { description: 'A ledger entry; its RFC 8785 canonical form is what the leaf hash covers.' },
);
const Key = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('retired')]),
  vkey: Type.String({ description: 'C2SP signed-note verifier key' }),
  createdAt: Type.String({ format: 'date-time' }),
  retiredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const tags = ['ledger'];

export const ledgerFeature: Feature = {
  name: 'ledger',
  async register(app, { db, config, clock, logger, metrics }) {
    const origin = ledgerOrigin(config.publicUrl);
    const reader = new LedgerReader(db);
    const failures = new Counter({
      name: 'ocp_ledger_sequencing_failures_total',
      help: 'Ledger sequencing runs that failed (the ledger stops growing until fixed).',
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'ocp_ledger_entries',
      help: 'Entries covered by the newest signed ledger checkpoint.',
      registers: [metrics.registry],
      async collect() {
        this.set((await latestCheckpoint(db))?.size ?? 0);
      },
    });
    new Gauge({
      name: 'ocp_ledger_queue_length',
      help: 'Ledger events committed but not yet sequenced into the log.',
      registers: [metrics.registry],
      async collect() {
        this.set(await queueLength(db));
      },
    });
    const sequencer = new Sequencer({
      db,
      clock,
      logger: logger.child({ feature: 'ledger' }),
      origin,
      onError: () => failures.inc(),
    });
    await sequencer.start();
    app.addHook('onClose', () => sequencer.stop());

    app.get(
      '/ledger/checkpoint',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary:
            'The newest signed checkpoint (C2SP tlog-checkpoint in a signed note); with `?cosigned`, followed by the cosignatures of peers’ witnesses (C2SP tlog-cosignature).',
          produces: ['text/plain'],
          querystring: Type.Object({
            cosigned: Type.Optional(Type.String({ maxLength: 16 })),
          }),
          response: { 200: Type.String() },
        },
      },
      async (request, reply) => {
        // The plain checkpoint stays byte for byte what the sequencer signed.
        const note =
          request.query.cosigned === undefined
            ? (await reader.checkpoint())?.note
            : await cosignedCheckpoint(db);
        if (!note) throw notFound('The ledger has not signed a checkpoint yet');
        return reply
          .header('Cache-Control', 'no-cache')
          .type('text/plain; charset=utf-8')
          .send(note);
      },
    );

    app.get(
      '/ledger/tile/*',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary:
            'C2SP tlog-tiles: hash tiles tile/<L>/<N>[.p/<W>] and entry bundles tile/entries/<N>[.p/<W>].',
          params: Type.Object({ '*': Type.String({ maxLength: 64 }) }),
          produces: ['application/octet-stream'],
        },
      },
      async (request, reply) => {
        const address = parseTilePath(request.params['*']);
        if (!address) throw notFound('No such tile');
        const tile = await reader.tile(address);
        if (!tile) throw notFound('No such tile in the signed tree');
        reply.header('Cache-Control', IMMUTABLE).type('application/octet-stream');
        // tlog-tiles: entry bundles SHOULD be compressed at the HTTP layer.
        if (address.level === 'entries') {
          reply.header('Vary', 'Accept-Encoding');
          if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
            return reply.header('Content-Encoding', 'gzip').send(gzipSync(tile));
          }
        }
        return reply.send(tile);
      },
    );

    app.get(
      '/ledger/key',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'The active checkpoint key as a C2SP signed-note verifier key (vkey).',
          produces: ['text/plain'],
          response: { 200: Type.String() },
        },
      },
      async (_request, reply) => {
        const active = (await publishedKeys(db, origin)).find((key) => key.status === 'active');
        if (!active) throw notFound('The ledger has no key yet');
        return reply.type('text/plain; charset=utf-8').send(`${active.vkey}\n`);
      },
    );

    app.get(
      '/ledger/keys',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'Every checkpoint key the node has used, active first.',
          response: { 200: Type.Object({ origin: Type.String(), keys: Type.Array(Key) }) },
        },
      },
      async () => ({ origin, keys: await publishedKeys(db, origin) }),
    );

    app.post(
      '/ledger/key/rotate',
      {
        config: { access: { roles: ['admin'] } },
        schema: {
          tags,
          summary: 'Retire the checkpoint key and create a new one (the rotation is logged).',
          response: { 200: Type.Object({ previousKeyId: Type.String(), keyId: Type.String() }) },
        },
      },
      async (request) => {
        const rotated = await rotateKey(db, clock, {
          organisationId: request.actor.organisationId,
          clientId: request.actor.kind === 'client' ? request.actor.id : null,
        });
        sequencer.wake();
        return rotated;
      },
    );

    app.get(
      '/ledger/entries/:index',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'One entry of the signed log, with its leaf hash.',
          params: Type.Object({ index: Index }),
          response: {
            200: Type.Object({ treeSize: Type.Integer(), leafHash: Hash, entry: Entry }),
          },
        },
      },
      async (request) => {
        const found = unwrap(await reader.entry(request.params.index));
        return { treeSize: found.treeSize, leafHash: b64(found.leafHash), entry: found.entry };
      },
    );

    app.get(
      '/ledger/entries',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'Search the signed log by dataset, organisation, grant, type and time.',
          querystring: Type.Object({
            dataset: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            organisation: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            grant: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
            type: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
            after: Type.Optional(Index),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SEARCH, default: 50 })),
          }),
          response: {
            200: Type.Object({
              treeSize: Type.Integer(),
              entries: Type.Array(Entry),
              next: Type.Union([Type.Integer(), Type.Null()], {
                description: 'Pass as `after` for the next page',
              }),
            }),
          },
        },
      },
      async (request) => {
        const query = request.query;
        const limit = query.limit ?? 50;
        const result = await reader.search({
          dataset: query.dataset,
          organisation: query.organisation,
          grant: query.grant,
          type: query.type,
          from: query.from === undefined ? undefined : new Date(query.from),
          to: query.to === undefined ? undefined : new Date(query.to),
          after: query.after,
          limit,
        });
        const last = result.entries.at(-1);
        return {
          ...result,
          next: result.entries.length === limit && last ? last.index : null,
        };
      },
    );

    app.get(
      '/ledger/proofs/inclusion',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'RFC 9162 inclusion proof of an entry in a signed tree (default: newest).',
          querystring: Type.Object({ index: Index, treeSize: Type.Optional(Index) }),
          response: {
            200: Type.Object({
              index: Type.Integer(),
              treeSize: Type.Integer(),
              leafHash: Hash,
              rootHash: Hash,
              proof: Type.Array(Hash),
            }),
          },
        },
      },
      async (request) => {
        const proof = unwrap(await reader.inclusion(request.query.index, request.query.treeSize));
        return {
          index: proof.index,
          treeSize: proof.treeSize,
          leafHash: b64(proof.leafHash),
          rootHash: b64(proof.rootHash),
          proof: proof.proof.map(b64),
        };
      },
    );

    app.get(
      '/ledger/proofs/consistency',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'RFC 9162 consistency proof between two tree sizes (default `to`: newest).',
          querystring: Type.Object({ from: Index, to: Type.Optional(Index) }),
          response: {
            200: Type.Object({
              from: Type.Integer(),
              to: Type.Integer(),
              fromRoot: Hash,
              toRoot: Hash,
              proof: Type.Array(Hash),
            }),
          },
        },
      },
      async (request) => {
        const proof = unwrap(await reader.consistency(request.query.from, request.query.to));
        return {
          from: proof.from,
          to: proof.to,
          fromRoot: b64(proof.fromRoot),
          toRoot: b64(proof.toRoot),
          proof: proof.proof.map(b64),
        };
      },
    );
  },
};

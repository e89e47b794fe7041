/**
 * Witnessing as a feature: the periodic witness job (one process of the node at a time,
 * through a lease row), the endpoint peers' witnesses deliver cosignatures to, the
 * witness key, the public list of detected forks (shown on the transparency page) and
 * the admin API. Serving the checkpoint with its cosignatures is the ledger's route
 * (`GET /ledger/checkpoint?cosigned`).
 */
import { Counter, Gauge } from 'prom-client';
import { Type } from 'typebox';
import { ledgerOrigin } from '../../ledger/note.js';
import { createGuardedFetcher } from '../../platform/http/guarded-fetch.js';
import { badRequest, forbidden, notFound } from '../../platform/http/errors.js';
import type { Feature } from '../../platform/http/server.js';
import { NodeKeys } from '../node-keys.js';
import { peerDirectory } from '../peers.directory.js';
import { witnessName } from './cosignature.js';
import { witnessOverrides, type WitnessKeySource, type WitnessWiring } from './directory.js';
import { COSIGNATURE_PATH, peerLog, WITNESS_KEY_HEADER } from './peer-log.js';
import { countFlaggedOrigins, listForks, listSeen, type ForkRecord } from './witness.repository.js';
import { Witness, type PeerOutcome } from './witness.service.js';

const tags = ['federation'];
const MAX_NOTE_BYTES = 64 * 1024;
const MAX_FORKS = 100;

const b64 = (value: Buffer) => value.toString('base64');

const Fork = Type.Object({
  id: Type.String(),
  origin: Type.String({ description: 'Origin of the forked log' }),
  peerNodeId: Type.String(),
  kind: Type.Union([Type.Literal('same_size'), Type.Literal('inconsistent')]),
  detectedAt: Type.String({ format: 'date-time' }),
  known: Type.Object({ size: Type.Integer(), root: Type.String(), note: Type.String() }),
  presented: Type.Object({ size: Type.Integer(), root: Type.String(), note: Type.String() }),
  detail: Type.String(),
});

function forkJson(fork: ForkRecord) {
  return {
    id: fork.id,
    origin: fork.origin,
    peerNodeId: fork.peerNodeId,
    kind: fork.kind,
    detectedAt: fork.detectedAt.toISOString(),
    known: { size: fork.knownSize, root: b64(fork.knownRoot), note: fork.knownNote },
    presented: { size: fork.newSize, root: b64(fork.newRoot), note: fork.newNote },
    detail: fork.detail,
  };
}

export const witnessFeature: Feature = {
  name: 'federation-witness',
  async register(app, platform) {
    const { db, config, clock, logger, metrics } = platform;
    const log = logger.child({ feature: 'federation-witness' });
    const nodeKeys = new NodeKeys(db, clock);
    const defaultKeys: WitnessKeySource = {
      async active() {
        const key = await nodeKeys.ensure();
        return { publicKey: key.publicKey, privateKey: key.privateKey };
      },
    };
    const directory = peerDirectory(db);
    const wiring = (): WitnessWiring => ({
      directory,
      keys: defaultKeys,
      ...witnessOverrides(platform),
    });

    const checked = new Counter({
      name: 'ocp_witness_checkpoints_total',
      help: 'Peer checkpoints the witness looked at, by outcome.',
      labelNames: ['outcome'],
      registers: [metrics.registry],
    });
    const forks = new Counter({
      name: 'ocp_witness_forks_total',
      help: 'Forks of peers’ ledgers detected (two inconsistent signed checkpoints).',
      registers: [metrics.registry],
    });
    new Gauge({
      name: 'ocp_witness_flagged_logs',
      help: 'Peer ledgers flagged as forked (not cosigned any more).',
      registers: [metrics.registry],
      async collect() {
        this.set(await countFlaggedOrigins(db));
      },
    });

    const intervalMs = config.witness.intervalSeconds * 1000;
    const witness = new Witness({
      db,
      clock,
      logger: log,
      log: peerLog(createGuardedFetcher(config.fetch), config.fetch.timeoutMs),
      name: witnessName(config.publicUrl),
      origin: ledgerOrigin(config.publicUrl),
      wiring,
      // A run holds the job for one interval (at least a minute when run by hand).
      leaseMs: Math.max(intervalMs, 60_000) - 1000,
      onOutcome(peer, outcome: PeerOutcome) {
        checked.inc({ outcome: outcome.status });
        if (outcome.status === 'fork' && outcome.recorded) forks.inc();
        if (outcome.status === 'rejected' || outcome.status === 'unreachable') {
          log.warn(
            { peer: peer.nodeId, reason: outcome.reason },
            `peer checkpoint ${outcome.status}`,
          );
        }
      },
    });

    if (intervalMs > 0) {
      let timer: NodeJS.Timeout | null = null;
      let running: Promise<unknown> = Promise.resolve();
      const schedule = () => {
        timer = setTimeout(() => {
          running = witness
            .runOnce()
            .catch((error: unknown) => log.error({ err: error }, 'witness run failed'))
            .finally(() => {
              if (timer) schedule();
            });
        }, intervalMs);
        timer.unref();
      };
      schedule();
      app.addHook('onClose', async () => {
        if (timer) clearTimeout(timer);
        timer = null;
        await running;
      });
    }

    app.get(
      '/federation/witness/key',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary: 'This node’s witness key (C2SP tlog-cosignature, cosignature/v1 vkey).',
          produces: ['text/plain'],
          response: { 200: Type.String() },
        },
      },
      async (_request, reply) =>
        reply.type('text/plain; charset=utf-8').send(`${await witness.verifierKey()}\n`),
    );

    app.post(
      COSIGNATURE_PATH,
      {
        // Anyone may call; only a cosignature by an active peer's pinned key is kept.
        config: { access: 'public' },
        bodyLimit: MAX_NOTE_BYTES,
        schema: {
          tags,
          summary:
            'Deliver a cosignature of one of this node’s checkpoints: the checkpoint text, a blank line and the cosignature line; the witness key (vkey) in the Ocp-Witness-Key header.',
          consumes: ['text/plain'],
          body: Type.String({ maxLength: MAX_NOTE_BYTES }),
          headers: Type.Object({
            [WITNESS_KEY_HEADER]: Type.Optional(Type.String({ maxLength: 512 })),
          }),
        },
      },
      async (request, reply) => {
        const result = await witness.receive(request.body, request.headers[WITNESS_KEY_HEADER]);
        if (!result.ok) {
          if (result.reason === 'forbidden') throw forbidden(result.detail);
          if (result.reason === 'not_found') throw notFound(result.detail);
          throw badRequest(result.detail);
        }
        return reply.code(204).send();
      },
    );

    app.get(
      '/federation/witness/forks',
      {
        config: { access: 'public' },
        schema: {
          tags,
          summary:
            'Forks of peers’ ledgers this node detected, with both signed checkpoints as evidence.',
          response: { 200: Type.Object({ forks: Type.Array(Fork) }) },
        },
      },
      async () => ({ forks: (await listForks(db, MAX_FORKS)).map(forkJson) }),
    );

    app.get(
      '/api/v1/federation/witness/forks',
      {
        config: { access: { roles: ['admin'] } },
        schema: {
          tags,
          summary: 'Flags raised by the witness: peers that presented inconsistent checkpoints.',
          response: { 200: Type.Object({ forks: Type.Array(Fork) }) },
        },
      },
      async () => ({ forks: (await listForks(db, MAX_FORKS)).map(forkJson) }),
    );

    app.get(
      '/api/v1/federation/witness/logs',
      {
        config: { access: { roles: ['admin'] } },
        schema: {
          tags,
          summary: 'The newest checkpoint verified and cosigned of each peer’s ledger.',
          response: {
            200: Type.Object({
              logs: Type.Array(
                Type.Object({
                  origin: Type.String(),
                  peerNodeId: Type.String(),
                  size: Type.Integer(),
                  root: Type.String(),
                  seenAt: Type.String({ format: 'date-time' }),
                  cosignedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
                }),
              ),
            }),
          },
        },
      },
      async () => ({
        logs: (await listSeen(db)).map((seen) => ({
          origin: seen.origin,
          peerNodeId: seen.peerNodeId,
          size: seen.size,
          root: b64(seen.root),
          seenAt: seen.seenAt.toISOString(),
          cosignedAt: seen.cosignedAt?.toISOString() ?? null,
        })),
      }),
    );

    app.post(
      '/api/v1/federation/witness/run',
      {
        config: { access: { roles: ['admin'] } },
        schema: {
          tags,
          summary: 'Run the witness now (skipped when another process of the node is running it).',
          response: {
            200: Type.Object({
              ran: Type.Boolean(),
              peers: Type.Record(
                Type.String(),
                Type.Object({
                  status: Type.String(),
                  detail: Type.Union([Type.String(), Type.Null()]),
                }),
              ),
            }),
          },
        },
      },
      async () => {
        const run = await witness.runOnce();
        const peers: Record<string, { status: string; detail: string | null }> = {};
        for (const [nodeId, outcome] of run.peers) {
          peers[nodeId] = {
            status: outcome.status,
            detail:
              outcome.status === 'rejected' || outcome.status === 'unreachable'
                ? outcome.reason
                : outcome.status === 'fork'
                  ? outcome.fork.id
                  : null,
          };
        }
        return { ran: run.ran, peers };
      },
    );
  },
};

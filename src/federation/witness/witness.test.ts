/**
 * Witnessing between real nodes: A witnesses B (a real node) and two fake peers serving
 * logs signed with their pinned keys, one of which forks. Cosignatures are checked here
 * with node:crypto alone, independently of the code under test.
 */
import assert from 'node:assert/strict';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  verify as verifySignature,
  type KeyObject,
} from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { identityFeature } from '../../identity/identity.feature.js';
import { adminToken, ADMIN_SECRET, bearer } from '../../identity/identity.testing.js';
import { queueLength, latestCheckpoint } from '../../ledger/ledger.repository.js';
import { ledgerFeature } from '../../ledger/ledger.routes.js';
import { leafHash, rootFromLeafHashes } from '../../ledger/merkle.js';
import { ed25519Signer, formatCheckpoint, formatVkey, signNote } from '../../ledger/note.js';
import { recordEvents } from '../../ledger/testing.js';
import { opsFeature } from '../../ops/ops.routes.js';
import { testBackends, type Backend } from '../../platform/testing/database.js';
import { startTestNode, type TestNode } from '../../platform/testing/node.js';
import { NodeKeys } from '../node-keys.js';
import { formatWitnessVkey, parseWitnessVkey, witnessSigner } from './cosignature.js';
import { overrideWitnessWiring, type WitnessPeer } from './directory.js';
import { witnessFeature } from './witness.feature.js';

const features = [opsFeature, identityFeature, ledgerFeature, witnessFeature];

async function startNode(backend: Backend, publicUrl: string): Promise<TestNode> {
  return startTestNode({
    backend,
    mqtt: 'off',
    features,
    env: {
      OCP_PUBLIC_URL: publicUrl,
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
      OCP_FETCH_ALLOW_PRIVATE: 'true',
      OCP_WITNESS_INTERVAL_SECONDS: '0',
    },
  });
}

/** Waits until the node's ledger has sequenced everything queued. */
async function settle(node: TestNode): Promise<void> {
  const deadline = Date.now() + 15_000;
  while ((await queueLength(node.platform.db)) > 0 || !(await latestCheckpoint(node.platform.db))) {
    if (Date.now() > deadline) throw new Error('ledger did not settle');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A peer's log served by hand: a signed checkpoint over given leaves and its tiles. */
interface FakeLog {
  url: string;
  origin: string;
  vkey: string;
  /** Serve a checkpoint over these entries, signed with the pinned key (or another). */
  serve(entries: string[], options?: { forgedKey?: boolean }): void;
  received: string[];
  close(): Promise<void>;
}

async function startFakeLog(origin: string): Promise<FakeLog> {
  const pinned = generateKeyPairSync('ed25519');
  const forged = generateKeyPairSync('ed25519');
  const der = (key: KeyObject) => key.export({ format: 'der', type: 'pkcs8' });
  const raw = Buffer.from(pinned.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  let note = '';
  let tile = Buffer.alloc(0);
  const received: string[] = [];
  const server: Server = createServer((request, response) => {
    if (request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push(body);
        response.writeHead(204).end();
      });
      return;
    }
    if (request.url === '/ledger/checkpoint') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end(note);
    } else if (request.url?.startsWith('/ledger/tile/0/000.p/')) {
      response.writeHead(200).end(tile);
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    origin,
    vkey: formatVkey(origin, raw),
    received,
    serve(entries, options = {}) {
      const leaves = entries.map((entry) => leafHash(Buffer.from(entry)));
      tile = Buffer.concat(leaves);
      const text = formatCheckpoint({
        origin,
        size: leaves.length,
        root: rootFromLeafHashes(leaves),
      });
      const key = options.forgedKey ? forged.privateKey : pinned.privateKey;
      note = signNote(text, [ed25519Signer(origin, der(key))]);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function fakePeer(log: FakeLog, nodeId: string): WitnessPeer {
  return {
    nodeId,
    url: log.url,
    ledgerOrigin: log.origin,
    ledgerKeys: [log.vkey],
    checkpointUrl: `${log.url}/ledger/checkpoint`,
    fingerprint: `sha256:${'0'.repeat(64)}`,
  };
}

/** Checks a cosignature/v1 line with node:crypto only (C2SP tlog-cosignature). */
function checkCosignature(text: string, line: string, name: string, publicKey: Buffer): boolean {
  const [dash, lineName, blob] = line.split(' ');
  assert.equal(dash, '\u2014');
  assert.equal(lineName, name);
  const bytes = Buffer.from(blob!, 'base64');
  assert.equal(bytes.length, 4 + 8 + 64);
  const keyId = createHash('sha256')
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x04]), publicKey]))
    .digest()
    .subarray(0, 4);
  assert.deepEqual(bytes.subarray(0, 4), keyId);
  const time = bytes.readBigUInt64BE(4);
  assert.ok(Math.abs(Number(time) - Date.now() / 1000) < 600, 'timestamp is now');
  const message = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`);
  const key: KeyObject = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
    format: 'jwk',
  });
  return verifySignature(null, message, key, bytes.subarray(12));
}

const entries = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `{"entry":"${prefix}-${i}"}`);

for (const backend of testBackends()) {
  describe(`federation witnessing (${backend})`, () => {
    let a: TestNode;
    let b: TestNode;
    let honest: FakeLog;
    let forking: FakeLog;
    let impostor: FakeLog;
    let adminA: string;
    let aKey: ReturnType<typeof parseWitnessVkey>;
    let peerB: WitnessPeer;

    before(async () => {
      [a, b] = await Promise.all([
        startNode(backend, 'http://a.city.test'),
        startNode(backend, 'http://b.city.test'),
      ]);
      [honest, forking, impostor] = await Promise.all([
        startFakeLog('honest.city.test/ledger'),
        startFakeLog('forking.city.test/ledger'),
        startFakeLog('impostor.city.test/ledger'),
      ]);
      adminA = await adminToken(a);
      aKey = parseWitnessVkey((await a.app.inject('/federation/witness/key')).body);
      const bKey = parseWitnessVkey((await b.app.inject('/federation/witness/key')).body);
      const fingerprint = (raw: Buffer) =>
        `sha256:${createHash('sha256').update(raw).digest('hex')}`;
      peerB = {
        nodeId: 'node_bbbbbbbbbbbbbbbbbbbbbbbb',
        url: b.url,
        ledgerOrigin: 'b.city.test/ledger',
        ledgerKeys: [(await b.app.inject('/ledger/key')).body.trim()],
        checkpointUrl: `${b.url}/ledger/checkpoint`,
        fingerprint: fingerprint(bKey.publicKey),
      };
      const peerA: WitnessPeer = {
        nodeId: 'node_aaaaaaaaaaaaaaaaaaaaaaaa',
        url: 'http://a.city.test',
        ledgerOrigin: 'a.city.test/ledger',
        ledgerKeys: [],
        checkpointUrl: `${a.url}/ledger/checkpoint`,
        fingerprint: fingerprint(aKey.publicKey),
      };
      overrideWitnessWiring(a.platform, {
        directory: {
          listActivePeers: async () => [
            peerB,
            fakePeer(honest, 'node_honest'),
            fakePeer(forking, 'node_forking'),
            fakePeer(impostor, 'node_impostor'),
          ],
        },
      });
      overrideWitnessWiring(b.platform, { directory: { listActivePeers: async () => [peerA] } });
    });

    after(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await Promise.all([honest?.close(), forking?.close(), impostor?.close()]);
    });

    const run = async () => {
      const res = await a.app.inject({
        method: 'POST',
        url: '/api/v1/federation/witness/run',
        headers: bearer(adminA),
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{ ran: boolean; peers: Record<string, { status: string }> }>();
      assert.equal(body.ran, true);
      return Object.fromEntries(Object.entries(body.peers).map(([id, p]) => [id, p.status]));
    };

    it('cosigns a real peer’s checkpoint, which the peer then serves with the cosignature', async () => {
      await recordEvents(b, 5);
      await settle(b);
      honest.serve(entries('h', 3));
      forking.serve(entries('f', 4));
      impostor.serve(entries('i', 2), { forgedKey: true });
      const plainBefore = (await b.app.inject('/ledger/checkpoint')).body;

      const outcome = await run();
      assert.equal(outcome[peerB.nodeId], 'first_seen');
      assert.equal(outcome.node_honest, 'first_seen');
      assert.equal(outcome.node_forking, 'first_seen');
      assert.equal(outcome.node_impostor, 'rejected');

      // The plain checkpoint is unchanged, byte for byte.
      const plain = (await b.app.inject('/ledger/checkpoint')).body;
      assert.equal(plain, plainBefore);
      assert.equal(plain, (await latestCheckpoint(b.platform.db))!.note);
      // The cosigned variant is the same note plus A's cosignature line.
      const cosigned = (await b.app.inject('/ledger/checkpoint?cosigned')).body;
      assert.ok(cosigned.startsWith(plain));
      const extra = cosigned.slice(plain.length).trimEnd().split('\n');
      assert.equal(extra.length, 1);
      const text = plain.slice(0, plain.lastIndexOf('\n\n') + 1);
      assert.ok(checkCosignature(text, extra[0]!, 'a.city.test/witness', aKey.publicKey));
      // A tampered copy does not verify.
      assert.ok(!checkCosignature(text.replace('\n', '\n1'), extra[0]!, aKey.name, aKey.publicKey));

      // The fake peer received a cosigned checkpoint too.
      assert.equal(honest.received.length, 1);
      assert.ok(honest.received[0]!.startsWith('honest.city.test/ledger\n3\n'));
    });

    it('rejects a checkpoint with a bad signature and stores nothing of it', async () => {
      const res = await a.app.inject({
        url: '/api/v1/federation/witness/logs',
        headers: bearer(adminA),
      });
      assert.equal(res.statusCode, 200);
      const origins = res.json<{ logs: { origin: string }[] }>().logs.map((l) => l.origin);
      assert.deepEqual(origins.sort(), [
        'b.city.test/ledger',
        'forking.city.test/ledger',
        'honest.city.test/ledger',
      ]);
      assert.equal(impostor.received.length, 0);
    });

    it('refuses cosignatures not made by an active peer’s pinned key', async () => {
      const plain = (await b.app.inject('/ledger/checkpoint')).body;
      const text = plain.slice(0, plain.lastIndexOf('\n\n') + 1);
      const before = (await b.app.inject('/ledger/checkpoint?cosigned')).body;
      const line = before.slice(plain.length).trim();
      const stranger = generateKeyPairSync('ed25519');
      const strangerRaw = Buffer.from(stranger.publicKey.export({ format: 'jwk' }).x!, 'base64url');
      const strangerVkey = formatWitnessVkey('a.city.test/witness', strangerRaw);
      const strangerLine = witnessSigner('a.city.test/witness', stranger.privateKey).cosign(
        text,
        Math.floor(Date.now() / 1000),
      );
      const post = (body: string, key: string) =>
        b.app.inject({
          method: 'POST',
          url: '/federation/witness/cosignatures',
          headers: { 'content-type': 'text/plain', 'ocp-witness-key': key },
          payload: body,
        });
      // An unknown key.
      assert.equal((await post(`${text}\n${strangerLine}\n`, strangerVkey)).statusCode, 403);
      // The pinned key's name and ID, but a signature that does not verify.
      const aVkey = (await a.app.inject('/federation/witness/key')).body.trim();
      const blob = Buffer.from(line.split(' ')[2]!, 'base64');
      blob[20] = blob[20]! ^ 0xff;
      const bad = `\u2014 a.city.test/witness ${blob.toString('base64')}`;
      assert.equal((await post(`${text}\n${bad}\n`, aVkey)).statusCode, 403);
      // A checkpoint this node never signed.
      const other = text.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`);
      const aNodeKey = await new NodeKeys(a.platform.db, a.platform.clock).active();
      const signer = witnessSigner('a.city.test/witness', aNodeKey.privateKey);
      const signed = await post(`${other}\n${signer.cosign(other, 1)}\n`, aVkey);
      assert.equal(signed.statusCode, 404);
      // Malformed input.
      assert.equal((await post('not a note', aVkey)).statusCode, 400);
      assert.equal((await post(`${text}\n${line}\n`, 'garbage')).statusCode, 400);
      // Nothing of it was kept.
      assert.equal((await b.app.inject('/ledger/checkpoint?cosigned')).body, before);
    });

    it('follows a growing log with a consistency proof from the peer’s tiles', async () => {
      await recordEvents(b, 3, 100);
      await settle(b);
      honest.serve(entries('h', 7));
      const outcome = await run();
      assert.equal(outcome[peerB.nodeId], 'extended');
      assert.equal(outcome.node_honest, 'extended');
      const plain = (await b.app.inject('/ledger/checkpoint')).body;
      const cosigned = (await b.app.inject('/ledger/checkpoint?cosigned')).body;
      const text = plain.slice(0, plain.lastIndexOf('\n\n') + 1);
      assert.ok(
        checkCosignature(text, cosigned.slice(plain.length).trim(), aKey.name, aKey.publicKey),
      );
    });

    it('flags a peer that presents a second, inconsistent checkpoint', async () => {
      // A larger tree that does not extend the one seen (the first entries rewritten).
      forking.serve([...entries('rewritten', 4), ...entries('f', 2)]);
      const outcome = await run();
      assert.equal(outcome.node_forking, 'fork');
      assert.equal(outcome.node_honest, 'unchanged');

      // Evidence, admin API and the public list shown on the transparency page.
      const admin = await a.app.inject({
        url: '/api/v1/federation/witness/forks',
        headers: bearer(adminA),
      });
      assert.equal(admin.statusCode, 200);
      const forks = admin.json<{
        forks: { origin: string; kind: string; known: { size: number; note: string } }[];
      }>().forks;
      assert.equal(forks.length, 1);
      assert.equal(forks[0]!.origin, 'forking.city.test/ledger');
      assert.equal(forks[0]!.kind, 'inconsistent');
      assert.equal(forks[0]!.known.size, 4);
      assert.ok(forks[0]!.known.note.includes('\n\u2014 forking.city.test/ledger '));
      const anonymous = await a.app.inject('/api/v1/federation/witness/forks');
      assert.equal(anonymous.statusCode, 401);
      const published = await a.app.inject('/federation/witness/forks');
      assert.equal(published.statusCode, 200);
      assert.equal(published.json<{ forks: unknown[] }>().forks.length, 1);

      // The fork is an event in A's own ledger.
      await settle(a);
      const events = await a.app.inject('/ledger/entries?type=federation.witness.fork_detected');
      const logged = events.json<{ entries: { subject: { id: string } }[] }>().entries;
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.subject.id, 'node_forking');

      // A flagged log is not cosigned any more, whatever it serves next.
      forking.serve(entries('f', 4));
      assert.equal((await run()).node_forking, 'flagged');
      const metrics = (await a.app.inject('/metrics')).body;
      assert.match(metrics, /ocp_witness_flagged_logs 1/);
    });

    it('detects two checkpoints of the same size with different roots', async () => {
      honest.serve([...entries('h', 6), '{"entry":"other"}']);
      assert.equal((await run()).node_honest, 'fork');
      const forks = (await a.app.inject('/federation/witness/forks')).json<{
        forks: { origin: string; kind: string }[];
      }>().forks;
      assert.ok(
        forks.some((f) => f.origin === 'honest.city.test/ledger' && f.kind === 'same_size'),
      );
    });

    it('runs once across processes: a second witness on the same database skips', async () => {
      const { Witness } = await import('./witness.service.js');
      const other = new Witness({
        db: a.platform.db,
        clock: a.platform.clock,
        logger: a.platform.logger,
        log: {
          checkpoint: () => assert.fail(),
          tile: () => assert.fail(),
          deliver: () => assert.fail(),
        },
        name: 'a.city.test/witness',
        origin: 'a.city.test/ledger',
        wiring: () => assert.fail('a skipped run reads no peers'),
        leaseMs: 60_000,
      });
      assert.equal((await other.runOnce()).ran, false);
    });
  });
}

import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as ed25519Verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../platform/clock.js';
import { openPostgres } from '../platform/db/postgres.js';
import type { Database } from '../platform/db/database.js';
import { createLogger } from '../platform/logging.js';
import { createTestDatabase, testBackends, testDatabaseUrl } from '../platform/testing/database.js';
import { LedgerEventError, normaliseEvent, type LedgerEntry } from './entry.js';
import { ledgerPersonHash, recordLedgerEvent, type LedgerEvent } from './ledger.events.js';
import { sampleEvent } from './testing.js';
import { entriesBetween, getTile, latestCheckpoint } from './ledger.repository.js';
import { publishedKeys, rotateKey } from './keys.js';
import {
  inclusionProof,
  leafHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
import { ledgerOrigin, openNote, parseCheckpoint, parseVkey } from './note.js';
import { InconsistentTreeError, Sequencer } from './sequencer.js';
import { tileReader } from './tiles.js';

const ORIGIN = ledgerOrigin('https://city.example/');
const logger = createLogger('silent');

function sequencer(db: Database, batchSize?: number): Sequencer {
  return new Sequencer({ db, clock: systemClock, logger, origin: ORIGIN, batchSize });
}

async function record(db: Database, events: LedgerEvent[]): Promise<void> {
  await db.transaction(async (tx) => {
    for (const event of events) await recordLedgerEvent(tx, event, new Date());
  });
}

/** Checks the stored log against itself: entries → leaves → tiles → signed root. */
async function checkLog(db: Database): Promise<{ size: number; entries: LedgerEntry[] }> {
  const checkpoint = await latestCheckpoint(db);
  assert.ok(checkpoint);
  const keys = await publishedKeys(db, ORIGIN);
  const opened = openNote(
    checkpoint.note,
    keys.map((key) => parseVkey(key.vkey)),
  );
  const parsed = parseCheckpoint(opened.text);
  assert.equal(parsed.origin, ORIGIN);
  const raw = await entriesBetween(db, 0, parsed.size);
  assert.equal(raw.length, parsed.size);
  assert.deepEqual(rootFromLeafHashes(raw.map((entry) => leafHash(entry))), parsed.root);
  const entries = raw.map((bytes) => JSON.parse(bytes.toString()) as LedgerEntry);
  entries.forEach((entry, i) => assert.equal(entry.index, i));
  return { size: parsed.size, entries };
}

for (const backend of testBackends()) {
  describe(`ledger sequencing (${backend})`, () => {
    let t: Awaited<ReturnType<typeof createTestDatabase>>;
    before(async () => {
      t = await createTestDatabase(backend);
    });
    after(() => t.close());

    it('signs an empty checkpoint on first run, then sequences batches across tile boundaries', async () => {
      const seq = sequencer(t.db, 100);
      await seq.drain();
      assert.equal((await latestCheckpoint(t.db))?.size, 0);

      await record(
        t.db,
        Array.from({ length: 300 }, (_, i) => sampleEvent(i)),
      );
      assert.equal(await seq.drain(), 300);
      const { size, entries } = await checkLog(t.db);
      assert.equal(size, 300);
      assert.equal(entries[257]!.subject.id, 'gr_257');
      assert.equal(entries[0]!.purpose, 'traffic research');
      // One full level-0 tile, one partial; level 1 holds the full tile's root.
      assert.equal((await getTile(t.db, 0, 0))?.length, 256 * 32);
      assert.equal((await getTile(t.db, 0, 1))?.length, 44 * 32);
      assert.equal((await getTile(t.db, 1, 0))?.length, 32);
      const queue = await t.db.query('SELECT 1 FROM ledger_queue');
      assert.equal(queue.rows.length, 0);
    });

    it('serves proofs from tiles that verify against the signed root', async () => {
      const checkpoint = (await latestCheckpoint(t.db))!;
      const read = tileReader((level, index) => getTile(t.db, level, index));
      const [bytes] = await entriesBetween(t.db, 200, 201);
      verifyInclusion(
        200,
        checkpoint.size,
        leafHash(bytes!),
        await inclusionProof(read, 200, checkpoint.size),
        checkpoint.root,
      );
      const before = checkpoint;
      await record(t.db, [sampleEvent(1000)]);
      await sequencer(t.db).drain();
      const next = (await latestCheckpoint(t.db))!;
      assert.equal(next.size, before.size + 1);
      const { consistencyProof } = await import('./merkle.js');
      const fresh = tileReader((level, index) => getTile(t.db, level, index));
      verifyConsistency(
        before.size,
        next.size,
        await consistencyProof(fresh, before.size, next.size),
        before.root,
        next.root,
      );
    });

    it('checkpoint signatures verify with a plain Ed25519 check of the published key', async () => {
      const checkpoint = (await latestCheckpoint(t.db))!;
      const [key] = await publishedKeys(t.db, ORIGIN);
      const material = Buffer.from(key!.vkey.split('+').slice(2).join('+'), 'base64');
      assert.equal(material[0], 0x01);
      const publicKey = createPublicKey({
        key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), material.subarray(1)]),
        format: 'der',
        type: 'spki',
      });
      const [text, signatures] = checkpoint.note.split('\n\n') as [string, string];
      const line = /^\u2014 (\S+) (\S+)$/u.exec(signatures.trim())!;
      assert.equal(line[1], ORIGIN);
      const blob = Buffer.from(line[2]!, 'base64');
      assert.ok(
        ed25519Verify(null, Buffer.from(`${text}\n`), publicKey, blob.subarray(4)),
        'signature over the note text',
      );
      assert.ok(!ed25519Verify(null, Buffer.from(`${text}x\n`), publicKey, blob.subarray(4)));
    });

    it('rolls back the change when its ledger append fails', async () => {
      await t.db.exec('CREATE TABLE ledger_test_changes (id text PRIMARY KEY)');
      const change = (id: string, event: LedgerEvent) =>
        t.db.transaction(async (tx) => {
          await tx.query('INSERT INTO ledger_test_changes (id) VALUES ($1)', [id]);
          await recordLedgerEvent(tx, event, new Date());
        });
      const queued = async () => (await t.db.query('SELECT 1 FROM ledger_queue')).rows.length;
      const before = await queued();

      // The event carries personal data: rejected, and the change with it.
      await assert.rejects(
        change('a', sampleEvent(1, { details: { email: 'x@example.org' } })),
        LedgerEventError,
      );
      // The database refuses the ledger row: the change goes too.
      await t.db.exec(`
        CREATE FUNCTION ledger_test_fail() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN RAISE EXCEPTION 'ledger is unavailable'; END $$;
        CREATE TRIGGER ledger_test_fail BEFORE INSERT ON ledger_queue
          FOR EACH ROW EXECUTE FUNCTION ledger_test_fail();`);
      await assert.rejects(change('b', sampleEvent(2)), /ledger is unavailable/);
      await t.db.exec('DROP TRIGGER ledger_test_fail ON ledger_queue');
      const rows = await t.db.query('SELECT id FROM ledger_test_changes');
      assert.equal(rows.rows.length, 0);
      assert.equal(await queued(), before);

      await change('c', sampleEvent(3));
      assert.equal((await t.db.query('SELECT id FROM ledger_test_changes')).rows.length, 1);
      assert.equal(await queued(), before + 1);
      await sequencer(t.db).drain();
    });

    it('refuses to sign a tree that does not extend the last checkpoint', async () => {
      const before = (await latestCheckpoint(t.db))!;
      // The partial tile the next tree grows from.
      const tile = (await getTile(t.db, 0, 1))!;
      const forged = Buffer.from(tile);
      forged[5]! ^= 0xff;
      await t.db.query('UPDATE ledger_tiles SET hashes = $1 WHERE level = 0 AND idx = 1', [forged]);
      await record(t.db, [sampleEvent(2000)]);
      await assert.rejects(sequencer(t.db).runOnce(), InconsistentTreeError);
      assert.equal((await latestCheckpoint(t.db))!.id, before.id);
      await t.db.query('UPDATE ledger_tiles SET hashes = $1 WHERE level = 0 AND idx = 1', [tile]);
      await sequencer(t.db).drain();
      assert.equal((await latestCheckpoint(t.db))!.size, before.size + 1);
    });

    it('hashes people with a stable secret salt, accepted as actor.personHash', async () => {
      const a = await t.db.transaction((tx) => ledgerPersonHash(tx, 'per_alice'));
      const again = await t.db.transaction((tx) => ledgerPersonHash(tx, 'per_alice'));
      const b = await t.db.transaction((tx) => ledgerPersonHash(tx, 'per_bob'));
      assert.match(a, /^[0-9a-f]{64}$/);
      assert.equal(a, again);
      assert.notEqual(a, b);
      assert.notEqual(a, createHash('sha256').update('per_alice').digest('hex'));
      normaliseEvent(
        sampleEvent(1, { actor: { organisationId: null, clientId: null, personHash: a } }),
      );
    });

    it('logs a key rotation and co-signs with the old key during the overlap', async () => {
      const [oldKey] = await publishedKeys(t.db, ORIGIN);
      const rotated = await rotateKey(t.db, systemClock, {
        organisationId: 'org_city',
        clientId: null,
      });
      assert.equal(rotated.previousKeyId, oldKey!.id);
      await sequencer(t.db).drain();
      const checkpoint = (await latestCheckpoint(t.db))!;
      const keys = await publishedKeys(t.db, ORIGIN);
      assert.deepEqual(
        keys.map((key) => key.status),
        ['active', 'retired'],
      );
      // Verifiable with the old key alone and with the new key alone.
      openNote(checkpoint.note, [parseVkey(oldKey!.vkey)]);
      openNote(checkpoint.note, [parseVkey(keys[0]!.vkey)]);
      const { entries } = await checkLog(t.db);
      const last = entries.at(-1)!;
      assert.equal(last.type, 'ledger.key_rotated');
      assert.equal(last.subject.id, rotated.keyId);
      assert.equal(last.details.previousKeyId, oldKey!.id);
    });
  });
}

describe('ledger events keep personal data out', () => {
  const bad: [string, LedgerEvent][] = [
    ['an e-mail in details', sampleEvent(1, { details: { note: 'mail jan@example.org' } })],
    ['a person field', sampleEvent(1, { details: { fullName: 'Jan Jansen' } })],
    ['a phone number', sampleEvent(1, { purpose: 'call +31 6 12345678' })],
    ['a nested object', sampleEvent(1, { details: { x: { y: 1 } as never } })],
    ['an unknown field', { ...sampleEvent(1), person: 'Jan' } as LedgerEvent],
    [
      'a person hash that is not a hash',
      sampleEvent(1, { actor: { organisationId: null, clientId: null, personHash: 'Jan' } }),
    ],
    ['a subject id with spaces', sampleEvent(1, { subject: { kind: 'person', id: 'Jan Jansen' } })],
    ['a bad type', sampleEvent(1, { type: 'Approved' })],
    ['a negative count', sampleEvent(1, { count: -1 })],
  ];
  for (const [what, event] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(() => normaliseEvent(event), LedgerEventError);
    });
  }
});

if (testDatabaseUrl) {
  describe('two sequencers on one PostgreSQL', () => {
    let t: Awaited<ReturnType<typeof createTestDatabase>>;
    let second: Database;
    before(async () => {
      t = await createTestDatabase('postgres');
      second = await openPostgres({ url: t.url!, poolSize: 5 });
    });
    after(async () => {
      await second.close();
      await t.close();
    });

    it('produce one log that verifies, with every event exactly once', async () => {
      const handles = [t.db, second];
      const sequencers = handles.map((db) => sequencer(db, 7));
      const writers = handles.map(async (db, w) => {
        for (let round = 0; round < 15; round++) {
          await record(
            db,
            [0, 1, 2].map((k) => sampleEvent(w * 1000 + round * 10 + k)),
          );
        }
      });
      let writing = true;
      const loops = sequencers.map(async (seq) => {
        while (writing) await seq.drain();
      });
      await Promise.all(writers);
      writing = false;
      await Promise.all(loops);
      for (const seq of sequencers) await seq.drain();

      const { size, entries } = await checkLog(t.db);
      assert.equal(size, 90);
      const ids = entries.map((entry) => entry.subject.id).sort();
      assert.equal(new Set(ids).size, 90);
      // Every checkpoint extends the one before.
      const { rows } = await t.db.query<{ size: number; root: Uint8Array }>(
        'SELECT size, root FROM ledger_checkpoints ORDER BY id',
      );
      const read = tileReader((level, index) => getTile(t.db, level, index));
      const { consistencyProof } = await import('./merkle.js');
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1]!, rows[i]!];
        if (a.size === 0) continue;
        verifyConsistency(
          a.size,
          b.size,
          await consistencyProof(read, a.size, b.size),
          Buffer.from(a.root),
          Buffer.from(b.root),
        );
      }
      assert.ok(rows.length > 5);
    });

    it('background loops on both handles wake on notifications from either', async () => {
      const before = (await latestCheckpoint(t.db))!.size;
      // A poll interval far beyond the test's patience: only LISTEN/NOTIFY can wake them.
      const loops = [t.db, second].map(
        (db) => new Sequencer({ db, clock: systemClock, logger, origin: ORIGIN, pollMs: 600_000 }),
      );
      await Promise.all(loops.map((loop) => loop.start()));
      try {
        await Promise.all(
          [t.db, second].map(async (db, w) => {
            for (let round = 0; round < 10; round++) {
              await record(db, [sampleEvent(5000 + w * 100 + round)]);
            }
          }),
        );
        const deadline = Date.now() + 20_000;
        while ((await latestCheckpoint(t.db))!.size < before + 20) {
          assert.ok(Date.now() < deadline, 'the loops did not sequence every event');
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        await Promise.all(loops.map((loop) => loop.stop()));
      }
      const { size } = await checkLog(t.db);
      assert.equal(size, before + 20);
    });
  });
}

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { formatVkey, rawPublicKey } from './note.js';
import { recordEvents, waitForTree } from './testing.js';
import { verifyCommand, verifyLog, VerifyError } from './verify.js';

const ocpBin = fileURLToPath(new URL('../../bin/ocp.js', import.meta.url));

for (const backend of testBackends()) {
  describe(`ocp verify against a running node (${backend})`, () => {
    let node: TestNode;
    let vkey: string;
    let dir: string;
    const state = (name: string) => path.join(dir, `${name}.json`);

    before(async () => {
      node = await startTestNode({ backend, listen: true, mqtt: 'off' });
      dir = mkdtempSync(path.join(tmpdir(), 'ocp-verify-'));
      await recordEvents(node, 300);
      await waitForTree(node, 300);
      vkey = (await (await fetch(`${node.url}/ledger/key`)).text()).trim();
    });
    after(() => node.close());

    /** The node's URL: what the test node calls its public URL is not reachable. */
    const verify = (options: Partial<Parameters<typeof verifyLog>[0]> = {}) =>
      verifyLog({ url: node.url, key: vkey, statePath: state('main'), ...options });

    it('verifies signature, entries, tiles and root, and checks inclusion', async () => {
      const report = await verify({ entries: [0, 255, 256, 299] });
      assert.equal(report.origin, 'ocp.test/ledger');
      assert.equal(report.size, 300);
      assert.equal(report.previous, null);
      assert.deepEqual(
        report.entries.map((e) => [e.index, e.type]),
        [
          [0, 'grant.approved'],
          [255, 'grant.approved'],
          [256, 'grant.approved'],
          [299, 'grant.approved'],
        ],
      );
      const saved = JSON.parse(readFileSync(state('main'), 'utf8')) as Record<
        string,
        { size: number }
      >;
      assert.equal(saved[`${node.url}/ledger`]!.size, 300);
    });

    it('checks a grown log against the checkpoint it saved, using the saved key', async () => {
      await recordEvents(node, 5, 1000);
      await waitForTree(node, 305);
      const report = await verifyLog({ url: node.url, statePath: state('main') });
      assert.deepEqual(
        [report.mode, report.previous?.size, report.size],
        ['incremental', 300, 305],
      );
      const full = await verifyLog({ url: node.url, statePath: state('main'), full: true });
      assert.deepEqual([full.mode, full.previous?.size, full.size], ['full', 305, 305]);
    });

    it('detects a log rewritten since the saved checkpoint', async () => {
      const file = state('main');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { root: string }>;
      const forged = structuredClone(saved);
      forged[`${node.url}/ledger`]!.root = Buffer.alloc(32, 7).toString('base64');
      writeFileSync(state('forged'), JSON.stringify(forged));
      await assert.rejects(verifyLog({ url: node.url, statePath: state('forged') }), /rewritten/);
      await assert.rejects(
        verifyLog({ url: node.url, statePath: state('forged'), full: true }),
        /rewritten/,
      );
    });

    it('refuses without a pinned key, with a wrong key, or an entry outside the log', async () => {
      await assert.rejects(
        verifyLog({ url: node.url, statePath: state('none') }),
        /no key is pinned/,
      );
      const other = formatVkey(
        'ocp.test/ledger',
        rawPublicKey(generateKeyPairSync('ed25519').publicKey),
      );
      await assert.rejects(
        verifyLog({ url: node.url, key: other, statePath: state('other') }),
        (error: Error) =>
          error instanceof VerifyError &&
          /signature check failed: note is not signed by any trusted key/.test(error.message),
      );
      await assert.rejects(verify({ entries: [99999] }), /not in the log/);
      const tofu = await verifyLog({
        url: node.url,
        statePath: state('tofu'),
        trustOnFirstUse: true,
      });
      assert.ok(tofu.size >= 305);
    });

    it('detects a tampered entry', async () => {
      const db = node.platform.db;
      const { rows } = await db.query<{ entry: Uint8Array }>(
        'SELECT entry FROM ledger_entries WHERE idx = 5',
      );
      const original = Buffer.from(rows[0]!.entry);
      const forged = Buffer.from(original.toString('utf8').replace('"gr_5"', '"gr_6"'));
      await db.query('UPDATE ledger_entries SET entry = $1 WHERE idx = 5', [forged]);
      try {
        await assert.rejects(
          verify({ statePath: state('t1') }),
          /entry 5 does not match its leaf hash/,
        );
      } finally {
        await db.query('UPDATE ledger_entries SET entry = $1 WHERE idx = 5', [original]);
      }
    });

    it('detects a tampered new entry on an incremental run', async () => {
      const before = (await verify({ statePath: state('inc') })).size;
      await recordEvents(node, 3, 2000);
      await waitForTree(node, before + 3);
      const size = before + 3;
      const db = node.platform.db;
      const index = size - 2;
      const { rows } = await db.query<{ entry: Uint8Array }>(
        'SELECT entry FROM ledger_entries WHERE idx = $1',
        [index],
      );
      const original = Buffer.from(rows[0]!.entry);
      const forged = Buffer.from(original.toString('utf8').replace('traffic', 'tragic'));
      await db.query('UPDATE ledger_entries SET entry = $1 WHERE idx = $2', [forged, index]);
      try {
        await assert.rejects(
          verify({ statePath: state('inc') }),
          new RegExp(`entry ${index} does not match the signed tree`),
        );
      } finally {
        await db.query('UPDATE ledger_entries SET entry = $1 WHERE idx = $2', [original, index]);
      }
      const report = await verify({ statePath: state('inc') });
      assert.equal(report.mode, 'incremental');
    });

    it('detects a tampered leaf tile and a tampered upper tile', async () => {
      const db = node.platform.db;
      for (const [level, message] of [
        [0, /entry 3 does not match its leaf hash in tile 0\/0/],
        [1, /tile 1\/0 hash 0 does not match the tiles below it/],
      ] as const) {
        const { rows } = await db.query<{ hashes: Uint8Array }>(
          'SELECT hashes FROM ledger_tiles WHERE level = $1 AND idx = 0',
          [level],
        );
        const original = Buffer.from(rows[0]!.hashes);
        const forged = Buffer.from(original);
        forged[level === 0 ? 3 * 32 : 0]! ^= 1;
        await db.query('UPDATE ledger_tiles SET hashes = $1 WHERE level = $2 AND idx = 0', [
          forged,
          level,
        ]);
        try {
          await assert.rejects(verify({ statePath: state(`t-${level}`) }), message);
        } finally {
          await db.query('UPDATE ledger_tiles SET hashes = $1 WHERE level = $2 AND idx = 0', [
            original,
            level,
          ]);
        }
      }
      await verify({ statePath: state('t-after') });
    });

    it('detects a checkpoint whose signature was forged', async () => {
      const db = node.platform.db;
      const { rows } = await db.query<{ id: number; note: string }>(
        'SELECT id, note FROM ledger_checkpoints ORDER BY id DESC LIMIT 1',
      );
      const { id, note } = rows[0]!;
      // Same signature, different tree size: the signature no longer covers the text.
      const forged = note.replace(/\n(\d+)\n/, (_, n: string) => `\n${Number(n) - 1}\n`);
      await db.query('UPDATE ledger_checkpoints SET note = $1 WHERE id = $2', [forged, id]);
      try {
        await assert.rejects(verify({ statePath: state('sig') }), /signature check failed/);
      } finally {
        await db.query('UPDATE ledger_checkpoints SET note = $1 WHERE id = $2', [note, id]);
      }
    });

    it('exits non-zero from the command line with a clear message', async () => {
      const out: string[] = [];
      const err: string[] = [];
      const bad = await verifyCommand(
        [node.url, '--state', state('cli'), '--key', 'ocp.test/ledger+00000000+AQ=='],
        (text) => out.push(text),
        (text) => err.push(text),
      );
      assert.equal(bad, 1);
      assert.match(err.join(''), /FAILED: the pinned key is not a valid verifier key/);
      assert.equal(
        await verifyCommand(
          [],
          () => undefined,
          () => undefined,
        ),
        2,
      );

      const child = spawn(
        process.execPath,
        [ocpBin, 'verify', node.url, '--key', vkey, '--state', state('spawn'), '--entry', '1'],
        { env: { PATH: process.env.PATH, HOME: dir } },
      );
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, stdout);
      assert.match(stdout, /entry 1 \(grant\.approved, .*\) is included/);
      assert.match(stdout, /^OK: ocp\.test\/ledger at size \d+ verifies$/m);
    });
  });
}

/**
 * Two real `ocp start` processes on one PostgreSQL, each running its sequencer, while
 * events are committed from both sides: one log results, and both nodes serve it so that
 * `ocp verify` accepts it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openPostgres } from '../platform/db/postgres.js';
import type { Database } from '../platform/db/database.js';
import { createPostgresDatabase, testDatabaseUrl } from '../platform/testing/database.js';
import { recordLedgerEvent } from './ledger.events.js';
import { latestCheckpoint } from './ledger.repository.js';
import { sampleEvent } from './testing.js';
import { verifyLog } from './verify.js';

const ocpBin = fileURLToPath(new URL('../../bin/ocp.js', import.meta.url));

function startProcess(databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [ocpBin, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: tmpdir(),
      OCP_DATABASE_URL: databaseUrl,
      OCP_PORT: '0',
      OCP_MQTT_URL: 'none',
      OCP_LOG_LEVEL: 'warn',
      OCP_PUBLIC_URL: 'https://city.example',
    },
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(buffer);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`ocp exited (${code}) before listening`)));
  });
}

if (testDatabaseUrl) {
  describe('two ocp processes on one PostgreSQL', () => {
    let database: Awaited<ReturnType<typeof createPostgresDatabase>>;
    let writers: Database[] = [];
    const nodes: { child: ChildProcess; url: string }[] = [];

    before(async () => {
      database = await createPostgresDatabase();
      nodes.push(...(await Promise.all([startProcess(database.url), startProcess(database.url)])));
      writers = [
        await openPostgres({ url: database.url, poolSize: 2 }),
        await openPostgres({ url: database.url, poolSize: 2 }),
      ];
    });
    after(async () => {
      for (const node of nodes) {
        const exited = new Promise((resolve) => node.child.once('exit', resolve));
        node.child.kill('SIGTERM');
        await exited;
      }
      for (const db of writers) await db.close();
      await database.drop();
    });

    it('sequence concurrent writes into one log that verifies through either node', async () => {
      await Promise.all(
        writers.map(async (db, w) => {
          for (let round = 0; round < 20; round++) {
            await db.transaction(async (tx) => {
              await recordLedgerEvent(tx, sampleEvent(w * 1000 + round * 2), new Date());
              await recordLedgerEvent(tx, sampleEvent(w * 1000 + round * 2 + 1), new Date());
            });
          }
        }),
      );
      const deadline = Date.now() + 20_000;
      while (((await latestCheckpoint(writers[0]!))?.size ?? 0) < 80) {
        assert.ok(Date.now() < deadline, 'the nodes did not sequence every event');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const dir = mkdtempSync(path.join(tmpdir(), 'ocp-verify-'));
      const vkey = (await (await fetch(`${nodes[0]!.url}/ledger/key`)).text()).trim();
      const reports = await Promise.all(
        nodes.map((node, i) =>
          verifyLog({ url: node.url, key: vkey, statePath: path.join(dir, `${i}.json`) }),
        ),
      );
      assert.deepEqual(
        reports.map((report) => [report.origin, report.size, report.root]),
        [
          ['city.example/ledger', 80, reports[0]!.root],
          ['city.example/ledger', 80, reports[0]!.root],
        ],
      );
      const { rows } = await writers[0]!.query<{ n: number }>(
        "SELECT count(DISTINCT convert_from(entry, 'UTF8')::jsonb->'subject'->>'id')::int8 AS n FROM ledger_entries",
      );
      assert.equal(rows[0]!.n, 80);
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, testBackends, type TestDatabase } from '../testing/database.js';
import { isConnectionError, notifyOnCommit, type Database } from './database.js';
import { openPglite } from './pglite.js';

for (const backend of testBackends()) {
  describe(`database adapter (${backend})`, () => {
    let t: TestDatabase;
    before(async () => {
      t = await createTestDatabase(backend);
      await t.db.exec(
        'CREATE TABLE sample (id text PRIMARY KEY, n int8, amount numeric, day date, at timestamptz, doc jsonb)',
      );
    });
    after(() => t.close());

    it('returns values in the same JavaScript types on every backend', async () => {
      await t.db.query('INSERT INTO sample VALUES ($1, $2, $3, $4, $5, $6)', [
        'a',
        9007199254740991,
        '12.3400',
        '2026-03-01',
        '2026-03-01T12:00:00.123Z',
        { k: [1, 'two'] },
      ]);
      const { rows } = await t.db.query('SELECT *, count(*) OVER () AS total FROM sample');
      assert.deepEqual(rows[0], {
        id: 'a',
        n: 9007199254740991,
        amount: '12.3400',
        day: '2026-03-01',
        at: new Date('2026-03-01T12:00:00.123Z'),
        doc: { k: [1, 'two'] },
        total: 1,
      });
    });

    it('refuses to round int8 values beyond 2^53', async () => {
      await assert.rejects(t.db.query("SELECT '9007199254740993'::int8 AS big"), /exceeds 2\^53/);
    });

    it('reports affected rows', async () => {
      await t.db.query("INSERT INTO sample (id) VALUES ('b'), ('c')");
      const updated = await t.db.query("UPDATE sample SET n = 1 WHERE id IN ('b', 'c')");
      assert.equal(updated.rowCount, 2);
      const selected = await t.db.query("SELECT id FROM sample WHERE id IN ('b', 'c')");
      assert.equal(selected.rowCount, 2);
      const none = await t.db.query("DELETE FROM sample WHERE id = 'absent'");
      assert.equal(none.rowCount, 0);
    });

    // PGlite is built without LLVM, so only PostgreSQL connections need JIT turned off.
    it('runs PostgreSQL without JIT compilation', { skip: backend !== 'postgres' }, async () => {
      const { rows } = await t.db.query<{ jit: string }>('SHOW jit');
      assert.equal(rows[0]!.jit, 'off');
    });

    it('commits a transaction as a whole, or rolls it back as a whole', async () => {
      await t.db.transaction(async (tx) => {
        await tx.query("INSERT INTO sample (id) VALUES ('t1')");
        await tx.query("INSERT INTO sample (id) VALUES ('t2')");
      });
      await assert.rejects(
        t.db.transaction(async (tx) => {
          await tx.query("INSERT INTO sample (id) VALUES ('t3')");
          await tx.query("INSERT INTO sample (id) VALUES ('t1')"); // duplicate key
        }),
        /duplicate key/,
      );
      const { rows } = await t.db.query<{ id: string }>(
        "SELECT id FROM sample WHERE id LIKE 't%' ORDER BY id",
      );
      assert.deepEqual(
        rows.map((r) => r.id),
        ['t1', 't2'],
      );
    });

    it('keeps other work out of a running transaction', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const tx = t.db.transaction(async (q) => {
        await q.query("INSERT INTO sample (id) VALUES ('iso')");
        await gate;
        throw new Error('abort');
      });
      // A query from outside must not see (or commit) the uncommitted row.
      const outside = t.db.query("SELECT count(*)::int AS n FROM sample WHERE id = 'iso'");
      release();
      await assert.rejects(tx, /abort/);
      assert.equal((await outside).rows[0]?.n, 0);
    });

    it('delivers NOTIFY payloads to listeners', async () => {
      const received = new Promise<string>((resolve) => {
        void t.db.listen('ocp_test_channel', resolve).then((stop) => {
          void t.db.query("SELECT pg_notify('ocp_test_channel', 'hello')");
          received.finally(() => stop());
        });
      });
      assert.equal(await received, 'hello');
      await assert.rejects(
        t.db.listen('bad channel; DROP', () => undefined),
        /invalid channel name/,
      );
    });

    it('wakes listeners after a commit, never for a rolled-back transaction', async () => {
      const wakes: string[] = [];
      const stop = await t.db.listen('ocp_test_wake', (payload) => wakes.push(payload));
      const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
      try {
        await assert.rejects(
          t.db.transaction(async (tx) => {
            await notifyOnCommit(tx, 'ocp_test_wake');
            throw new Error('abort');
          }),
          /abort/,
        );
        await settle();
        assert.equal(wakes.length, 0, 'no wake-up for a rolled-back transaction');

        let during = -1;
        await t.db.transaction(async (tx) => {
          await notifyOnCommit(tx, 'ocp_test_wake');
          await settle();
          during = wakes.length;
        });
        assert.equal(during, 0, 'nothing before the commit');
        const deadline = Date.now() + 5_000;
        while (wakes.length === 0 && Date.now() < deadline) await settle();
        assert.ok(wakes.length >= 1, 'woken after the commit');

        // Many commits at once: folded into at most one wake-up each, and at least one.
        wakes.length = 0;
        await Promise.all(
          Array.from({ length: 20 }, () =>
            t.db.transaction((tx) => notifyOnCommit(tx, 'ocp_test_wake')),
          ),
        );
        const last = Date.now();
        while (wakes.length === 0 && Date.now() < last + 5_000) await settle();
        assert.ok(wakes.length >= 1 && wakes.length <= 20, String(wakes.length));
      } finally {
        await stop();
      }
    });

    it('answers ping until closed', async () => {
      await t.db.ping();
      const other = await createTestDatabase(backend, { migrated: false });
      await other.close();
      await assert.rejects(other.db.ping());
    });
  });
}

describe('embedded database maintenance', () => {
  it('gathers planner statistics by itself (PGlite runs no autovacuum)', async () => {
    const load = async (db: Database) => {
      await db.exec(
        'CREATE TABLE sample (id int PRIMARY KEY, kind text); ' +
          "INSERT INTO sample SELECT n, 'k' || (n % 7) FROM generate_series(1, 2000) AS n",
      );
      const stats = async () =>
        (
          await db.query<{ n: number }>(
            "SELECT count(*)::int8 AS n FROM pg_stats WHERE tablename = 'sample'",
          )
        ).rows[0]!.n;
      return stats;
    };
    const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    // Without the job (its first run an hour away) nothing gathers them.
    const idle = await openPglite(null, { analyzeFirstMs: 3_600_000 });
    try {
      const stats = await load(idle);
      await settle(300);
      assert.equal(await stats(), 0);
    } finally {
      await idle.close();
    }
    const db = await openPglite(null, { analyzeFirstMs: 50, analyzeEveryMs: 50 });
    try {
      const stats = await load(db);
      const deadline = Date.now() + 10_000;
      while ((await stats()) === 0 && Date.now() < deadline) await settle(50);
      assert.ok((await stats()) >= 2, 'both columns have statistics');
    } finally {
      await db.close();
    }
  });
});

describe('connection errors', () => {
  it('tells an unreachable database from bad SQL', () => {
    const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });
    assert.ok(isConnectionError(withCode('ECONNREFUSED')));
    assert.ok(
      isConnectionError(withCode('57P01', 'terminating connection due to administrator command')),
    );
    assert.ok(isConnectionError(withCode('08006')));
    assert.ok(isConnectionError(new Error('Connection terminated unexpectedly')));
    assert.ok(isConnectionError(new AggregateError([withCode('ECONNREFUSED')])));
    assert.ok(!isConnectionError(withCode('23505', 'duplicate key')));
    assert.ok(!isConnectionError(withCode('42601', 'syntax error')));
    assert.ok(!isConnectionError('ECONNREFUSED'));
  });
});

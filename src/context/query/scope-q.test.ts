import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createTestDatabase,
  testBackends,
  type TestDatabase,
} from '../../platform/testing/database.js';
import { parameterList } from './compile-context.js';
import { compileScopeQ, parseScopeQ } from './scope-q.js';
import { ensureContextTables, expand, insertEntity, NS, selectIds } from './query.testing.js';

describe('parseScopeQ', () => {
  it('parses scopes, wildcards and logical operators', () => {
    assert.deepEqual(parseScopeQ('/Madrid/Gardens'), {
      kind: 'scope',
      levels: ['Madrid', 'Gardens'],
      descendants: false,
    });
    assert.deepEqual(parseScopeQ('/Madrid/#'), {
      kind: 'scope',
      levels: ['Madrid'],
      descendants: true,
    });
    assert.deepEqual(parseScopeQ('/#'), { kind: 'scope', levels: [], descendants: true });
    const q = parseScopeQ('/a,/b;/c|(/d/+)');
    assert.equal(q.kind, 'or');
    assert.equal((q as { terms: unknown[] }).terms.length, 3);
  });

  it('rejects malformed scope queries', () => {
    for (const bad of [
      '',
      'Madrid',
      '/Madrid/',
      '/Ma drid',
      '/a/#/b',
      '/a;',
      '(/a',
      '/a)',
      '/a//b',
      '/a/b#',
    ]) {
      assert.throws(() => parseScopeQ(bad), { code: 'bad_request' }, bad);
    }
  });
});

for (const backend of testBackends()) {
  describe(`compileScopeQ on ${backend}`, () => {
    let tdb: TestDatabase;
    before(async () => {
      tdb = await createTestDatabase(backend);
      await ensureContextTables(tdb.db);
      const scoped: [string, string[] | null][] = [
        ['urn:s1', ['/Madrid']],
        ['urn:s2', ['/Madrid/Gardens/ParkNorte']],
        ['urn:s3', ['/Madrid/Gardens', '/CompanyA/OrgB']],
        ['urn:s4', ['/Valencia/Gardens']],
        ['urn:s5', null],
        ['urn:s6', ["/O'Brien;x/(y)", '/a.b']],
      ];
      for (const [id, scopes] of scoped)
        await insertEntity(tdb.db, { id, types: [`${NS}T`], scopes });
    });
    after(() => tdb.close());

    const cases: [string, string[]][] = [
      ['/Madrid', ['urn:s1']],
      ['/Madrid/#', ['urn:s1', 'urn:s2', 'urn:s3']],
      ['/Madrid/+', ['urn:s3']],
      ['/+/Gardens', ['urn:s3', 'urn:s4']],
      ['/+/Gardens/#', ['urn:s2', 'urn:s3', 'urn:s4']],
      ['/#', ['urn:s1', 'urn:s2', 'urn:s3', 'urn:s4', 'urn:s6']],
      ['/Madrid/Gardens;/CompanyA/#', ['urn:s3']],
      ['/Madrid,/Valencia/Gardens', ['urn:s1', 'urn:s4']],
      ['/Madrid|/Valencia/#', ['urn:s1', 'urn:s4']],
      ['(/Madrid/#|/Valencia/#);/+/Gardens', ['urn:s3', 'urn:s4']],
      ['/a.b', ['urn:s6']],
      ['/axb', []],
      ['/Mad', []],
    ];
    for (const [scopeQ, expected] of cases) {
      it(`scopeQ=${scopeQ}`, async () => {
        assert.deepEqual(
          await selectIds(tdb.db, (ctx) => compileScopeQ(parseScopeQ(scopeQ), ctx)),
          expected,
        );
      });
    }

    it('binds scope values as parameters', async () => {
      // Not expressible in scopeQ syntax, so build the term directly.
      const term = { kind: 'scope' as const, levels: ["O'Brien;x", '(y)'], descendants: false };
      const ctx = parameterList('e', expand);
      assert.ok(!compileScopeQ(term, ctx).includes('Brien'));
      assert.deepEqual(await selectIds(tdb.db, (c) => compileScopeQ(term, c)), ['urn:s6']);
      assert.deepEqual(
        await selectIds(tdb.db, (c) => compileScopeQ({ ...term, descendants: true }, c)),
        ['urn:s6'],
      );
    });
  });
}

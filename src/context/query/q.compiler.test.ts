import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../platform/db/database.js';
import {
  createTestDatabase,
  testBackends,
  type TestDatabase,
} from '../../platform/testing/database.js';
import { parameterList } from './compile-context.js';
import { compileQ } from './q.compiler.js';
import { parseQ, type QExpr } from './q.parser.js';
import { ensureContextTables, expand, insertEntity, NS, selectIds } from './query.testing.js';

const prop = (value: unknown, extra: Record<string, unknown> = {}) => ({
  type: 'Property',
  value,
  ...extra,
});
const WEIRD_ATTR = `${NS}x'); DROP TABLE ngsi_entities; --`;
const WEIRD_VALUE = 'O\'Brien"; DROP TABLE ngsi_entities; --';

async function seed(db: Database) {
  await insertEntity(db, {
    id: 'urn:e1',
    types: [`${NS}Vehicle`],
    attrs: {
      [`${NS}speed`]: [prop(80)],
      [`${NS}brandName`]: [prop('Mercedes')],
      [`${NS}isParked`]: [{ type: 'Relationship', object: 'urn:p1' }],
      [`${NS}temperature`]: [
        prop(21.5, {
          observedAt: '2024-01-01T10:00:00Z',
          unitCode: 'CEL',
          [`${NS}accuracy`]: [prop(0.1)],
        }),
      ],
      [`${NS}address`]: [prop({ addressLocality: 'Berlin', postal: { code: '10115' } })],
      [`${NS}name`]: [{ type: 'LanguageProperty', languageMap: { en: 'Car', de: 'Auto' } }],
      [`${NS}category`]: [{ type: 'VocabProperty', vocab: `${NS}Sport` }],
      [`${NS}tags`]: [{ type: 'ListProperty', valueList: ['a', 'b'] }],
      [`${NS}open`]: [prop(true)],
      [`${NS}day`]: [prop('2024-01-15')],
      [`${NS}opens`]: [prop('08:30:00')],
      [`${NS}at`]: [prop({ '@type': 'DateTime', '@value': '2024-01-10T12:00:00Z' })],
      [`${NS}config`]: [{ type: 'JsonProperty', json: { mode: 'eco', levels: [1, 2] } }],
      [`${NS}counts`]: [{ type: 'ListProperty', valueList: [3, 9] }],
    },
  });
  await insertEntity(db, {
    id: 'urn:e2',
    types: [`${NS}Vehicle`],
    attrs: {
      [`${NS}speed`]: [prop(30), prop(120, { datasetId: 'urn:ds:gps' })],
      [`${NS}brandName`]: [prop('Audi')],
      [`${NS}isParked`]: [{ type: 'Relationship', object: ['urn:p2', 'urn:p3'] }],
      [`${NS}day`]: [prop('not a date')],
      [`${NS}at`]: [prop('2023-12-31T23:00:00-02:00')],
      [`${NS}levels`]: [prop([1, 100])],
    },
    createdAt: '2025-06-01T00:00:00Z',
  });
  await insertEntity(db, {
    id: 'urn:e3',
    types: [`${NS}Building`, `${NS}Vehicle`],
    attrs: {
      [`${NS}speed`]: [prop('80')],
      [`${NS}weight`]: [prop({ '@value': 12.5, '@type': 'xsd:double' })],
      // Not real dates or times: they never match a temporal comparison, and never fail.
      [`${NS}day`]: [prop('2023-02-29')],
      [`${NS}at`]: [prop('2024-13-01T00:00:00Z')],
      [`${NS}opens`]: [prop('24:30:00')],
      [`${NS}name`]: [{ type: 'LanguageProperty', languageMap: { fr: ['Maison', 'Logis'] } }],
      [`${NS}members`]: [
        { type: 'ListRelationship', objectList: [{ object: 'urn:m1' }, { object: 'urn:m2' }] },
      ],
    },
  });
  await insertEntity(db, {
    id: 'urn:e4',
    types: [`${NS}Thing`],
    attrs: {
      [WEIRD_ATTR]: [prop(WEIRD_VALUE)],
      [`${NS}brandName`]: [prop(WEIRD_VALUE)],
    },
  });
  // Another tenant: never visible from the default tenant.
  await insertEntity(db, {
    tenant: 'other',
    id: 'urn:e1',
    types: [`${NS}Vehicle`],
    attrs: { [`${NS}speed`]: [prop(80)] },
  });
}

for (const backend of testBackends()) {
  describe(`compileQ on ${backend}`, () => {
    let tdb: TestDatabase;
    const ids = (q: string | QExpr) =>
      selectIds(tdb.db, (ctx) => compileQ(typeof q === 'string' ? parseQ(q) : q, ctx));

    before(async () => {
      tdb = await createTestDatabase(backend);
      await ensureContextTables(tdb.db);
      await seed(tdb.db);
    });
    after(() => tdb.close());

    const cases: [string, string[]][] = [
      ['speed==80', ['urn:e1']],
      ['speed=="80"', ['urn:e3']],
      ['speed>100', ['urn:e2']],
      ['speed>=80', ['urn:e1', 'urn:e2']],
      ['speed<31', ['urn:e2']],
      ['speed<=80', ['urn:e1', 'urn:e2']],
      ['speed==25..35', ['urn:e2']],
      ['speed!=0..200', ['urn:e3']],
      ['speed!=80', ['urn:e2', 'urn:e3']],
      ['speed==30,80', ['urn:e1', 'urn:e2']],
      ['speed!=30,80', ['urn:e2', 'urn:e3']],
      ['speed', ['urn:e1', 'urn:e2', 'urn:e3']],
      ['!speed', ['urn:e4']],
      ['brandName=="Mercedes"', ['urn:e1']],
      ['brandName~=(?i)^merc', ['urn:e1']],
      ['brandName~=^merc', []],
      ['brandName!~=^M', ['urn:e2', 'urn:e4']],
      ['brandName>"B"', ['urn:e1', 'urn:e4']],
      ['isParked==urn:p1', ['urn:e1']],
      ['isParked==urn:p3', ['urn:e2']],
      ['isParked==urn:p9,urn:p2', ['urn:e2']],
      ['members==urn:m2', ['urn:e3']],
      ['temperature.observedAt>=2024-01-01T09:00:00Z', ['urn:e1']],
      ['temperature.observedAt<2024-01-01T09:00:00Z', []],
      ['temperature.observedAt>2024-01-01T10:30:00+01:00', ['urn:e1']],
      ['temperature.observedAt==2024-01-01T09:00:00Z..2024-01-01T11:00:00Z', ['urn:e1']],
      ['temperature.unitCode=="CEL"', ['urn:e1']],
      ['temperature.accuracy<0.5', ['urn:e1']],
      ['temperature.accuracy>0.5', []],
      ['temperature.accuracy', ['urn:e1']],
      ['temperature.missing', []],
      ['address[addressLocality]=="Berlin"', ['urn:e1']],
      ['address[postal.code]=="10115"', ['urn:e1']],
      ['address[postal][code]=="10115"', ['urn:e1']],
      ['address[postal.code]==10115', []],
      ['address[nowhere]', []],
      ['address[postal]', ['urn:e1']],
      ['config[mode]=="eco"', ['urn:e1']],
      ['config[levels]==2', ['urn:e1']],
      ['name=="Auto"', ['urn:e1']],
      ['name=="Logis"', ['urn:e3']],
      ['name[de]=="Auto"', ['urn:e1']],
      ['name[en]=="Auto"', []],
      ['category==Sport', ['urn:e1']],
      ['category=="https://example.org/Sport"', ['urn:e1']],
      ['tags=="b"', ['urn:e1']],
      ['open==true', ['urn:e1']],
      ['open==false', []],
      ['day>=2024-01-10', ['urn:e1']],
      ['day==2024-01-15', ['urn:e1']],
      ['opens<09:00:00', ['urn:e1']],
      ['opens>09:00:00Z', []],
      ['at>2024-01-09T00:00:00Z', ['urn:e1']],
      ['at<2024-01-01T02:00:00Z', ['urn:e2']],
      ['at>"2024"', ['urn:e1', 'urn:e3']],
      ['at=="2024-01-10T12:00:00Z"', ['urn:e1']],
      ['day>=2000-01-01', ['urn:e1']],
      ['day>"2000"', ['urn:e1', 'urn:e2', 'urn:e3']],
      ['at<2030-01-01T00:00:00Z', ['urn:e1', 'urn:e2']],
      ['opens>=00:00', ['urn:e1']],
      ['counts>8', ['urn:e1']],
      ['counts==3..4', ['urn:e1']],
      ['counts==4..8', []],
      ['levels==50..60', []],
      ['levels>99', ['urn:e2']],
      ['levels<=1', ['urn:e2']],
      ['weight>=12.5', ['urn:e3']],
      ['weight==12.5', ['urn:e3']],
      ['weight<1.25e1', []],
      ['speed==080', ['urn:e1']],
      ['speed==.5,080.0', ['urn:e1']],
      ['speed>=0079.5', ['urn:e1', 'urn:e2']],
      ['speed==-.5..080', ['urn:e1', 'urn:e2']],
      ['at==2024-01-10T13:00:00+01:00', ['urn:e1']],
      ['name=="Car","Logis"', ['urn:e1', 'urn:e3']],
      ['category=="Sport",Sport', ['urn:e1']],
      ['speed.datasetId==urn:ds:gps', ['urn:e2']],
      ['speed.datasetId==urn:ds:gps;speed>100', ['urn:e2']],
      ['type==Building', ['urn:e3']],
      ['type==Vehicle;speed=="80"', ['urn:e3']],
      ['id==urn:e2', ['urn:e2']],
      ['id~=e[34]', ['urn:e3', 'urn:e4']],
      ['createdAt>2025-01-01T00:00:00Z', ['urn:e2']],
      ['!brandName', ['urn:e3']],
      ['(speed>100|brandName=="Mercedes");type==Vehicle', ['urn:e1', 'urn:e2']],
      ['brandName=="Audi"|brandName=="Mercedes";speed>100', ['urn:e2']],
      ['(brandName=="Audi"|brandName=="Mercedes");speed>100', ['urn:e2']],
      ['brandName=="Mercedes";speed>100|brandName=="Audi"', ['urn:e2']],
      ["brandName==\"x' OR '1'='1\"", []],
      ['brandName=="x\\" OR 1=1 --"', []],
    ];
    for (const [q, expected] of cases) {
      it(`q=${q}`, async () => {
        assert.deepEqual(await ids(q), expected);
      });
    }

    it('matches values containing quotes and semicolons exactly, without splicing them', async () => {
      const q = `brandName=="${WEIRD_VALUE.replaceAll('"', '\\"')}"`;
      assert.deepEqual(await ids(q), ['urn:e4']);
      const ctx = parameterList('e', expand);
      const sql = compileQ(parseQ(q), ctx);
      assert.ok(!sql.includes('Brien') && !sql.includes('DROP'), sql);
      assert.ok(ctx.params.includes(WEIRD_VALUE));
    });

    it('binds attribute IRIs as parameters, even hostile ones', async () => {
      const expr: QExpr = {
        kind: 'compare',
        path: { attr: WEIRD_ATTR, subPath: [], compound: [] },
        op: '==',
        value: { type: 'string', value: WEIRD_VALUE },
      };
      assert.deepEqual(await ids(expr), ['urn:e4']);
      const ctx = parameterList('e', expand);
      const sql = compileQ(
        {
          kind: 'exists',
          path: { attr: WEIRD_ATTR, subPath: ["a'b"], compound: ['c;d'] },
          negated: false,
        },
        ctx,
      );
      assert.ok(!sql.includes('DROP') && !sql.includes("a'b") && !sql.includes('c;d'), sql);
      assert.deepEqual(
        await selectIds(tdb.db, (c) =>
          compileQ(
            {
              kind: 'exists',
              path: { attr: WEIRD_ATTR, subPath: ["a'b"], compound: [] },
              negated: false,
            },
            c,
          ),
        ),
        [],
      );
      const { rows } = await tdb.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM ngsi_entities',
      );
      assert.equal(rows[0]!.n, 5);
    });

    it('rejects a [..] path after an instance member', () => {
      assert.throws(
        () => compileQ(parseQ('temperature.observedAt[x]==1'), parameterList('e', expand)),
        {
          code: 'bad_request',
        },
      );
    });
  });
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Actor } from '../platform/http/access.js';
import { testBackends } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { INSTANCE_LIMIT } from './temporal.service.js';

const ERR = 'https://uri.etsi.org/ngsi-ld/errors/';
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

const actors: Record<string, Actor> = {
  a: { kind: 'client', id: 'cli_a', organisationId: 'org_a', roles: ['publisher'] },
  b: { kind: 'client', id: 'cli_b', organisationId: 'org_b', roles: ['publisher'] },
  consumer: { kind: 'client', id: 'cli_c', organisationId: 'org_c', roles: ['consumer'] },
  admin: { kind: 'client', id: 'cli_admin', organisationId: null, roles: ['admin'] },
};

const iso = (ms: number) => new Date(ms).toISOString();
const T0 = Date.parse('2026-03-01T00:00:00Z');
const MIN = 60_000;
const HOUR = 3_600_000;

/** Deterministic readings: a value every 10 minutes for 6 hours, some repeated. */
const readings = Array.from({ length: 36 }, (_, i) => ({
  at: T0 + i * 10 * MIN,
  value: Math.round((15 + 5 * Math.sin(i / 3) + (i % 4)) * 10) / 10,
}));

// --- expected aggregates computed here, independently of the SQL -----------------------
function expected(values: number[]) {
  const n = values.length;
  const sum = values.reduce((s, v) => s + v, 0);
  const avg = sum / n;
  const sumsq = values.reduce((s, v) => s + v * v, 0);
  const variance = n > 1 ? values.reduce((s, v) => s + (v - avg) ** 2, 0) / (n - 1) : NaN;
  return {
    totalCount: n,
    distinctCount: new Set(values).size,
    sum,
    avg,
    min: Math.min(...values),
    max: Math.max(...values),
    stddev: n > 1 ? Math.sqrt(variance) : null,
    sumsq,
  };
}

const close = (actual: unknown, want: number | null, what: string) => {
  if (want === null) return assert.equal(actual, null, what);
  assert.equal(typeof actual, 'number', what);
  assert.ok(
    Math.abs((actual as number) - want) < 1e-9 * Math.max(1, Math.abs(want)),
    `${what}: ${actual} != ${want}`,
  );
};

for (const backend of testBackends()) {
  describe(`NGSI-LD temporal API (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, mqtt: 'off' });
      node.app.authenticators.push(async (request) => {
        const who = request.headers['x-test-actor'];
        return typeof who === 'string' ? (actors[who] ?? null) : null;
      });
    });
    after(() => node.close());

    const as =
      (who: string | null) =>
      (method: string, url: string, payload?: unknown, headers: Record<string, string> = {}) =>
        node.app.inject({
          method: method as 'GET',
          url: `/ngsi-ld/v1${url}`,
          headers: {
            ...(who ? { 'x-test-actor': who } : {}),
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
        });
    const admin = as('admin');
    const a = as('a');

    const sensor = {
      id: 'urn:ngsi-ld:AirQualityObserved:s1',
      type: 'AirQualityObserved',
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [4.9, 52.37] } },
      no2: readings.map((r) => ({
        type: 'Property',
        value: r.value,
        observedAt: iso(r.at),
        unitCode: 'GQ',
      })),
      status: [
        { type: 'Property', value: 'ok', observedAt: iso(T0) },
        { type: 'Property', value: 'degraded', observedAt: iso(T0 + 2 * HOUR) },
        { type: 'Property', value: 'ok', observedAt: iso(T0 + 4 * HOUR) },
      ],
      station: { type: 'Relationship', object: 'urn:ngsi-ld:Station:1', observedAt: iso(T0) },
    };

    it('creates a temporal entity (201), appends on a second POST (204) and keeps every instance', async () => {
      const created = await a('POST', '/temporal/entities', sensor);
      assert.equal(created.statusCode, 201, created.body);
      assert.equal(created.headers.location, `/ngsi-ld/v1/temporal/entities/${sensor.id}`);
      // The current state is the latest instance of each attribute.
      const current = (await a('GET', `/entities/${sensor.id}`)).json();
      assert.equal(current.no2.value, readings.at(-1)!.value);
      assert.equal(current.status.value, 'ok');
      assert.equal(current.status.observedAt, iso(T0 + 4 * HOUR));

      const again = await a('POST', '/temporal/entities', {
        id: sensor.id,
        type: 'AirQualityObserved',
        pm10: { type: 'Property', value: 12, observedAt: iso(T0) },
      });
      assert.equal(again.statusCode, 204, again.body);

      const got = await a('GET', `/temporal/entities/${sensor.id}?attrs=no2,pm10`);
      assert.equal(got.statusCode, 200, got.body);
      const body = got.json();
      assert.equal(body.id, sensor.id);
      assert.equal(body.type, 'AirQualityObserved');
      assert.equal(body.no2.length, readings.length);
      assert.deepEqual(
        body.no2.map((i: { value: number; observedAt: string }) => [i.value, i.observedAt]),
        readings.map((r) => [r.value, iso(r.at)]),
      );
      assert.ok(
        body.no2.every(
          (i: { instanceId: string; unitCode: string }) =>
            i.instanceId.startsWith('urn:ngsi-ld:attribute:instance:') && i.unitCode === 'GQ',
        ),
      );
      assert.equal(
        new Set(body.no2.map((i: { instanceId: string }) => i.instanceId)).size,
        readings.length,
      );
      // pm10 is history only: appended, not in the entity's current state.
      assert.deepEqual(
        body.pm10,
        undefined,
        'attrs filter names only current attributes for non-admins',
      );
      const asAdmin = (await admin('GET', `/temporal/entities/${sensor.id}?attrs=pm10`)).json();
      assert.equal(asAdmin.pm10[0].value, 12);
    });

    it('filters by timerel before, after and between on observedAt, and lastN', async () => {
      const values = async (query: string) => {
        const r = await a(
          'GET',
          `/temporal/entities/${sensor.id}?attrs=no2&options=temporalValues&${query}`,
        );
        assert.equal(r.statusCode, 200, r.body);
        return (r.json().no2?.values ?? []) as [number, string][];
      };
      const cut = T0 + 2 * HOUR;
      const before = await values(`timerel=before&timeAt=${iso(cut)}`);
      assert.deepEqual(
        before,
        readings.filter((r) => r.at < cut).map((r) => [r.value, iso(r.at)]),
      );
      const afterV = await values(`timerel=after&timeAt=${iso(cut)}`);
      assert.deepEqual(
        afterV,
        readings.filter((r) => r.at >= cut).map((r) => [r.value, iso(r.at)]),
      );
      const end = T0 + 3 * HOUR;
      const between = await values(`timerel=between&timeAt=${iso(cut)}&endTimeAt=${iso(end)}`);
      assert.deepEqual(
        between,
        readings.filter((r) => r.at >= cut && r.at < end).map((r) => [r.value, iso(r.at)]),
      );
      const last = await values('lastN=3');
      assert.deepEqual(
        last,
        readings.slice(-3).map((r) => [r.value, iso(r.at)]),
      );
      const lastBefore = await values(`lastN=2&timerel=before&timeAt=${iso(cut)}`);
      assert.deepEqual(
        lastBefore,
        readings
          .filter((r) => r.at < cut)
          .slice(-2)
          .map((r) => [r.value, iso(r.at)]),
      );
    });

    it('selects instances by createdAt/modifiedAt with timeproperty', async () => {
      const recorded = (
        await a('GET', `/temporal/entities/${sensor.id}?attrs=no2&options=sysAttrs`)
      ).json();
      const modifiedAt = Date.parse(recorded.no2[0].modifiedAt);
      assert.ok(Number.isFinite(modifiedAt) && modifiedAt > T0);
      const none = await a(
        'GET',
        `/temporal/entities/${sensor.id}?attrs=no2&timeproperty=modifiedAt&timerel=before&timeAt=${iso(modifiedAt)}`,
      );
      assert.equal(none.json().no2, undefined);
      const all = await a(
        'GET',
        `/temporal/entities/${sensor.id}?attrs=no2&timeproperty=modifiedAt&timerel=after&timeAt=${iso(modifiedAt)}&options=temporalValues`,
      );
      const vals = all.json().no2.values as [number, string][];
      assert.equal(vals.length, readings.length);
      assert.ok(vals.every(([, t]) => Date.parse(t) >= modifiedAt));
      const created = await a(
        'GET',
        `/temporal/entities/${sensor.id}?attrs=no2&timeproperty=createdAt&timerel=after&timeAt=${iso(T0)}`,
      );
      assert.equal(created.json().no2.length, readings.length);
    });

    it('renders temporalValues for every attribute kind it holds', async () => {
      const r = await a(
        'GET',
        `/temporal/entities/${sensor.id}?format=temporalValues&attrs=status,station`,
      );
      const body = r.json();
      assert.deepEqual(body.status, {
        type: 'Property',
        values: [
          ['ok', iso(T0)],
          ['degraded', iso(T0 + 2 * HOUR)],
          ['ok', iso(T0 + 4 * HOUR)],
        ],
      });
      assert.deepEqual(body.station, {
        type: 'Relationship',
        objects: [['urn:ngsi-ld:Station:1', iso(T0)]],
      });
    });

    it('computes every aggregation method per period, matching values computed here', async () => {
      const methods = [
        'totalCount',
        'distinctCount',
        'sum',
        'avg',
        'min',
        'max',
        'stddev',
        'sumsq',
      ];
      const r = await a(
        'GET',
        `/temporal/entities?type=AirQualityObserved&attrs=no2&options=aggregatedValues&aggrMethods=${methods.join(',')}&aggrPeriodDuration=PT1H&timerel=between&timeAt=${iso(T0)}&endTimeAt=${iso(T0 + 6 * HOUR)}`,
      );
      assert.equal(r.statusCode, 200, r.body);
      const no2 = r.json()[0].no2;
      assert.equal(no2.type, 'Property');
      for (const m of methods) {
        assert.equal(no2[m].length, 6, m);
        for (let h = 0; h < 6; h++) {
          const start = T0 + h * HOUR;
          const want = expected(
            readings.filter((x) => x.at >= start && x.at < start + HOUR).map((x) => x.value),
          );
          const [value, from, to] = no2[m][h];
          assert.equal(from, iso(start));
          assert.equal(to, iso(start + HOUR));
          close(value, want[m as keyof typeof want] as number | null, `${m} hour ${h}`);
        }
      }
      // The whole range as one period (no aggrPeriodDuration), and distinctCount on strings.
      const whole = await a(
        'GET',
        `/temporal/entities/${sensor.id}?attrs=no2,status&options=aggregatedValues&aggrMethods=avg,max,distinctCount&timerel=after&timeAt=${iso(T0)}`,
      );
      const body = whole.json();
      const all = expected(readings.map((x) => x.value));
      close(body.no2.avg[0][0], all.avg, 'avg whole');
      close(body.no2.max[0][0], all.max, 'max whole');
      assert.equal(body.no2.avg[0][1], iso(T0));
      assert.equal(body.status.distinctCount[0][0], 2);
      assert.equal(body.status.avg[0][0], null, 'no average of strings');
    });

    it('aggregates over calendar periods (P1D, P1M) from timeAt', async () => {
      const id = 'urn:ngsi-ld:AirQualityObserved:months';
      const days = [0, 1, 31, 32, 59, 60].map((d) => T0 - 59 * 86_400_000 + d * 86_400_000);
      const res = await a('POST', '/temporal/entities', {
        id,
        type: 'AirQualityObserved',
        no2: days.map((t, i) => ({ type: 'Property', value: i + 1, observedAt: iso(t) })),
      });
      assert.equal(res.statusCode, 201, res.body);
      const origin = '2026-01-01T00:00:00.000Z';
      const months = (
        await a(
          'GET',
          `/temporal/entities/${id}?options=aggregatedValues&aggrMethods=sum,totalCount&aggrPeriodDuration=P1M&timerel=after&timeAt=${origin}`,
        )
      ).json();
      // Jan 1, Jan 2 | Feb 1, Feb 2 | Mar 1 (day 59), Mar 2 (day 60) in 2026.
      assert.deepEqual(months.no2.sum, [
        [3, '2026-01-01T00:00:00.000Z', '2026-02-01T00:00:00.000Z'],
        [7, '2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z'],
        [11, '2026-03-01T00:00:00.000Z', '2026-04-01T00:00:00.000Z'],
      ]);
      const daily = (
        await a(
          'GET',
          `/temporal/entities/${id}?options=aggregatedValues&aggrMethods=totalCount&aggrPeriodDuration=P1D&timerel=between&timeAt=${origin}&endTimeAt=2026-01-03T00:00:00Z`,
        )
      ).json();
      assert.deepEqual(daily.no2.totalCount, [
        [1, '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z'],
        [1, '2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z'],
      ]);
    });

    it('aggregates values near the double range without an error (sums beyond it are null)', async () => {
      // A type of its own, so the counts of the other tests do not change.
      const id = 'urn:ngsi-ld:HugeReading:1';
      const res = await a('POST', '/temporal/entities', {
        id,
        type: 'HugeReading',
        no2: [0, 1].map((i) => ({
          type: 'Property',
          value: 1e308,
          observedAt: iso(T0 + i * HOUR),
        })),
      });
      assert.equal(res.statusCode, 201, res.body);
      const out = await a(
        'GET',
        `/temporal/entities/${id}?options=aggregatedValues&aggrMethods=sum,avg,max&timerel=after&timeAt=${iso(T0)}`,
      );
      assert.equal(out.statusCode, 200, out.body);
      const body = out.json();
      assert.equal(body.no2.sum[0][0], null);
      assert.equal(body.no2.avg[0][0], 1e308);
      assert.equal(body.no2.max[0][0], 1e308);
    });

    it('pages long series: 206 with Content-Range and at most the per-attribute limit', async () => {
      const id = 'urn:ngsi-ld:AirQualityObserved:long';
      const n = INSTANCE_LIMIT + 50;
      const res = await a('POST', '/temporal/entities', {
        id,
        type: 'AirQualityObserved',
        no2: Array.from({ length: n }, (_, i) => ({
          type: 'Property',
          value: i,
          observedAt: iso(T0 + i * MIN),
        })),
      });
      assert.equal(res.statusCode, 201, res.body);
      const first = await a('GET', `/temporal/entities/${id}?options=temporalValues`);
      assert.equal(first.statusCode, 206);
      const values = first.json().no2.values as [number, string][];
      assert.equal(values.length, INSTANCE_LIMIT);
      assert.equal(
        first.headers['content-range'],
        `date-time ${iso(T0)}-${iso(T0 + (INSTANCE_LIMIT - 1) * MIN)}/*`,
      );
      // The next page starts after the last instance received.
      const next = await a(
        'GET',
        `/temporal/entities/${id}?options=temporalValues&timerel=after&timeAt=${iso(T0 + INSTANCE_LIMIT * MIN)}`,
      );
      assert.equal(next.statusCode, 200);
      assert.equal(next.json().no2.values.length, 50);
      const lastN = await a('GET', `/temporal/entities/${id}?options=temporalValues&lastN=${n}`);
      assert.equal(lastN.statusCode, 206);
      assert.equal(
        lastN.headers['content-range'],
        `date-time ${iso(T0 + (n - 1) * MIN)}-${iso(T0 + 50 * MIN)}/${n}`,
      );
      assert.equal(lastN.json().no2.values[0][0], 50);
      const small = await a('GET', `/temporal/entities/${id}?options=temporalValues&lastN=5`);
      assert.equal(small.statusCode, 200);
      assert.equal(small.headers['content-range'], undefined);
    });

    it('keeps the history of ordinary entity updates', async () => {
      const id = 'urn:ngsi-ld:Streetlight:1';
      assert.equal(
        (
          await a('POST', '/entities', {
            id,
            type: 'Streetlight',
            powerState: { type: 'Property', value: 'on', observedAt: '2026-03-01T18:00:00Z' },
          })
        ).statusCode,
        201,
      );
      assert.equal(
        (
          await a('PATCH', `/entities/${id}/attrs`, {
            powerState: { type: 'Property', value: 'off', observedAt: '2026-03-02T06:00:00Z' },
          })
        ).statusCode,
        204,
      );
      const body = (await a('GET', `/temporal/entities/${id}?options=temporalValues`)).json();
      assert.deepEqual(body.powerState.values, [
        ['on', '2026-03-01T18:00:00.000Z'],
        ['off', '2026-03-02T06:00:00.000Z'],
      ]);
    });

    it('applies the entity filters: type, id, idPattern, q, geo, attrs, pick and omit', async () => {
      const ids = async (query: string) => {
        const r = await a('GET', `/temporal/entities?${query}&lastN=1`);
        assert.equal(r.statusCode, 200, r.body);
        return (r.json() as { id: string }[]).map((e) => e.id).sort();
      };
      assert.deepEqual(await ids('type=Streetlight'), ['urn:ngsi-ld:Streetlight:1']);
      assert.deepEqual(await ids(`id=${sensor.id}`), [sensor.id]);
      assert.deepEqual(await ids('idPattern=.*:long$'), ['urn:ngsi-ld:AirQualityObserved:long']);
      assert.deepEqual(await ids('type=AirQualityObserved&q=status=="ok"'), [sensor.id]);
      assert.deepEqual(
        await ids(
          'type=AirQualityObserved&georel=near;maxDistance==1000&geometry=Point&coordinates=[4.9,52.37]',
        ),
        [sensor.id],
      );
      assert.deepEqual(await ids('attrs=powerState'), ['urn:ngsi-ld:Streetlight:1']);
      const picked = (
        await a('GET', `/temporal/entities/${sensor.id}?pick=id,status&lastN=1`)
      ).json();
      assert.deepEqual(Object.keys(picked).sort(), ['id', 'status']);
      const omitted = (
        await a('GET', `/temporal/entities/${sensor.id}?omit=no2,location&lastN=1`)
      ).json();
      assert.equal(omitted.no2, undefined);
      assert.equal(omitted.location, undefined);
      assert.ok(omitted.status);
      const counted = await a(
        'GET',
        '/temporal/entities?type=AirQualityObserved&count=true&limit=1&lastN=1',
      );
      assert.equal(counted.headers['ngsild-results-count'], '3');
      assert.equal(counted.json().length, 1);
    });

    it('answers POST /temporal/entityOperations/query with the same results', async () => {
      const r = await a('POST', '/temporal/entityOperations/query?options=temporalValues', {
        type: 'Query',
        entities: [{ type: 'AirQualityObserved', idPattern: '.*:s1$' }],
        attrs: ['no2'],
        temporalQ: { timerel: 'before', timeAt: iso(T0 + 30 * MIN), timeproperty: 'observedAt' },
      });
      assert.equal(r.statusCode, 200, r.body);
      const body = r.json();
      assert.equal(body.length, 1);
      assert.deepEqual(
        body[0].no2.values,
        readings.slice(0, 3).map((x) => [x.value, iso(x.at)]),
      );
      const agg = await a(
        'POST',
        '/temporal/entityOperations/query?options=aggregatedValues&aggrMethods=max',
        {
          type: 'Query',
          entities: [{ id: sensor.id }],
          attrs: ['no2'],
          temporalQ: { lastN: 5 },
        },
      );
      close(agg.json()[0].no2.max[0][0], expected(readings.map((x) => x.value)).max, 'max');
      const bad = await a('POST', '/temporal/entityOperations/query', {
        type: 'Query',
        entities: [{ id: sensor.id }],
        temporalQ: { timerel: 'during' },
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().type, `${ERR}BadRequestData`);
    });

    it('adds instances, modifies and deletes single instances, deletes attributes', async () => {
      const id = 'urn:ngsi-ld:AirQualityObserved:edit';
      assert.equal(
        (
          await a('POST', '/temporal/entities', {
            id,
            type: 'AirQualityObserved',
            no2: [{ type: 'Property', value: 1, observedAt: iso(T0) }],
          })
        ).statusCode,
        201,
      );
      const added = await a('POST', `/temporal/entities/${id}/attrs`, {
        no2: [
          { type: 'Property', value: 2, observedAt: iso(T0 + MIN) },
          { type: 'Property', value: 3, observedAt: iso(T0 + 2 * MIN) },
        ],
        o3: {
          type: 'Property',
          value: 40,
          observedAt: iso(T0),
          datasetId: 'urn:ngsi-ld:Dataset:a',
        },
      });
      assert.equal(added.statusCode, 204, added.body);
      const list = async () => (await admin('GET', `/temporal/entities/${id}?attrs=no2,o3`)).json();
      let body = await list();
      assert.deepEqual(
        body.no2.map((i: { value: number }) => i.value),
        [1, 2, 3],
      );
      assert.equal(body.o3[0].datasetId, 'urn:ngsi-ld:Dataset:a');
      const second = body.no2[1].instanceId as string;

      const patched = await a('PATCH', `/temporal/entities/${id}/attrs/no2/${second}`, {
        no2: { type: 'Property', value: 20, observedAt: iso(T0 + MIN) },
      });
      assert.equal(patched.statusCode, 204, patched.body);
      body = await list();
      assert.deepEqual(
        body.no2.map((i: { value: number }) => i.value),
        [1, 20, 3],
      );
      assert.equal(body.no2[1].instanceId, second);

      const removed = await a('DELETE', `/temporal/entities/${id}/attrs/no2/${second}`);
      assert.equal(removed.statusCode, 204);
      assert.equal(
        (await a('DELETE', `/temporal/entities/${id}/attrs/no2/${second}`)).statusCode,
        404,
      );
      assert.equal(
        (
          await a('PATCH', `/temporal/entities/${id}/attrs/no2/${second}`, {
            type: 'Property',
            value: 1,
          })
        ).statusCode,
        404,
      );
      body = await list();
      assert.deepEqual(
        body.no2.map((i: { value: number }) => i.value),
        [1, 3],
      );

      // The default dataset only: o3 lives in a named dataset, so 404 without deleteAll.
      assert.equal((await a('DELETE', `/temporal/entities/${id}/attrs/o3`)).statusCode, 404);
      assert.equal(
        (await a('DELETE', `/temporal/entities/${id}/attrs/o3?datasetId=urn:ngsi-ld:Dataset:a`))
          .statusCode,
        204,
      );
      assert.equal(
        (await a('DELETE', `/temporal/entities/${id}/attrs/no2?deleteAll=true`)).statusCode,
        204,
      );
      body = await list();
      assert.equal(body.no2, undefined);
      assert.equal(body.o3, undefined);

      assert.equal((await a('DELETE', `/temporal/entities/${id}`)).statusCode, 204);
      const gone = await a('GET', `/temporal/entities/${id}`);
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().type, `${ERR}ResourceNotFound`);
      assert.equal((await a('GET', `/entities/${id}`)).statusCode, 404);
      const rows = await node.platform.db.query<{ n: number }>(
        'SELECT count(*)::int8 AS n FROM ngsi_attribute_history WHERE entity_id = $1',
        [id],
      );
      assert.equal(rows.rows[0]!.n, 0, 'the temporal representation is gone with the entity');
    });

    it('refuses bad parameters with BadRequestData and unknown entities with 404', async () => {
      const bad = [
        `/temporal/entities/${sensor.id}?timerel=during&timeAt=${iso(T0)}`,
        `/temporal/entities/${sensor.id}?timerel=after`,
        `/temporal/entities/${sensor.id}?timerel=between&timeAt=${iso(T0)}`,
        `/temporal/entities/${sensor.id}?timerel=between&timeAt=${iso(T0)}&endTimeAt=${iso(T0 - 1)}`,
        `/temporal/entities/${sensor.id}?timerel=after&timeAt=yesterday`,
        `/temporal/entities/${sensor.id}?timeproperty=deletedAtX`,
        `/temporal/entities/${sensor.id}?lastN=0`,
        `/temporal/entities/${sensor.id}?lastN=-1`,
        `/temporal/entities/${sensor.id}?options=aggregatedValues`,
        `/temporal/entities/${sensor.id}?options=aggregatedValues&aggrMethods=median`,
        `/temporal/entities/${sensor.id}?options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=1H`,
        `/temporal/entities/${sensor.id}?options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT`,
        `/temporal/entities/${sensor.id}?options=bogus`,
        '/temporal/entities/not-a-uri',
        '/temporal/entities',
      ];
      for (const url of bad) {
        const r = await a('GET', url);
        assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
        assert.equal(r.json().type, `${ERR}BadRequestData`, url);
      }
      const missing = await a('GET', '/temporal/entities/urn:ngsi-ld:Nothing:1');
      assert.equal(missing.statusCode, 404);
      assert.equal(
        (
          await a('POST', '/temporal/entities/urn:ngsi-ld:Nothing:1/attrs', {
            x: { type: 'Property', value: 1 },
          })
        ).statusCode,
        404,
      );
      assert.equal((await a('DELETE', '/temporal/entities/urn:ngsi-ld:Nothing:1')).statusCode, 404);
      const noType = await a('POST', '/temporal/entities', {
        id: 'urn:ngsi-ld:X:1',
        x: { type: 'Property', value: 1 },
      });
      assert.equal(noType.statusCode, 400);
      const badInstance = await a('POST', '/temporal/entities', {
        id: 'urn:ngsi-ld:X:1',
        type: 'X',
        x: [{ type: 'Property' }],
      });
      assert.equal(badInstance.statusCode, 400);
      const text = await a('POST', '/temporal/entities', 'x', { 'content-type': 'text/plain' });
      assert.equal(text.statusCode, 415);
      const tenant = await a('GET', `/temporal/entities/${sensor.id}`, undefined, {
        'NGSILD-Tenant': 'nowhere',
      });
      assert.equal(tenant.statusCode, 404);
      assert.equal(tenant.json().type, `${ERR}NonexistentTenant`);
    });

    it('scopes reads and writes like /entities: owners write, others see nothing', async () => {
      const b = as('b');
      const consumer = as('consumer');
      assert.equal((await as(null)('POST', '/temporal/entities', sensor)).statusCode, 401);
      assert.equal((await consumer('POST', '/temporal/entities', sensor)).statusCode, 403);
      // Another organisation neither sees nor changes org_a's history.
      assert.equal((await b('GET', `/temporal/entities/${sensor.id}`)).statusCode, 404);
      assert.deepEqual((await b('GET', '/temporal/entities?type=AirQualityObserved')).json(), []);
      assert.equal(
        (await b('POST', '/temporal/entities', { ...sensor, no2: sensor.no2.slice(0, 1) }))
          .statusCode,
        409,
      );
      assert.equal(
        (await b('POST', `/temporal/entities/${sensor.id}/attrs`, { no2: sensor.no2[0] }))
          .statusCode,
        404,
      );
      assert.equal(
        (await b('DELETE', `/temporal/entities/${sensor.id}/attrs/no2?deleteAll=true`)).statusCode,
        404,
      );
      assert.equal((await b('DELETE', `/temporal/entities/${sensor.id}`)).statusCode, 404);
      const mine = (await a('GET', `/temporal/entities/${sensor.id}?attrs=no2`)).json();
      assert.equal(mine.no2.length, readings.length, 'nothing was changed by org_b');
      const id = mine.no2[0].instanceId;
      assert.equal(
        (await b('DELETE', `/temporal/entities/${sensor.id}/attrs/no2/${id}`)).statusCode,
        404,
      );
    });

    it('compacts attribute names with the request @context', async () => {
      const link =
        '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"';
      void link;
      const r = await admin(
        'GET',
        `/temporal/entities/${sensor.id}?attrs=${encodeURIComponent(`${DEFAULT}no2`)}&lastN=1`,
      );
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().no2.length, 1);
      const ld = await admin('GET', `/temporal/entities/${sensor.id}?lastN=1`, undefined, {
        accept: 'application/ld+json',
      });
      assert.equal(ld.headers['content-type'], 'application/ld+json');
      assert.ok(ld.json()['@context']);
    });
  });
}

/**
 * Privacy transforms on every read path: attribute drops, location grids and observedAt
 * buckets on entity queries, temporal history (normalized, temporalValues,
 * aggregatedValues), time windows and notifications; k-anonymity on temporal
 * aggregates. Every expectation is computed here from the stored data, independently of
 * the SQL that applies the transforms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { eventually, startReceiver, type Receiver } from '../subscriptions/receiver.testing.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  startGovernanceNode,
  type Caller,
} from './governance.testing.js';

/** A response entity read by path: each assertion names the members it expects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies read by path
type Json = Record<string, any>;

const GRID = 1000;
const BUCKET = 7200;
const LON = 4.351234;
const LAT = 50.846789;

/** The grid snap: latitude to GRID metres, then longitude at that latitude's metre width. */
function snap([lon, lat]: number[]): [number, number] {
  const latStep = GRID / 111_320;
  const snappedLat = Math.round(lat! / latStep) * latStep;
  const lonStep = GRID / (111_320 * Math.cos((snappedLat * Math.PI) / 180));
  return [Math.round(lon! / lonStep) * lonStep, snappedLat];
}
const floorMs = (iso: string, seconds = BUCKET) =>
  Math.floor(Date.parse(iso) / 1000 / seconds) * seconds * 1000;
/** observedAt as the coarsened instance carries it (no milliseconds). */
const coarseIso = (iso: string) => new Date(floorMs(iso)).toISOString().replace('.000Z', 'Z');
const close = (got: number[], want: number[]) =>
  got.length === want.length && got.every((g, i) => Math.abs(g - want[i]!) < 1e-6);

const SPEED_AT = ['2026-03-01T10:47:13Z', '2026-03-01T11:05:00Z', '2026-03-01T13:30:00Z'];
const spot = (n: number, i: number) => [LON + n * 0.02 + i * 0.0002, LAT + i * 0.0001];
const tram = (n: number) => ({
  id: `urn:ngsi-ld:Tram:${n}`,
  type: 'Tram',
  speed: SPEED_AT.map((at, i) => ({ type: 'Property', value: 10 * n + i, observedAt: at })),
  location: SPEED_AT.map((at, i) => ({
    type: 'GeoProperty',
    value: { type: 'Point', coordinates: spot(n, i) },
    observedAt: at,
  })),
  driver: [{ type: 'Property', value: `D-${n}`, observedAt: SPEED_AT[0] }],
});
const TRAMS = [1, 2].map(tram);

/** Counters for k-anonymity: which hours (of 2026-03-02) each counter has readings in. */
const COUNTER_HOURS: Record<number, number[]> = { 1: [0, 1, 2], 2: [0, 2], 3: [0, 2], 4: [0] };
const K = 3;
const DAY = '2026-03-02T';
const hourIso = (h: number, m = 10) =>
  `${DAY}${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:00Z`;

for (const backend of testBackends()) {
  describe(`privacy transforms on every path (${backend})`, () => {
    let node: TestNode;
    let c: Record<'pub' | 'reader' | 'granted', Caller> & { admin: Caller };
    before(async () => {
      node = await startGovernanceNode(backend);
      c = await callers(node, {
        pub: ['steward', 'publisher'],
        reader: ['consumer'],
        granted: ['consumer'],
      });
      for (const t of TRAMS) {
        const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/temporal/entities', t);
        assert.equal(res.statusCode, 201, res.body);
      }
      for (const [n, hours] of Object.entries(COUNTER_HOURS)) {
        const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/temporal/entities', {
          id: `urn:ngsi-ld:Counter:${n}`,
          type: 'Counter',
          passes: hours.map((h) => ({ type: 'Property', value: h + 1, observedAt: hourIso(h) })),
        });
        assert.equal(res.statusCode, 201, res.body);
      }
      await createDataset(node, c.pub, {
        types: ['Tram'],
        classification: 'open',
        transforms: {
          dropAttrs: ['driver'],
          locationGridMetres: GRID,
          observedAtBucketSeconds: BUCKET,
        },
      });
      const counters = await createDataset(node, c.pub, {
        types: ['Counter'],
        classification: 'open',
        policy: policy(['research']),
        transforms: { kAnonymity: K },
      });
      await grantAccess(node, c.granted, c.pub, counters, 'research');
    });
    after(async () => {
      await node.close();
      await receiver?.close();
    });
    let receiver: Receiver | undefined;

    const get = (who: Caller | null, path: string) =>
      call(node, who, 'GET', `/ngsi-ld/v1${path}`, undefined, { 'ocp-purpose': 'research' });
    const byId = (body: { id: string }[]) => new Map(body.map((e) => [e.id, e]));

    it('query: latest location snapped, observedAt bucketed, attribute dropped', async () => {
      const res = await get(null, '/entities?type=Tram');
      assert.equal(res.statusCode, 200, res.body);
      const got = byId(res.json());
      for (const t of TRAMS) {
        const e = got.get(t.id) as Json;
        assert.ok(close(e.location.value.coordinates, snap(t.location.at(-1)!.value.coordinates)));
        assert.equal(e.speed.observedAt, coarseIso(SPEED_AT.at(-1)!));
        assert.equal('driver' in e, false);
      }
    });

    it('temporal normalized: every history instance coarsened like the query', async () => {
      for (const who of [null, c.reader]) {
        const res = await get(
          who,
          '/temporal/entities?type=Tram&timerel=after&timeAt=2026-01-01T00:00:00Z',
        );
        assert.equal(res.statusCode, 200, res.body);
        const got = byId(res.json());
        for (const t of TRAMS) {
          const e = got.get(t.id) as Json;
          assert.equal('driver' in e, false);
          assert.deepEqual(
            e.speed.map((i: { observedAt: string; value: number }) => [i.value, i.observedAt]),
            t.speed.map((i) => [i.value, coarseIso(i.observedAt)]),
          );
          assert.equal(e.location.length, t.location.length);
          e.location.forEach((i: { value: { coordinates: number[] } }, n: number) =>
            assert.ok(close(i.value.coordinates, snap(t.location[n]!.value.coordinates))),
          );
        }
      }
    });

    it('temporal: the publisher reads the stored history', async () => {
      const res = await get(c.pub, `/temporal/entities/${TRAMS[0]!.id}`);
      const e = res.json();
      assert.deepEqual(
        e.speed.map((i: { observedAt: string }) => i.observedAt),
        SPEED_AT,
      );
      assert.deepEqual(e.location[0].value.coordinates, spot(1, 0));
      assert.equal(e.driver[0].value, 'D-1');
    });

    it('temporalValues: times are the coarsened observedAt', async () => {
      const res = await get(
        null,
        `/temporal/entities/${TRAMS[0]!.id}?attrs=speed&options=temporalValues&timerel=after&timeAt=2026-01-01T00:00:00Z`,
      );
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().speed.values,
        TRAMS[0]!.speed.map((i) => [i.value, new Date(floorMs(i.observedAt)).toISOString()]),
      );
    });

    it('aggregatedValues: periods of the coarsened time, distinct coarsened locations', async () => {
      const t = TRAMS[0]!;
      const res = await get(
        null,
        `/temporal/entities/${t.id}?attrs=speed,location&options=aggregatedValues&aggrMethods=totalCount,distinctCount,sum&aggrPeriodDuration=PT1H&timerel=after&timeAt=2026-03-01T00:00:00Z`,
      );
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      const hour = (iso: string) => Math.floor(floorMs(iso) / 3_600_000) * 3_600_000;
      const periods = new Map<number, number[]>();
      for (const i of t.speed) {
        const h = hour(i.observedAt);
        periods.set(h, [...(periods.get(h) ?? []), i.value]);
      }
      const want = [...periods].sort(([a], [b]) => a - b);
      assert.deepEqual(
        body.speed.totalCount.map((x: unknown[]) => [x[0], x[1]]),
        want.map(([h, v]) => [v.length, new Date(h).toISOString()]),
      );
      assert.deepEqual(
        body.speed.sum.map((x: unknown[]) => x[0]),
        want.map(([, v]) => v.reduce((a, b) => a + b, 0)),
      );
      // Distinct locations as the reader sees them, per coarsened hour.
      const locs = new Map<number, Set<string>>();
      for (const i of t.location) {
        const h = hour(i.observedAt);
        const set = locs.get(h) ?? new Set<string>();
        set.add(
          snap(i.value.coordinates)
            .map((x) => x.toFixed(7))
            .join(','),
        );
        locs.set(h, set);
      }
      assert.deepEqual(
        body.location.distinctCount.map((x: unknown[]) => x[0]),
        [...locs].sort(([a], [b]) => a - b).map(([, s]) => s.size),
      );
    });

    it('time windows compare the coarsened observedAt (no bisection of exact times)', async () => {
      const t = TRAMS[0]!;
      const windows = [
        'timerel=after&timeAt=2026-03-01T10:47:00Z',
        'timerel=after&timeAt=2026-03-01T10:47:20Z',
        'timerel=after&timeAt=2026-03-01T10:00:00Z',
        'timerel=before&timeAt=2026-03-01T10:47:14Z',
        'timerel=before&timeAt=2026-03-01T12:00:01Z',
        'timerel=between&timeAt=2026-03-01T10:30:00Z&endTimeAt=2026-03-01T12:30:00Z',
      ];
      for (const w of windows) {
        const params = new URLSearchParams(w);
        const start = params.get('timeAt') ? Date.parse(params.get('timeAt')!) : -Infinity;
        const end = params.get('endTimeAt') ? Date.parse(params.get('endTimeAt')!) : Infinity;
        const rel = params.get('timerel');
        const want = t.speed
          .filter((i) => {
            const v = floorMs(i.observedAt);
            if (rel === 'after') return v >= start;
            if (rel === 'before') return v < start;
            return v >= start && v < end;
          })
          .map((i) => i.value);
        const res = await get(null, `/temporal/entities/${t.id}?attrs=speed&${w}`);
        assert.equal(res.statusCode, 200, res.body);
        const speed = res.json().speed;
        const got = (speed === undefined ? [] : Array.isArray(speed) ? speed : [speed]).map(
          (i: { value: number }) => i.value,
        );
        assert.deepEqual(got, want, w);
      }
    });

    it('system times (createdAt, modifiedAt) are coarsened like observedAt', async () => {
      const onBucket = (iso: unknown, what: string) =>
        assert.equal(Date.parse(iso as string) % (BUCKET * 1000), 0, `${what}: ${String(iso)}`);
      const query = await get(null, '/entities?type=Tram&options=sysAttrs');
      assert.equal(query.statusCode, 200, query.body);
      for (const e of query.json() as Json[]) {
        onBucket(e.createdAt, 'entity createdAt');
        onBucket(e.modifiedAt, 'entity modifiedAt');
        onBucket(e.speed.createdAt, 'attribute createdAt');
        onBucket(e.speed.modifiedAt, 'attribute modifiedAt');
      }
      const history = await get(
        c.reader,
        '/temporal/entities?type=Tram&timeproperty=modifiedAt&timerel=after' +
          '&timeAt=2000-01-01T00:00:00Z&options=sysAttrs',
      );
      assert.equal(history.statusCode, 200, history.body);
      for (const e of history.json() as Json[]) {
        assert.equal(e.speed.length, SPEED_AT.length);
        for (const i of e.speed as Json[]) onBucket(i.modifiedAt, 'history modifiedAt');
      }
      // The publisher reads its own write times exactly (they are not all on a bucket).
      const own = await get(c.pub, '/entities?type=Tram&options=sysAttrs');
      const times = (own.json() as Json[]).flatMap((e) => [e.modifiedAt, e.speed.modifiedAt]);
      assert.ok(times.some((t) => Date.parse(t as string) % (BUCKET * 1000) !== 0));
    });

    it('geo-queries test the coarsened location, not the exact one', async () => {
      const t = TRAMS[1]!;
      const exact = t.location.at(-1)!.value.coordinates;
      const coarse = snap(exact);
      const metres = ([lon1, lat1]: number[], [lon2, lat2]: number[]) => {
        const r = (d: number) => (d * Math.PI) / 180;
        const a =
          Math.sin(r(lat2! - lat1!) / 2) ** 2 +
          Math.cos(r(lat1!)) * Math.cos(r(lat2!)) * Math.sin(r(lon2! - lon1!) / 2) ** 2;
        return 2 * 6371008.8 * Math.asin(Math.sqrt(a));
      };
      const near = (who: Caller | null, [lon, lat]: number[], max: number) =>
        get(
          who,
          `/entities?type=Tram&georel=near;maxDistance==${max}&geometry=Point&coordinates=[${lon},${lat}]`,
        );
      for (const [center, max] of [
        [exact, 5],
        [exact, 50],
        [coarse, 5],
      ] as const) {
        const want = metres(coarse, [...center]) <= max ? [t.id] : [];
        const res = await near(null, [...center], max);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(
          (res.json() as { id: string }[]).map((e) => e.id),
          want,
          `near ${center} ${max} m`,
        );
      }
      assert.ok(metres(coarse, exact) > 50, 'the test point is off its grid point');
      // The publisher queries the exact geometry.
      const own = await near(c.pub, exact, 5);
      assert.deepEqual(
        (own.json() as { id: string }[]).map((e) => e.id),
        [t.id],
      );
      // Polygons too: a small box around the exact point finds nothing for open readers.
      const [x, y] = exact as [number, number];
      const d = 0.0001;
      const ring = [
        [x - d, y - d],
        [x + d, y - d],
        [x + d, y + d],
        [x - d, y + d],
        [x - d, y - d],
      ];
      const within = await get(
        null,
        `/entities?type=Tram&georel=within&geometry=Polygon&coordinates=${JSON.stringify([ring])}`,
      );
      assert.equal(within.statusCode, 200, within.body);
      assert.deepEqual(within.json(), []);
    });

    it('notifications: coarsened and without dropped attributes', async () => {
      receiver = await startReceiver();
      const sub = await call(
        node,
        c.reader,
        'POST',
        '/ngsi-ld/v1/subscriptions',
        {
          type: 'Subscription',
          entities: [{ type: 'Tram' }],
          notification: { endpoint: { uri: receiver.url, accept: 'application/json' } },
        },
        { 'ocp-purpose': 'research' },
      );
      assert.equal(sub.statusCode, 201, sub.body);
      const at = '2026-03-01T15:59:59Z';
      const where = [LON + 0.0123, LAT - 0.0077];
      const res = await call(node, c.pub, 'PATCH', `/ngsi-ld/v1/entities/${TRAMS[0]!.id}/attrs`, {
        speed: { type: 'Property', value: 99, observedAt: at },
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: where } },
        driver: { type: 'Property', value: 'D-99' },
      });
      assert.equal(res.statusCode, 204, res.body);
      const e = await eventually(
        () =>
          receiver!.received
            .flatMap((r) => r.body.data as Json[])
            .find((x) => x.speed?.value === 99),
        15_000,
        'notification',
      );
      assert.equal(e.speed.observedAt, coarseIso(at));
      assert.ok(close(e.location.value.coordinates, snap(where)));
      assert.equal('driver' in e, false);
    });

    describe('k-anonymity on temporal aggregates', () => {
      const counters = Object.keys(COUNTER_HOURS).map((n) => `urn:ngsi-ld:Counter:${n}`);
      /** Buckets (entity → hours) shown when `ids` are the response's entities. */
      function expected(ids: string[], k: number | null): Map<string, number[]> {
        const hoursOf = (id: string) => COUNTER_HOURS[Number(id.split(':').pop())]!;
        const crowd = (h: number) => ids.filter((id) => hoursOf(id).includes(h)).length;
        return new Map(
          ids.map((id) => [id, hoursOf(id).filter((h) => k === null || crowd(h) >= k)]),
        );
      }
      async function buckets(who: Caller | null, query: string): Promise<Map<string, number[]>> {
        const res = await get(
          who,
          `/temporal/entities?${query}&attrs=passes&options=aggregatedValues&aggrMethods=totalCount&aggrPeriodDuration=PT1H&timerel=after&timeAt=${DAY}00:00:00Z`,
        );
        assert.equal(res.statusCode, 200, res.body);
        return new Map(
          (res.json() as { id: string; passes?: { totalCount: unknown[][] } }[]).map((e) => [
            e.id,
            (e.passes?.totalCount ?? []).map((x) => new Date(x[1] as string).getUTCHours()),
          ]),
        );
      }

      it('open readers: buckets with fewer than k entities are suppressed', async () => {
        assert.deepEqual(await buckets(null, 'type=Counter'), expected(counters, K));
        assert.deepEqual(await buckets(c.reader, 'type=Counter'), expected(counters, K));
      });

      it('narrowing the query never shows more (a single entity: nothing)', async () => {
        const two = counters.slice(0, 2);
        assert.deepEqual(await buckets(null, `id=${two.join(',')}&type=Counter`), expected(two, K));
        assert.deepEqual(
          await buckets(null, `id=${counters[0]}&type=Counter`),
          expected([counters[0]!], K),
        );
        assert.deepEqual(
          [...(await buckets(null, `id=${counters[0]}&type=Counter`)).values()],
          [[]],
        );
      });

      it('publisher and grants without applyToGrants see every bucket', async () => {
        assert.deepEqual(await buckets(c.pub, 'type=Counter'), expected(counters, null));
        assert.deepEqual(await buckets(c.granted, 'type=Counter'), expected(counters, null));
      });

      it('instances themselves are not suppressed (k applies to aggregates)', async () => {
        const res = await get(null, `/temporal/entities/${counters[3]}?attrs=passes`);
        assert.equal(res.statusCode, 200, res.body);
        const passes = res.json().passes;
        assert.equal((Array.isArray(passes) ? passes : [passes]).length, 1);
      });
    });
  });
}

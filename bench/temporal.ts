/**
 * Temporal aggregation figures (issue targets: hourly avg over 30 days of 1-minute data
 * for one attribute, p50 ≤ 50 ms; an aggregation over 1,000,000 instances, p50 ≤ 500 ms).
 * `node --import tsx bench/temporal.ts [--backend postgres|pglite] [--runs N]`
 * Starts a node on a fresh database (OCP_TEST_DATABASE_URL for PostgreSQL), loads the
 * history with set-based SQL, and times the HTTP requests in process (app.inject), next
 * to the same aggregate as one plain SQL statement (the query limit).
 */
import { parseArgs } from 'node:util';
import { ensurePartitions } from '../src/temporal/history.partitions.js';
import { startTestNode } from '../src/platform/testing/node.js';
import { parseBackend, percentile } from './harness.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    runs: { type: 'string', default: '30' },
    json: { type: 'boolean', default: false },
  },
});
/** With --json, stdout carries only the JSON result; progress goes to stderr. */
const log = (line: string) => (args.json ? console.error : console.log)(line);
const figures: Record<string, { p50ms: number; p95ms: number; samples: number }> = {};
const backend = parseBackend(args.backend);
const RUNS = Number(args.runs);
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';
const node = await startTestNode({
  backend,
  mqtt: 'off',
  env: { OCP_ANONYMOUS_ROLE: 'admin', OCP_RATE_LIMIT: 'off' },
});
const db = node.platform.db;
const DAY = 86_400_000;
const start = new Date(Math.floor((Date.now() - 40 * DAY) / DAY) * DAY);

async function load(entity: string, type: string, minutes: number, stepSeconds: number) {
  const res = await node.app.inject({
    method: 'POST',
    url: '/ngsi-ld/v1/entities',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ id: entity, type, no2: { type: 'Property', value: 0 } }),
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  await db.query(
    `INSERT INTO ngsi_attribute_history
       (tenant, entity_id, attr, instance_id, op, instance, entity_types, observed_at, created_at, modified_at)
     SELECT '', $1, $2, 'urn:ngsi-ld:attribute:instance:' || $1 || ':' || g, 'update',
            jsonb_build_object('type', 'Property', 'value', round((20 + 10 * sin(g / 60.0))::numeric, 2)),
            ARRAY[$3], t, t, t
       FROM generate_series(0, $4::int - 1) AS g,
            LATERAL (SELECT $5::timestamptz + g * make_interval(secs => $6) AS t) x`,
    [entity, `${DEFAULT}no2`, `${DEFAULT}${type}`, minutes, start, stepSeconds],
  );
}

async function time(key: string, label: string, run: () => Promise<void>) {
  for (let i = 0; i < 3; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await run();
    samples.push(performance.now() - t0);
  }
  const p50 = percentile(samples, 50);
  const p95 = percentile(samples, 95);
  figures[key] = { p50ms: +p50.toFixed(1), p95ms: +p95.toFixed(1), samples: samples.length };
  log(
    `${label.padEnd(62)} p50 ${p50.toFixed(1).padStart(7)} ms   p95 ${p95.toFixed(1).padStart(7)} ms`,
  );
}

const t0 = performance.now();
// 30 days of 1-minute data for one attribute.
await load('urn:ngsi-ld:Sensor:month', 'Sensor', 30 * 1440, 60);
// 1,000,000 instances: 100 stations x 10,000 readings (one every 4 minutes, ~28 days).
for (let i = 0; i < 100; i++) await load(`urn:ngsi-ld:Station:${i}`, 'Station', 10_000, 240);
await ensurePartitions(db, new Date());
await db.query('VACUUM ANALYZE ngsi_attribute_history');
const { rows } = await db.query<{ n: number }>(
  'SELECT count(*)::int8 AS n FROM ngsi_attribute_history',
);
log(
  `${backend}: loaded ${rows[0]!.n} history rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

const get = async (url: string) => {
  const res = await node.app.inject({ method: 'GET', url: `/ngsi-ld/v1${url}` });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
};
const from = start.toISOString();
const to = new Date(start.getTime() + 30 * DAY).toISOString();

await time('hourly', 'hourly avg, 30 days of 1-minute data, one attribute (HTTP)', () =>
  get(
    `/temporal/entities/urn:ngsi-ld:Sensor:month?attrs=no2&options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT1H&timerel=between&timeAt=${from}&endTimeAt=${to}`,
  ),
);
await time('hourlySql', '  same aggregate as one SQL statement (baseline)', async () => {
  await db.query(
    `SELECT date_bin('1 hour', observed_at, $2) AS b, avg(num_value) FROM ngsi_attribute_history
      WHERE tenant = '' AND entity_id = $1 AND attr = $3 AND observed_at >= $2 AND observed_at < $4
      GROUP BY 1 ORDER BY 1`,
    ['urn:ngsi-ld:Sensor:month', from, `${DEFAULT}no2`, to],
  );
});
await time('million', 'daily avg/min/max/count over 1,000,000 instances (HTTP)', () =>
  get(
    `/temporal/entities?type=Station&attrs=no2&limit=100&options=aggregatedValues&aggrMethods=avg,min,max,totalCount&aggrPeriodDuration=P1D`,
  ),
);
await time('millionStddev', 'whole-range stddev+sumsq over 1,000,000 instances (HTTP)', () =>
  get(
    `/temporal/entities?type=Station&attrs=no2&limit=100&options=aggregatedValues&aggrMethods=stddev,sumsq`,
  ),
);
await time('millionSql', '  same daily aggregate as one SQL statement (baseline)', async () => {
  await db.query(
    `SELECT entity_id, date_bin('1 day', observed_at, '1970-01-01') AS b, avg(num_value), min(num_value),
            max(num_value), count(*) FROM ngsi_attribute_history
      WHERE tenant = '' AND entity_id LIKE 'urn:ngsi-ld:Station:%' AND attr = $1 AND observed_at IS NOT NULL
      GROUP BY 1, 2`,
    [`${DEFAULT}no2`],
  );
});
await time('lastN', 'lastN=100 instances of one attribute, normalized (HTTP)', () =>
  get(`/temporal/entities/urn:ngsi-ld:Sensor:month?attrs=no2&lastN=100`),
);
await node.close();
if (args.json) {
  process.stdout.write(
    `${JSON.stringify({ backend, historyRows: rows[0]!.n, figures, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2)}\n`,
  );
}

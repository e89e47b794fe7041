/**
 * The benchmark suite: `npm run bench [-- --backend postgres|pglite --entities N
 * --duration S --runs R]`. The node under test runs in its own process, the load
 * generator (autocannon) in this one. Every figure is the median of R runs and is
 * reported next to a baseline measured in the same run on the same machine:
 *   - raw PostgreSQL writing equivalent rows (the storage limit),
 *   - a minimal Fastify handler (the HTTP limit),
 *   - the equivalent SQL query through `pg` (the query limit).
 * Temporal aggregation (bench/temporal.ts), notification latency (bench/notifications.ts)
 * and MQTT ingestion (bench/mqtt.ts) run afterwards as scripts of their own, each with its
 * baseline, and join the same table. `--only upsert,patch,get,query,near,ledger,temporal,
 * notifications,mqtt` picks scenarios.
 * Results are printed as a table and written to bench/results/<backend>-latest.json.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { normaliseEvent } from '../src/ledger/entry.js';
import { contextLink, entity, kinds, position, rng, type Kind } from './city.js';
import {
  ADMIN_URL,
  freshStore,
  machine,
  median,
  parseBackend,
  root,
  rssSampler,
  sequence,
  startProcess,
  stop,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    entities: { type: 'string', default: '100000' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const backend = parseBackend(args.backend);
const ENTITIES = Number(args.entities);
const DURATION = Number(args.duration);
const RUNS = Number(args.runs);
const only = args.only ? new Set(args.only.split(',')) : null;

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(options: autocannon.Options): Promise<LoadResult> {
  const result = await autocannon({ duration: DURATION, ...options });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

async function runs(
  measure: () => Promise<LoadResult>,
): Promise<LoadResult & { samples: number[] }> {
  const results: LoadResult[] = [];
  for (let i = 0; i < RUNS; i++) results.push(await measure());
  return {
    rps: median(results.map((r) => r.rps)),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    non2xx: results.reduce((s, r) => s + r.non2xx, 0),
    errors: results.reduce((s, r) => s + r.errors, 0),
    samples: results.map((r) => Math.round(r.rps)),
  };
}

/** One line of the printed table: a figure, its baseline from the same run, the ratio. */
interface Row {
  figure: string;
  median: number;
  unit: string;
  baseline?: { name: string; value: number } | undefined;
  target: string;
  maxRssMB?: number | undefined;
}
const table: Row[] = [];

function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [
    r.figure,
    `${r.median.toLocaleString('en')} ${r.unit}`,
    r.baseline ? `${Math.round(r.baseline.value).toLocaleString('en')} (${r.baseline.name})` : '—',
    r.baseline ? (r.median / r.baseline.value).toFixed(2) : '—',
    r.target,
    r.maxRssMB === undefined ? '—' : `${r.maxRssMB} MB`,
  ]);
  const head = ['figure', 'median', 'baseline', 'ratio', 'target', 'max RSS'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join(
      '\n',
    ),
  );
}

const random = rng(42);
let nextId = 0;
const observedAt = () => new Date().toISOString();
function batch(size: number) {
  const out = [];
  for (let i = 0; i < size; i++) {
    const n = nextId++;
    out.push(entity(kinds[n % kinds.length] as Kind, n, random, observedAt()));
  }
  return out;
}

/** Raw PostgreSQL: the same current-state upserts and history inserts, 100 entities per statement. */
/**
 * The storage limit for single-attribute updates: raw PostgreSQL through `pg` running the
 * same transaction a PATCH commits at its core — the current-state row rewritten with the
 * new attribute value and one history row inserted — for random rows of a table of
 * `rows` entities, at the same concurrency.
 */
async function rawPatchBaseline(url: string, connections: number, rows: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await pool.query(`
    CREATE TABLE bench_patch_entities (tenant text, id text, attrs jsonb, modified_at timestamptz,
      PRIMARY KEY (tenant, id));
    CREATE TABLE bench_patch_history (tenant text, entity_id text, attr text, value jsonb,
      observed_at timestamptz, created_at timestamptz);
    CREATE INDEX ON bench_patch_history (tenant, entity_id, attr, observed_at);`);
  await pool.query(
    `INSERT INTO bench_patch_entities
     SELECT '', 'e' || n, jsonb_build_object('NO2', jsonb_build_object('type', 'Property', 'value', n)), now()
       FROM generate_series(0, $1::int - 1) AS n`,
    [rows],
  );
  const deadline = Date.now() + DURATION * 1000;
  let written = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const id = `e${Math.floor(random() * rows)}`;
      const value = JSON.stringify({ type: 'Property', value: Math.round(random() * 800) / 10 });
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `UPDATE bench_patch_entities SET attrs = jsonb_set(attrs, '{NO2}', $2::jsonb), modified_at = now()
            WHERE tenant = '' AND id = $1`,
          [id, value],
        );
        await client.query(
          `INSERT INTO bench_patch_history VALUES ('', $1, 'NO2', $2::jsonb, now(), now())`,
          [id, value],
        );
        await client.query('COMMIT');
        written++;
      } finally {
        client.release();
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const rate = written / ((Date.now() - started) / 1000);
  await pool.query('DROP TABLE bench_patch_entities, bench_patch_history');
  await pool.end();
  return rate;
}

async function rawWriteBaseline(url: string, connections: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  await pool.query(`
    CREATE TABLE IF NOT EXISTS bench_raw_entities (tenant text, id text, types text[], attrs jsonb,
      created_at timestamptz, modified_at timestamptz, PRIMARY KEY (tenant, id));
    CREATE TABLE IF NOT EXISTS bench_raw_history (tenant text, entity_id text, attr text, instance_id text,
      value jsonb, observed_at timestamptz, created_at timestamptz);
    CREATE INDEX IF NOT EXISTS bench_raw_history_idx ON bench_raw_history (tenant, entity_id, attr, observed_at);`);
  let counter = 0;
  const deadline = Date.now() + DURATION * 1000;
  let written = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      const entities = [];
      for (let i = 0; i < 100; i++)
        entities.push(entity('AirQualityObserved', counter++, random, observedAt()));
      const ids = entities.map((e) => e.id);
      const attrs = entities.map((e) => JSON.stringify(e));
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO bench_raw_entities (tenant, id, types, attrs, created_at, modified_at)
           SELECT '', i, ARRAY['https://smartdatamodels.org/dataModel.Environment/AirQualityObserved'], a::jsonb, now(), now()
           FROM unnest($1::text[], $2::text[]) AS t(i, a)
           ON CONFLICT (tenant, id) DO UPDATE SET attrs = excluded.attrs, modified_at = excluded.modified_at`,
          [ids, attrs],
        );
        const hIds: string[] = [];
        const hAttr: string[] = [];
        const hVal: string[] = [];
        for (const e of entities) {
          for (const name of ['NO2', 'temperature', 'reliability'] as const) {
            hIds.push(e.id);
            hAttr.push(name);
            hVal.push(JSON.stringify((e as Record<string, unknown>)[name]));
          }
        }
        await client.query(
          `INSERT INTO bench_raw_history (tenant, entity_id, attr, instance_id, value, observed_at, created_at)
           SELECT '', i, a, 'urn:ngsi-ld:' || gen_random_uuid(), v::jsonb, now(), now()
           FROM unnest($1::text[], $2::text[], $3::text[]) AS t(i, a, v)`,
          [hIds, hAttr, hVal],
        );
        await client.query('COMMIT');
        written += 100;
      } finally {
        client.release();
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const rate = written / ((Date.now() - started) / 1000);
  await pool.query('DROP TABLE bench_raw_entities, bench_raw_history');
  await pool.end();
  return rate;
}

/** Raw SQL: the type + q query the NGSI-LD scenario runs, straight through pg. */
async function rawQueryBaseline(
  url: string,
  connections: number,
  sql: string,
  params: () => unknown[],
): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: connections });
  const deadline = Date.now() + DURATION * 1000;
  let done = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < deadline) {
        await pool.query(sql, params());
        done++;
      }
    }),
  );
  await pool.end();
  return done / ((Date.now() - started) / 1000);
}

/** Tree size of the node's newest checkpoint (0 before the first one). */
async function checkpointSize(url: string): Promise<number> {
  const response = await fetch(`${url}/ledger/checkpoint`);
  if (response.status === 404) return 0;
  const lines = (await response.text()).split('\n');
  return Number(lines[1]);
}

/**
 * Queues events the way features do (rows in ledger_queue, a NOTIFY), then times the
 * node's sequencer until a checkpoint covers them all. Baseline: inserting the same
 * entry bytes and leaf hashes with multi-row INSERTs through pg.
 */
async function ledgerScenario(url: string, databaseUrl: string) {
  const entries = Math.max(20_000, 10_000 * DURATION);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  const events = Array.from({ length: entries }, (_, i) =>
    JSON.stringify(
      normaliseEvent({
        type: 'data.accessed',
        actor: { organisationId: `org_bench${i % 17}`, clientId: `cli_bench${i % 101}` },
        subject: { kind: 'dataset', id: `ds_bench${i % 13}` },
        purpose: 'benchmark',
        count: i % 500,
        details: { datasetId: `ds_bench${i % 13}` },
      }),
    ),
  );
  const before = await checkpointSize(url);
  const client = await pool.connect();
  await client.query('BEGIN');
  for (let i = 0; i < entries; i += 5000) {
    await client.query(
      `INSERT INTO ledger_queue (event, recorded_at) SELECT e::jsonb, now() FROM unnest($1::text[]) AS t(e)`,
      [events.slice(i, i + 5000)],
    );
  }
  await client.query("SELECT pg_notify('ocp_ledger_queue', '')");
  await client.query('COMMIT');
  client.release();
  const started = Date.now();
  while ((await checkpointSize(url)) < before + entries) {
    if (Date.now() - started > 600_000) throw new Error('the ledger did not catch up in 10 min');
    await new Promise((r) => setTimeout(r, 25));
  }
  const seconds = (Date.now() - started) / 1000;

  await pool.query(
    'CREATE TABLE bench_raw_ledger (idx bigint PRIMARY KEY, entry bytea, hash bytea)',
  );
  const rawStarted = Date.now();
  for (let i = 0; i < entries; i += 5000) {
    const chunk = events.slice(i, i + 5000).map((e) => Buffer.from(e));
    await pool.query(
      `INSERT INTO bench_raw_ledger SELECT $1::int8 + n - 1, e, h
         FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS t(e, h, n)`,
      [
        i,
        chunk,
        chunk.map((e) =>
          createHash('sha256')
            .update(Buffer.from([0]))
            .update(e)
            .digest(),
        ),
      ],
    );
  }
  const rawSeconds = (Date.now() - rawStarted) / 1000;
  await pool.query('DROP TABLE bench_raw_ledger');
  await pool.end();

  const size = before + entries;
  const proof = await runs(() =>
    load({
      url,
      connections: 4,
      requests: [
        {
          method: 'GET',
          setupRequest: (r) => ({
            ...r,
            path: `/ledger/proofs/inclusion?index=${Math.floor(random() * size)}`,
          }),
        },
      ],
    }),
  );
  return {
    entries,
    entriesPerSecond: Math.round(entries / seconds),
    rawInsertEntriesPerSecond: Math.round(entries / rawSeconds),
    proof: { rps: Math.round(proof.rps), p50: proof.p50, p99: proof.p99, non2xx: proof.non2xx },
  };
}

interface TemporalResult {
  historyRows: number;
  figures: Record<'hourly' | 'hourlySql' | 'million' | 'millionSql', { p50ms: number }>;
  maxRssMB: number;
}
interface NotificationResult {
  subscriptions: number;
  offeredChangesPerSecond: number;
  acknowledgedChangesPerSecond: number;
  entitiesWithLastChangeNotNotified: number;
  commitToReceipt: { p50ms: number; p99ms: number };
  directPostBaseline: { p99ms: number };
  maxRssMB: number;
}
interface MqttResult {
  sustainedAttributeUpdatesPerSecond: number;
  offeredAttributeUpdatesPerSecond: number;
  maxRssMB: number;
}

/** Runs one of the other benchmark scripts with --json on this backend; its JSON result. */
async function childBench(script: string, extra: string[]): Promise<unknown> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, '--backend', backend, '--json', ...extra],
    {
      cwd: root,
      env: {
        ...process.env,
        OCP_BENCH_DATABASE_URL: ADMIN_URL,
        // bench/temporal.ts starts its node through the test harness.
        OCP_TEST_DATABASE_URL: ADMIN_URL,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${script} exited with ${code}`);
  return JSON.parse(out) as unknown;
}

async function main() {
  console.log(
    `benchmark: backend=${backend} entities=${ENTITIES} duration=${DURATION}s runs=${RUNS}`,
    machine(),
  );

  const store = await freshStore(backend);
  const databaseUrl = store.databaseUrl ?? 'memory:';
  const node = await startProcess(['bin/ocp.js', 'start'], {
    ...store.env,
    OCP_PORT: '0',
    OCP_MQTT_URL: 'none',
    OCP_ANONYMOUS_ROLE: 'admin',
    OCP_RATE_LIMIT: 'off',
    OCP_LOG_LEVEL: 'warn',
    OCP_DATABASE_POOL_SIZE: '20',
  });
  const minimal = await startProcess(['--import', 'tsx', 'bench/minimal-server.ts'], {});
  const rss = rssSampler(node.child.pid!);
  rss.take();
  const results: Record<string, unknown> = {};
  const headers = { 'content-type': 'application/json', link: contextLink };
  const wanted = (name: string) => !only || only.has(name);

  try {
    // 1. Batch upsert, 100 entities × 3 attributes per request, history kept.
    if (wanted('upsert')) {
      const connections = 4;
      const upsert = await runs(() =>
        load({
          url: node.url,
          connections,
          requests: [
            {
              method: 'POST',
              path: '/ngsi-ld/v1/entityOperations/upsert',
              headers,
              setupRequest: (request) => ({ ...request, body: JSON.stringify(batch(100)) }),
            },
          ],
        }),
      );
      const raw =
        backend === 'postgres'
          ? median(await Promise.all([rawWriteBaseline(databaseUrl, connections)]))
          : NaN;
      results.batchUpsert = {
        entitiesPerSecond: Math.round(upsert.rps * 100),
        rawPostgresEntitiesPerSecond: Math.round(raw),
        ratio: +((upsert.rps * 100) / raw).toFixed(2),
        p99ms: upsert.p99,
        non2xx: upsert.non2xx,
        errors: upsert.errors,
        samplesRps: upsert.samples,
      };
      table.push({
        figure: 'batch upsert (100 entities × 3 attrs, history kept)',
        median: Math.round(upsert.rps * 100),
        unit: 'entities/s',
        baseline: backend === 'postgres' ? { name: 'raw PostgreSQL', value: raw } : undefined,
        target: '≥ 0.5 × raw; ≥ 10,000/s',
        maxRssMB: rss.take(),
      });
      console.log('batch upsert', results.batchUpsert);
    }

    // Seed the population the read scenarios query.
    const seedStart = Date.now();
    while (nextId < ENTITIES) {
      const response = await fetch(`${node.url}/ngsi-ld/v1/entityOperations/upsert`, {
        method: 'POST',
        headers,
        body: JSON.stringify(batch(Math.min(500, ENTITIES - nextId))),
      });
      if (!response.ok)
        throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
    }
    console.log(
      `population: ${nextId} entities (seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s)`,
    );
    const population = nextId;
    // A node that has been running has planner statistics (PostgreSQL's autovacuum gathers
    // them); one seeded a moment ago may not yet. Gather them before the read scenarios,
    // as autovacuum would.
    if (backend === 'postgres') {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query('ANALYZE');
      await client.end();
    }
    rss.take();
    const airIds = () => {
      const n = Math.floor(random() * (population / kinds.length)) * kinds.length; // AirQualityObserved ids
      return encodeURIComponent(`urn:ngsi-ld:AirQualityObserved:bench-${n}`);
    };

    // 2. Single-attribute PATCH, 50 concurrent clients.
    if (wanted('patch')) {
      const patch = await runs(() =>
        load({
          url: node.url,
          connections: 50,
          requests: [
            {
              method: 'PATCH',
              headers,
              setupRequest: (request) => ({
                ...request,
                path: `/ngsi-ld/v1/entities/${airIds()}/attrs/NO2`,
                body: JSON.stringify({
                  type: 'Property',
                  value: Math.round(random() * 800) / 10,
                  observedAt: observedAt(),
                }),
              }),
            },
          ],
        }),
      );
      const raw =
        backend === 'postgres'
          ? median(await sequence(RUNS, () => rawPatchBaseline(databaseUrl, 50, population)))
          : NaN;
      results.patch = {
        updatesPerSecond: Math.round(patch.rps),
        rawPostgresUpdatesPerSecond: Math.round(raw),
        ratio: +(patch.rps / raw).toFixed(2),
        p99ms: patch.p99,
        non2xx: patch.non2xx,
        errors: patch.errors,
        samplesRps: patch.samples,
      };
      table.push({
        figure: 'single-attribute PATCH, 50 clients',
        median: Math.round(patch.rps),
        unit: 'updates/s',
        baseline: backend === 'postgres' ? { name: 'raw PostgreSQL', value: raw } : undefined,
        target: '≥ 5,000/s',
        maxRssMB: rss.take(),
      });
      console.log('patch', results.patch);
    }

    // 3. GET entity by id, against the minimal Fastify handler.
    if (wanted('get')) {
      const connections = 10;
      const get = await runs(() =>
        load({
          url: node.url,
          connections,
          requests: [
            {
              method: 'GET',
              headers: { link: contextLink },
              setupRequest: (r) => ({ ...r, path: `/ngsi-ld/v1/entities/${airIds()}` }),
            },
          ],
        }),
      );
      const base = await runs(() =>
        load({
          url: minimal.url,
          connections,
          requests: [
            { method: 'GET', setupRequest: (r) => ({ ...r, path: `/entity/${airIds()}` }) },
          ],
        }),
      );
      results.getById = {
        rps: Math.round(get.rps),
        minimalFastifyRps: Math.round(base.rps),
        ratio: +(get.rps / base.rps).toFixed(2),
        p99ms: get.p99,
        non2xx: get.non2xx,
      };
      table.push({
        figure: 'GET entity by id',
        median: Math.round(get.rps),
        unit: 'req/s',
        baseline: { name: 'minimal Fastify', value: base.rps },
        target: '≥ 0.5 × minimal Fastify',
        maxRssMB: rss.take(),
      });
      console.log('get by id', results.getById);
    }

    // 4. type + q query, limit 20.
    if (wanted('query')) {
      const connections = 10;
      const threshold = () => Math.round(random() * 70);
      const query = await runs(() =>
        load({
          url: node.url,
          connections,
          requests: [
            {
              method: 'GET',
              headers: { link: contextLink },
              setupRequest: (r) => ({
                ...r,
                path: `/ngsi-ld/v1/entities?type=AirQualityObserved&q=${encodeURIComponent(`NO2>${threshold()}`)}&limit=20`,
              }),
            },
          ],
        }),
      );
      const raw =
        backend === 'postgres'
          ? await rawQueryBaseline(
              databaseUrl,
              connections,
              `SELECT id, attrs FROM ngsi_entities
               WHERE tenant = '' AND types @> ARRAY[$1]
                 AND jsonb_typeof(attrs -> $2 -> 0 -> 'value') = 'number'
                 AND (attrs -> $2 -> 0 ->> 'value')::numeric > $3
               ORDER BY id LIMIT 20`,
              () => [
                'https://uri.etsi.org/ngsi-ld/default-context/AirQualityObserved',
                'https://uri.etsi.org/ngsi-ld/default-context/NO2',
                threshold(),
              ],
            )
          : NaN;
      results.typeAndQ = {
        rps: Math.round(query.rps),
        rawSqlRps: Math.round(raw),
        ratio: +(query.rps / raw).toFixed(2),
        p50ms: query.p50,
        p99ms: query.p99,
        non2xx: query.non2xx,
        samplesRps: query.samples,
      };
      table.push({
        figure: `type + q, limit 20, ${population.toLocaleString('en')} entities (p99 ${query.p99} ms)`,
        median: Math.round(query.rps),
        unit: 'req/s',
        baseline: backend === 'postgres' ? { name: 'raw SQL via pg', value: raw } : undefined,
        target: '≥ 3,000/s; p99 ≤ 50 ms',
        maxRssMB: rss.take(),
      });
      console.log('type + q', results.typeAndQ);
    }

    // 5. Geo near query.
    if (wanted('near')) {
      const near = await runs(() =>
        load({
          url: node.url,
          connections: 10,
          requests: [
            {
              method: 'GET',
              headers: { link: contextLink },
              setupRequest: (r) => {
                const [lon, lat] = position(random);
                return {
                  ...r,
                  path: `/ngsi-ld/v1/entities?type=ParkingSpot&georel=${encodeURIComponent('near;maxDistance==300')}&geometry=Point&coordinates=${encodeURIComponent(`[${lon.toFixed(5)},${lat.toFixed(5)}]`)}&limit=20`,
                };
              },
            },
          ],
        }),
      );
      results.geoNear = {
        rps: Math.round(near.rps),
        p50ms: near.p50,
        p99ms: near.p99,
        non2xx: near.non2xx,
        samplesRps: near.samples,
      };
      table.push({
        figure: `geo near, ${population.toLocaleString('en')} entities (p99 ${near.p99} ms)`,
        median: Math.round(near.rps),
        unit: 'req/s',
        target: '≥ 1,000/s',
        maxRssMB: rss.take(),
      });
      console.log('geo near', results.geoNear);
    }

    // 6. Ledger: sequencing throughput and inclusion proofs.
    if (wanted('ledger') && backend === 'postgres') {
      const ledger = await ledgerScenario(node.url, databaseUrl);
      results.ledger = ledger;
      table.push({
        figure: `ledger appends (${ledger.entries.toLocaleString('en')} queued events sequenced)`,
        median: ledger.entriesPerSecond,
        unit: 'entries/s',
        baseline: { name: 'raw INSERT of the entries', value: ledger.rawInsertEntriesPerSecond },
        target: '≥ 20,000/s',
        maxRssMB: rss.take(),
      });
      table.push({
        figure: `inclusion proof (p50 ${ledger.proof.p50} ms, p99 ${ledger.proof.p99} ms)`,
        median: ledger.proof.rps,
        unit: 'req/s',
        target: 'p50 ≤ 1 ms',
        maxRssMB: rss.take(),
      });
      console.log('ledger', results.ledger);
    }
  } finally {
    rss.stop();
    await stop(node.child);
    await stop(minimal.child);
    await store.drop();
  }

  // 7–9. Temporal aggregation, notification latency and MQTT ingestion: scripts of their
  // own (see their headers), each on a fresh store, run one after the other.
  if (wanted('temporal')) {
    const t = (await childBench('bench/temporal.ts', ['--runs', '15'])) as TemporalResult;
    results.temporal = t;
    const f = t.figures;
    table.push({
      figure: 'temporal: hourly avg over 30 days of 1-minute data, p50',
      median: f.hourly.p50ms,
      unit: 'ms',
      baseline: { name: 'same aggregate in SQL', value: f.hourlySql.p50ms },
      target: 'p50 ≤ 50 ms',
      maxRssMB: t.maxRssMB,
    });
    table.push({
      figure: `temporal: daily aggregates over ${t.historyRows.toLocaleString('en')} instances, p50`,
      median: f.million.p50ms,
      unit: 'ms',
      baseline: { name: 'same aggregate in SQL', value: f.millionSql.p50ms },
      target: 'p50 ≤ 500 ms',
      maxRssMB: t.maxRssMB,
    });
  }
  if (wanted('notifications')) {
    const n = (await childBench('bench/notifications.ts', [
      '--duration',
      String(Math.max(10, DURATION * 2)),
    ])) as NotificationResult;
    results.notifications = n;
    table.push({
      figure: `notifications: ${n.acknowledgedChangesPerSecond.toLocaleString('en')} changes/s acknowledged (of ${n.offeredChangesPerSecond.toLocaleString('en')} offered) to ${n.subscriptions} subscriptions, commit-to-receipt p99 (p50 ${n.commitToReceipt.p50ms} ms; last change of ${n.entitiesWithLastChangeNotNotified} entities not notified)`,
      median: n.commitToReceipt.p99ms,
      unit: 'ms',
      baseline: { name: 'plain POST to the receiver, p99', value: n.directPostBaseline.p99ms },
      target: 'p99 ≤ 100 ms',
      maxRssMB: n.maxRssMB,
    });
  }
  if (wanted('mqtt')) {
    const m = (await childBench('bench/mqtt.ts', [
      '--duration',
      String(Math.max(20, DURATION * 4)),
    ])) as MqttResult;
    results.mqtt = m;
    table.push({
      figure: 'MQTT ingestion, attribute updates/s sustained',
      median: m.sustainedAttributeUpdatesPerSecond,
      unit: 'updates/s',
      baseline: {
        name: 'offered (acked by the broker)',
        value: m.offeredAttributeUpdatesPerSecond,
      },
      target: '≥ 20,000/s',
      maxRssMB: m.maxRssMB,
    });
  }

  const out = {
    backend,
    machine: machine(),
    entities: ENTITIES,
    durationSeconds: DURATION,
    runs: RUNS,
    at: new Date().toISOString(),
    results,
    table,
  };
  mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(
    path.join(root, 'bench', 'results', `${backend}-latest.json`),
    `${JSON.stringify(out, null, 2)}\n`,
  );
  console.log(`\nresults written to bench/results/${backend}-latest.json\n`);
  printTable(table);
}

await main();

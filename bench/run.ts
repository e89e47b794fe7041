/**
 * The benchmark suite: `npm run bench [-- --backend postgres|pglite --entities N
 * --duration S --runs R]`. The node under test runs in its own process, the load
 * generator (autocannon) in this one. Every figure is the median of R runs and is
 * reported next to a baseline measured in the same run on the same machine:
 *   - raw PostgreSQL writing equivalent rows (the storage limit),
 *   - a minimal Fastify handler (the HTTP limit),
 *   - the equivalent SQL query through `pg` (the query limit).
 * Results are printed as a table and written to bench/results/<backend>-latest.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { normaliseEvent } from '../src/ledger/entry.js';
import { contextLink, entity, kinds, position, rng, type Kind } from './city.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    entities: { type: 'string', default: '100000' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
  },
});
const backend = args.backend as 'postgres' | 'pglite';
const ENTITIES = Number(args.entities);
const DURATION = Number(args.duration);
const RUNS = Number(args.runs);
const ADMIN_URL =
  process.env.OCP_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const only = args.only ? new Set(args.only.split(',')) : null;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function startProcess(
  command: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, command, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening (?:on )?(http:\/\/\S+)/.exec(buffer);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

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

/**
 * Samples the resident set size of the node process (Linux /proc) so every scenario can
 * report its peak next to the 300 MB budget.
 */
function rssSampler(pid: number) {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, Math.round(kb / 1024));
    } catch {
      // The process has exited, or this is not Linux: no figure.
    }
  };
  const timer = setInterval(read, 200);
  timer.unref();
  return {
    /** Peak RSS in MB since the last call, then starts a new window. */
    take(): number | undefined {
      read();
      const value = peak;
      peak = 0;
      return value === 0 ? undefined : value;
    },
    stop: () => clearInterval(timer),
  };
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

async function main() {
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  console.log(
    `benchmark: backend=${backend} entities=${ENTITIES} duration=${DURATION}s runs=${RUNS}`,
    machine,
  );

  let databaseUrl = 'memory:';
  let dropDatabase = async () => {};
  let dataDir: string | null = null;
  if (backend === 'postgres') {
    const name = `ocp_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ocp-bench-'));
  }

  const node = await startProcess(['bin/ocp.js', 'start'], {
    ...(backend === 'postgres' ? { OCP_DATABASE_URL: databaseUrl } : { OCP_DATA_DIR: dataDir! }),
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
      results.patch = {
        updatesPerSecond: Math.round(patch.rps),
        p99ms: patch.p99,
        non2xx: patch.non2xx,
        errors: patch.errors,
        samplesRps: patch.samples,
      };
      table.push({
        figure: 'single-attribute PATCH, 50 clients',
        median: Math.round(patch.rps),
        unit: 'updates/s',
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
    await dropDatabase();
  }

  const out = {
    backend,
    machine,
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

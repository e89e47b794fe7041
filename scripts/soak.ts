/**
 * Soak: runs `ocp start` as a child process under a steady mixed load for a long time
 * (10 minutes by default) and reports, per interval, throughput, errors, p50/p99 latency
 * and the node's resident memory (RSS), so one can see that memory stays flat and
 * latency bounded. Not part of `npm test`; see docs/resilience.md.
 *
 *   node --import tsx scripts/soak.ts
 *
 * Environment (this script's own, read only here):
 *   OCP_SOAK_SECONDS           total duration (default 600)
 *   OCP_SOAK_INTERVAL_SECONDS  reporting interval (default 30)
 *   OCP_SOAK_CLIENTS           concurrent clients (default 8)
 *   OCP_SOAK_ENTITIES          entities the load updates and reads (default 2000)
 *   OCP_SOAK_DATABASE_URL      postgres://… to soak a PostgreSQL node (default: a
 *                              PGlite data directory in a temp dir)
 *   OCP_SOAK_JSON              write the samples as JSON to this file
 * Exit code 1 when a request got a 5xx or timed out, or RSS grew by more than 25 %
 * from the end of the first interval to the end of the run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { airQuality, percentile } from '../src/resilience/load.js';
import { startChildNode } from '../src/resilience/servers.js';

const seconds = Number(process.env.OCP_SOAK_SECONDS ?? 600);
const intervalSeconds = Number(process.env.OCP_SOAK_INTERVAL_SECONDS ?? 30);
const clients = Number(process.env.OCP_SOAK_CLIENTS ?? 8);
const entityCount = Number(process.env.OCP_SOAK_ENTITIES ?? 2000);
const databaseUrl = process.env.OCP_SOAK_DATABASE_URL;
const jsonPath = process.env.OCP_SOAK_JSON;

interface Sample {
  t: number;
  requests: number;
  perSecond: number;
  failures: number;
  p50: number;
  p99: number;
  max: number;
  rssMb: number;
}

const dir = mkdtempSync(path.join(tmpdir(), 'ocp-soak-'));
const node = await startChildNode({
  OCP_MQTT_URL: 'none',
  OCP_LOG_LEVEL: 'error',
  ...(databaseUrl ? { OCP_DATABASE_URL: databaseUrl } : { OCP_DATA_DIR: dir }),
});
const pid = node.process.pid!;
const base = `${node.url}/ngsi-ld/v1`;
const id = (n: number) => `urn:ngsi-ld:AirQualityObserved:soak-${n}`;
const json = { 'content-type': 'application/json' };

function rssMb(): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round(kb / 1024);
}

// The city the load works on: entityCount entities, 3 attributes each, around Madrid.
for (let i = 0; i < entityCount; i += 100) {
  const batch = Array.from({ length: Math.min(100, entityCount - i) }, (_, k) => ({
    ...airQuality(id(i + k), i + k),
    location: {
      type: 'GeoProperty',
      value: { type: 'Point', coordinates: [-3.7 + ((i + k) % 100) / 1000, 40.4 + (i + k) / 1e5] },
    },
  }));
  const response = await fetch(`${base}/entityOperations/upsert`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify(batch),
  });
  if (!response.ok) throw new Error(`seeding failed: ${response.status} ${await response.text()}`);
}

/** One request of the mix: writes (batch upsert, PATCH) and reads (by id, q, geo). */
async function once(n: number): Promise<Response> {
  const pick = n % 10;
  const target = id(Math.floor(Math.random() * entityCount));
  if (pick < 2) {
    const start = Math.floor(Math.random() * (entityCount - 20));
    const batch = Array.from({ length: 20 }, (_, k) => airQuality(id(start + k), n + k));
    return fetch(`${base}/entityOperations/upsert?options=update`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(batch),
    });
  }
  if (pick < 4) {
    return fetch(`${base}/entities/${target}/attrs`, {
      method: 'PATCH',
      headers: json,
      body: JSON.stringify({ NO2: { type: 'Property', value: n % 97 } }),
    });
  }
  if (pick < 7) return fetch(`${base}/entities/${target}`);
  if (pick < 9)
    return fetch(`${base}/entities?type=AirQualityObserved&q=NO2>${n % 60};PM10<30&limit=20`);
  return fetch(
    `${base}/entities?type=AirQualityObserved&georel=near;maxDistance==500&geometry=Point&coordinates=[-3.65,40.41]&limit=20`,
  );
}

let latencies: number[] = [];
let failures = 0;
let requests = 0;
let stopped = false;
let counter = 0;

async function client(): Promise<void> {
  while (!stopped) {
    const started = performance.now();
    try {
      const response = await once(counter++);
      await response.arrayBuffer();
      if (response.status >= 500) failures++;
    } catch {
      failures++;
    }
    latencies.push(performance.now() - started);
    requests++;
  }
}

const samples: Sample[] = [];
const began = Date.now();
const running = Array.from({ length: clients }, () => client());
process.stdout.write(
  `soak: ${seconds} s, ${clients} clients, ${entityCount} entities, node pid ${pid} ` +
    `(${databaseUrl ? 'PostgreSQL' : 'PGlite'}), RSS at start ${rssMb()} MB\n` +
    `${'t (s)'.padStart(6)} ${'req'.padStart(7)} ${'req/s'.padStart(7)} ${'5xx'.padStart(5)} ` +
    `${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'max ms'.padStart(7)} ${'RSS MB'.padStart(7)}\n`,
);
while (Date.now() - began < seconds * 1000) {
  await new Promise((resolve) => setTimeout(resolve, intervalSeconds * 1000));
  const window = latencies;
  latencies = [];
  const sample: Sample = {
    t: Math.round((Date.now() - began) / 1000),
    requests,
    perSecond: Math.round(window.length / intervalSeconds),
    failures,
    p50: Math.round(percentile(window, 50) * 10) / 10,
    p99: Math.round(percentile(window, 99) * 10) / 10,
    max: Math.round(Math.max(...window)),
    rssMb: rssMb(),
  };
  samples.push(sample);
  process.stdout.write(
    `${String(sample.t).padStart(6)} ${String(sample.requests).padStart(7)} ` +
      `${String(sample.perSecond).padStart(7)} ${String(sample.failures).padStart(5)} ` +
      `${String(sample.p50).padStart(7)} ${String(sample.p99).padStart(7)} ` +
      `${String(sample.max).padStart(7)} ${String(sample.rssMb).padStart(7)}\n`,
  );
}
stopped = true;
await Promise.all(running);
await node.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });

const first = samples[0]!;
const last = samples.at(-1)!;
const growth = (last.rssMb - first.rssMb) / first.rssMb;
const worstP99 = Math.max(...samples.map((s) => s.p99));
process.stdout.write(
  `RSS ${first.rssMb} → ${last.rssMb} MB (${(growth * 100).toFixed(1)} %), ` +
    `worst interval p99 ${worstP99} ms, ${last.failures} failed of ${last.requests} requests\n`,
);
if (jsonPath)
  writeFileSync(jsonPath, JSON.stringify({ seconds, clients, entityCount, samples }, null, 2));
process.exit(last.failures > 0 || growth > 0.25 ? 1 : 0);

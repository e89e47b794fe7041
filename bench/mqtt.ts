/**
 * MQTT ingestion load: `node --import tsx bench/mqtt.ts [--backend postgres|pglite]
 * [--broker embedded|external] [--duration S] [--entities N] [--publishers P]`.
 *
 * A real node (`ocp start`) runs in its own process; P publisher processes flood it with
 * compact measurements (3 attributes each, QoS 1, at most --window unacknowledged
 * publishes per publisher) over --entities entities for --duration seconds. The node's
 * own Prometheus counters give what was committed: the sustained figure is the attribute
 * updates committed per second between the end of the warm-up and the end of publishing;
 * the offered load (what the publishers got acknowledged by the broker) is its baseline.
 * Afterwards the backlog is drained and timed, so a figure that only looks good because
 * messages pile up in memory shows up as a long drain.
 *
 * PostgreSQL: a fresh database on OCP_BENCH_DATABASE_URL's server (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards. External broker:
 * OCP_BENCH_MQTT_URL (default mqtt://127.0.0.1:1883). `--broker private`: a Mosquitto of
 * its own on a free port that queues without limit (needs the mosquitto binary).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { startMosquitto } from '../src/devices/devices.testing.js';
import { freePort } from '../src/platform/testing/ports.js';
import { freshStore, parseBackend, root, startProcess } from './harness.js';
import { deviceTopic } from '../src/devices/topics.js';

const ADMIN_SECRET = randomBytes(16).toString('hex');
const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    broker: { type: 'string', default: 'external' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    entities: { type: 'string', default: '1000' },
    publishers: { type: 'string', default: '2' },
    window: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    // Internal: run as one publisher process.
    publish: { type: 'string' },
  },
});

// ── publisher process ──────────────────────────────────────────────────────────────

interface PublishJob {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  first: number;
  count: number;
  seconds: number;
  window: number;
}

async function publisher(job: PublishJob): Promise<void> {
  const client = mqtt.connect(job.url, {
    protocolVersion: job.username ? 4 : 5,
    ...(job.username ? { username: job.username, password: job.password } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const topics = Array.from({ length: job.count }, (_, i) =>
    deviceTopic({
      kind: 'measurements',
      tenant: '',
      clientId: job.clientId,
      entityId: `urn:ngsi-ld:AirQualityObserved:bench-${job.first + i}`,
    }),
  );
  const end = Date.now() + job.seconds * 1000;
  let sent = 0;
  let acked = 0;
  let inflight = 0;
  let i = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (inflight < job.window && Date.now() < end) {
        const n = i++;
        const payload = JSON.stringify({
          // Every message can create its entity: a broker may drop any of them under overload.
          type: 'AirQualityObserved',
          t: new Date().toISOString(),
          NO2: (n % 97) + 0.5,
          PM10: (n % 53) + 0.25,
          temperature: 15 + (n % 11),
        });
        inflight++;
        sent++;
        client.publish(topics[n % job.count]!, payload, { qos: 1 }, (error) => {
          inflight--;
          if (!error) acked++;
          if (Date.now() < end) setImmediate(pump);
          else if (inflight === 0) resolve();
        });
      }
      if (Date.now() >= end && inflight === 0) resolve();
    };
    pump();
  });
  await client.endAsync();
  process.stdout.write(`${JSON.stringify({ sent, acked })}\n`);
}

if (args.publish) {
  await publisher(JSON.parse(args.publish) as PublishJob);
  process.exit(0);
}

// ── orchestration ──────────────────────────────────────────────────────────────────

const backend = parseBackend(args.backend);
const broker = args.broker as 'embedded' | 'external' | 'private';
const DURATION = Number(args.duration);
const WARMUP = Number(args.warmup);
const ENTITIES = Number(args.entities);
const PUBLISHERS = Number(args.publishers);
let MQTT_URL = process.env.OCP_BENCH_MQTT_URL ?? 'mqtt://127.0.0.1:1883';

async function metrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    // Labelled series are summed per metric name.
    const m = /^(ocp_[a-z_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

async function main(): Promise<void> {
  // PGlite runs in memory here: the node's own process holds it, nothing to clean up.
  const store =
    backend === 'postgres'
      ? await freshStore('postgres')
      : { env: { OCP_DATABASE_URL: 'memory:' }, drop: async () => undefined };
  const mqttPort = await freePort();
  // A Mosquitto of our own that queues without limit, so nothing is dropped under overload.
  const privateBroker =
    broker === 'private' ? await startMosquitto(mqttPort, 'max_queued_messages 0\n') : null;
  if (privateBroker) MQTT_URL = `mqtt://127.0.0.1:${mqttPort}`;
  const { child, url } = await startProcess(['bin/ocp.js', 'start'], {
    ...store.env,
    OCP_PORT: '0',
    OCP_LOG_LEVEL: 'warn',
    OCP_RATE_LIMIT: 'off',
    OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
    OCP_DEVICES_SHARE_GROUP: `bench-${randomBytes(4).toString('hex')}`,
    ...(broker === 'embedded' ? { OCP_MQTT_PORT: String(mqttPort) } : { OCP_MQTT_URL: MQTT_URL }),
  });
  try {
    const call = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: token
          ? { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
          : { 'content-type': 'application/x-www-form-urlencoded' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    const token = (
      await call(
        '/auth/token',
        `grant_type=client_credentials&client_id=admin&client_secret=${ADMIN_SECRET}`,
      )
    ).access_token as string;
    const org = await call('/api/v1/organisations', { name: 'Bench', kind: 'company' }, token);
    // One API client per publisher process, as separate devices (gateways) would be.
    const clients: { clientId: string; secret: string }[] = [];
    for (let p = 0; p < PUBLISHERS; p++) {
      const created = await call(
        '/api/v1/clients',
        { organisationId: org.id, name: `bench sensors ${p}`, roles: ['publisher'] },
        token,
      );
      clients.push({
        clientId: (created.client as { id: string }).id,
        secret: created.clientSecret as string,
      });
    }

    const per = Math.ceil(ENTITIES / PUBLISHERS);
    const started = Date.now();
    const publishers = Array.from({ length: PUBLISHERS }, (_, p) => {
      const job: PublishJob = {
        url: broker === 'embedded' ? `mqtt://127.0.0.1:${mqttPort}` : MQTT_URL,
        ...(broker === 'embedded'
          ? { username: clients[p]!.clientId, password: clients[p]!.secret }
          : {}),
        clientId: clients[p]!.clientId,
        first: p * per,
        count: per,
        seconds: DURATION,
        window: Number(args.window),
      };
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', 'bench/mqtt.ts', '--publish', JSON.stringify(job)],
        { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      return new Promise<{ sent: number; acked: number }>((resolve, reject) => {
        let out = '';
        proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
        proc.once('exit', (code) =>
          code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`publisher ${code}`)),
        );
      });
    });

    // Sample the node's counters once a second while the publishers run.
    const samples: { t: number; attrs: number; pending: number; rss: number }[] = [];
    let publishing = true;
    const results = Promise.all(publishers).finally(() => (publishing = false));
    while (publishing) {
      const m = await metrics(url);
      samples.push({
        t: (Date.now() - started) / 1000,
        attrs: m.ocp_mqtt_ingest_attribute_updates_total ?? 0,
        pending: m.ocp_mqtt_ingest_pending_messages ?? 0,
        rss: m.ocp_process_resident_memory_bytes ?? 0,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const offered = await results;
    const publishedAt = Date.now();
    const sent = offered.reduce((s, r) => s + r.sent, 0);
    const acked = offered.reduce((s, r) => s + r.acked, 0);
    // Drained when nothing is pending and nothing more arrives for two seconds (a broker
    // may have dropped what it could not queue: that shows as sent - written).
    let last = await metrics(url);
    let stableSince = Date.now();
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const now = await metrics(url);
      const moved =
        now.ocp_mqtt_ingest_messages_received_total !==
          last.ocp_mqtt_ingest_messages_received_total ||
        (now.ocp_mqtt_ingest_pending_messages ?? 0) > 0;
      last = now;
      if (moved) stableSince = Date.now();
      else if (Date.now() - stableSince >= 2_000) break;
    }
    const drainSeconds = Math.max(0, (stableSince - publishedAt) / 1000);

    const window = samples.filter((s) => s.t >= WARMUP);
    const first = window[0]!;
    const end = window[window.length - 1]!;
    const sustained = (end.attrs - first.attrs) / (end.t - first.t);
    const offeredRate = (acked * 3) / DURATION;
    const result = {
      backend,
      broker,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGB: totalmem() / 2 ** 30 },
      durationSeconds: DURATION,
      entities: ENTITIES,
      publishers: PUBLISHERS,
      messagesSent: sent,
      messagesAckedByBroker: acked,
      messagesWritten: last.ocp_mqtt_ingest_messages_written_total ?? 0,
      attributeUpdatesWritten: last.ocp_mqtt_ingest_attribute_updates_total ?? 0,
      deadLetters: last.ocp_mqtt_ingest_dead_letters_total ?? 0,
      sustainedAttributeUpdatesPerSecond: Math.round(sustained),
      offeredAttributeUpdatesPerSecond: Math.round(offeredRate),
      maxPendingMessages: Math.max(...samples.map((s) => s.pending)),
      drainSecondsAfterPublishing: Number(drainSeconds.toFixed(1)),
      // While draining the backlog the publishers no longer compete for the CPU.
      drainAttributeUpdatesPerSecond:
        drainSeconds > 1
          ? Math.round(
              ((last.ocp_mqtt_ingest_attribute_updates_total ?? 0) -
                samples[samples.length - 1]!.attrs) /
                drainSeconds,
            )
          : null,
      meanBatchSize: Number(
        (
          (last.ocp_mqtt_ingest_batch_size_sum ?? 0) / (last.ocp_mqtt_ingest_batch_size_count || 1)
        ).toFixed(1),
      ),
      maxRssMB: Math.round(Math.max(...samples.map((s) => s.rss)) / 2 ** 20),
    };
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const rows: [string, string][] = [
        [
          'MQTT ingestion, attribute updates/s (sustained)',
          String(result.sustainedAttributeUpdatesPerSecond),
        ],
        ['  offered (acknowledged by the broker)', String(result.offeredAttributeUpdatesPerSecond)],
        ['  ratio', (sustained / offeredRate).toFixed(2)],
        [
          '  while draining the backlog, attribute updates/s',
          String(result.drainAttributeUpdatesPerSecond),
        ],
        [
          '  messages sent / written / dead letters',
          `${sent} / ${result.messagesWritten} / ${result.deadLetters}`,
        ],
        [
          '  max backlog (messages) / drain after publishing (s)',
          `${result.maxPendingMessages} / ${result.drainSecondsAfterPublishing}`,
        ],
        ['  mean batch size', String(result.meanBatchSize)],
        ['  max RSS (MB)', String(result.maxRssMB)],
      ];
      process.stdout.write(
        `MQTT ingestion: ${backend}, ${broker} broker, ${PUBLISHERS} publishers, ${ENTITIES} entities, ${DURATION} s\n`,
      );
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(56)} ${v}\n`);
    }
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
    await store.drop();
    await privateBroker?.stop();
  }
}

await main();

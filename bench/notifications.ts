/**
 * Notification latency under a steady stream of changes:
 * `node --import tsx bench/notifications.ts [--backend postgres|pglite] [--subscriptions 100]
 *  [--rate 1000] [--duration 10] [--json]`.
 *
 * The node runs in its own process (`ocp start`); the HTTP receiver and the writer run
 * here. Each of the --subscriptions subscriptions watches its own ten entities, and
 * single-attribute PATCHes are sent at --rate per second round-robin over all the
 * entities, so every change notifies exactly one subscription. Commit-to-receipt is the
 * time the receiver has the notification minus the attribute's modifiedAt, which the
 * node sets inside the write transaction (the notification carries it: sysAttrs).
 * Baseline, in the same run: the same receiver's latency for plain POSTs sent from here
 * at the same rate — the transport floor on this machine.
 *
 * A notification carries the entity as it is when the notification is built, so changes
 * to one entity that queue up behind a slow delivery reach the receiver as one entity
 * notification with the latest value (decision 13). What must never happen is that an
 * entity's last acknowledged change is not notified at all: that is counted.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { parseArgs } from 'node:util';
import {
  freshStore,
  machine,
  parseBackend,
  percentile,
  rssSampler,
  startProcess,
  stop,
} from './harness.js';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'postgres' },
    subscriptions: { type: 'string', default: '100' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
  },
});
const backend = parseBackend(args.backend);
const SUBSCRIPTIONS = Number(args.subscriptions);
const PER_SUBSCRIPTION = 10;
const RATE = Number(args.rate);
const DURATION = Number(args.duration);
/** Writes in flight at most; beyond that a tick's writes are skipped and counted. */
const MAX_IN_FLIGHT = 256;
const log = (...parts: unknown[]) => (args.json ? console.error : console.log)(...parts);

interface Receipt {
  latencyMs: number;
}

/** An HTTP receiver that records, for every POST, the latency `latencyOf` computes. */
async function receiver(latencyOf: (body: string, at: number) => number[]) {
  const receipts: Receipt[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const at = Date.now();
      for (const latencyMs of latencyOf(body, at)) receipts.push({ latencyMs });
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    receipts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Sends `send()` RATE times a second for DURATION seconds, bounded in flight. */
async function paced(send: (n: number) => Promise<unknown>) {
  let n = 0;
  let inFlight = 0;
  let skipped = 0;
  let failed = 0;
  const tickMs = 10;
  const perTick = RATE / (1000 / tickMs);
  let owed = 0;
  const start = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (Date.now() - start >= DURATION * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      owed += perTick;
      for (; owed >= 1; owed--) {
        if (inFlight >= MAX_IN_FLIGHT) {
          skipped++;
          continue;
        }
        inFlight++;
        send(n++)
          .catch(() => failed++)
          .finally(() => inFlight--);
      }
    }, tickMs);
  });
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  return { sent: n, skipped, failed, seconds: (Date.now() - start) / 1000 };
}

const summary = (receipts: Receipt[]) => {
  const latencies = receipts.map((r) => r.latencyMs);
  return latencies.length === 0
    ? { count: 0, p50ms: NaN, p99ms: NaN, maxMs: NaN }
    : {
        count: latencies.length,
        p50ms: percentile(latencies, 50),
        p99ms: percentile(latencies, 99),
        maxMs: Math.max(...latencies),
      };
};

async function main() {
  log(
    `notifications: backend=${backend} subscriptions=${SUBSCRIPTIONS} rate=${RATE}/s duration=${DURATION}s`,
    machine(),
  );
  const store = await freshStore(backend);
  const node = await startProcess(['bin/ocp.js', 'start'], {
    ...store.env,
    OCP_PORT: '0',
    OCP_MQTT_URL: 'none',
    OCP_ANONYMOUS_ROLE: 'admin',
    OCP_RATE_LIMIT: 'off',
    OCP_LOG_LEVEL: 'warn',
    OCP_FETCH_ALLOW_PRIVATE: 'true',
    OCP_DATABASE_POOL_SIZE: '20',
  });
  const rss = rssSampler(node.child.pid!);
  /** Per entity: the highest value acknowledged by a write, and the highest notified. */
  const acknowledgedValue = new Map<string, number>();
  const notifiedValue = new Map<string, number>();
  const notified = await receiver((body, at) => {
    const doc = JSON.parse(body) as {
      data: { id: string; reading?: { value: number; modifiedAt?: string } }[];
    };
    return doc.data.flatMap((e) => {
      if (!e.reading?.modifiedAt) return [];
      notifiedValue.set(e.id, Math.max(notifiedValue.get(e.id) ?? -1, e.reading.value));
      return [at - Date.parse(e.reading.modifiedAt)];
    });
  });
  const direct = await receiver((body, at) => [
    at - (JSON.parse(body) as { sentAt: number }).sentAt,
  ]);
  const json = { 'content-type': 'application/json' };
  const id = (s: number, k: number) => `urn:ngsi-ld:Meter:s${s}-${k}`;
  try {
    const entities = [];
    for (let s = 0; s < SUBSCRIPTIONS; s++) {
      for (let k = 0; k < PER_SUBSCRIPTION; k++) {
        entities.push({ id: id(s, k), type: 'Meter', reading: { type: 'Property', value: 0 } });
      }
    }
    for (let i = 0; i < entities.length; i += 500) {
      const res = await fetch(`${node.url}/ngsi-ld/v1/entityOperations/create`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify(entities.slice(i, i + 500)),
      });
      if (res.status !== 201)
        throw new Error(`creating entities: ${res.status} ${await res.text()}`);
    }
    for (let s = 0; s < SUBSCRIPTIONS; s++) {
      const res = await fetch(`${node.url}/ngsi-ld/v1/subscriptions`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          type: 'Subscription',
          entities: [{ type: 'Meter', idPattern: `^urn:ngsi-ld:Meter:s${s}-` }],
          watchedAttributes: ['reading'],
          notification: {
            attributes: ['reading'],
            format: 'normalized',
            sysAttrs: true,
            endpoint: { uri: `${notified.url}/${s}`, accept: 'application/json' },
          },
        }),
      });
      if (res.status !== 201)
        throw new Error(`creating a subscription: ${res.status} ${await res.text()}`);
    }
    rss.take();
    const total = SUBSCRIPTIONS * PER_SUBSCRIPTION;
    const writes = await paced(async (n) => {
      const e = id(Math.floor((n % total) / PER_SUBSCRIPTION), n % PER_SUBSCRIPTION);
      const res = await fetch(`${node.url}/ngsi-ld/v1/entities/${encodeURIComponent(e)}/attrs`, {
        method: 'PATCH',
        headers: json,
        body: JSON.stringify({ reading: { type: 'Property', value: n } }),
      });
      await res.arrayBuffer();
      if (res.status !== 204) throw new Error(String(res.status));
      acknowledgedValue.set(e, Math.max(acknowledgedValue.get(e) ?? -1, n));
    });
    const acknowledged = writes.sent - writes.failed;
    const unnotified = () =>
      [...acknowledgedValue].filter(([e, v]) => (notifiedValue.get(e) ?? -1) < v).length;
    // Every entity's last acknowledged change is notified; wait for stragglers (bounded).
    const deadline = Date.now() + 30_000;
    while (unnotified() > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const maxRssMB = rss.take();
    const baseline = await paced(async (n) => {
      const res = await fetch(`${direct.url}/${n % SUBSCRIPTIONS}`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ sentAt: Date.now(), n }),
      });
      await res.arrayBuffer();
    });
    const result = {
      backend,
      subscriptions: SUBSCRIPTIONS,
      offeredChangesPerSecond: RATE,
      acknowledgedChangesPerSecond: Math.round(acknowledged / writes.seconds),
      writesSkippedAtInFlightCap: writes.skipped,
      writesFailed: writes.failed,
      entityNotificationsReceived: notified.receipts.length,
      entitiesChanged: acknowledgedValue.size,
      entitiesWithLastChangeNotNotified: unnotified(),
      commitToReceipt: summary(notified.receipts),
      directPostBaseline: { ...summary(direct.receipts), sent: baseline.sent },
      maxRssMB,
    };
    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else log(result);
  } finally {
    rss.stop();
    await stop(node.child);
    await notified.close();
    await direct.close();
    await store.drop();
  }
}

await main();

/** Test helpers for device ingestion: a node with a broker, devices that publish to it. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { ADMIN_SECRET, adminToken, createClient } from '../identity/identity.testing.js';
import type { Role } from '../platform/http/access.js';
import { testMqttUrl, type Backend } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { freePort } from '../platform/testing/ports.js';

export type Broker = 'embedded' | 'external';

/** The brokers this environment can test against. */
export function testBrokers(): Broker[] {
  return testMqttUrl ? ['embedded', 'external'] : ['embedded'];
}

export interface DeviceNode extends TestNode {
  broker: Broker;
  admin: string;
  /** Where devices connect: the embedded broker, or the external Mosquitto the node uses. */
  brokerUrl: string;
}

export async function startDeviceNode(
  backend: Backend,
  broker: Broker,
  env: Record<string, string> = {},
): Promise<DeviceNode> {
  // Every node subscribes to the whole device topic tree, so nodes of test files running
  // at the same time on one broker would take each other's messages (and dead-letter
  // them). On the external broker each node therefore gets a Mosquitto of its own when
  // the binary is here; otherwise it shares OCP_TEST_MQTT_URL.
  const own = broker === 'external' && hasMosquitto ? await startMosquitto(await freePort()) : null;
  const brokerUrl = own ? `mqtt://127.0.0.1:${own.port}` : testMqttUrl;
  let node: TestNode;
  try {
    node = await startTestNode({
      backend,
      mqtt: broker,
      listen: false,
      env: {
        OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
        OCP_RATE_LIMIT: 'off',
        // A group of its own, so nodes of other tests on the same broker do not take our messages.
        OCP_DEVICES_SHARE_GROUP: `test-${randomBytes(6).toString('hex')}`,
        OCP_DEVICES_BATCH_WAIT_MS: '5',
        ...(own ? { OCP_MQTT_URL: brokerUrl! } : {}),
        ...env,
      },
    });
  } catch (error) {
    await own?.stop();
    throw error;
  }
  const close = async () => {
    await node.close();
    await own?.stop();
  };
  try {
    await node.app.deviceIngestion!.waitSubscribed(10_000);
    return {
      ...node,
      close,
      broker,
      admin: await adminToken(node),
      brokerUrl: broker === 'embedded' ? node.platform.bus.brokerUrl! : brokerUrl!,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface Publisher {
  clientId: string;
  secret: string;
  organisationId: string;
}

export async function createPublisher(
  node: DeviceNode,
  roles: Role[] = ['publisher'],
  organisationId?: string,
): Promise<Publisher> {
  const c = await createClient(node, node.admin, roles, organisationId);
  return { clientId: c.clientId, secret: c.secret, organisationId: c.organisationId };
}

/**
 * A device connection. On the embedded broker it authenticates as `as` (a client id and
 * secret); Mosquitto in CI allows anonymous connections, its ACL being out of scope here.
 */
export async function connectDevice(
  node: DeviceNode,
  as: { clientId: string; secret: string } | null,
  options: { protocolVersion?: 4 | 5; reconnect?: boolean } = {},
): Promise<MqttClient> {
  const client = mqtt.connect(node.brokerUrl, {
    clientId: `device-${randomBytes(6).toString('hex')}`,
    protocolVersion: options.protocolVersion ?? (node.broker === 'external' ? 5 : 4),
    reconnectPeriod: options.reconnect ? 200 : 0,
    connectTimeout: 5_000,
    ...(as && node.broker === 'embedded' ? { username: as.clientId, password: as.secret } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function deadLetters(
  node: DeviceNode,
): Promise<{ reason: string; topic: string; detail: string; clientId: string | null }[]> {
  const { rows } = await node.platform.db.query<{
    reason: string;
    topic: string;
    detail: string;
    client_id: string | null;
  }>('SELECT reason, topic, detail, client_id FROM device_dead_letters ORDER BY id');
  return rows.map((r) => ({
    reason: r.reason,
    topic: r.topic,
    detail: r.detail,
    clientId: r.client_id,
  }));
}

export async function entity(
  node: DeviceNode,
  id: string,
  options: { tenant?: string; query?: string } = {},
): Promise<Record<string, unknown> | null> {
  const res = await node.app.inject({
    method: 'GET',
    url: `/ngsi-ld/v1/entities/${encodeURIComponent(id)}${options.query ?? ''}`,
    headers: {
      authorization: `Bearer ${node.admin}`,
      ...(options.tenant ? { 'ngsild-tenant': options.tenant } : {}),
    },
  });
  if (res.statusCode === 404) return null;
  if (res.statusCode !== 200) throw new Error(`GET entity: ${res.statusCode} ${res.body}`);
  return res.json();
}

// ── brokers of our own, to restart and kill ─────────────────────────────────────

export interface TestBroker {
  port: number;
  stop(): Promise<void>;
}

export const hasMosquitto = spawnSync('mosquitto', ['-h']).error === undefined;

async function waitListening(port: number): Promise<void> {
  await waitFor(`a broker on port ${port}`, async () => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 500 });
    const ok = await new Promise<boolean>((resolve) => {
      c.once('connect', () => resolve(true));
      c.once('error', () => resolve(false));
      c.once('close', () => resolve(false));
    });
    c.end(true);
    return ok;
  });
}

/** A Mosquitto of our own (anonymous, in-memory), killed with SIGKILL on stop. */
export async function startMosquitto(port: number, extraConfig = ''): Promise<TestBroker> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ocp-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n${extraConfig}`,
  );
  const child: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
  await waitListening(port);
  return {
    port,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startAedes(port: number): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    async stop() {
      // Drop every connection at once, as a crashing broker would.
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts a real node for HTTP tests: real storage, real MQTT, real HTTP server. */
import { startNode, type RunningNode, type StartOptions } from '../../node.js';
import { loadConfig, type Config } from '../config.js';
import { createTestDatabase, testMqttUrl, type Backend } from './database.js';

/** A config for tests: in-memory storage, free ports, quiet logs. Overrides win. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    OCP_DATABASE_URL: 'memory:',
    OCP_PORT: '0',
    OCP_MQTT_PORT: '0',
    OCP_LOG_LEVEL: process.env.OCP_TEST_LOG_LEVEL ?? 'silent',
    OCP_PUBLIC_URL: 'http://ocp.test',
    ...env,
  });
}

export interface TestNode extends RunningNode {
  backend: Backend;
}

export interface TestNodeOptions extends Omit<StartOptions, 'db'> {
  backend?: Backend;
  /**
   * 'embedded' (a free port), 'external' (OCP_TEST_MQTT_URL) or 'off'. Default: external
   * for the PostgreSQL backend when OCP_TEST_MQTT_URL is set, embedded otherwise.
   */
  mqtt?: 'embedded' | 'external' | 'off';
  env?: Record<string, string>;
}

export async function startTestNode(options: TestNodeOptions = {}): Promise<TestNode> {
  const backend = options.backend ?? 'pglite';
  // The PostgreSQL run is the production-like one: pair it with the real broker when set.
  const mqtt = options.mqtt ?? (backend === 'postgres' && testMqttUrl ? 'external' : 'embedded');
  if (mqtt === 'external' && !testMqttUrl) throw new Error('OCP_TEST_MQTT_URL is not set');
  const database = await createTestDatabase(backend);
  const config = testConfig({
    ...(mqtt === 'off' ? { OCP_MQTT_URL: 'none' } : {}),
    ...(mqtt === 'external' ? { OCP_MQTT_URL: testMqttUrl! } : {}),
    ...(database.url ? { OCP_DATABASE_URL: database.url } : {}),
    ...options.env,
  });
  try {
    const node = await startNode(config, { ...options, db: database.db });
    return {
      ...node,
      backend,
      async close() {
        await node.close();
        await database.close();
      },
    };
  } catch (error) {
    await database.close();
    throw error;
  }
}

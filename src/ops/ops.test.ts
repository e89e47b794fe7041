import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { testBackends } from '../platform/testing/database.js';

for (const backend of testBackends()) {
  describe(`operations endpoints (${backend})`, () => {
    let node: TestNode;
    before(async () => {
      node = await startTestNode({ backend, listen: false });
    });
    after(() => node.close());

    it('reports liveness', async () => {
      const response = await node.app.inject({ url: '/health' });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), { status: 'ok' });
    });

    it('reports readiness of the database and the broker', async () => {
      const response = await node.app.inject({ url: '/ready' });
      assert.equal(response.statusCode, 200);
      assert.deepEqual(response.json(), {
        status: 'ready',
        checks: { database: { status: 'up' }, mqtt: { status: 'up' } },
      });
    });

    it('exposes Prometheus metrics by route, for the pool and for MQTT', async () => {
      await node.app.inject({ url: '/health' });
      await node.app.inject({ url: '/no-such-thing' });
      const response = await node.app.inject({ url: '/metrics' });
      assert.equal(response.statusCode, 200);
      assert.match(String(response.headers['content-type']), /^text\/plain/);
      const text = response.body;
      assert.match(
        text,
        /ocp_http_requests_total\{method="GET",route="\/health",status_code="200"\} [1-9]/,
      );
      assert.match(
        text,
        /ocp_http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1/,
      );
      assert.match(
        text,
        /ocp_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="\/health"/,
      );
      assert.match(text, /ocp_db_pool_connections\{state="total"\} [1-9]/);
      assert.match(text, /ocp_mqtt_connected\{mode="(embedded|external)"\} 1/);
      assert.match(text, /ocp_process_cpu_seconds_total/);
    });
  });
}

describe('readiness follows its dependencies', () => {
  it('is 503 while the database does not answer', async () => {
    const node = await startTestNode({ listen: false, mqtt: 'off' });
    try {
      await node.platform.db.close();
      const response = await node.app.inject({ url: '/ready' });
      assert.equal(response.statusCode, 503);
      assert.deepEqual(response.json().checks, {
        database: { status: 'down', detail: 'database did not answer' },
        mqtt: { status: 'off' },
      });
    } finally {
      await node.close().catch(() => undefined);
    }
  });

  it('is 503 while the MQTT broker is away, and ready again when it returns', async () => {
    const startBroker = async (port: number) => {
      const broker = await Aedes.createBroker();
      const server: Server = createServer(broker.handle);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      const address = server.address();
      return {
        port: typeof address === 'object' && address ? address.port : port,
        stop: async () => {
          await new Promise<void>((resolve) => broker.close(() => resolve()));
          await new Promise<void>((resolve) => server.close(() => resolve()));
        },
      };
    };
    const broker = await startBroker(0);
    const node = await startTestNode({
      listen: false,
      env: { OCP_MQTT_URL: `mqtt://127.0.0.1:${broker.port}` },
    });
    let restarted: Awaited<ReturnType<typeof startBroker>> | null = null;
    // Readiness is polled by load balancers; poll it the same way, with a bound.
    const readyStatus = async (expected: number) => {
      for (let i = 0; i < 100; i++) {
        const { statusCode } = await node.app.inject({ url: '/ready' });
        if (statusCode === expected) return statusCode;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return (await node.app.inject({ url: '/ready' })).statusCode;
    };
    try {
      assert.equal(await readyStatus(200), 200);
      await broker.stop();
      assert.equal(await readyStatus(503), 503);
      const body = (await node.app.inject({ url: '/ready' })).json();
      assert.equal(body.checks.mqtt.status, 'down');
      assert.equal(body.checks.database.status, 'up');
      restarted = await startBroker(broker.port);
      assert.equal(await readyStatus(200), 200);
    } finally {
      await node.close();
      await restarted?.stop();
    }
  });
});

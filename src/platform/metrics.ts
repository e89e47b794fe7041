import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from './db/database.js';
import type { MessageBus } from './mqtt/message-bus.js';

/**
 * One Prometheus registry per node (not the library's global one), so several nodes in
 * one process (tests) do not share or clash over metrics.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status_code'>;
  httpDuration: Histogram<'method' | 'route' | 'status_code'>;
}

export function createMetrics(db: Database, bus: MessageBus): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'ocp_' });
  const httpRequests = new Counter({
    name: 'ocp_http_requests_total',
    help: 'HTTP requests by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'ocp_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status code.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'ocp_db_pool_connections',
    help: 'Database connections by state (PGlite reports its single connection).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const stats = db.stats();
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  new Gauge({
    name: 'ocp_mqtt_connected',
    help: '1 when the node is connected to its MQTT broker, 0 otherwise (also 0 when MQTT is off).',
    labelNames: ['mode'] as const,
    registers: [registry],
    collect() {
      this.set({ mode: bus.mode }, bus.connected() ? 1 : 0);
    },
  });
  return { registry, httpRequests, httpDuration };
}

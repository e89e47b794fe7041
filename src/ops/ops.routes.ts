/** Liveness, readiness and Prometheus metrics for the people and systems that run a node. */
import { Type } from 'typebox';
import type { Feature } from '../platform/http/server.js';

const Check = Type.Object({
  status: Type.Union([Type.Literal('up'), Type.Literal('down'), Type.Literal('off')]),
  detail: Type.Optional(Type.String()),
});

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]),
  checks: Type.Object({ database: Check, mqtt: Check }),
  warnings: Type.Optional(Type.Array(Type.String())),
});

export const opsFeature: Feature = {
  name: 'ops',
  register(app, { db, bus, metrics, logger, config }) {
    const warnings = config.anonymousRole
      ? [
          `OCP_ANONYMOUS_ROLE=${config.anonymousRole}: anonymous callers act as ${config.anonymousRole} (development only)`,
        ]
      : [];
    app.get(
      '/health',
      {
        config: { access: 'public' },
        schema: {
          tags: ['operations'],
          summary: 'Liveness: the process is up and serving HTTP.',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/ready',
      {
        config: { access: 'public' },
        schema: {
          tags: ['operations'],
          summary:
            'Readiness: the database answers and the MQTT broker (if configured) is connected.',
          response: { 200: Readiness, 503: Readiness },
        },
      },
      async (_request, reply) => {
        const database = await db.ping().then(
          () => ({ status: 'up' as const }),
          (error: Error) => {
            logger.warn({ err: error }, 'readiness: database check failed');
            return { status: 'down' as const, detail: 'database did not answer' };
          },
        );
        const mqtt =
          bus.mode === 'off'
            ? { status: 'off' as const }
            : bus.connected()
              ? { status: 'up' as const }
              : { status: 'down' as const, detail: 'not connected to the MQTT broker' };
        const ready = database.status === 'up' && mqtt.status !== 'down';
        return reply.code(ready ? 200 : 503).send({
          status: ready ? 'ready' : 'not ready',
          checks: { database, mqtt },
          ...(warnings.length > 0 ? { warnings } : {}),
        });
      },
    );

    app.get(
      '/metrics',
      {
        config: { access: 'public' },
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics (text exposition format).',
          produces: ['text/plain'],
          response: { 200: Type.String() },
        },
      },
      async (_request, reply) =>
        reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  },
};

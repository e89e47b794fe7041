/** Admin API for device dead letters: list, read, delete one, purge by filter. */
import { Type, type Static } from 'typebox';
import type { Database } from '../platform/db/database.js';
import { notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import { deadLetterRepository, type DeadLetter } from './dead-letter.repository.js';
import { deadLetterReasons, type DeadLetterReason } from './payload.js';

const admin = { access: { roles: ['admin'] as const } };
const tags = ['devices'];

const Reason = Type.Union(
  [
    Type.Literal('payload_too_large'),
    Type.Literal('malformed_json'),
    Type.Literal('invalid_topic'),
    Type.Literal('invalid_payload'),
    Type.Literal('context_unavailable'),
    Type.Literal('unauthorized'),
    Type.Literal('forbidden'),
    Type.Literal('rejected'),
    Type.Literal('write_failed'),
  ],
  { description: 'Why the message was not written (see docs/mqtt.md).' },
);
// Keeps the schema and the reasons the service records in step.
const _reasons: Static<typeof Reason>[] = [...deadLetterReasons];
const _back: DeadLetterReason[] = [] as Static<typeof Reason>[];
void _reasons;
void _back;

const DeadLetterDto = Type.Object({
  id: Type.Integer(),
  receivedAt: Type.String({ format: 'date-time' }),
  topic: Type.String(),
  tenant: Type.Union([Type.String(), Type.Null()], {
    description: 'Tenant named by the topic ("" is the default tenant), null if unreadable.',
  }),
  clientId: Type.Union([Type.String(), Type.Null()]),
  entityId: Type.Union([Type.String(), Type.Null()]),
  reason: Reason,
  detail: Type.String(),
  payload: Type.Union([Type.String(), Type.Null()], {
    description: 'The stored payload as text, null when it is not valid UTF-8.',
  }),
  payloadBase64: Type.String({ description: 'The stored payload bytes (possibly truncated).' }),
  payloadBytes: Type.Integer({ description: 'Size of the message as received.' }),
  truncated: Type.Boolean(),
});

const Filter = {
  reason: Type.Optional(Reason),
  clientId: Type.Optional(Type.String({ maxLength: 64 })),
  before: Type.Optional(
    Type.String({ format: 'date-time', description: 'Only letters received before this.' }),
  ),
};

const ListQuery = Type.Object({
  ...Filter,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  beforeId: Type.Optional(
    Type.Integer({ minimum: 1, description: 'Paging: letters older than this id.' }),
  ),
});

const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 }) });

const utf8 = new TextDecoder('utf-8', { fatal: true });

function dto(l: DeadLetter): Static<typeof DeadLetterDto> {
  let text: string | null;
  try {
    text = utf8.decode(l.payload);
  } catch {
    text = null;
  }
  return {
    id: l.id,
    receivedAt: l.receivedAt.toISOString(),
    topic: l.topic,
    tenant: l.tenant,
    clientId: l.clientId,
    entityId: l.entityId,
    reason: l.reason,
    detail: l.detail,
    payload: text,
    payloadBase64: l.payload.toString('base64'),
    payloadBytes: l.payloadBytes,
    truncated: l.truncated,
  };
}

const filterOf = (q: { reason?: DeadLetterReason; clientId?: string; before?: string }) => ({
  reason: q.reason,
  clientId: q.clientId,
  before: q.before !== undefined ? new Date(q.before) : undefined,
});

export function registerDeadLetterRoutes(app: App, db: Database): void {
  app.get(
    '/api/v1/devices/dead-letters',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Device messages that were not written, newest first.',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            total: Type.Integer({ description: 'Letters matching the filter.' }),
            items: Type.Array(DeadLetterDto),
            nextBeforeId: Type.Union([Type.Integer(), Type.Null()], {
              description: 'Pass as beforeId for the next page; null on the last page.',
            }),
          }),
        },
      },
    },
    async (request) => {
      const filter = filterOf(request.query);
      const limit = request.query.limit ?? 100;
      const [items, total] = await Promise.all([
        deadLetterRepository.list(db, filter, { limit, beforeId: request.query.beforeId }),
        deadLetterRepository.count(db, filter),
      ]);
      return {
        total,
        items: items.map(dto),
        nextBeforeId: items.length === limit ? items[items.length - 1]!.id : null,
      };
    },
  );

  app.get(
    '/api/v1/devices/dead-letters/:id',
    {
      config: admin,
      schema: {
        tags,
        summary: 'One dead letter.',
        params: IdParams,
        response: { 200: DeadLetterDto },
      },
    },
    async (request) => {
      const letter = await deadLetterRepository.get(db, request.params.id);
      if (!letter) throw notFound('No such dead letter');
      return dto(letter);
    },
  );

  app.delete(
    '/api/v1/devices/dead-letters/:id',
    {
      config: admin,
      schema: { tags, summary: 'Delete one dead letter.', params: IdParams },
    },
    async (request, reply) => {
      if (!(await deadLetterRepository.delete(db, request.params.id))) {
        throw notFound('No such dead letter');
      }
      return reply.code(204).send();
    },
  );

  app.delete(
    '/api/v1/devices/dead-letters',
    {
      config: admin,
      schema: {
        tags,
        summary: 'Purge dead letters matching the filter (all of them without one).',
        querystring: Type.Object(Filter),
        response: { 200: Type.Object({ purged: Type.Integer() }) },
      },
    },
    async (request) => ({ purged: await deadLetterRepository.purge(db, filterOf(request.query)) }),
  );
}

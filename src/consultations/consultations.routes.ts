/** The consultations API under /api/v1/consultations. */
import { Type } from 'typebox';
import { AppError, badRequest, conflict, forbidden, notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type { CommentRecord, ConsultationRecord } from './consultations.repository.js';
import {
  CommentOut,
  CommentParams,
  ConsultationDetail,
  ConsultationId,
  ConsultationOut,
  Decision,
  Moderation,
  NewComment,
  OpenConsultation,
} from './consultations.schemas.js';
import { statusOf, type ConsultationsService, type Result } from './consultations.service.js';

const tags = ['consultations'];
const stewards = { access: { roles: ['steward'] as const } };

function unwrap<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  switch (result.reason) {
    case 'not_found':
      throw notFound();
    case 'forbidden':
      throw forbidden(
        'Only the organisation that opened this consultation (or an admin) may do this',
      );
    case 'no_organisation':
      throw forbidden('Consultations are opened by an organisation; this caller has none');
    case 'not_a_person':
      throw forbidden('Comments are left by people signed in to the portal');
    case 'closed':
      throw conflict('This consultation is closed');
    case 'already_decided':
      throw conflict('The decision on this consultation has already been published');
    case 'closes_in_past':
      throw badRequest('closesAt must be in the future', [
        { path: '/closesAt', message: 'must be in the future' },
      ]);
    case 'too_many_comments':
      throw new AppError(
        'rate_limited',
        'You have reached the number of comments allowed on one consultation',
      );
  }
}

export function consultationsRoutes(app: App, service: ConsultationsService): void {
  const consultationDto = (c: ConsultationRecord) => ({
    id: c.id,
    organisationId: c.organisationId,
    topic: c.topic,
    relatedId: c.relatedId,
    subject: c.subject,
    description: c.description,
    openedAt: c.openedAt.toISOString(),
    closesAt: c.closesAt.toISOString(),
    status: statusOf(c, service.now()),
    decision: c.decision && c.decidedAt ? { ...c.decision, at: c.decidedAt.toISOString() } : null,
    commentCount: c.commentCount,
  });
  // Comments are published without their author; hidden ones keep their place and show
  // the moderation reason instead of the text.
  const commentDto = (k: CommentRecord, viewer: string | null) => ({
    id: k.id,
    lang: k.lang,
    body: k.hidden ? null : k.body,
    createdAt: k.createdAt.toISOString(),
    mine: viewer !== null && viewer === k.personId,
    moderation:
      k.moderationReason && k.moderatedAt
        ? { hidden: k.hidden, reason: k.moderationReason, at: k.moderatedAt.toISOString() }
        : null,
  });

  app.get(
    '/api/v1/consultations',
    {
      schema: {
        tags,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100000, default: 0 })),
        }),
        response: {
          200: Type.Object({ items: Type.Array(ConsultationOut), total: Type.Integer() }),
        },
      },
      config: { access: 'public' },
    },
    async (request) => {
      const { items, total } = await service.list(
        request.query.limit ?? 50,
        request.query.offset ?? 0,
      );
      return { items: items.map(consultationDto), total };
    },
  );

  app.get(
    '/api/v1/consultations/:id',
    {
      schema: { tags, params: ConsultationId, response: { 200: ConsultationDetail } },
      config: { access: 'public' },
    },
    async (request) => {
      const found = await service.get(request.params.id);
      if (!found) throw notFound();
      const viewer = request.actor.kind === 'person' ? request.actor.id : null;
      return {
        ...consultationDto(found.consultation),
        comments: found.comments.map((k) => commentDto(k, viewer)),
      };
    },
  );

  app.post(
    '/api/v1/consultations',
    {
      schema: { tags, body: OpenConsultation, response: { 201: ConsultationOut } },
      config: stewards,
    },
    async (request, reply) => {
      const c = unwrap(await service.open(request.actor, request.body));
      reply.code(201).header('Location', `/api/v1/consultations/${c.id}`);
      return consultationDto(c);
    },
  );

  app.post(
    '/api/v1/consultations/:id/comments',
    {
      schema: { tags, params: ConsultationId, body: NewComment, response: { 201: CommentOut } },
      config: { access: 'authenticated' },
    },
    async (request, reply) => {
      const k = unwrap(await service.comment(request.actor, request.params.id, request.body));
      reply.code(201);
      return commentDto(k, request.actor.id);
    },
  );

  app.post(
    '/api/v1/consultations/:id/comments/:commentId/moderation',
    {
      schema: { tags, params: CommentParams, body: Moderation, response: { 200: CommentOut } },
      config: stewards,
    },
    async (request) => {
      const { id, commentId } = request.params;
      return commentDto(
        unwrap(await service.moderate(request.actor, id, commentId, request.body)),
        null,
      );
    },
  );

  app.post(
    '/api/v1/consultations/:id/decision',
    {
      schema: { tags, params: ConsultationId, body: Decision, response: { 200: ConsultationOut } },
      config: stewards,
    },
    async (request) =>
      consultationDto(unwrap(await service.decide(request.actor, request.params.id, request.body))),
  );
}

/**
 * Consultations: a steward opens one on a proposed deployment or data-sharing agreement,
 * signed-in residents comment until it closes, stewards moderate comments with a
 * recorded reason and publish the decision with its reasons. Openings, moderation and
 * decisions are written to the ledger in the same transaction as the change.
 */
import { randomBytes } from 'node:crypto';
import { ledgerPersonHash, recordLedgerEvent, type LedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database, Queryable } from '../platform/db/database.js';
import { hasRole, type Actor } from '../platform/http/access.js';
import {
  consultationsRepository as repo,
  type CommentRecord,
  type ConsultationRecord,
} from './consultations.repository.js';
import type {
  Decision,
  Moderation,
  NewComment,
  OpenConsultation,
} from './consultations.schemas.js';

/** One person may leave this many comments on one consultation. */
export const COMMENTS_PER_PERSON = 20;

export type Failure =
  | 'not_found'
  | 'forbidden'
  | 'no_organisation'
  | 'not_a_person'
  | 'closed'
  | 'already_decided'
  | 'closes_in_past'
  | 'too_many_comments';
export type Result<T> = { ok: true; value: T } | { ok: false; reason: Failure };

const id = (prefix: string) =>
  `${prefix}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;

export function statusOf(c: ConsultationRecord, now: Date): 'open' | 'closed' | 'decided' {
  if (c.decision) return 'decided';
  return now < c.closesAt ? 'open' : 'closed';
}

export class ConsultationsService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  now(): Date {
    return this.clock.now();
  }

  private async record(tx: Queryable, by: Actor, event: Omit<LedgerEvent, 'actor'>, at: Date) {
    await recordLedgerEvent(
      tx,
      {
        ...event,
        actor: {
          organisationId: by.organisationId,
          clientId: by.kind === 'client' ? by.id : null,
          personHash: by.kind === 'person' && by.id ? await ledgerPersonHash(tx, by.id) : null,
        },
      },
      at,
    );
  }

  private mayManage(by: Actor, c: ConsultationRecord): boolean {
    return (
      hasRole(by, 'admin') || (by.organisationId !== null && by.organisationId === c.organisationId)
    );
  }

  list(limit: number, offset: number) {
    return repo.list(this.db, limit, offset);
  }

  async get(
    consultationId: string,
  ): Promise<{ consultation: ConsultationRecord; comments: CommentRecord[] } | null> {
    const consultation = await repo.get(this.db, consultationId);
    if (!consultation) return null;
    return { consultation, comments: await repo.comments(this.db, consultationId) };
  }

  async open(by: Actor, input: OpenConsultation): Promise<Result<ConsultationRecord>> {
    if (!by.organisationId) return { ok: false, reason: 'no_organisation' };
    const at = this.clock.now();
    const closesAt = new Date(input.closesAt);
    if (!(closesAt > at)) return { ok: false, reason: 'closes_in_past' };
    const consultationId = id('con');
    return this.db.transaction(async (tx) => {
      await repo.insert(tx, {
        id: consultationId,
        organisationId: by.organisationId!,
        topic: input.topic,
        relatedId: input.relatedId ?? null,
        subject: input.subject,
        description: input.description,
        openedAt: at,
        closesAt,
      });
      await this.record(
        tx,
        by,
        {
          type: 'consultation.opened',
          subject: { kind: 'consultation', id: consultationId },
          details: {
            topic: input.topic,
            relatedId: input.relatedId ?? null,
            closesAt: closesAt.toISOString(),
          },
        },
        at,
      );
      return { ok: true as const, value: (await repo.get(tx, consultationId))! };
    });
  }

  async comment(
    by: Actor,
    consultationId: string,
    input: NewComment,
  ): Promise<Result<CommentRecord>> {
    if (by.kind !== 'person' || !by.id) return { ok: false, reason: 'not_a_person' };
    return this.db.transaction(async (tx) => {
      // Locking the consultation orders comments against a decision being published.
      const c = await repo.get(tx, consultationId, true);
      if (!c) return { ok: false as const, reason: 'not_found' as const };
      const at = this.clock.now();
      if (statusOf(c, at) !== 'open') return { ok: false as const, reason: 'closed' as const };
      if ((await repo.countByPerson(tx, consultationId, by.id!)) >= COMMENTS_PER_PERSON) {
        return { ok: false as const, reason: 'too_many_comments' as const };
      }
      const comment = {
        id: id('com'),
        consultationId,
        personId: by.id!,
        lang: input.lang,
        body: input.body,
        createdAt: at,
      };
      await repo.insertComment(tx, comment);
      return {
        ok: true as const,
        value: { ...comment, hidden: false, moderationReason: null, moderatedAt: null },
      };
    });
  }

  async moderate(
    by: Actor,
    consultationId: string,
    commentId: string,
    input: Moderation,
  ): Promise<Result<CommentRecord>> {
    return this.db.transaction(async (tx) => {
      const c = await repo.get(tx, consultationId);
      if (!c) return { ok: false as const, reason: 'not_found' as const };
      if (!this.mayManage(by, c)) return { ok: false as const, reason: 'forbidden' as const };
      const comment = await repo.comment(tx, consultationId, commentId, true);
      if (!comment) return { ok: false as const, reason: 'not_found' as const };
      const at = this.clock.now();
      const hidden = input.action === 'hide';
      await repo.moderate(tx, commentId, {
        hidden,
        reason: input.reason,
        note: input.note ?? null,
        at,
      });
      await this.record(
        tx,
        by,
        {
          type: 'consultation.comment_moderated',
          subject: { kind: 'consultation', id: consultationId },
          details: { commentId, action: input.action, reason: input.reason },
        },
        at,
      );
      return {
        ok: true as const,
        value: { ...comment, hidden, moderationReason: input.reason, moderatedAt: at },
      };
    });
  }

  async decide(
    by: Actor,
    consultationId: string,
    input: Decision,
  ): Promise<Result<ConsultationRecord>> {
    return this.db.transaction(async (tx) => {
      const c = await repo.get(tx, consultationId, true);
      if (!c) return { ok: false as const, reason: 'not_found' as const };
      if (!this.mayManage(by, c)) return { ok: false as const, reason: 'forbidden' as const };
      if (c.decision) return { ok: false as const, reason: 'already_decided' as const };
      const at = this.clock.now();
      await repo.decide(tx, consultationId, { outcome: input.outcome, reasons: input.reasons }, at);
      await this.record(
        tx,
        by,
        {
          type: 'consultation.decided',
          subject: { kind: 'consultation', id: consultationId },
          details: { outcome: input.outcome, comments: c.commentCount },
        },
        at,
      );
      return { ok: true as const, value: (await repo.get(tx, consultationId))! };
    });
  }
}

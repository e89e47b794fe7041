/** SQL of consultations and their comments. */
import type { Queryable } from '../platform/db/database.js';

export interface Text {
  en: string;
  fr: string;
}

export interface ConsultationRecord {
  id: string;
  organisationId: string;
  topic: string;
  relatedId: string | null;
  subject: Text;
  description: Text;
  openedAt: Date;
  closesAt: Date;
  decision: { outcome: string; reasons: Text } | null;
  decidedAt: Date | null;
  commentCount: number;
}

export interface CommentRecord {
  id: string;
  consultationId: string;
  personId: string;
  lang: string;
  body: string;
  createdAt: Date;
  hidden: boolean;
  moderationReason: string | null;
  moderatedAt: Date | null;
}

const CONSULTATION = `c.id, c.organisation_id, c.topic, c.related_id, c.subject, c.description,
  c.opened_at, c.closes_at, c.decision, c.decided_at,
  (SELECT count(*) FROM consultation_comments k WHERE k.consultation_id = c.id AND NOT k.hidden) AS comment_count`;

/* eslint-disable @typescript-eslint/no-explicit-any */
const toConsultation = (r: any): ConsultationRecord => ({
  id: r.id,
  organisationId: r.organisation_id,
  topic: r.topic,
  relatedId: r.related_id,
  subject: r.subject,
  description: r.description,
  openedAt: r.opened_at,
  closesAt: r.closes_at,
  decision: r.decision,
  decidedAt: r.decided_at,
  commentCount: Number(r.comment_count),
});

const toComment = (r: any): CommentRecord => ({
  id: r.id,
  consultationId: r.consultation_id,
  personId: r.person_id,
  lang: r.lang,
  body: r.body,
  createdAt: r.created_at,
  hidden: r.hidden,
  moderationReason: r.moderation_reason,
  moderatedAt: r.moderated_at,
});
/* eslint-enable @typescript-eslint/no-explicit-any */

export const consultationsRepository = {
  async insert(
    db: Queryable,
    c: Omit<ConsultationRecord, 'decision' | 'decidedAt' | 'commentCount'>,
  ) {
    await db.query(
      `INSERT INTO consultations (id, organisation_id, topic, related_id, subject, description, opened_at, closes_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        c.id,
        c.organisationId,
        c.topic,
        c.relatedId,
        JSON.stringify(c.subject),
        JSON.stringify(c.description),
        c.openedAt,
        c.closesAt,
      ],
    );
  },

  async get(db: Queryable, id: string, forUpdate = false): Promise<ConsultationRecord | null> {
    const { rows } = await db.query(
      `SELECT ${CONSULTATION} FROM consultations c WHERE c.id = $1${forUpdate ? ' FOR UPDATE OF c' : ''}`,
      [id],
    );
    return rows[0] ? toConsultation(rows[0]) : null;
  },

  async list(db: Queryable, limit: number, offset: number) {
    const { rows } = await db.query(
      `SELECT ${CONSULTATION} FROM consultations c ORDER BY c.opened_at DESC, c.id LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    const total = await db.query<{ n: string | number }>('SELECT count(*) AS n FROM consultations');
    return { items: rows.map(toConsultation), total: Number(total.rows[0]!.n) };
  },

  async decide(db: Queryable, id: string, decision: { outcome: string; reasons: Text }, at: Date) {
    await db.query('UPDATE consultations SET decision = $2, decided_at = $3 WHERE id = $1', [
      id,
      JSON.stringify(decision),
      at,
    ]);
  },

  async comments(db: Queryable, consultationId: string): Promise<CommentRecord[]> {
    const { rows } = await db.query(
      `SELECT * FROM consultation_comments WHERE consultation_id = $1 ORDER BY created_at, id LIMIT 2000`,
      [consultationId],
    );
    return rows.map(toComment);
  },

  async comment(db: Queryable, consultationId: string, commentId: string, forUpdate = false) {
    const { rows } = await db.query(
      `SELECT * FROM consultation_comments WHERE consultation_id = $1 AND id = $2${forUpdate ? ' FOR UPDATE' : ''}`,
      [consultationId, commentId],
    );
    return rows[0] ? toComment(rows[0]) : null;
  },

  async countByPerson(db: Queryable, consultationId: string, personId: string): Promise<number> {
    const { rows } = await db.query<{ n: string | number }>(
      'SELECT count(*) AS n FROM consultation_comments WHERE consultation_id = $1 AND person_id = $2',
      [consultationId, personId],
    );
    return Number(rows[0]!.n);
  },

  async insertComment(
    db: Queryable,
    c: Omit<CommentRecord, 'hidden' | 'moderationReason' | 'moderatedAt'>,
  ) {
    await db.query(
      `INSERT INTO consultation_comments (id, consultation_id, person_id, lang, body, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [c.id, c.consultationId, c.personId, c.lang, c.body, c.createdAt],
    );
  },

  async moderate(
    db: Queryable,
    commentId: string,
    m: { hidden: boolean; reason: string; note: string | null; at: Date },
  ) {
    await db.query(
      `UPDATE consultation_comments
       SET hidden = $2, moderation_reason = $3, moderation_note = $4, moderated_at = $5 WHERE id = $1`,
      [commentId, m.hidden, m.reason, m.note, m.at],
    );
  },
};

/** TypeBox schemas of the consultations API. */
import { Type, type Static } from 'typebox';

const Text = (max: number) =>
  Type.Object(
    {
      en: Type.String({ minLength: 1, maxLength: max }),
      fr: Type.String({ minLength: 1, maxLength: max }),
    },
    { additionalProperties: false },
  );

export const topics = ['technology', 'data_sharing', 'other'] as const;
export const moderationReasons = [
  'off_topic',
  'abusive',
  'personal_data',
  'spam',
  'other',
] as const;
export const outcomes = ['approved', 'approved_with_changes', 'rejected', 'withdrawn'] as const;
const oneOf = <T extends readonly string[]>(values: T) =>
  Type.Union(values.map((v) => Type.Literal(v)));

export const ConsultationId = Type.Object({
  id: Type.String({ pattern: '^con_[A-Za-z0-9]{1,40}$' }),
});
export const CommentParams = Type.Object({
  id: Type.String({ pattern: '^con_[A-Za-z0-9]{1,40}$' }),
  commentId: Type.String({ pattern: '^com_[A-Za-z0-9]{1,40}$' }),
});

export const OpenConsultation = Type.Object(
  {
    topic: oneOf(topics),
    relatedId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._:-]{1,200}$' })),
    subject: Text(200),
    description: Text(8000),
    closesAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type OpenConsultation = Static<typeof OpenConsultation>;

export const NewComment = Type.Object(
  {
    body: Type.String({ minLength: 1, maxLength: 4000 }),
    lang: Type.Union([Type.Literal('en'), Type.Literal('fr')]),
  },
  { additionalProperties: false },
);
export type NewComment = Static<typeof NewComment>;

export const Moderation = Type.Object(
  {
    action: Type.Union([Type.Literal('hide'), Type.Literal('restore')]),
    reason: oneOf(moderationReasons),
    note: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false },
);
export type Moderation = Static<typeof Moderation>;

export const Decision = Type.Object(
  { outcome: oneOf(outcomes), reasons: Text(8000) },
  { additionalProperties: false },
);
export type Decision = Static<typeof Decision>;

export const CommentOut = Type.Object({
  id: Type.String(),
  lang: Type.String(),
  /** Null when the comment was hidden by moderation. */
  body: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  mine: Type.Boolean(),
  moderation: Type.Union([
    Type.Null(),
    Type.Object({
      hidden: Type.Boolean(),
      reason: Type.String(),
      at: Type.String({ format: 'date-time' }),
    }),
  ]),
});

export const ConsultationOut = Type.Object({
  id: Type.String(),
  organisationId: Type.String(),
  topic: Type.String(),
  relatedId: Type.Union([Type.String(), Type.Null()]),
  subject: Text(200),
  description: Text(8000),
  openedAt: Type.String({ format: 'date-time' }),
  closesAt: Type.String({ format: 'date-time' }),
  status: Type.Union([Type.Literal('open'), Type.Literal('closed'), Type.Literal('decided')]),
  decision: Type.Union([
    Type.Null(),
    Type.Object({ outcome: Type.String(), reasons: Text(8000), at: Type.String() }),
  ]),
  commentCount: Type.Integer(),
});

export const ConsultationDetail = Type.Object({
  ...ConsultationOut.properties,
  comments: Type.Array(CommentOut),
});

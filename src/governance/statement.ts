/**
 * Monthly usage statements per consumer organisation: what each grant delivered in a
 * calendar month (UTC) and what it costs under the grant's fee schedule. Amounts are in
 * minor units rounded half up per grant (price per 1,000 entities × entities / 1,000).
 */
import type { Queryable } from '../platform/db/database.js';

export interface StatementLine {
  grantId: string;
  datasetId: string;
  purpose: string;
  commercial: boolean;
  requests: number;
  entities: number;
  attributes: number;
  notifications: number;
  currency: string;
  perThousandEntities: number;
  amount: number;
}

export interface Statement {
  organisationId: string;
  month: string;
  lines: StatementLine[];
  totals: { currency: string; amount: number }[];
}

/** Price of `entities` at `perThousand` per 1,000, rounded to cents. */
export function charge(entities: number, perThousand: number): number {
  return Math.round((entities * perThousand * 100) / 1000) / 100;
}

export async function monthlyStatement(
  db: Queryable,
  organisationId: string,
  month: string,
): Promise<Statement> {
  const start = `${month}-01`;
  const { rows } = await db.query<{
    grant_id: string;
    dataset_id: string;
    purpose: string;
    commercial: boolean;
    fee: { currency: string; perThousandEntities: number };
    requests: string;
    entities: string;
    attributes: string;
    notifications: string;
  }>(
    `SELECT g.id AS grant_id, g.dataset_id, g.purpose, g.commercial, g.fee,
            sum(u.requests) AS requests, sum(u.entities) AS entities,
            sum(u.attributes) AS attributes, sum(u.notifications) AS notifications
       FROM gov_usage u JOIN gov_grants g ON g.id = u.grant_id
      WHERE g.consumer_org = $1 AND u.day >= $2::date AND u.day < ($2::date + interval '1 month')
      GROUP BY g.id ORDER BY g.id`,
    [organisationId, start],
  );
  const lines = rows.map((r) => {
    const entities = Number(r.entities);
    return {
      grantId: r.grant_id,
      datasetId: r.dataset_id,
      purpose: r.purpose,
      commercial: r.commercial,
      requests: Number(r.requests),
      entities,
      attributes: Number(r.attributes),
      notifications: Number(r.notifications),
      currency: r.fee.currency,
      perThousandEntities: r.fee.perThousandEntities,
      amount: charge(entities, r.fee.perThousandEntities),
    };
  });
  const totals = new Map<string, number>();
  for (const l of lines) totals.set(l.currency, (totals.get(l.currency) ?? 0) + l.amount);
  return {
    organisationId,
    month,
    lines,
    totals: [...totals].map(([currency, amount]) => ({
      currency,
      amount: Math.round(amount * 100) / 100,
    })),
  };
}

const CSV_COLUMNS: (keyof StatementLine)[] = [
  'grantId',
  'datasetId',
  'purpose',
  'commercial',
  'requests',
  'entities',
  'attributes',
  'notifications',
  'currency',
  'perThousandEntities',
  'amount',
];

export function statementCsv(s: Statement): string {
  const cell = (v: unknown) => {
    const text = String(v);
    return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return (
    [
      CSV_COLUMNS.join(','),
      ...s.lines.map((l) => CSV_COLUMNS.map((c) => cell(l[c])).join(',')),
    ].join('\r\n') + '\r\n'
  );
}

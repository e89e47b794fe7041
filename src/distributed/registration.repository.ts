/**
 * SQL for context source registrations. Registrations are few (one per source and kind of
 * information), so matching a request against them happens in TypeScript over the
 * tenant's unexpired rows (registration.match.ts), not in SQL.
 */
import type { Queryable } from '../platform/db/database.js';
import type {
  ParsedRegistration,
  RegistrationInfo,
  RegistrationRecord,
  Mode,
} from './registration.model.js';

/** Serialises writes of exclusive registrations so two conflicting ones cannot both commit. */
export const REGISTRATION_LOCK = 0x0c9_0110;

interface Row {
  tenant: string;
  id: string;
  doc: Record<string, unknown>;
  context: unknown;
  information: RegistrationInfo[];
  endpoint: string;
  mode: Mode;
  operations: string[];
  expires_at: Date | null;
  timeout_ms: number | null;
  cooldown_ms: number | null;
  created_at: Date;
  modified_at: Date;
  times_sent: string | number;
  times_failed: string | number;
  last_success: Date | null;
  last_failure: Date | null;
}

const COLUMNS = `tenant, id, doc, context, information, endpoint, mode, operations, expires_at,
  timeout_ms, cooldown_ms, created_at, modified_at, times_sent, times_failed, last_success, last_failure`;

function toRecord(r: Row): RegistrationRecord {
  return {
    tenant: r.tenant,
    id: r.id,
    doc: r.doc,
    context: r.context,
    information: r.information,
    endpoint: r.endpoint,
    mode: r.mode,
    operations: r.operations,
    expiresAt: r.expires_at ? new Date(r.expires_at) : null,
    timeoutMs: r.timeout_ms,
    cooldownMs: r.cooldown_ms,
    createdAt: new Date(r.created_at),
    modifiedAt: new Date(r.modified_at),
    timesSent: Number(r.times_sent),
    timesFailed: Number(r.times_failed),
    lastSuccess: r.last_success ? new Date(r.last_success) : null,
    lastFailure: r.last_failure ? new Date(r.last_failure) : null,
  };
}

export async function lockRegistrations(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [REGISTRATION_LOCK]);
}

export async function insertRegistration(
  tx: Queryable,
  tenant: string,
  r: ParsedRegistration,
  context: unknown,
  now: Date,
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO ngsi_csource_registrations
       (tenant, id, doc, context, information, endpoint, mode, operations, expires_at,
        timeout_ms, cooldown_ms, created_at, modified_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9, $10, $11, $12, $12)
     ON CONFLICT (tenant, id) DO NOTHING`,
    [
      tenant,
      r.id,
      JSON.stringify(r.doc),
      context === undefined ? null : JSON.stringify(context),
      JSON.stringify(r.information),
      r.endpoint,
      r.mode,
      r.operations,
      r.expiresAt,
      r.timeoutMs,
      r.cooldownMs,
      now,
    ],
  );
  return (rowCount ?? 0) > 0;
}

export async function updateRegistration(
  tx: Queryable,
  tenant: string,
  r: ParsedRegistration,
  context: unknown,
  now: Date,
): Promise<void> {
  await tx.query(
    `UPDATE ngsi_csource_registrations SET doc = $3, context = $4, information = $5, endpoint = $6,
       mode = $7, operations = $8::text[], expires_at = $9, timeout_ms = $10, cooldown_ms = $11,
       modified_at = $12
     WHERE tenant = $1 AND id = $2`,
    [
      tenant,
      r.id,
      JSON.stringify(r.doc),
      context === undefined ? null : JSON.stringify(context),
      JSON.stringify(r.information),
      r.endpoint,
      r.mode,
      r.operations,
      r.expiresAt,
      r.timeoutMs,
      r.cooldownMs,
      now,
    ],
  );
}

export async function deleteRegistration(
  tx: Queryable,
  tenant: string,
  id: string,
): Promise<RegistrationRecord | null> {
  const { rows } = await tx.query<Row>(
    `DELETE FROM ngsi_csource_registrations WHERE tenant = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [tenant, id],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

export async function getRegistration(
  db: Queryable,
  tenant: string,
  id: string,
  forUpdate = false,
): Promise<RegistrationRecord | null> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ngsi_csource_registrations WHERE tenant = $1 AND id = $2${
      forUpdate ? ' FOR UPDATE' : ''
    }`,
    [tenant, id],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The tenant's registrations, in id order; `activeAt` leaves out expired ones. */
export async function listRegistrations(
  db: Queryable,
  tenant: string,
  activeAt: Date | null,
): Promise<RegistrationRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM ngsi_csource_registrations
      WHERE tenant = $1 AND ($2::timestamptz IS NULL OR expires_at IS NULL OR expires_at > $2)
      ORDER BY id`,
    [tenant, activeAt],
  );
  return rows.map(toRecord);
}

/** Counts a forwarded request's outcome on the registration (status, timesSent, …). */
export async function recordOutcome(
  db: Queryable,
  tenant: string,
  id: string,
  ok: boolean,
  at: Date,
): Promise<void> {
  await db.query(
    ok
      ? `UPDATE ngsi_csource_registrations SET times_sent = times_sent + 1, last_success = $3
          WHERE tenant = $1 AND id = $2`
      : `UPDATE ngsi_csource_registrations
            SET times_sent = times_sent + 1, times_failed = times_failed + 1, last_failure = $3
          WHERE tenant = $1 AND id = $2`,
    [tenant, id, at],
  );
}

/**
 * What other features write into the public transparency ledger, and the one function
 * they call to do it: inside their own transaction, so a change and its ledger entry
 * commit together or not at all (DESIGN invariant 2). The ledger feature sequences
 * queued events into the Merkle log. Events never carry personal data: organisations and
 * clients by id, people only as salted hashes, records as counts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { notifyOnCommit, type Queryable } from '../platform/db/database.js';
import { LedgerEventError, normaliseEvent } from './entry.js';

export interface LedgerEvent {
  /** Dotted event name, e.g. `organisation.created`, `grant.approved`, `data.accessed`. */
  type: string;
  /** Who did it. */
  actor: { organisationId: string | null; clientId: string | null; personHash?: string | null };
  /** What it was done to, e.g. `{ kind: 'organisation', id: 'org_…' }`. */
  subject: { kind: string; id: string };
  purpose?: string | null;
  /** Number of records returned, for data access events. */
  count?: number | null;
  /** Further facts, flat and non-personal. */
  details?: Record<string, string | number | boolean | null>;
}

/** Listen/notify channel the sequencer wakes on. */
export const LEDGER_QUEUE_CHANNEL = 'ocp_ledger_queue';

/**
 * Queues `event` for the ledger in the caller's transaction. Throws (and so rolls the
 * caller's transaction back) when the event is malformed or looks like it carries
 * personal data (see entry.ts). The notification is delivered only if the transaction
 * commits, and wakes the sequencer.
 */
export async function recordLedgerEvent(
  tx: Queryable,
  event: LedgerEvent,
  at: Date,
): Promise<void> {
  const normalised = normaliseEvent(event);
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
    throw new LedgerEventError('the event time must be a valid Date');
  }
  await tx.query('INSERT INTO ledger_queue (event, recorded_at) VALUES ($1, $2)', [normalised, at]);
  await notifyOnCommit(tx, LEDGER_QUEUE_CHANNEL);
}

/**
 * The only form in which a person may appear in the ledger (`actor.personHash`):
 * HMAC-SHA-256 of their id under a secret salt kept by the node (created on first use).
 * Stable per person, so entries by one person can be related, but not reversible by
 * anyone without the database.
 */
export async function ledgerPersonHash(tx: Queryable, personId: string): Promise<string> {
  await tx.query(
    "INSERT INTO ledger_secrets (name, value) VALUES ('person_salt', $1) ON CONFLICT DO NOTHING",
    [randomBytes(32)],
  );
  const { rows } = await tx.query<{ value: Uint8Array }>(
    "SELECT value FROM ledger_secrets WHERE name = 'person_salt'",
  );
  return createHmac('sha256', Buffer.from(rows[0]!.value)).update(personId, 'utf8').digest('hex');
}

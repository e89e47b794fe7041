/**
 * What other features write into the public transparency ledger, and the one function
 * they call to do it: inside their own transaction, so a change and its ledger entry
 * commit together or not at all (DESIGN invariant 2). The ledger feature sequences
 * queued events into the Merkle log. Events never carry personal data: organisations and
 * clients by id, people only as salted hashes, records as counts.
 */
import type { Queryable } from '../platform/db/database.js';

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

/** Queues `event` for the ledger in the caller's transaction. */
export async function recordLedgerEvent(
  tx: Queryable,
  event: LedgerEvent,
  at: Date,
): Promise<void> {
  await tx.query('INSERT INTO ledger_queue (event, recorded_at) VALUES ($1, $2)', [event, at]);
}

/**
 * The retention job: deletes attribute history older than the retention period of each
 * dataset covering it, and records what it deleted in the ledger (one
 * `retention.applied` entry per dataset, with the number of history rows), in the same
 * transaction as the deletion. A transaction-scoped advisory lock makes one process do a
 * run while others skip it, so several nodes on one database delete each row once.
 *
 * History rows carry the entity's types at the time of the change; a row is covered by a
 * dataset when tenant, one of those types, the id pattern and the entity's current owner
 * (or, for deleted entities, the dataset's publisher) match.
 */
import { recordLedgerEvent } from '../ledger/ledger.events.js';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';

const RETENTION_LOCK = 0x0c9_0070;

export interface RetentionRun {
  /** False when another process held the lock and this one did nothing. */
  ran: boolean;
  deleted: { datasetId: string; rows: number; before: string }[];
}

export async function applyRetention(db: Database, clock: Clock): Promise<RetentionRun> {
  return db.transaction(async (tx) => {
    const { rows: lock } = await tx.query<{ ok: boolean }>(
      'SELECT pg_try_advisory_xact_lock($1) AS ok',
      [RETENTION_LOCK],
    );
    if (!lock[0]?.ok) return { ran: false, deleted: [] };
    const now = clock.now();
    const { rows: datasets } = await tx.query<{
      id: string;
      tenant: string;
      types: string[];
      id_pattern: string | null;
      publisher_org: string | null;
      retention_days: number;
    }>(
      `SELECT id, tenant, types, id_pattern, publisher_org, retention_days FROM gov_datasets
        WHERE retention_days IS NOT NULL ORDER BY id`,
    );
    const deleted: RetentionRun['deleted'] = [];
    for (const d of datasets) {
      const before = new Date(now.getTime() - d.retention_days * 86_400_000);
      const { rows } = await tx.query<{ n: number }>(
        `WITH gone AS (
           DELETE FROM ngsi_attribute_history h
            WHERE h.tenant = $1 AND h.entity_types && $2::text[] AND h.modified_at < $3
              AND ($4::text IS NULL OR h.entity_id ~ $4::text)
              AND COALESCE((SELECT e.owner_org FROM ngsi_entities e
                             WHERE e.tenant = h.tenant AND e.id = h.entity_id), $5::text)
                  IS NOT DISTINCT FROM $5::text
           RETURNING 1)
         SELECT count(*)::int8 AS n FROM gone`,
        [d.tenant, d.types, before, d.id_pattern, d.publisher_org],
      );
      const n = Number(rows[0]?.n ?? 0);
      if (n === 0) continue;
      deleted.push({ datasetId: d.id, rows: n, before: before.toISOString() });
      await recordLedgerEvent(
        tx,
        {
          type: 'retention.applied',
          actor: { organisationId: null, clientId: null },
          subject: { kind: 'dataset', id: d.id },
          count: n,
          details: { before: before.toISOString(), retentionDays: d.retention_days },
        },
        now,
      );
    }
    return { ran: true, deleted };
  });
}

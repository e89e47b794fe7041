/** Test data for ledger tests. */
import type { LedgerEvent } from './ledger.events.js';

export function sampleEvent(i: number, overrides: Partial<LedgerEvent> = {}): LedgerEvent {
  return {
    type: 'grant.approved',
    actor: { organisationId: 'org_city', clientId: 'cli_steward' },
    subject: { kind: 'grant', id: `gr_${i}` },
    purpose: 'traffic research',
    count: null,
    details: { datasetId: `ds_${i % 3}`, n: i },
    ...overrides,
  };
}

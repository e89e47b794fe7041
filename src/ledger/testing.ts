/** Test data for ledger tests. */
import type { TestNode } from '../platform/testing/node.js';
import { recordLedgerEvent, type LedgerEvent } from './ledger.events.js';
import { latestCheckpoint } from './ledger.repository.js';

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

/** Resolves once the node's own sequencer has signed a tree of at least `size`. */
export async function waitForTree(node: TestNode, size: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (((await latestCheckpoint(node.platform.db))?.size ?? -1) >= size) return;
    if (Date.now() > deadline) throw new Error(`ledger did not reach size ${size}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function recordEvents(node: TestNode, count: number, offset = 0): Promise<void> {
  await node.platform.db.transaction(async (tx) => {
    for (let i = 0; i < count; i++) {
      await recordLedgerEvent(tx, sampleEvent(offset + i), new Date());
    }
  });
}

/**
 * What governance costs on the read path: latency of one NGSI-LD query page
 * (limit 100, count=true) over 5,000 entities for an admin (no governance SQL), the
 * owning publisher, a consumer reading under a grant (grant subqueries, projection and
 * metering) and an anonymous reader (open dataset only), on PGlite and PostgreSQL when
 * OCP_TEST_DATABASE_URL is set; and the cost of one metering observation.
 *
 *   node --import tsx bench/governance.ts
 */
import { performance } from 'node:perf_hooks';
import { testBackends } from '../src/platform/testing/database.js';
import {
  call,
  callers,
  createDataset,
  grantAccess,
  policy,
  startGovernanceNode,
  type Caller,
} from '../src/governance/governance.testing.js';

const N = 5_000;
const ROUNDS = 200;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

for (const backend of testBackends()) {
  const node = await startGovernanceNode(backend, {
    env: { OCP_ACCESS_TOKEN_TTL_SECONDS: '3600' },
  });
  try {
    const c = await callers(node, { pub: ['publisher', 'steward'], consumer: ['consumer'] });
    for (let start = 0; start < N; start += 500) {
      const batch = Array.from({ length: 500 }, (_, i) => {
        const n = start + i;
        const type = n % 2 === 0 ? 'Parking' : 'Bench';
        return {
          id: `urn:ngsi-ld:${type}:${n}`,
          type,
          level: { type: 'Property', value: n },
          note: { type: 'Property', value: 'x' },
          location: {
            type: 'GeoProperty',
            value: { type: 'Point', coordinates: [4.3 + (n % 100) / 1000, 50.8 + n / 1e6] },
          },
        };
      });
      const res = await call(node, c.pub, 'POST', '/ngsi-ld/v1/entityOperations/create', batch);
      if (res.statusCode !== 201) throw new Error(res.body);
    }
    await createDataset(node, c.pub, {
      types: ['Bench'],
      classification: 'open',
      transforms: { dropAttrs: ['note'], locationGridMetres: 500 },
    });
    const ds = await createDataset(node, c.pub, {
      types: ['Parking'],
      classification: 'restricted',
      policy: policy(['research']),
    });
    await grantAccess(node, c.consumer, c.pub, ds, 'research');
    const scenarios: [string, Caller | null][] = [
      ['admin (no governance SQL)', c.admin],
      ['publisher (owner)', c.pub],
      ['consumer under a grant', c.consumer],
      ['anonymous (open dataset)', null],
    ];
    for (const [label, who] of scenarios) {
      const times: number[] = [];
      for (let i = 0; i < ROUNDS + 20; i++) {
        const t0 = performance.now();
        const res = await call(
          node,
          who,
          'GET',
          `/ngsi-ld/v1/entities?type=Parking,Bench&limit=100&offset=${(i % 20) * 100}&count=true`,
          undefined,
          { 'ocp-purpose': 'research' },
        );
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) throw new Error(res.body);
        if (i >= 20) times.push(ms);
      }
      times.sort((a, b) => a - b);
      console.log(
        `${backend}\t${label}\tmedian ${quantile(times, 0.5).toFixed(2)} ms\tp95 ${quantile(times, 0.95).toFixed(2)} ms`,
      );
    }
    const meter = node.app.governance.meter;
    const page = (
      await call(
        node,
        c.consumer,
        'GET',
        '/ngsi-ld/v1/entities?type=Parking&limit=100',
        undefined,
        {
          'ocp-purpose': 'research',
        },
      )
    ).json() as { id: string }[];
    const entities = page.map((e) => ({
      id: e.id,
      types: ['https://uri.etsi.org/ngsi-ld/default-context/Parking'],
      ownerOrg: c.pub.organisationId,
      attrs: { a: [{}], b: [{}], c: [{}] },
    }));
    await meter.flush();
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++)
      meter.observe(c.consumer.organisationId, 'research', '', entities);
    await meter.flush();
    const us = ((performance.now() - t0) * 1000) / 10_000;
    console.log(
      `${backend}\tmetering: one observation of 100 entities incl. flush\t${us.toFixed(1)} µs`,
    );
  } finally {
    await node.close();
  }
}

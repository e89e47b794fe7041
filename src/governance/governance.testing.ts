/** Test helpers for governance: a node with identity, governance and NGSI-LD, and callers. */
import assert from 'node:assert/strict';
import { contextFeature } from '../context/context.feature.js';
import { identityFeature } from '../identity/identity.feature.js';
import { ADMIN_SECRET, adminToken, bearer, createClient } from '../identity/identity.testing.js';
import { opsFeature } from '../ops/ops.routes.js';
import type { Clock } from '../platform/clock.js';
import type { Role } from '../platform/http/access.js';
import type { Feature } from '../platform/http/server.js';
import type { Backend } from '../platform/testing/database.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { subscriptionsFeature } from '../subscriptions/subscriptions.feature.js';
import { temporalFeature } from '../temporal/temporal.feature.js';
import { governanceFeature } from './governance.feature.js';

export { bearer };

/** Without the ledger feature, so tests can read the queued ledger events. */
export async function startGovernanceNode(
  backend: Backend,
  options: {
    clock?: Clock;
    env?: Record<string, string>;
    mqtt?: 'embedded' | 'off';
    /** Features mounted after the governed read paths (e.g. the catalog). */
    features?: Feature[];
  } = {},
): Promise<TestNode> {
  return startTestNode({
    backend,
    mqtt: options.mqtt ?? 'off',
    listen: false,
    features: [
      opsFeature,
      identityFeature,
      governanceFeature,
      contextFeature,
      temporalFeature,
      subscriptionsFeature,
      ...(options.features ?? []),
    ],
    ...(options.clock ? { clock: options.clock } : {}),
    env: {
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
      OCP_FETCH_ALLOW_PRIVATE: 'true',
      ...options.env,
    },
  });
}

export interface Caller {
  token: string | null;
  organisationId: string | null;
}

export async function callers<K extends string>(
  node: TestNode,
  spec: Record<K, Role[]>,
): Promise<Record<K, Caller> & { admin: Caller }> {
  const admin = await adminToken(node);
  const out = { admin: { token: admin, organisationId: null } } as Record<K, Caller> & {
    admin: Caller;
  };
  for (const [name, roles] of Object.entries(spec) as [K, Role[]][]) {
    const c = await createClient(node, admin, roles);
    (out as Record<string, Caller>)[name] = { token: c.token, organisationId: c.organisationId };
  }
  return out;
}

export async function call(
  node: TestNode,
  who: Caller | null,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  return node.app.inject({
    method,
    url,
    headers: {
      ...(who?.token ? bearer(who.token) : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
}

export const ODRL = 'http://www.w3.org/ns/odrl.jsonld';

export function policy(purposes?: string[], extra: Record<string, unknown> = {}) {
  return {
    '@context': ODRL,
    '@type': 'Set',
    permission: [
      {
        action: 'use',
        ...(purposes
          ? {
              constraint: [{ leftOperand: 'purpose', operator: 'isAnyOf', rightOperand: purposes }],
            }
          : {}),
      },
    ],
    ...extra,
  };
}

export async function createDataset(
  node: TestNode,
  who: Caller,
  body: Record<string, unknown>,
): Promise<string> {
  const res = await call(node, who, 'POST', '/api/v1/datasets', {
    licence: { spdx: 'CC-BY-4.0' },
    policy: policy(),
    ...body,
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json().id as string;
}

/** Requests access as `consumer` and approves it as `steward`; returns the grant id. */
export async function grantAccess(
  node: TestNode,
  consumer: Caller,
  steward: Caller,
  datasetId: string,
  purpose: string,
  terms: Record<string, unknown> = {},
): Promise<string> {
  const req = await call(node, consumer, 'POST', `/api/v1/datasets/${datasetId}/access-requests`, {
    purpose,
    durationDays: 30,
    commercial: false,
    justification: 'testing',
  });
  assert.equal(req.statusCode, 201, req.body);
  const ok = await call(
    node,
    steward,
    'POST',
    `/api/v1/access-requests/${req.json().id}/approve`,
    terms,
  );
  assert.equal(ok.statusCode, 201, ok.body);
  return ok.json().id as string;
}

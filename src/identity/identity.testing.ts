/** Test helpers for identity: a settable clock and callers with given roles, over HTTP. */
import assert from 'node:assert/strict';
import type { Clock } from '../platform/clock.js';
import type { Queryable } from '../platform/db/database.js';
import type { Actor, Role } from '../platform/http/access.js';
import { opsFeature } from '../ops/ops.routes.js';
import type { Backend } from '../platform/testing/database.js';
import { identityFeature } from './identity.feature.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { registryRepository } from './registry.repository.js';

export const ADMIN_SECRET = 'bootstrap-secret-for-tests-0123456789';

export class TestClock implements Clock {
  constructor(private ms = Date.parse('2026-03-01T10:00:00Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * Only what identity needs: the ledger feature would sequence (and so remove) the queued
 * events these tests inspect.
 */
export const identityFeatures = [opsFeature, identityFeature];

export async function startIdentityNode(
  backend: Backend,
  options: { clock?: Clock; env?: Record<string, string> } = {},
): Promise<TestNode> {
  return startTestNode({
    backend,
    mqtt: 'off',
    listen: false,
    features: identityFeatures,
    ...(options.clock ? { clock: options.clock } : {}),
    env: { OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET, OCP_RATE_LIMIT: 'off', ...options.env },
  });
}

export function form(values: Record<string, string>): string {
  return new URLSearchParams(values).toString();
}

export async function requestToken(
  node: TestNode,
  clientId: string,
  secret: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await node.app.inject({
    method: 'POST',
    url: '/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  return { status: res.statusCode, body: res.json() };
}

export async function tokenFor(node: TestNode, clientId: string, secret: string): Promise<string> {
  const { status, body } = await requestToken(node, clientId, secret);
  assert.equal(status, 200, JSON.stringify(body));
  return body.access_token as string;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function adminToken(node: TestNode): Promise<string> {
  return tokenFor(node, 'admin', ADMIN_SECRET);
}

/** Registers an organisation and a client with `roles` through the admin API. */
export async function createClient(
  node: TestNode,
  admin: string,
  roles: Role[],
  organisationId?: string,
): Promise<{ clientId: string; secret: string; organisationId: string; token: string }> {
  let orgId = organisationId;
  if (!orgId) {
    const org = await node.app.inject({
      method: 'POST',
      url: '/api/v1/organisations',
      headers: bearer(admin),
      payload: { name: 'Test organisation', kind: 'company' },
    });
    assert.equal(org.statusCode, 201, org.body);
    orgId = org.json().id as string;
  }
  const res = await node.app.inject({
    method: 'POST',
    url: '/api/v1/clients',
    headers: bearer(admin),
    payload: { organisationId: orgId, name: `client ${roles.join('+') || 'none'}`, roles },
  });
  assert.equal(res.statusCode, 201, res.body);
  const clientId = res.json().client.id as string;
  const secret = res.json().clientSecret as string;
  return { clientId, secret, organisationId: orgId, token: await tokenFor(node, clientId, secret) };
}

/**
 * Records actors a test's own authenticator makes up as API clients of the identity
 * registry, with their organisations and roles, so that work done later on their behalf
 * (notifications, checked against identity at delivery) finds them as they are.
 */
export async function recordActors(db: Queryable, actors: readonly Actor[]): Promise<void> {
  const at = new Date();
  for (const actor of actors) {
    if (actor.id === null) continue;
    const org = actor.organisationId ?? 'org_testoperator';
    await registryRepository.ensureOrganisation(db, {
      id: org,
      name: org,
      kind: 'company',
      verified: true,
      at,
    });
    await registryRepository.insertClient(db, {
      id: actor.id,
      organisationId: org,
      name: actor.id,
      secretHash: 'not a secret: made up by a test',
      at,
    });
    for (const role of actor.roles) {
      await registryRepository.grantRole(db, { clientId: actor.id }, role, at);
    }
  }
}

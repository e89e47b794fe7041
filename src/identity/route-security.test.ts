/**
 * The shared route-security suite: walks every operation in the node's OpenAPI document
 * and checks it against its declared access (`x-ocp-access`): anonymous callers, callers
 * holding the wrong role and callers holding the right role. Routes of every feature are
 * covered as they land; an operation without a declaration fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCESS_EXTENSION, roles, type Role, type RouteAccess } from '../platform/http/access.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { ADMIN_SECRET, adminToken, bearer, createClient } from './identity.testing.js';

interface Operation {
  method: string;
  path: string;
  access: RouteAccess | undefined;
}

const ROUTE_CHECK_DENIAL = /requires one of the roles/;

/** Concrete URL for an OpenAPI path template: every parameter gets a harmless value. */
function concrete(path: string): string {
  return path.replace(/\{\*\}/g, 'x/y').replace(/\{[^}]+\}/g, 'route-security-probe');
}

function bodyFor(method: string) {
  return ['POST', 'PUT', 'PATCH'].includes(method) ? { payload: {} } : {};
}

describe('route security: every route in /openapi.json enforces its declared access', () => {
  let node: TestNode;
  let operations: Operation[];
  const tokens = new Map<Role | 'none', string>();

  before(async () => {
    node = await startTestNode({
      mqtt: 'off',
      listen: false,
      env: { OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET, OCP_RATE_LIMIT: 'off' },
    });
    assert.equal(node.platform.config.anonymousRole, undefined);
    const admin = await adminToken(node);
    tokens.set('admin', admin);
    for (const role of roles.filter((r) => r !== 'admin')) {
      tokens.set(role, (await createClient(node, admin, [role])).token);
    }
    tokens.set('none', (await createClient(node, admin, [])).token);

    const doc = (await node.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([method]) =>
          ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'].includes(method),
        )
        .map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          access: op[ACCESS_EXTENSION] as RouteAccess | undefined,
        })),
    );
  });
  after(() => node?.close());

  async function call(op: Operation, token: string | null) {
    const request = node.app.inject({
      method: op.method as 'GET',
      url: concrete(op.path),
      headers: token ? bearer(token) : {},
      ...bodyFor(op.method),
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${op.method} ${op.path} did not answer`)), 15_000).unref(),
    );
    const res = await Promise.race([request, timeout]);
    let detail = '';
    try {
      detail = String((res.json() as { detail?: unknown }).detail ?? '');
    } catch {
      // Not JSON: not one of our problem documents.
    }
    return { status: res.statusCode, detail };
  }

  it('finds the routes of the node, each with a declared access requirement', () => {
    assert.ok(operations.length >= 20, `only ${operations.length} operations found`);
    for (const probe of ['/auth/token', '/api/v1/organisations', '/.well-known/jwks.json']) {
      assert.ok(
        operations.some((op) => op.path === probe),
        `${probe} missing from the OpenAPI document`,
      );
    }
    const undeclared = operations.filter((op) => op.access === undefined);
    assert.deepEqual(
      undeclared.map((op) => `${op.method} ${op.path}`),
      [],
      'operations without x-ocp-access',
    );
  });

  it('anonymous callers: public routes answer, every other route says 401', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      const { status } = await call(op, null);
      const ok = op.access === 'public' ? status !== 401 && status !== 403 : status === 401;
      if (!ok) failures.push(`${op.method} ${op.path} (${JSON.stringify(op.access)}) → ${status}`);
    }
    assert.deepEqual(failures, []);
  });

  it('callers without the required role get 403', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      const access = op.access;
      if (access === undefined || access === 'public') continue;
      if (access === 'authenticated') continue; // any identified caller qualifies
      const wrong = roles.filter((r) => r !== 'admin' && !access.roles.includes(r));
      for (const role of [...wrong, 'none' as const]) {
        const { status, detail } = await call(op, tokens.get(role)!);
        if (status !== 403 || !ROUTE_CHECK_DENIAL.test(detail)) {
          failures.push(`${op.method} ${op.path} as ${role} → ${status} ${detail}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });

  it('callers with the required role (or admin) get past the access check', async () => {
    const failures: string[] = [];
    for (const op of operations) {
      const access = op.access;
      if (access === undefined) continue;
      const allowed: (Role | 'none')[] =
        access === 'public'
          ? ['none', 'consumer']
          : access === 'authenticated'
            ? ['none']
            : [...access.roles];
      if (!allowed.includes('admin')) allowed.push('admin');
      for (const role of allowed) {
        const { status, detail } = await call(op, tokens.get(role)!);
        if (status === 401 || (status === 403 && ROUTE_CHECK_DENIAL.test(detail))) {
          failures.push(`${op.method} ${op.path} as ${role} → ${status} ${detail}`);
        }
      }
    }
    assert.deepEqual(failures, []);
  });
});

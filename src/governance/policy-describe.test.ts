/** POST /api/v1/policies/describe: the policy form's live preview (steward console). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { testBackends } from '../platform/testing/database.js';
import type { TestNode } from '../platform/testing/node.js';
import { call, callers, policy, startGovernanceNode, type Caller } from './governance.testing.js';

for (const backend of testBackends()) {
  describe(`policy preview (${backend})`, () => {
    let node: TestNode;
    let c: Record<'steward' | 'consumer', Caller>;
    before(async () => {
      node = await startGovernanceNode(backend);
      c = await callers(node, { steward: ['steward'], consumer: ['consumer'] });
    });
    after(() => node?.close());

    it('renders a valid policy in the same words as the catalog', async () => {
      const p = policy(['research'], {
        prohibition: [{ action: 'commercialize' }, { action: 'distribute' }],
      });
      const res = await call(node, c.steward, 'POST', '/api/v1/policies/describe', { policy: p });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.valid, true);
      assert.deepEqual(body.errors, []);
      assert.deepEqual(body.policyText, [
        'You may use this data only for: research.',
        'Commercial use is not allowed.',
        'You may not pass the data on to others.',
      ]);
    });

    it('reports every problem with its JSON pointer, and changes nothing', async () => {
      const res = await call(node, c.steward, 'POST', '/api/v1/policies/describe', {
        policy: policy(['no-such-purpose'], { prohibition: [{ action: 'read' }] }),
      });
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.valid, false);
      assert.deepEqual(body.policyText, []);
      const paths = (body.errors as { path: string }[]).map((e) => e.path).sort();
      assert.deepEqual(paths, [
        '/policy/permission/0/constraint/0/rightOperand/0',
        '/policy/prohibition/0/action',
      ]);
    });

    it('is for stewards and publishers only, and bounded', async () => {
      const p = { policy: policy() };
      assert.equal(
        (await call(node, null, 'POST', '/api/v1/policies/describe', p)).statusCode,
        401,
      );
      assert.equal(
        (await call(node, c.consumer, 'POST', '/api/v1/policies/describe', p)).statusCode,
        403,
      );
      const huge = { policy: { ...policy(), uid: 'x'.repeat(70_000) } };
      assert.equal(
        (await call(node, c.steward, 'POST', '/api/v1/policies/describe', huge)).statusCode,
        413,
      );
      assert.equal(
        (await call(node, c.steward, 'POST', '/api/v1/policies/describe', { other: 1 })).statusCode,
        400,
      );
    });
  });
}

/** Test helper: a node with identity, governance, NGSI-LD and the catalog (harvesting off). */
import { contextFeature } from '../context/context.feature.js';
import { governanceFeature } from '../governance/governance.feature.js';
import { identityFeature } from '../identity/identity.feature.js';
import { ADMIN_SECRET } from '../identity/identity.testing.js';
import { opsFeature } from '../ops/ops.routes.js';
import { startTestNode, type TestNode } from '../platform/testing/node.js';
import { catalogFeature } from './catalog.feature.js';

export async function startCatalogNode(
  backend: 'pglite' | 'postgres',
  env: Record<string, string> = {},
  listen = false,
): Promise<TestNode> {
  return startTestNode({
    backend,
    mqtt: 'off',
    listen,
    features: [opsFeature, identityFeature, governanceFeature, contextFeature, catalogFeature],
    env: {
      OCP_BOOTSTRAP_ADMIN_SECRET: ADMIN_SECRET,
      OCP_RATE_LIMIT: 'off',
      OCP_FETCH_ALLOW_PRIVATE: 'true',
      OCP_CATALOG_HARVEST_INTERVAL_SECONDS: '0',
      ...env,
    },
  });
}

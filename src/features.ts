import { catalogFeature } from './catalog/catalog.feature.js';
import { consultationsFeature } from './consultations/consultations.feature.js';
import { contextFeature } from './context/context.feature.js';
import { devicesFeature } from './devices/devices.feature.js';
import { distributedFeature } from './distributed/distributed.feature.js';
import { federationFeature } from './federation/federation.feature.js';
import { witnessFeature } from './federation/witness/witness.feature.js';
import { governanceFeature } from './governance/governance.feature.js';
import { identityFeature } from './identity/identity.feature.js';
import { ledgerFeature } from './ledger/ledger.routes.js';
import { opsFeature } from './ops/ops.routes.js';
import type { Feature } from './platform/http/server.js';
import { portalFeature } from './portal/portal.feature.js';
import { registerFeature } from './register/register.feature.js';
import { subscriptionsFeature } from './subscriptions/subscriptions.feature.js';
import { temporalFeature } from './temporal/temporal.feature.js';

/** Every feature mounted on a node, in registration order. */
export const features: readonly Feature[] = [
  opsFeature,
  identityFeature,
  federationFeature,
  ledgerFeature,
  governanceFeature,
  contextFeature,
  temporalFeature,
  distributedFeature,
  subscriptionsFeature,
  devicesFeature,
  registerFeature,
  consultationsFeature,
  witnessFeature,
  catalogFeature,
  // Last: the portal's page routes are exact paths, but keep the APIs first in the list.
  portalFeature,
];

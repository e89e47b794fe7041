/**
 * A node with only what device ingestion needs (ops, identity, context, devices), run as
 * a child process by the acknowledgement test: it starts as `ocp start` does and can be
 * killed for real.
 */
import { contextFeature } from '../context/context.feature.js';
import { identityFeature } from '../identity/identity.feature.js';
import { startNode } from '../node.js';
import { opsFeature } from '../ops/ops.routes.js';
import { loadConfig } from '../platform/config.js';
import { exitOnSignals } from '../platform/lifecycle.js';
import { createLogger } from '../platform/logging.js';
import { devicesFeature } from './devices.feature.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const node = await startNode(config, {
  logger,
  features: [opsFeature, identityFeature, contextFeature, devicesFeature],
});
exitOnSignals(node, logger, config.shutdownTimeoutMs);
process.stdout.write(`listening on ${node.url}\n`);

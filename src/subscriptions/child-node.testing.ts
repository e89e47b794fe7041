/**
 * A node run as a child process by the crash and multi-process tests: configured from
 * its environment like `ocp start`, with the context and subscription features (the
 * tests need nothing else), printing its URL once it listens.
 */
import { contextFeature } from '../context/context.feature.js';
import { startNode } from '../node.js';
import { loadConfig } from '../platform/config.js';
import { exitOnSignals } from '../platform/lifecycle.js';
import { createLogger } from '../platform/logging.js';
import { subscriptionsFeature } from './subscriptions.feature.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);
const node = await startNode(config, { logger, features: [contextFeature, subscriptionsFeature] });
exitOnSignals(node, logger, config.shutdownTimeoutMs);
process.stdout.write(`listening ${node.url}\n`);

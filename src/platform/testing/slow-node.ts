/**
 * A node with one extra slow route, run as a child process by the shutdown test: it
 * starts exactly as `ocp start` does and installs the same signal handling, so the test
 * exercises the real graceful-shutdown path with real in-flight requests.
 */
import { Type } from 'typebox';
import { features } from '../../features.js';
import { startNode } from '../../node.js';
import { loadConfig } from '../config.js';
import type { Feature } from '../http/server.js';
import { exitOnSignals } from '../lifecycle.js';
import { createLogger } from '../logging.js';

const slow: Feature = {
  name: 'slow',
  register(app) {
    app.get(
      '/slow',
      {
        config: { access: 'public' },
        schema: { querystring: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 8000 }) }) },
      },
      async (request) => {
        process.stdout.write(`started ${request.id}\n`);
        await new Promise((resolve) => setTimeout(resolve, request.query.ms));
        return { done: request.id };
      },
    );
  },
};

const config = loadConfig();
const logger = createLogger(config.logLevel);
const node = await startNode(config, { logger, features: [...features, slow] });
exitOnSignals(node, logger, config.shutdownTimeoutMs);
process.stdout.write(`listening ${node.url}\n`);

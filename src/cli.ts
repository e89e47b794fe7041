/**
 * `ocp`: start a node, apply migrations, print the version. The only place that
 * installs signal handlers and decides exit codes.
 */
import { verifyCommand } from './ledger/verify.js';
import { startNode, openStorage } from './node.js';
import {
  ConfigError,
  describeConfig,
  loadConfig,
  variablesHelp,
  type Config,
} from './platform/config.js';
import { migrate } from './platform/db/migrate.js';
import { exitOnSignals } from './platform/lifecycle.js';
import { createLogger } from './platform/logging.js';
import { productName, productVersion } from './platform/version.js';

const HELP = `Usage: ocp <command>

Commands:
  start      run a node (HTTP API, MQTT, background work) until SIGTERM/SIGINT
  migrate    apply database migrations and exit
  verify     check a node's public ledger: ocp verify <node-url> --key <vkey> (see ocp verify --help)
  version    print the version
  help       show this help (also --help, -h)

Configuration (environment variables; see docs/configuration.md):
${variablesHelp()}
`;

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`ocp: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

async function start(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const where = describeConfig(config);
  logger.info(
    { version: productVersion, storage: where.storage, mqtt: where.mqtt },
    'starting ocp',
  );
  const node = await startNode(config, { logger });
  process.stdout.write(
    `ocp ${productVersion} listening on ${node.url} (public URL ${config.publicUrl})\n` +
      `  storage: ${where.storage}\n  mqtt:    ${where.mqtt}\n`,
  );

  exitOnSignals(node, logger, config.shutdownTimeoutMs);
}

async function migrateCommand(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config.logLevel);
  const storage = await openStorage(config, logger);
  try {
    const report = await migrate(storage.db);
    process.stdout.write(
      report.applied.length === 0
        ? `database is up to date (version ${report.current})\n`
        : `applied ${report.applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`).join(', ')}; now at version ${report.current}\n`,
    );
  } finally {
    await storage.release();
  }
}

export async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'help';
  switch (command) {
    case 'start':
      return start();
    case 'migrate':
      return migrateCommand();
    case 'verify':
      process.exitCode = await verifyCommand(argv.slice(1));
      return;
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`${productName} ${productVersion}\n`);
      return;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return;
    default:
      process.stderr.write(`ocp: unknown command "${command}"\n\n${HELP}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`ocp: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

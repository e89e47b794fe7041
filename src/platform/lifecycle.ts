import type { Logger } from './logging.js';

/**
 * Graceful shutdown on SIGTERM/SIGINT: stop accepting, let in-flight requests finish,
 * close MQTT and storage, exit 0; exit 1 if that takes longer than `timeoutMs`.
 */
export function exitOnSignals(
  node: { close(): Promise<void> },
  logger: Logger,
  timeoutMs: number,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    node.close().then(
      () => {
        logger.info('shut down cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

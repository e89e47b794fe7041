/** Test helpers: a real local HTTP notification receiver and waiting with a deadline. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  at: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown> & { data: Record<string, unknown>[]; id: string };
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Status code answered from now on (e.g. 500 to make deliveries fail). */
  status: number;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Polls `check` until it returns a value other than undefined, or fails at the deadline. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    received,
    status: 204,
    waitFor(count, timeoutMs = 10_000) {
      return eventually(
        () => (received.length >= count ? received.slice(0, count) : undefined),
        timeoutMs,
        `${count} notifications (got ${received.length})`,
      );
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      if (receiver.status < 300) {
        received.push({ at: Date.now(), headers: req.headers, body: JSON.parse(raw) });
        for (const w of waiters.splice(0)) w();
      }
      res.statusCode = receiver.status;
      res.end();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}/notify`;
  return receiver;
}

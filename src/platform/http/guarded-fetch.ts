/**
 * The one way the node fetches URLs that callers name (remote JSON-LD @contexts, later
 * notification endpoints): a time limit for the whole exchange, a size cap on the body,
 * allow/deny host lists, and no requests — nor redirects — to loopback, private or
 * link-local addresses unless configured. Redirects are followed by hand so each hop
 * is checked again.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Config } from '../config.js';

export type FetchFailure =
  | 'invalid_url'
  | 'denied'
  | 'private_address'
  | 'timeout'
  | 'too_large'
  | 'http_status'
  | 'network';

export class GuardedFetchError extends Error {
  constructor(
    readonly reason: FetchFailure,
    message: string,
  ) {
    super(message);
    this.name = 'GuardedFetchError';
  }
}

export interface FetchedDocument {
  url: string;
  status: number;
  contentType: string | null;
  body: string;
}

export interface GuardedFetcher {
  fetchText(url: string, options?: { accept?: string }): Promise<FetchedDocument>;
  /**
   * POSTs a body (notifications); resolves to the response status, whatever it is.
   * Redirects are not followed. The response body is read up to the size cap and dropped.
   */
  post(url: string, body: string, headers: Record<string, string>): Promise<number>;
  /** The same checks for a URL of another protocol the node connects to (mqtt://…). */
  check(url: string, protocols: readonly string[]): Promise<URL>;
  /**
   * One exchange with caller-chosen headers and time limit (distributed operations):
   * resolves to the response, whatever its status. Redirects are not followed.
   */
  request(url: string, options: GuardedRequestOptions): Promise<GuardedResponse>;
}

export interface GuardedRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The caller's time budget; the configured fetch timeout when not given. */
  timeoutMs?: number;
}

export interface GuardedResponse {
  status: number;
  headers: Headers;
  body: string;
}

const MAX_REDIRECTS = 3;

/** True for addresses a public fetch must never reach. */
export function isPrivateAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) {
    const [a, b] = address.split('.').map(Number) as [number, number, number, number];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224
    );
  }
  if (version === 6) {
    const lower = address.toLowerCase();
    if (lower === '::' || lower === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped) return isPrivateAddress(mapped[1]!);
    return /^(fc|fd|fe8|fe9|fea|feb|ff)/.test(lower);
  }
  return true;
}

function hostMatches(host: string, pattern: string): boolean {
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) || host === pattern.slice(2);
  return host === pattern;
}

export function createGuardedFetcher(options: Config['fetch']): GuardedFetcher {
  async function checkUrl(
    raw: string,
    protocols: readonly string[] = ['http:', 'https:'],
  ): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new GuardedFetchError('invalid_url', `not a URL: ${raw}`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new GuardedFetchError('invalid_url', `${url.protocol} URLs are not allowed: ${raw}`);
    }
    const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
    if (options.denyHosts.some((p) => hostMatches(host, p))) {
      throw new GuardedFetchError('denied', `host ${host} is on the deny list`);
    }
    if (options.allowHosts.length > 0 && !options.allowHosts.some((p) => hostMatches(host, p))) {
      throw new GuardedFetchError('denied', `host ${host} is not on the allow list`);
    }
    if (!options.allowPrivate) {
      const addresses = isIP(host)
        ? [host]
        : await lookup(host, { all: true }).then(
            (list) => list.map((a) => a.address),
            () => {
              throw new GuardedFetchError('network', `cannot resolve ${host}`);
            },
          );
      if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
        throw new GuardedFetchError('private_address', `host ${host} is a private address`);
      }
    }
    return url;
  }

  async function readCapped(response: Response): Promise<string> {
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > options.maxBytes) {
      throw new GuardedFetchError('too_large', `response larger than ${options.maxBytes} bytes`);
    }
    if (!response.body) return '';
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > options.maxBytes) {
        await reader.cancel();
        throw new GuardedFetchError('too_large', `response larger than ${options.maxBytes} bytes`);
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  return {
    check: checkUrl,
    async request(raw, { method = 'GET', headers = {}, body, timeoutMs } = {}) {
      const limit = timeoutMs ?? options.timeoutMs;
      const signal = AbortSignal.timeout(limit);
      try {
        const url = await checkUrl(raw);
        const response = await fetch(url, { method, redirect: 'manual', signal, headers, body });
        return {
          status: response.status,
          headers: response.headers,
          body: await readCapped(response),
        };
      } catch (error) {
        if (error instanceof GuardedFetchError) throw error;
        if (signal.aborted) throw new GuardedFetchError('timeout', `no answer within ${limit} ms`);
        throw new GuardedFetchError('network', `cannot reach ${raw}`);
      }
    },
    async post(raw, body, headers) {
      const signal = AbortSignal.timeout(options.timeoutMs);
      try {
        const url = await checkUrl(raw);
        const response = await fetch(url, {
          method: 'POST',
          redirect: 'manual',
          signal,
          headers,
          body,
        });
        await readCapped(response).catch(() => undefined);
        return response.status;
      } catch (error) {
        if (error instanceof GuardedFetchError) throw error;
        if (signal.aborted) {
          throw new GuardedFetchError('timeout', `no answer within ${options.timeoutMs} ms`);
        }
        throw new GuardedFetchError('network', `cannot reach ${raw}`);
      }
    },
    async fetchText(raw, { accept = 'application/ld+json, application/json;q=0.9' } = {}) {
      const signal = AbortSignal.timeout(options.timeoutMs);
      let current = raw;
      try {
        for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
          const url = await checkUrl(current);
          const response = await fetch(url, { redirect: 'manual', signal, headers: { accept } });
          if (response.status >= 300 && response.status < 400) {
            const location = response.headers.get('location');
            await response.body?.cancel();
            if (!location) throw new GuardedFetchError('http_status', `redirect without location`);
            current = new URL(location, url).toString();
            continue;
          }
          if (response.status !== 200) {
            await response.body?.cancel();
            throw new GuardedFetchError(
              'http_status',
              `${url.toString()} answered ${response.status}`,
            );
          }
          return {
            url: url.toString(),
            status: response.status,
            contentType: response.headers.get('content-type'),
            body: await readCapped(response),
          };
        }
        throw new GuardedFetchError('http_status', `more than ${MAX_REDIRECTS} redirects`);
      } catch (error) {
        if (error instanceof GuardedFetchError) throw error;
        if (signal.aborted) {
          throw new GuardedFetchError('timeout', `no answer within ${options.timeoutMs} ms`);
        }
        throw new GuardedFetchError('network', `cannot fetch ${current}`);
      }
    },
  };
}

/**
 * Turns a request's @context (nothing, a URL, an inline object or an array of both) into a
 * `TermMap`, built once per distinct context and cached. URLs resolve, in order, to the
 * core context shipped in the repository, a context hosted by this node, the in-memory
 * cache of remote contexts, the database cache, and finally the guarded fetcher. A context
 * that cannot be obtained gives LdContextNotAvailable (503) within the fetch timeout.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../../platform/clock.js';
import type { Database } from '../../platform/db/database.js';
import { AppError, badRequest } from '../../platform/http/errors.js';
import { GuardedFetchError, type GuardedFetcher } from '../../platform/http/guarded-fetch.js';
import { coreContextObject, CORE_CONTEXT_URL, isCoreContextUrl } from './core-context.js';
import { findContextByUrl, saveContext, touchContext } from './context-store.js';
import { TermMap, type ContextObject } from './term-map.js';

/** What a request said its @context is: undefined means the core context alone. */
export type RequestContext = string | ContextObject | readonly (string | ContextObject)[];

const MAX_CACHED_MAPS = 1000;
const MAX_DEPTH = 8;

export const contextNotAvailable = (detail: string) =>
  new AppError('ld_context_not_available', detail);

export class ContextResolver {
  private readonly implicit = new Set<string>();
  private readonly maps = new Map<string, { map: TermMap; expiresAt: number }>();
  private readonly documents = new Map<string, { objects: ContextObject[]; expiresAt: number }>();
  readonly core: TermMap = TermMap.build([], [coreContextObject]);

  constructor(
    private readonly db: Database,
    private readonly fetcher: GuardedFetcher,
    private readonly clock: Clock,
    private readonly ttlSeconds: number,
    /** URL prefix of contexts this node hosts, e.g. https://node/ngsi-ld/v1/jsonldContexts/ */
    readonly hostedPrefix: string,
  ) {}

  /** The cached term map for a context (core only when undefined). */
  async resolve(context: RequestContext | undefined): Promise<TermMap> {
    if (context === undefined) return this.core;
    const list = Array.isArray(context) ? context : [context];
    if (
      list.length === 0 ||
      (list.length === 1 && typeof list[0] === 'string' && isCoreContextUrl(list[0]))
    ) {
      return this.core;
    }
    const key = JSON.stringify(list);
    const now = this.clock.now().getTime();
    const cached = this.maps.get(key);
    if (cached && cached.expiresAt > now) {
      this.maps.delete(key);
      this.maps.set(key, cached);
      return cached.map;
    }
    const state = { expiresAt: Number.POSITIVE_INFINITY };
    const objects = await this.flatten(list, 0, state);
    const map = TermMap.build(objects, [coreContextObject]);
    this.maps.set(key, { map, expiresAt: state.expiresAt });
    if (this.maps.size > MAX_CACHED_MAPS) {
      const oldest = this.maps.keys().next().value;
      if (oldest !== undefined) this.maps.delete(oldest);
    }
    return map;
  }

  private async flatten(
    list: readonly unknown[],
    depth: number,
    state: { expiresAt: number },
  ): Promise<ContextObject[]> {
    if (depth > MAX_DEPTH) throw badRequest('@context nests too deeply');
    const out: ContextObject[] = [];
    for (const entry of list) {
      if (entry === null) continue;
      if (typeof entry === 'string') {
        if (isCoreContextUrl(entry)) continue;
        const loaded = await this.load(entry, state);
        out.push(...(await this.flatten(loaded, depth + 1, state)));
      } else if (typeof entry === 'object' && !Array.isArray(entry)) {
        out.push(entry as ContextObject);
      } else if (Array.isArray(entry)) {
        out.push(...(await this.flatten(entry, depth + 1, state)));
      } else {
        throw badRequest('@context entries must be URLs or objects');
      }
    }
    return out;
  }

  /** The @context value(s) of the document at `url`. */
  private async load(url: string, state: { expiresAt: number }): Promise<unknown[]> {
    if (!/^https?:\/\//.test(url)) throw badRequest(`@context URL is not an http(s) URL: ${url}`);
    const now = this.clock.now().getTime();
    const mem = this.documents.get(url);
    if (mem && mem.expiresAt > now) {
      state.expiresAt = Math.min(state.expiresAt, mem.expiresAt);
      return mem.objects;
    }
    const stored = await findContextByUrl(this.db, url);
    const ttlMs = this.ttlSeconds * 1000;
    if (stored && (stored.kind !== 'cached' || (stored.fetchedAt?.getTime() ?? 0) + ttlMs > now)) {
      await touchContext(this.db, url, this.clock.now());
      const objects = contextEntries(stored.body);
      const expiresAt =
        stored.kind !== 'cached' ? now + ttlMs : (stored.fetchedAt?.getTime() ?? now) + ttlMs;
      this.documents.set(url, { objects: objects as ContextObject[], expiresAt });
      state.expiresAt = Math.min(state.expiresAt, expiresAt);
      return objects;
    }
    if (url.startsWith(this.hostedPrefix)) {
      throw contextNotAvailable(`@context ${url} is not hosted here`);
    }
    let body: unknown;
    try {
      const doc = await this.fetcher.fetchText(url);
      body = JSON.parse(doc.body);
    } catch (error) {
      if (stored) {
        // Serve the stale copy rather than fail when the origin is down, and do not ask the
        // origin again for a minute, so requests do not each wait for the timeout.
        const objects = contextEntries(stored.body);
        const expiresAt = now + Math.min(60_000, ttlMs);
        this.documents.set(url, { objects: objects as ContextObject[], expiresAt });
        state.expiresAt = Math.min(state.expiresAt, expiresAt);
        return objects;
      }
      const why = error instanceof GuardedFetchError ? error.message : 'not valid JSON';
      throw contextNotAvailable(`@context ${url} could not be retrieved: ${why}`);
    }
    if (typeof body !== 'object' || body === null || !('@context' in body)) {
      throw contextNotAvailable(`@context ${url} is not a JSON-LD context document`);
    }
    await saveContext(this.db, {
      id: `urn:ngsi-ld:context:${randomUUID()}`,
      url,
      kind: 'cached',
      body,
      at: this.clock.now(),
    });
    const objects = contextEntries(body);
    const expiresAt = now + ttlMs;
    this.documents.set(url, { objects: objects as ContextObject[], expiresAt });
    state.expiresAt = Math.min(state.expiresAt, expiresAt);
    return objects;
  }

  /**
   * A URL for a request context, for `Link` headers: the URL itself, the core context, or
   * for inline and compound contexts a node-hosted copy ("ImplicitlyCreated"), stored once.
   */
  async linkFor(context: RequestContext | undefined): Promise<string> {
    if (context === undefined) return CORE_CONTEXT_URL;
    if (typeof context === 'string') return context;
    const id = `implicit-${createHash('sha256').update(JSON.stringify(context)).digest('hex').slice(0, 32)}`;
    const url = `${this.hostedPrefix}${id}`;
    if (!this.implicit.has(url)) {
      if (!(await findContextByUrl(this.db, url))) {
        await saveContext(this.db, {
          id,
          url,
          kind: 'implicit',
          body: { '@context': context },
          at: this.clock.now(),
        });
      }
      this.implicit.add(url);
    }
    return url;
  }

  /** Forget everything derived from `url` (after a delete or reload). */
  invalidate(url: string): void {
    this.documents.delete(url);
    this.implicit.delete(url);
    this.maps.clear();
  }

  /** The URL to advertise in a `Link` header for a request context. */
  static linkUrl(context: RequestContext | undefined): string {
    if (typeof context === 'string') return context;
    return CORE_CONTEXT_URL;
  }
}

function contextEntries(body: unknown): unknown[] {
  const ctx = (body as { '@context'?: unknown })['@context'];
  return Array.isArray(ctx) ? ctx : [ctx];
}

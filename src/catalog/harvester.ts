/**
 * The federated catalog: on a schedule, harvest the DCAT catalog of each active peer into
 * catalog_harvested_datasets. Once per node, whatever the number of processes: a round runs
 * only under the `catalog-harvest` lease (catalog_leases). Requests are conditional
 * (If-None-Match / If-Modified-Since with the validators of the last 200), so an unchanged
 * catalog costs one 304. Requests carry no credentials: what is harvested is the peer's
 * anonymous (public) view, and only http(s) links under the peer's own origin are kept, so
 * every harvested dataset links to its home node.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../platform/clock.js';
import type { Config } from '../platform/config.js';
import type { Database } from '../platform/db/database.js';
import { GuardedFetchError, type GuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Logger } from '../platform/logging.js';
import { catalogRepository as repo, type NewHarvested } from './catalog.repository.js';

/** What the catalog needs of a peer (the federation peer directory provides it). */
export interface CatalogPeer {
  nodeId: string;
  name: string;
  url: string;
  catalogUrl?: string | null;
}

export type PeerSource = () => Promise<CatalogPeer[]>;

const LEASE = 'catalog-harvest';
const MAX_PAGES = 50;
const MAX_DATASET_BYTES = 64 * 1024;
const MAX_REDIRECTS = 3;
const ACCEPT = 'application/ld+json, application/json;q=0.9';

export interface ConditionalResponse {
  status: 200 | 304;
  url: string;
  body: string;
  etag: string | null;
  lastModified: string | null;
}

/**
 * A GET with validators, through the guarded fetcher's single exchange (URL checks on every
 * hop, its time and size limits); redirects are followed here, each hop checked again.
 */
export async function fetchConditional(
  fetcher: GuardedFetcher,
  limits: Pick<Config['fetch'], 'timeoutMs' | 'maxBytes'>,
  raw: string,
  validators: { etag: string | null; lastModified: string | null },
): Promise<ConditionalResponse> {
  const headers: Record<string, string> = { accept: ACCEPT };
  if (validators.etag) headers['if-none-match'] = validators.etag;
  if (validators.lastModified) headers['if-modified-since'] = validators.lastModified;
  let current = raw;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const response = await fetcher.request(current, { headers, timeoutMs: limits.timeoutMs });
    const etag = response.headers.get('etag');
    const lastModified = response.headers.get('last-modified');
    if (response.status === 304) return { status: 304, url: current, body: '', etag, lastModified };
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      if (!location) throw new GuardedFetchError('http_status', 'redirect without location');
      current = new URL(location, current).toString();
      continue;
    }
    if (response.status !== 200) {
      throw new GuardedFetchError('http_status', `${current} answered ${response.status}`);
    }
    return { status: 200, url: current, body: response.body, etag, lastModified };
  }
  throw new GuardedFetchError('http_status', `more than ${MAX_REDIRECTS} redirects`);
}

// ── reading a peer's DCAT JSON-LD (the compact form /catalog serves) ──────────────

type Node = Record<string, unknown>;
const FULL: Record<string, string> = {
  'dcat:': 'http://www.w3.org/ns/dcat#',
  'dct:': 'http://purl.org/dc/terms/',
  'foaf:': 'http://xmlns.com/foaf/0.1/',
  'hydra:': 'http://www.w3.org/ns/hydra/core#',
};

/** A property by its compact name or full IRI. */
function prop(node: unknown, name: string): unknown {
  if (!node || typeof node !== 'object') return undefined;
  const n = node as Node;
  if (name in n) return n[name];
  const [prefix, local] = [name.slice(0, name.indexOf(':') + 1), name.slice(name.indexOf(':') + 1)];
  const full = FULL[prefix];
  return full ? n[full + local] : undefined;
}

const list = (v: unknown): unknown[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];

function text(v: unknown, max: number): string {
  const values = list(v);
  const pick =
    values.find((x) => x && typeof x === 'object' && (x as Node)['@language'] === 'en') ??
    values[0];
  const s =
    typeof pick === 'string'
      ? pick
      : pick && typeof pick === 'object' && typeof (pick as Node)['@value'] === 'string'
        ? ((pick as Node)['@value'] as string)
        : '';
  return s.slice(0, max);
}

function iri(v: unknown): string | null {
  const first = list(v)[0];
  const s = typeof first === 'string' ? first : (first as Node | undefined)?.['@id'];
  return typeof s === 'string' ? s : null;
}

const FORMAT_NAMES: Record<string, string> = { JSON_LD: 'JSON-LD', JSON: 'JSON', CSV: 'CSV' };

/** Under the peer's origin (http/https only): the links we keep point at the home node. */
function atHome(url: string | null, origin: string): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === origin
      ? u.toString()
      : null;
  } catch {
    return null;
  }
}

export function readDataset(d: unknown, origin: string): NewHarvested | null {
  if (!d || typeof d !== 'object') return null;
  const node = d as Node;
  const id = atHome(typeof node['@id'] === 'string' ? node['@id'] : null, origin);
  if (!id) return null;
  if (iri(prop(node, 'dct:accessRights'))?.endsWith('/NON_PUBLIC')) return null;
  if (JSON.stringify(node).length > MAX_DATASET_BYTES) return null;
  const title = text(prop(node, 'dct:title'), 500);
  if (title === '') return null;
  const licence = iri(prop(node, 'dct:license'));
  const distributions = list(prop(node, 'dcat:distribution'));
  const formats = [
    ...new Set(
      distributions
        .map((x) => iri(prop(x, 'dct:format')))
        .filter((f): f is string => !!f)
        .map((f) => {
          const last = f.slice(f.lastIndexOf('/') + 1);
          return FORMAT_NAMES[last] ?? last;
        }),
    ),
  ].slice(0, 10);
  const modified = text(prop(node, 'dct:modified'), 40);
  const publisher = prop(node, 'dct:publisher');
  const localId = text(prop(node, 'dct:identifier'), 200) || id.slice(id.lastIndexOf('/') + 1);
  return {
    datasetIri: id,
    localId: localId.replace(/[^A-Za-z0-9_.-]/g, '-'),
    title,
    description: text(prop(node, 'dct:description'), 5000),
    keywords: list(prop(node, 'dcat:keyword'))
      .map((k) => text(k, 100))
      .filter(Boolean)
      .slice(0, 50),
    licence: licence?.startsWith('https://spdx.org/licenses/')
      ? licence.slice('https://spdx.org/licenses/'.length)
      : null,
    formats,
    publisher: text(prop(publisher, 'foaf:name'), 200) || null,
    landingPage: atHome(iri(prop(node, 'dcat:landingPage')), origin),
    accessUrl: atHome(iri(prop(distributions[0], 'dcat:accessURL')), origin),
    modified: modified && !Number.isNaN(Date.parse(modified)) ? new Date(modified) : null,
    doc: node,
  };
}

export interface HarvestOutcome {
  nodeId: string;
  status: 200 | 304 | 'failed';
  datasets?: number;
  error?: string;
}

export class CatalogHarvester {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private readonly holder = `hv_${randomBytes(9).toString('base64url')}`;

  constructor(
    private readonly db: Database,
    private readonly fetcher: GuardedFetcher,
    private readonly limits: Pick<Config['fetch'], 'timeoutMs' | 'maxBytes'>,
    private readonly peers: PeerSource,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** One round over every active peer; null when another process holds the lease. */
  async runOnce(): Promise<HarvestOutcome[] | null> {
    const now = this.clock.now();
    // Long enough for every page of every peer at the fetch time limit, with a margin.
    const until = new Date(now.getTime() + 10 * 60_000);
    if (!(await repo.takeLease(this.db, LEASE, this.holder, now, until))) return null;
    try {
      const peers = await this.peers();
      await repo.removeSourcesExcept(
        this.db,
        peers.map((p) => p.nodeId),
      );
      const outcomes: HarvestOutcome[] = [];
      for (const peer of peers) outcomes.push(await this.harvestPeer(peer));
      return outcomes;
    } finally {
      await repo.releaseLease(this.db, LEASE, this.holder).catch(() => undefined);
    }
  }

  private async harvestPeer(peer: CatalogPeer): Promise<HarvestOutcome> {
    const base = peer.url.replace(/\/+$/, '');
    const catalogUrl = peer.catalogUrl || `${base}/catalog`;
    await repo.upsertSource(this.db, peer.nodeId, peer.name, catalogUrl);
    const source = (await repo.source(this.db, peer.nodeId))!;
    let origin: string;
    try {
      origin = new URL(base).origin;
    } catch {
      await repo.recordAttempt(this.db, peer.nodeId, this.clock.now(), null, 'invalid peer URL');
      return { nodeId: peer.nodeId, status: 'failed', error: 'invalid peer URL' };
    }
    try {
      const first = await fetchConditional(this.fetcher, this.limits, catalogUrl, source);
      if (first.status === 304) {
        await repo.notModified(this.db, peer.nodeId, this.clock.now());
        return { nodeId: peer.nodeId, status: 304 };
      }
      const datasets: NewHarvested[] = [];
      let page: ConditionalResponse = first;
      for (let n = 1; ; n++) {
        const doc = JSON.parse(page.body) as unknown;
        if (!doc || typeof doc !== 'object') throw new Error('the catalog is not a JSON object');
        for (const d of list(prop(doc, 'dcat:dataset'))) {
          const read = readDataset(d, origin);
          if (read) datasets.push(read);
        }
        const next = atHome(iri(prop(prop(doc, 'hydra:view'), 'hydra:next')), origin);
        if (!next || n >= MAX_PAGES) break;
        page = await fetchConditional(this.fetcher, this.limits, next, {
          etag: null,
          lastModified: null,
        });
      }
      await this.db.transaction((tx) =>
        repo.replaceHarvest(
          tx,
          peer.nodeId,
          datasets,
          { etag: first.etag, lastModified: first.lastModified },
          this.clock.now(),
        ),
      );
      return { nodeId: peer.nodeId, status: 200, datasets: datasets.length };
    } catch (error) {
      const message =
        error instanceof GuardedFetchError
          ? `${error.reason}: ${error.message}`
          : error instanceof SyntaxError
            ? 'the catalog is not valid JSON'
            : (error as Error).message;
      await repo
        .recordAttempt(this.db, peer.nodeId, this.clock.now(), null, message.slice(0, 500))
        .catch(() => undefined);
      this.logger.warn({ peer: peer.nodeId, error: message }, 'catalog harvest failed');
      return { nodeId: peer.nodeId, status: 'failed', error: message };
    }
  }

  /** Harvests every `intervalMs`, the first round shortly after start. */
  start(intervalMs: number): void {
    const tick = () => {
      if (this.running) return;
      this.running = this.runOnce()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'catalog harvest round failed'))
        .finally(() => (this.running = null));
    };
    const first = setTimeout(tick, Math.min(intervalMs, 10_000));
    first.unref();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    this.stopFirst = () => clearTimeout(first);
  }

  private stopFirst: () => void = () => undefined;

  async stop(): Promise<void> {
    this.stopFirst();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

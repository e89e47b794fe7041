/**
 * NGSI-LD distributed operations (clause 4.3.6): a query or retrieve at this node is sent
 * to every registered context source whose registration matches it, and the answers are
 * merged by entity id with the local result according to each registration's mode:
 *   inclusive  local and remote merged;
 *   exclusive  the source is authoritative for the registered attributes of the
 *              registered ids: local values of those are dropped;
 *   redirect   the source alone answers for what it registered: local values dropped;
 *   auxiliary  used only to fill in entities and attributes nobody else provided.
 * A source that fails (error, timeout, cooldown after a failure) is reported in an
 * NGSILD-Warning header (clause 6.3.17) and the rest of the answer is still returned.
 * Loops: every forwarded request carries a Via header naming this node; a request that
 * already passed through this node, or `local=true`, is answered locally only.
 */
import type { FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import { AppError } from '../platform/http/errors.js';
import type { GuardedFetcher } from '../platform/http/guarded-fetch.js';
import type { Logger } from '../platform/logging.js';
import type {
  DistributedQueryInput,
  DistributedReads,
  DistributedRetrieveInput,
  DistributedResult,
  DistributedTemporalInput,
} from '../context/entities/distributed-reads.js';
import { commaList, purposeOf, tenantOf } from '../context/ngsi-request.js';
import { parseEntity, type Instance, type StoredEntity } from '../context/entities/entity.model.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import { entityPath, MAX_LIMIT } from '../context/entities/entity.routes.js';
import type { OutboundAuthorizerRegistry } from './outbound.js';
import {
  coveredAttrs,
  coveredEntity,
  matchRegistration,
  type Match,
  type RequestSelector,
} from './registration.match.js';
import type { RegistrationCache } from './registration.cache.js';
import { recordOutcome } from './registration.repository.js';
import { mergeTemporalEntity, temporalOptionsOf } from './temporal-merge.js';

export interface DistributorOptions {
  /** This node's name in Via headers (RFC 9110 received-by). */
  nodeName: string;
  defaultTimeoutMs: number;
  maxHops: number;
}

/** Query parameters passed on to a source as the caller gave them. */
const FORWARDED = [
  'type',
  'id',
  'idPattern',
  'q',
  'scopeQ',
  'georel',
  'geometry',
  'coordinates',
  'geoproperty',
  'datasetId',
] as const;

/** Temporal parameters passed on too, so every source answers in the same shape. */
const FORWARDED_TEMPORAL = [
  'timerel',
  'timeAt',
  'endTimeAt',
  'timeproperty',
  'lastN',
  'options',
  'format',
  'aggrMethods',
  'aggrPeriodDuration',
  'pick',
  'omit',
  'lang',
] as const;

type Json = Record<string, unknown>;

interface TemporalAnswer {
  match: Match;
  entities: Json[];
  total: number | null;
  complete: boolean;
}

interface SourceAnswer {
  match: Match;
  entities: StoredEntity[];
  total: number | null;
  complete: boolean;
}

function instanceTime(i: Instance): number {
  const t = i.observedAt ?? i.modifiedAt;
  return typeof t === 'string' ? Date.parse(t) || 0 : 0;
}

/**
 * Adds `from` into `into` (same id): types united; attribute instances combined by
 * datasetId; two instances with the same datasetId keep the more recent (observedAt,
 * else modifiedAt), else the one already there. `fillOnly` adds only missing attributes.
 */
export function mergeEntity(into: StoredEntity, from: StoredEntity, fillOnly = false): void {
  for (const t of from.types) if (!into.types.includes(t)) into.types.push(t);
  for (const [name, instances] of Object.entries(from.attrs)) {
    const existing = into.attrs[name];
    if (!existing) {
      into.attrs[name] = instances.map((i) => ({ ...i }));
      continue;
    }
    if (fillOnly) continue;
    for (const inst of instances) {
      const at = existing.findIndex((e) => e.datasetId === inst.datasetId);
      if (at < 0) existing.push({ ...inst });
      else if (instanceTime(inst) > instanceTime(existing[at]!)) existing[at] = { ...inst };
    }
  }
  if (from.modifiedAt > into.modifiedAt) into.modifiedAt = from.modifiedAt;
}

function clone(e: StoredEntity): StoredEntity {
  return { ...e, types: [...e.types], attrs: { ...e.attrs } };
}

function warning(match: Match, text: string): string {
  const agent = match.registration.id.replace(/[\s"]/g, '');
  return `199 ${agent} "${text.replace(/["\\\r\n]/g, ' ').slice(0, 200)}"`;
}

export class Distributor implements DistributedReads {
  constructor(
    private readonly db: Database,
    private readonly registrations: RegistrationCache,
    private readonly clock: Clock,
    private readonly fetcher: GuardedFetcher,
    private readonly resolver: ContextResolver,
    private readonly authorizers: OutboundAuthorizerRegistry,
    private readonly logger: Logger,
    private readonly options: DistributorOptions,
  ) {}

  /** The Via entries of a request, and whether forwarding is allowed. */
  private viaOf(request: FastifyRequest, params: Record<string, string | undefined>) {
    const raw = request.headers.via;
    const entries = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const seen = entries.some((e) => e.split(/\s+/)[1] === this.options.nodeName);
    const forward = params.local !== 'true' && !seen && entries.length < this.options.maxHops;
    return { entries, forward };
  }

  private async matches(
    request: FastifyRequest,
    operation: string,
    selector: RequestSelector,
  ): Promise<Match[]> {
    const now = this.clock.now();
    const regs = await this.registrations.list(tenantOf(request));
    return regs
      .map((r) => matchRegistration(r, operation, selector, now))
      .filter((m): m is Match => m !== null);
  }

  private selectorOf(
    params: Record<string, string | undefined>,
    map: TermMap,
    ids?: string[],
  ): RequestSelector {
    return {
      types: (commaList(params.type) ?? []).map((t) => map.expand(t)),
      ids: ids ?? commaList(params.id),
      idPattern: params.idPattern,
      attrs: commaList(params.attrs)?.map((a) => map.expand(a)),
    };
  }

  /** One GET to a source; a failure becomes a warning, never an error of the request. */
  private async fetchFrom(
    match: Match,
    path: string,
    query: URLSearchParams,
    input: { request: FastifyRequest; map: TermMap; context: RequestContext | undefined },
    via: string[],
  ): Promise<
    { ok: true; status: number; body: string; headers: Headers } | { ok: false; warning: string }
  > {
    const reg = match.registration;
    const now = this.clock.now();
    if (
      reg.cooldownMs !== null &&
      reg.lastFailure !== null &&
      (reg.lastSuccess === null || reg.lastFailure > reg.lastSuccess) &&
      now.getTime() - reg.lastFailure.getTime() < reg.cooldownMs
    ) {
      return { ok: false, warning: warning(match, 'source in cooldown after a failure') };
    }
    const base = reg.endpoint.endsWith('/ngsi-ld/v1') ? reg.endpoint : `${reg.endpoint}/ngsi-ld/v1`;
    const qs = query.toString();
    const url = `${base}${path}${qs ? `?${qs}` : ''}`;
    const tenant = typeof reg.doc.tenant === 'string' ? reg.doc.tenant : tenantOf(input.request);
    const contextUrl =
      input.context === undefined
        ? undefined
        : typeof input.context === 'string'
          ? input.context
          : await this.resolver.linkFor(input.context);
    const decision = await this.authorizers.authorize({
      method: 'GET',
      url,
      actor: input.request.actor,
      purpose: purposeOf(input.request),
      tenant,
    });
    // Not sent, so not a failure of the source: no cooldown, nothing recorded.
    if (!decision.ok) return { ok: false, warning: warning(match, `not sent: ${decision.reason}`) };
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...decision.headers,
      via: [...via, `1.1 ${this.options.nodeName}`].join(', '),
    };
    if (contextUrl) {
      headers.link = `<${contextUrl}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
    }
    const timeoutMs = reg.timeoutMs ?? this.options.defaultTimeoutMs;
    let outcome: Awaited<ReturnType<Distributor['fetchFrom']>>;
    try {
      const response = await this.fetcher.request(url, { headers, timeoutMs });
      outcome =
        response.status === 200 || response.status === 206 || response.status === 404
          ? { ok: true, status: response.status, body: response.body, headers: response.headers }
          : { ok: false, warning: warning(match, `source answered ${response.status}`) };
    } catch (error) {
      const reason = (error as { reason?: string }).reason ?? 'network';
      outcome = { ok: false, warning: warning(match, `source failed: ${reason}`) };
    }
    await recordOutcome(this.db, reg.tenant, reg.id, outcome.ok, now).catch((error: unknown) =>
      this.logger.warn({ err: error, registration: reg.id }, 'cannot record source outcome'),
    );
    return outcome;
  }

  /** Remote entities as stored entities, read with the caller's @context. */
  private parseRemote(items: unknown[], map: TermMap): StoredEntity[] {
    const out: StoredEntity[] = [];
    const now = this.clock.now();
    for (const item of items) {
      try {
        const input = parseEntity(item, map, { requireId: true, requireType: true });
        out.push({
          id: input.id!,
          types: input.types ?? [],
          scopes: input.scopes ?? null,
          attrs: input.attrs,
          createdAt: now,
          modifiedAt: now,
          ownerOrg: null,
        });
      } catch {
        // A malformed entity from a source is left out, not passed on.
      }
    }
    return out;
  }

  private forwardQuery(
    params: Record<string, string | undefined>,
    match: Match,
    map: TermMap,
  ): URLSearchParams {
    const qs = new URLSearchParams();
    for (const name of FORWARDED) {
      const value = params[name];
      if (value !== undefined) qs.set(name, value);
    }
    if (match.attrs !== null) qs.set('attrs', match.attrs.map((a) => map.compact(a)).join(','));
    return qs;
  }

  /** Local entities with what authoritative (exclusive, redirect) sources cover removed. */
  private withoutAuthoritative(local: StoredEntity[], matches: Match[]): StoredEntity[] {
    const authoritative = matches.filter(
      (m) => m.registration.mode === 'exclusive' || m.registration.mode === 'redirect',
    );
    if (authoritative.length === 0) return local;
    const out: StoredEntity[] = [];
    for (const entity of local) {
      let e = entity;
      let dropped = false;
      for (const m of authoritative) {
        if (!coveredEntity(m.infos, e.id, e.types)) continue;
        const attrs = coveredAttrs(m.infos, e.id, e.types);
        if (attrs === null) {
          dropped = true;
          break;
        }
        e = clone(e);
        for (const a of attrs) delete e.attrs[a];
      }
      if (!dropped) out.push(e);
    }
    return out;
  }

  private merge(local: StoredEntity[], answers: SourceAnswer[], matches: Match[]): StoredEntity[] {
    const byId = new Map<string, StoredEntity>();
    for (const e of this.withoutAuthoritative(local, matches)) byId.set(e.id, clone(e));
    const add = (e: StoredEntity, fillOnly: boolean) => {
      const there = byId.get(e.id);
      if (!there) byId.set(e.id, clone(e));
      else mergeEntity(there, e, fillOnly);
    };
    const order = ['exclusive', 'redirect', 'inclusive'];
    for (const mode of order) {
      for (const a of answers)
        if (a.match.registration.mode === mode) a.entities.forEach((e) => add(e, false));
    }
    for (const a of answers) {
      if (a.match.registration.mode === 'auxiliary') a.entities.forEach((e) => add(e, true));
    }
    return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async query(
    input: DistributedQueryInput,
  ): Promise<DistributedResult<{ entities: StoredEntity[]; total: number | null }>> {
    const { request, params, map, page } = input;
    const via = this.viaOf(request, params);
    const matches = via.forward
      ? await this.matches(request, 'queryEntity', this.selectorOf(params, map))
      : [];
    if (matches.length === 0) {
      const result = await input.local(page);
      input.observe(result.entities);
      return { value: result, warnings: [] };
    }
    // Every source is asked for the first offset+limit entities in id order; the merged,
    // sorted list is then cut to the page (exact when all sources order by id).
    const window = page.offset + page.limit;
    if (window > MAX_LIMIT) {
      throw new AppError(
        'too_many_results',
        `A distributed query pages through at most ${MAX_LIMIT} entities (offset + limit)`,
      );
    }
    const warnings: string[] = [];
    const [local, ...remote] = await Promise.all([
      input.local({ limit: window, offset: 0, count: page.count }),
      ...matches.map(async (match): Promise<SourceAnswer | null> => {
        const qs = this.forwardQuery(params, match, map);
        qs.set('limit', String(Math.max(window, 1)));
        if (page.count) qs.set('count', 'true');
        const got = await this.fetchFrom(match, '/entities', qs, input, via.entries);
        if (!got.ok) {
          warnings.push(got.warning);
          return null;
        }
        let items: unknown;
        try {
          items = JSON.parse(got.body);
        } catch {
          items = null;
        }
        if (got.status !== 200 || !Array.isArray(items)) {
          warnings.push(warning(match, 'source answered no entity list'));
          return null;
        }
        const count = Number(got.headers.get('ngsild-results-count'));
        const entities = this.parseRemote(items.slice(0, MAX_LIMIT), map);
        return {
          match,
          entities,
          total: Number.isFinite(count) && got.headers.has('ngsild-results-count') ? count : null,
          complete: items.length < Math.max(window, 1),
        };
      }),
    ]);
    const answers = remote.filter((a): a is SourceAnswer => a !== null);
    const merged = this.merge(local.entities, answers, matches);
    const pageEntities = merged.slice(page.offset, page.offset + page.limit);
    const localIds = new Set(local.entities.map((e) => e.id));
    input.observe(local.entities.filter((e) => pageEntities.some((p) => p.id === e.id)));
    let total: number | null = null;
    if (page.count) {
      const localComplete = local.total !== null && local.total <= window;
      if (localComplete && answers.every((a) => a.complete)) total = merged.length;
      else {
        // Not every source was read to the end: overlapping entities beyond the window
        // cannot be seen, so the count is the sum of the sources' counts, less the
        // overlaps seen (an upper bound, as clause 4.3.6 allows).
        const overlaps = answers.reduce(
          (n, a) => n + a.entities.filter((e) => localIds.has(e.id)).length,
          0,
        );
        total =
          (local.total ?? 0) +
          answers.reduce((n, a) => n + (a.total ?? a.entities.length), 0) -
          overlaps;
      }
    }
    return { value: { entities: pageEntities, total }, warnings };
  }

  async retrieve(input: DistributedRetrieveInput): Promise<DistributedResult<StoredEntity | null>> {
    const { request, params, map, id } = input;
    const via = this.viaOf(request, params);
    const matches = via.forward
      ? await this.matches(request, 'retrieveEntity', this.selectorOf(params, map, [id]))
      : [];
    if (matches.length === 0) return { value: await input.local(), warnings: [] };
    const warnings: string[] = [];
    const [local, ...remote] = await Promise.all([
      input.local(),
      ...matches.map(async (match): Promise<SourceAnswer | null> => {
        const qs = new URLSearchParams();
        if (params.type !== undefined) qs.set('type', params.type);
        if (match.attrs !== null) qs.set('attrs', match.attrs.map((a) => map.compact(a)).join(','));
        const got = await this.fetchFrom(
          match,
          `/entities/${entityPath(id)}`,
          qs,
          input,
          via.entries,
        );
        if (!got.ok) {
          warnings.push(got.warning);
          return null;
        }
        if (got.status === 404) return { match, entities: [], total: 0, complete: true };
        let item: unknown;
        try {
          item = JSON.parse(got.body);
        } catch {
          item = null;
        }
        const entities = this.parseRemote([item], map).filter((e) => e.id === id);
        return { match, entities, total: entities.length, complete: true };
      }),
    ]);
    const answers = remote.filter((a): a is SourceAnswer => a !== null);
    const merged = this.merge(local ? [local] : [], answers, matches);
    return { value: merged[0] ?? null, warnings };
  }
  /** Local temporal entities with what authoritative sources cover removed (rendered). */
  private temporalWithoutAuthoritative(local: Json[], matches: Match[], map: TermMap): Json[] {
    const authoritative = matches.filter(
      (m) => m.registration.mode === 'exclusive' || m.registration.mode === 'redirect',
    );
    if (authoritative.length === 0) return local;
    const out: Json[] = [];
    for (const entity of local) {
      const id = String(entity.id);
      const types = (Array.isArray(entity.type) ? entity.type : [entity.type])
        .filter((t): t is string => typeof t === 'string')
        .map((t) => map.expand(t));
      let e = entity;
      let dropped = false;
      for (const m of authoritative) {
        if (!coveredEntity(m.infos, id, types)) continue;
        const attrs = coveredAttrs(m.infos, id, types);
        if (attrs === null) {
          dropped = true;
          break;
        }
        e = { ...e };
        for (const a of attrs) delete e[map.compact(a)];
      }
      if (!dropped) out.push(e);
    }
    return out;
  }

  /**
   * Temporal query (`id` null) or retrieve, fanned out like `query` and `retrieve`; the
   * sources answer in the caller's @context and representation and are merged by entity
   * id and attribute (temporal-merge.ts).
   */
  async temporal(
    input: DistributedTemporalInput,
  ): Promise<DistributedResult<{ entities: Json[]; total: number | null }>> {
    const { request, params, map, page, id } = input;
    const via = this.viaOf(request, params);
    const matches = via.forward
      ? await this.matches(
          request,
          id === null ? 'queryTemporal' : 'retrieveTemporal',
          this.selectorOf(params, map, id === null ? undefined : [id]),
        )
      : [];
    if (matches.length === 0) {
      const result = await input.local(page);
      input.observe(result.entities.map((e) => String(e.id)));
      return { value: result, warnings: [] };
    }
    const window = id === null ? page.offset + page.limit : 1;
    if (window > MAX_LIMIT) {
      throw new AppError(
        'too_many_results',
        `A distributed query pages through at most ${MAX_LIMIT} entities (offset + limit)`,
      );
    }
    const warnings: string[] = [];
    const [local, ...remote] = await Promise.all([
      input.local(id === null ? { limit: window, offset: 0, count: page.count } : page),
      ...matches.map(async (match): Promise<TemporalAnswer | null> => {
        const qs = this.forwardQuery(params, match, map);
        for (const name of FORWARDED_TEMPORAL) {
          const value = params[name];
          if (value !== undefined) qs.set(name, value);
        }
        if (id === null) {
          qs.set('limit', String(Math.max(window, 1)));
          if (page.count) qs.set('count', 'true');
        } else {
          qs.delete('id');
          qs.delete('type');
        }
        const path = id === null ? '/temporal/entities' : `/temporal/entities/${entityPath(id)}`;
        const got = await this.fetchFrom(match, path, qs, input, via.entries);
        if (!got.ok) {
          warnings.push(got.warning);
          return null;
        }
        if (got.status === 404) return { match, entities: [], total: 0, complete: true };
        let body: unknown;
        try {
          body = JSON.parse(got.body);
        } catch {
          body = null;
        }
        const items = id === null ? body : [body];
        if (!Array.isArray(items)) {
          warnings.push(warning(match, 'source answered no temporal entity list'));
          return null;
        }
        const entities = items
          .slice(0, MAX_LIMIT)
          .filter(
            (e): e is Json =>
              typeof e === 'object' &&
              e !== null &&
              !Array.isArray(e) &&
              typeof (e as Json).id === 'string' &&
              (id === null || (e as Json).id === id),
          )
          .map(({ '@context': _context, ...rest }) => rest);
        const count = Number(got.headers.get('ngsild-results-count'));
        return {
          match,
          entities,
          total: Number.isFinite(count) && got.headers.has('ngsild-results-count') ? count : null,
          complete: items.length < Math.max(window, 1),
        };
      }),
    ]);
    const answers = remote.filter((a): a is TemporalAnswer => a !== null);
    const byId = new Map<string, Json>();
    for (const e of this.temporalWithoutAuthoritative(local.entities, matches, map)) {
      byId.set(String(e.id), structuredClone(e));
    }
    const add = (answer: TemporalAnswer, fillOnly: boolean) => {
      const options = temporalOptionsOf(params, fillOnly);
      for (const e of answer.entities) {
        const there = byId.get(String(e.id));
        if (!there) {
          byId.set(String(e.id), structuredClone(e));
          continue;
        }
        for (const attr of mergeTemporalEntity(there, e, options)) {
          warnings.push(
            warning(answer.match, `aggregates of ${attr} also came from another source; left out`),
          );
        }
      }
    };
    for (const mode of ['exclusive', 'redirect', 'inclusive']) {
      for (const a of answers) if (a.match.registration.mode === mode) add(a, false);
    }
    for (const a of answers) if (a.match.registration.mode === 'auxiliary') add(a, true);
    const merged = [...byId.values()].sort((a, b) =>
      String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0,
    );
    const pageEntities = id === null ? merged.slice(page.offset, page.offset + page.limit) : merged;
    const localIds = new Set(local.entities.map((e) => String(e.id)));
    input.observe(pageEntities.map((e) => String(e.id)).filter((i) => localIds.has(i)));
    let total: number | null = null;
    if (id === null && page.count) {
      const localComplete = local.total !== null && local.total <= window;
      if (localComplete && answers.every((a) => a.complete)) total = merged.length;
      else {
        // As for entity queries: an upper bound when not every source was read to the end.
        const overlaps = answers.reduce(
          (n, a) => n + a.entities.filter((e) => localIds.has(String(e.id))).length,
          0,
        );
        total =
          (local.total ?? 0) +
          answers.reduce((n, a) => n + (a.total ?? a.entities.length), 0) -
          overlaps;
      }
    }
    return { value: { entities: pageEntities, total }, warnings };
  }
}

/**
 * DCAT-AP 3 (JSON-LD) at /catalog and /catalog/datasets/{id}, the governed live preview of a
 * dataset, and the harvest controls for admins. The catalog documents carry ETag and
 * Last-Modified and answer conditional requests with 304, so peers harvest cheaply.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { visibilityOf } from '../context/ngsi-request.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import { renderEntity } from '../context/entities/entity.model.js';
import type { EntityService } from '../context/entities/entity.service.js';
import { conflict, notAcceptable, notFound } from '../platform/http/errors.js';
import type { App } from '../platform/http/server.js';
import type { CatalogService } from './catalog.service.js';
import { search } from './ckan.js';
import { DCAT_CONTEXT, dataService } from './dcat.js';
import type { CatalogHarvester } from './harvester.js';

const tags = ['catalog'];
const DatasetParams = Type.Object({ id: Type.String({ pattern: '^ds_[A-Za-z0-9]{1,40}$' }) });
export const PAGE_SIZE_DEFAULT = 100;
export const PAGE_SIZE_MAX = 500;
export const PREVIEW_DEFAULT = 10;
export const PREVIEW_MAX = 50;

const CatalogQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: PAGE_SIZE_MAX })),
  scope: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('federation')])),
  q: Type.Optional(Type.String({ maxLength: 200 })),
});

type JsonLdType = 'application/ld+json' | 'application/json';

/** Picks the response type from Accept (q-values honoured); 406 when neither is acceptable. */
export function negotiateJsonLd(accept: string | undefined): JsonLdType {
  if (!accept || accept.trim() === '') return 'application/ld+json';
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
      return { type: type!.trim().toLowerCase(), q: q ? Number(q[1]) : 1, i };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    if (r.type === 'application/ld+json' || r.type === '*/*' || r.type === 'application/*') {
      return 'application/ld+json';
    }
    if (r.type === 'application/json') return 'application/json';
  }
  throw notAcceptable('The catalog is served as application/ld+json or application/json');
}

/** Sends a JSON-LD document with validators, or 304 when the client's copy is current. */
function sendDocument(
  request: FastifyRequest,
  reply: FastifyReply,
  doc: unknown,
  lastModified: Date | null,
): FastifyReply {
  const type = negotiateJsonLd(request.headers.accept);
  const body = JSON.stringify(doc);
  const etag = `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  // The document depends on who asks (confidential datasets) and on nothing else.
  reply
    .header('ETag', etag)
    .header('Vary', 'Accept, Authorization, Cookie')
    .header(
      'Cache-Control',
      request.actor.kind === 'anonymous' ? 'public, no-cache' : 'private, no-cache',
    );
  const lm = lastModified ? new Date(Math.floor(lastModified.getTime() / 1000) * 1000) : null;
  if (lm) reply.header('Last-Modified', lm.toUTCString());
  const inm = request.headers['if-none-match'];
  const ims = request.headers['if-modified-since'];
  // RFC 9110 13.2.2: If-None-Match, when present, decides; If-Modified-Since only without it.
  const fresh =
    inm !== undefined
      ? inm
          .split(',')
          .map((t) => t.trim().replace(/^W\//, ''))
          .some((t) => t === '*' || t === etag.replace(/^W\//, ''))
      : ims !== undefined && lm !== null && !Number.isNaN(Date.parse(ims))
        ? lm.getTime() <= Date.parse(ims)
        : false;
  if (fresh) return reply.code(304).send();
  return reply.header('Content-Type', `${type}; charset=utf-8`).send(body);
}

const latest = (dates: (Date | null)[]): Date | null =>
  dates.reduce<Date | null>((max, d) => (d && (!max || d > max) ? d : max), null);

export interface CatalogDeps {
  service: CatalogService;
  harvester: CatalogHarvester;
  entities: EntityService;
  core: TermMap;
}

export function registerCatalogRoutes(app: App, deps: CatalogDeps): void {
  const { service, harvester } = deps;
  const base = service.settings.base;

  app.get(
    '/catalog',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'The DCAT-AP 3 catalog (JSON-LD), paged with Hydra; scope=federation adds peers.',
        querystring: CatalogQuery,
      },
    },
    async (request, reply) => {
      negotiateJsonLd(request.headers.accept);
      const { page = 1, pageSize = PAGE_SIZE_DEFAULT, scope = 'local', q } = request.query;
      const federation = scope === 'federation';
      const all = await service.entries(request.actor, federation);
      const { count, results } = search(all, {
        q: q ?? '',
        fq: '',
        sort: 'title_string asc',
        rows: pageSize,
        start: (page - 1) * pageSize,
      });
      const orgs = await service.localDatasets(request.actor).then((r) => r.orgs);
      const datasets = results.map((e) =>
        e.dataset
          ? service.dcat(e.dataset, service.publisherName(e.dataset, orgs))
          : e.harvested!.doc,
      );
      const pageUrl = (n: number) => {
        const query = new URLSearchParams({ page: String(n), pageSize: String(pageSize) });
        if (federation) query.set('scope', 'federation');
        if (q) query.set('q', q);
        return `${base}/catalog?${query}`;
      };
      const last = Math.max(1, Math.ceil(count / pageSize));
      const modified = latest(all.map((e) => e.modified ?? e.harvested?.harvestedAt ?? null));
      const doc = {
        '@context': DCAT_CONTEXT,
        '@id': `${base}/catalog`,
        '@type': 'dcat:Catalog',
        'dct:title': service.settings.title,
        'dct:description': federation
          ? `Datasets of ${service.settings.title} and of the nodes it federates with.`
          : `Datasets published by ${service.settings.title}.`,
        'dct:publisher': { '@type': 'foaf:Agent', 'foaf:name': service.settings.publisher },
        'foaf:homepage': { '@id': `${base}/datasets` },
        'dct:language': [
          { '@id': 'http://publications.europa.eu/resource/authority/language/ENG' },
          { '@id': 'http://publications.europa.eu/resource/authority/language/FRA' },
        ],
        ...(modified
          ? { 'dct:modified': { '@value': modified.toISOString(), '@type': 'xsd:dateTime' } }
          : {}),
        'dcat:service': [dataService(base, service.settings.title)],
        'dcat:dataset': datasets,
        'hydra:view': {
          '@id': pageUrl(page),
          '@type': 'hydra:PartialCollectionView',
          'hydra:totalItems': count,
          'hydra:first': pageUrl(1),
          'hydra:last': pageUrl(last),
          ...(page > 1 ? { 'hydra:previous': pageUrl(Math.min(page - 1, last)) } : {}),
          ...(page < last ? { 'hydra:next': pageUrl(page + 1) } : {}),
        },
      };
      return sendDocument(request, reply, doc, modified);
    },
  );

  app.get(
    '/catalog/datasets/:id',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary: 'One dataset as a DCAT-AP 3 dcat:Dataset (JSON-LD) with its ODRL policy.',
        params: DatasetParams,
      },
    },
    async (request, reply) => {
      negotiateJsonLd(request.headers.accept);
      const found = await service.localDataset(request.actor, request.params.id);
      if (!found) throw notFound();
      const doc = {
        '@context': DCAT_CONTEXT,
        ...service.dcat(found.dataset, found.publisherName),
      };
      return sendDocument(request, reply, doc, found.dataset.updatedAt);
    },
  );

  app.get(
    '/api/v1/catalog/datasets/:id/preview',
    {
      config: { access: 'public' },
      schema: {
        tags,
        summary:
          'A bounded sample of the dataset’s entities, read exactly as the caller’s NGSI-LD query would (governed).',
        params: DatasetParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: PREVIEW_MAX })),
        }),
      },
    },
    async (request) => {
      const found = await service.localDataset(request.actor, request.params.id);
      if (!found) throw notFound();
      const d = found.dataset;
      const limit = request.query.limit ?? PREVIEW_DEFAULT;
      // The same query, visibility (read scope, transforms, metering) and rendering as
      // GET /ngsi-ld/v1/entities?type=…&idPattern=… by this caller.
      const { entities, total } = await deps.entities.query(
        {
          tenant: d.tenant,
          visibility: visibilityOf(request),
          map: deps.core,
          selectors: [{ type: d.types.join(','), idPattern: d.idPattern ?? undefined }],
          attrs: d.attrs ?? undefined,
        },
        { limit, offset: 0, count: true },
      );
      return {
        dataset: d.id,
        classification: d.classification,
        total: total ?? entities.length,
        limit,
        entities: entities.map((e) =>
          renderEntity(e, deps.core, {
            format: 'keyValues',
            sysAttrs: false,
            attrs: d.attrs ? new Set(d.attrs) : undefined,
          }),
        ),
      };
    },
  );

  app.post(
    '/api/v1/catalog/harvest',
    {
      config: { access: { roles: ['admin'] } },
      schema: { tags, summary: 'Harvest the peers’ catalogs now (admins).' },
    },
    async () => {
      const outcomes = await harvester.runOnce();
      if (outcomes === null) throw conflict('A harvest is already running');
      return { peers: outcomes };
    },
  );

  app.get(
    '/api/v1/catalog/sources',
    {
      config: { access: { roles: ['admin'] } },
      schema: { tags, summary: 'The peers harvested and the state of their last harvest.' },
    },
    async () =>
      (await service.sources()).map((s) => ({
        ...s,
        lastAttemptAt: s.lastAttemptAt?.toISOString() ?? null,
        lastSuccessAt: s.lastSuccessAt?.toISOString() ?? null,
      })),
  );
}

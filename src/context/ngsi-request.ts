/**
 * What every NGSI-LD route needs from a request: the tenant, the @context (Link header
 * for application/json, body member for application/ld+json), the negotiated response
 * type, the caller's visibility, and how to send a response with the right Link header.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../platform/http/access.js';
import { badRequest, invalidRequest, notAcceptable } from '../platform/http/errors.js';
import { assertStorableJson } from '../platform/http/json-body.js';
import { CORE_CONTEXT_URL } from './jsonld/core-context.js';
import type { RequestContext } from './jsonld/context-resolver.js';
import type { Visibility } from './entities/entity.repository.js';
import type { WriteScope } from './entities/entity.service.js';
import type { StoredEntity } from './entities/entity.model.js';

export const JSONLD_CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';
const TENANT = /^[A-Za-z0-9_.:\-/]{1,128}$/;

export function tenantOf(request: FastifyRequest): string {
  const raw = request.headers['ngsild-tenant'];
  if (raw === undefined || raw === '') return '';
  if (Array.isArray(raw) || !TENANT.test(raw)) throw badRequest('Invalid NGSILD-Tenant header');
  return raw;
}

/**
 * The one place an actor's right to see entities is decided. HTTP reads use
 * `visibilityOf(request)`; work done later on an actor's behalf (notifications of a
 * subscription) calls this with the actor and purpose stored when it was set up, at the
 * time of delivery — so an expired or revoked grant stops the flow. Admins see
 * everything; everyone else what their organisation owns plus what datasets make
 * readable (open data; grants for `purpose` in force at `at`), compiled into SQL.
 */
export function visibilityForActor(
  actor: Actor,
  purpose: string | null,
  at: Date = new Date(),
): Visibility {
  if (actor.roles.includes('admin')) return { all: true };
  return { all: false, org: actor.organisationId, purpose, at };
}

const PURPOSE = /^[a-z0-9][a-z0-9-]{0,63}$/;

/**
 * The purpose of use a request states: the `OCP-Purpose` header, or null. Purposes are
 * ids from the city's vocabulary (/api/v1/purposes). The header, not a token claim, so
 * one API client can work for several purposes and each request says which.
 */
export function purposeOf(request: FastifyRequest): string | null {
  const raw = request.headers['ocp-purpose'];
  if (raw === undefined || raw === '') return null;
  if (Array.isArray(raw) || !PURPOSE.test(raw)) throw badRequest('Invalid OCP-Purpose header');
  return raw;
}

/** Counts what readers receive (the governance feature's metering). */
export interface ReadMeter {
  observe(
    org: string | null,
    purpose: string | null,
    tenant: string,
    entities: readonly StoredEntity[],
  ): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when governance metering runs on this node. */
    readMeter: ReadMeter | null;
  }
}

export function visibilityOf(request: FastifyRequest): Visibility {
  const purpose = purposeOf(request);
  const v = visibilityForActor(request.actor, purpose);
  const meter = request.readMeter;
  if (v.all || !meter) return v;
  return { ...v, onRead: (tenant, entities) => meter.observe(v.org, purpose, tenant, entities) };
}

export function writeScopeOf(request: FastifyRequest): WriteScope {
  return {
    tenant: tenantOf(request),
    visibility: visibilityOf(request),
    ownerOrg: request.actor.organisationId,
  };
}

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** The JSON-LD context URL named in a Link header, if any. */
export function linkContext(request: FastifyRequest): string | undefined {
  const raw = request.headers.link;
  if (raw === undefined) return undefined;
  const values = Array.isArray(raw) ? raw : [raw];
  const found: string[] = [];
  for (const value of values) {
    for (const part of value.split(/,(?=\s*<)/)) {
      const m = /^\s*<([^>]*)>(.*)$/.exec(part);
      if (!m) throw badRequest('Malformed Link header');
      if (/rel\s*=\s*"?http:\/\/www\.w3\.org\/ns\/json-ld#context"?/.test(m[2]!)) found.push(m[1]!);
    }
  }
  if (found.length > 1) throw badRequest('More than one JSON-LD context Link header');
  if (found[0] !== undefined && !/^https?:\/\/\S+$/.test(found[0])) {
    throw badRequest('The Link header context must be an http(s) URL');
  }
  return found[0];
}

/**
 * The request @context for a body-carrying request. For application/ld+json the body must
 * carry @context and no Link header may be given; for application/json a body @context is
 * an error.
 */
export function bodyContext(request: FastifyRequest, body: unknown): RequestContext | undefined {
  const type = mediaType(request);
  const items = Array.isArray(body) ? body : [body];
  if (type === 'application/ld+json') {
    if (request.headers.link !== undefined && linkContext(request) !== undefined) {
      throw badRequest(
        'application/ld+json requests carry their @context in the body, not in a Link header',
      );
    }
    const first = items[0] as Record<string, unknown> | undefined;
    const ctx = first && typeof first === 'object' ? first['@context'] : undefined;
    if (ctx === undefined) throw badRequest('An application/ld+json body must contain @context');
    return ctx as RequestContext;
  }
  for (const item of items) {
    if (item && typeof item === 'object' && '@context' in item) {
      throw badRequest('An application/json body must not contain @context; use a Link header');
    }
  }
  return linkContext(request);
}

/** Removes @context members so they are not read as attributes. */
export function withoutContext(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(withoutContext);
  if (body && typeof body === 'object' && '@context' in body) {
    const copy = { ...(body as Record<string, unknown>) };
    delete copy['@context'];
    return copy;
  }
  return body;
}

export type ResponseType = 'application/json' | 'application/ld+json' | 'application/geo+json';

export function negotiate(request: FastifyRequest, allowGeo = true): ResponseType {
  const raw = request.headers.accept;
  if (!raw) return 'application/json';
  const entries = raw
    .split(',')
    .map((part, index) => {
      const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
      const q = params.find((p) => p.startsWith('q='));
      return { type: type ?? '', q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((e) => e.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const e of entries) {
    if (e.type === 'application/json' || e.type === 'application/*' || e.type === '*/*')
      return 'application/json';
    if (e.type === 'application/ld+json') return 'application/ld+json';
    if (e.type === 'application/geo+json' && allowGeo) return 'application/geo+json';
  }
  throw notAcceptable(
    'Supported response types: application/json, application/ld+json' +
      (allowGeo ? ', application/geo+json' : ''),
  );
}

export function linkHeader(url: string): string {
  return `<${url}>; rel="${JSONLD_CONTEXT_REL}"; type="application/ld+json"`;
}

/** The URL to advertise for a request context (a single URL, else the core context). */
export function contextUrl(context: RequestContext | undefined): string {
  return typeof context === 'string' ? context : CORE_CONTEXT_URL;
}

/**
 * Sends an NGSI-LD payload: application/json and geo+json get a Link header, ld+json
 * gets @context in the body (each element, for arrays).
 */
export function sendNgsi(
  reply: FastifyReply,
  type: ResponseType,
  context: RequestContext | undefined,
  body: unknown,
  status = 200,
  /** Further Link header values (pagination). */
  links: string[] = [],
): FastifyReply {
  reply.code(status);
  if (type === 'application/ld+json' && links.length > 0) reply.header('Link', links);
  if (type === 'application/ld+json') {
    const ctx = context ?? CORE_CONTEXT_URL;
    const add = (item: unknown) =>
      item && typeof item === 'object' && !Array.isArray(item)
        ? { ...item, '@context': ctx }
        : item;
    const payload = Array.isArray(body) ? body.map(add) : add(body);
    return reply.type('application/ld+json').serializer(JSON.stringify).send(payload);
  }
  const contextLink = linkHeader(contextUrl(context));
  reply.header('Link', links.length > 0 ? [contextLink, ...links] : contextLink);
  if (type === 'application/geo+json') {
    // GeoJSON features carry their @context as a member too.
    const ctx = context ?? CORE_CONTEXT_URL;
    const feature = (f: unknown) => (f && typeof f === 'object' ? { ...f, '@context': ctx } : f);
    const b = body as { type?: string; features?: unknown[] };
    const payload =
      b && b.type === 'FeatureCollection' && Array.isArray(b.features)
        ? { ...b, features: b.features.map(feature) }
        : feature(body);
    return reply.type(type).serializer(JSON.stringify).send(payload);
  }
  return reply.type(type).serializer(JSON.stringify).send(body);
}

export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest('The request body is not valid JSON');
  }
  assertStorableJson(text, value);
  return value;
}

export function commaList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

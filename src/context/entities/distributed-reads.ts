/**
 * The hook through which entity and temporal reads reach registered context sources
 * (NGSI-LD distributed operations). The context feature owns an empty slot; the distributed
 * feature fills it. With the slot empty (or nothing registered) reads are local only.
 */
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../jsonld/context-resolver.js';
import type { TermMap } from '../jsonld/term-map.js';
import type { StoredEntity } from './entity.model.js';

export interface Page {
  limit: number;
  offset: number;
  count: boolean;
}

export interface DistributedQueryInput {
  request: FastifyRequest;
  params: Record<string, string | undefined>;
  map: TermMap;
  context: RequestContext | undefined;
  page: Page;
  /** The local query for a page, with no metering (the caller meters what it returns). */
  local(page: Page): Promise<{ entities: StoredEntity[]; total: number | null }>;
  /** Meters the local entities that are part of the answer. */
  observe(entities: readonly StoredEntity[]): void;
}

export interface DistributedRetrieveInput {
  request: FastifyRequest;
  params: Record<string, string | undefined>;
  map: TermMap;
  context: RequestContext | undefined;
  id: string;
  local(): Promise<StoredEntity | null>;
}

/**
 * A temporal query (`id` null) or retrieve (`id` set). Temporal entities are merged as
 * rendered in the caller's @context (the sources are asked with the same @context and
 * representation), so the hook works on JSON, not on stored rows.
 */
export interface DistributedTemporalInput {
  request: FastifyRequest;
  params: Record<string, string | undefined>;
  map: TermMap;
  context: RequestContext | undefined;
  id: string | null;
  page: Page;
  /** The local answer for a page, rendered, with no metering. */
  local(page: Page): Promise<{ entities: Record<string, unknown>[]; total: number | null }>;
  /** Meters the local entities (by id) that are part of the answer. */
  observe(ids: readonly string[]): void;
}

export interface DistributedResult<T> {
  value: T;
  /** NGSILD-Warning header values, one per source that did not answer. */
  warnings: string[];
}

export interface DistributedReads {
  query(
    input: DistributedQueryInput,
  ): Promise<DistributedResult<{ entities: StoredEntity[]; total: number | null }>>;
  retrieve(input: DistributedRetrieveInput): Promise<DistributedResult<StoredEntity | null>>;
  temporal(
    input: DistributedTemporalInput,
  ): Promise<DistributedResult<{ entities: Record<string, unknown>[]; total: number | null }>>;
}

export interface DistributedSlot {
  current: DistributedReads | null;
}

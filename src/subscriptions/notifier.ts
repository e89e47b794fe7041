/**
 * Turns a leased outbox row into an NGSI-LD Notification (clause 5.3.1) and sends it.
 * The payload is computed now, at delivery time, through the entity service's query
 * with the visibility of the subscription's creator and stated purpose — the same path
 * as a query — so what a notification reveals is what that caller could read right now.
 * HTTP(S) goes through the guarded fetcher; MQTT(S) through one client per broker,
 * checked against the same allow/deny lists.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { GuardedFetcher } from '../platform/http/guarded-fetch.js';
import { GuardedFetchError } from '../platform/http/guarded-fetch.js';
import type { Logger } from '../platform/logging.js';
import type { StoredEntity, Instance } from '../context/entities/entity.model.js';
import { renderEntity } from '../context/entities/entity.model.js';
import type { EntityService } from '../context/entities/entity.service.js';
import type { Visibility } from '../context/entities/entity.repository.js';
import { visibleTo } from '../context/entities/entity.repository.js';
import type { ContextResolver, RequestContext } from '../context/jsonld/context-resolver.js';
import { CORE_CONTEXT_URL } from '../context/jsonld/core-context.js';
import { linkHeader, visibilityForActor } from '../context/ngsi-request.js';
import { MAX_LIMIT } from '../context/entities/entity.routes.js';
import type { OutboxEntity, OutboxRow, SubscriptionRecord } from './subscription.repository.js';

export interface Notification {
  id: string;
  type: 'Notification';
  subscriptionId: string;
  notifiedAt: string;
  data: Record<string, unknown>[];
  triggerReason?: string;
}

export type SendResult = { ok: true } | { ok: false; error: string };

/** Told what a notification delivers (governance metering); must not throw or block. */
export type NotificationMeter = (
  org: string | null,
  purpose: string | null,
  tenant: string,
  entities: readonly StoredEntity[],
) => void;

/** The notification for `rows` (a head and the rows queued behind it), or null. */
export async function buildNotification(
  entities: EntityService,
  resolver: ContextResolver,
  sub: SubscriptionRecord,
  rows: OutboxRow[],
  now: Date,
  meter?: NotificationMeter,
): Promise<{ notification: Notification; context: RequestContext | undefined } | null> {
  const doc = sub.doc;
  const context = (doc.jsonldContext ?? sub.context ?? undefined) as RequestContext | undefined;
  const map = await resolver.resolve(context);
  const base = visibilityForActor(sub.actor, sub.purpose, now);
  const visibility: Visibility =
    base.all || !meter
      ? base
      : { ...base, onRead: (tenant, found) => meter(base.org, sub.purpose, tenant, found) };
  const n = doc.notification;
  const attrs = n.attributes ? new Set(n.attributes.map((a) => map.expand(a))) : undefined;
  const render = {
    format: n.format ?? 'normalized',
    sysAttrs: n.sysAttrs ?? false,
    attrs,
    lang: doc.lang,
  } as const;

  let found: StoredEntity[] = [];
  const changes = new Map<string, OutboxEntity>();
  const deleted: OutboxEntity[] = [];
  if (rows[0]!.kind === 'periodic') {
    const result = await entities.query(
      {
        tenant: sub.tenant,
        visibility,
        map,
        selectors: (doc.entities ?? []).map((s) => ({
          id: s.id,
          idPattern: s.idPattern,
          type: s.type,
        })),
        q: doc.q,
        scopeQ: doc.scopeQ,
        geo: doc.geoQ
          ? { ...doc.geoQ, coordinates: JSON.stringify(doc.geoQ.coordinates) }
          : undefined,
      },
      { limit: MAX_LIMIT, offset: 0, count: false },
    );
    found = result.entities;
  } else {
    // Later rows (throttling) overwrite earlier ones: the notification shows the latest.
    for (const row of rows) for (const e of row.entities) changes.set(e.id, e);
    const ids = [...changes.values()].filter((e) => e.kind !== 'deleted').map((e) => e.id);
    for (const e of changes.values()) if (e.kind === 'deleted') deleted.push(e);
    if (ids.length > 0) {
      const result = await entities.query(
        { tenant: sub.tenant, visibility, map, selectors: [], ids },
        { limit: ids.length, offset: 0, count: false },
      );
      found = result.entities;
    }
  }

  const data: Record<string, unknown>[] = [];
  for (const entity of found) {
    const out = renderEntity(entity, map, render);
    const change = changes.get(entity.id);
    if (change?.previous && render.format === 'normalized') {
      addPreviousValues(out, change.previous, (iri) => map.compact(iri));
    }
    data.push(out);
  }
  for (const e of deleted) {
    // The row is gone: only its owner decides visibility, as it did while it existed.
    if (!e.before || !visibleTo(visibility, e.before)) continue;
    const types = e.before.types.map((t) => map.compact(t));
    data.push({
      id: e.id,
      type: types.length === 1 ? types[0] : types,
      deletedAt: rows[rows.length - 1]!.committed_at.toISOString(),
    });
  }
  if (data.length === 0 && rows[0]!.kind !== 'periodic') return null;
  const reasons = new Set([...changes.values()].map((e) => e.reason));
  const notification: Notification = {
    id: `urn:ngsi-ld:Notification:${sub.tenant ? `${sub.tenant}:` : ''}${rows[0]!.id}`,
    type: 'Notification',
    subscriptionId: doc.id,
    notifiedAt: now.toISOString(),
    data,
  };
  if (reasons.size === 1) notification.triggerReason = [...reasons][0]!;
  return { notification, context };
}

const PREVIOUS_MEMBER: Record<string, [string, string]> = {
  Property: ['value', 'previousValue'],
  GeoProperty: ['value', 'previousValue'],
  Relationship: ['object', 'previousObject'],
  LanguageProperty: ['languageMap', 'previousLanguageMap'],
  VocabProperty: ['vocab', 'previousVocab'],
  JsonProperty: ['json', 'previousJson'],
  ListProperty: ['valueList', 'previousValueList'],
  ListRelationship: ['objectList', 'previousObjectList'],
};

/** showChanges (clause 5.2.14): previous values next to the current ones. */
function addPreviousValues(
  out: Record<string, unknown>,
  previous: Record<string, unknown[]>,
  compact: (iri: string) => string,
): void {
  for (const [iri, instances] of Object.entries(previous)) {
    const name = compact(iri);
    const current = out[name];
    const list = Array.isArray(current) ? current : current ? [current] : [];
    for (const attr of list as Record<string, unknown>[]) {
      const before = (instances as Instance[]).find(
        (i) => (i.datasetId ?? undefined) === (attr.datasetId ?? undefined),
      );
      const member = before ? PREVIOUS_MEMBER[before.type] : undefined;
      if (before && member) attr[member[1]] = before[member[0]];
    }
  }
}

function keyValueHeaders(list: { key: string; value: string }[] | undefined) {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, kv.value]));
}

/** The notification as sent: JSON with a Link header, or JSON-LD with @context inside. */
function serialize(
  notification: Notification,
  accept: string,
  contextUrl: string,
  context: RequestContext | undefined,
): { body: string; headers: Record<string, string> } {
  if (accept === 'application/ld+json') {
    return {
      body: JSON.stringify({ '@context': context ?? CORE_CONTEXT_URL, ...notification }),
      headers: { 'Content-Type': 'application/ld+json' },
    };
  }
  return {
    body: JSON.stringify(notification),
    headers: { 'Content-Type': 'application/json', Link: linkHeader(contextUrl) },
  };
}

export class Notifier {
  private readonly brokers = new Map<string, { client: MqttClient; usedAt: number }>();
  /**
   * Called with a broker's `mqtt[s]://host[:port]` when a connection to it comes back
   * after being lost, so notifications waiting for it are retried now, not after their
   * backoff.
   */
  onReconnect: ((origin: string) => void) | null = null;

  constructor(
    private readonly fetcher: GuardedFetcher,
    private readonly resolver: ContextResolver,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
  ) {}

  async send(
    sub: SubscriptionRecord,
    notification: Notification,
    context: RequestContext | undefined,
  ): Promise<SendResult> {
    const endpoint = sub.doc.notification.endpoint;
    const accept = endpoint.accept ?? 'application/json';
    const contextUrl =
      typeof context === 'string' || context === undefined
        ? (context ?? CORE_CONTEXT_URL)
        : await this.resolver.linkFor(context);
    const { body, headers } = serialize(notification, accept, contextUrl, context);
    const extra = keyValueHeaders(endpoint.receiverInfo);
    if (sub.tenant !== '') extra['NGSILD-Tenant'] = sub.tenant;
    try {
      if (endpoint.uri.startsWith('mqtt')) {
        await this.publish(endpoint.uri, endpoint.notifierInfo, {
          metadata: { ...headers, ...extra },
          body: JSON.parse(body) as unknown,
        });
        return { ok: true };
      }
      const status = await this.fetcher.post(endpoint.uri, body, { ...extra, ...headers });
      return status >= 200 && status < 300
        ? { ok: true }
        : { ok: false, error: `endpoint answered ${status}` };
    } catch (error) {
      if (error instanceof GuardedFetchError) return { ok: false, error: error.message };
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  }

  /** Publishes to mqtt(s)://[user:pass@]host[:port]/topic (clause 7.3 MQTT binding). */
  private async publish(
    uri: string,
    notifierInfo: { key: string; value: string }[] | undefined,
    message: unknown,
  ): Promise<void> {
    const url = await this.fetcher.check(uri, ['mqtt:', 'mqtts:']);
    const info = keyValueHeaders(notifierInfo);
    const version = info['MQTT-Version'] === 'mqtt5.0' ? 5 : 4;
    const qos = Number(info['MQTT-QoS'] ?? '0') as 0 | 1 | 2;
    const topic = decodeURIComponent(url.pathname.slice(1));
    const client = await this.client(url, version);
    await client.publishAsync(topic, JSON.stringify(message), { qos });
  }

  /** One connection per broker (and credentials and protocol version), kept and reused. */
  private async client(url: URL, version: 4 | 5): Promise<MqttClient> {
    const key = `${url.protocol}//${url.username}:${url.password}@${url.host}#${version}`;
    let entry = this.brokers.get(key);
    if (!entry) {
      const client = mqtt.connect(`${url.protocol}//${url.host}`, {
        protocolVersion: version,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        password: url.password ? decodeURIComponent(url.password) : undefined,
        reconnectPeriod: 1000,
        connectTimeout: this.timeoutMs,
        // Never queue while offline: a failed publish is retried from the outbox.
        queueQoSZero: false,
      });
      client.on('error', (error) => this.logger.debug({ err: error }, 'notification broker error'));
      let lost = false;
      client.on('close', () => (lost = true));
      client.on('connect', () => {
        if (!lost) return;
        lost = false;
        this.logger.info({ broker: url.host }, 'notification broker reachable again');
        this.onReconnect?.(`${url.protocol}//${url.host}`);
      });
      entry = { client, usedAt: Date.now() };
      this.brokers.set(key, entry);
      this.evictIdle();
    }
    entry.usedAt = Date.now();
    const { client } = entry;
    if (!client.connected) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          client.off('connect', onConnect);
          reject(new Error(`MQTT broker ${url.host} not reachable`));
        }, this.timeoutMs);
        const onConnect = () => {
          clearTimeout(timer);
          resolve();
        };
        client.once('connect', onConnect);
      });
    }
    return client;
  }

  private evictIdle(): void {
    const cutoff = Date.now() - 10 * 60_000;
    for (const [key, entry] of this.brokers) {
      if (entry.usedAt < cutoff || this.brokers.size > 100) {
        entry.client.end(true);
        this.brokers.delete(key);
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.brokers.values()].map((e) => e.client.endAsync(true)));
    this.brokers.clear();
  }
}

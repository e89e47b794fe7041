/**
 * The NGSI-LD Subscription data type (ETSI GS CIM 009 v1.9, clause 5.2.12, with
 * NotificationParams 5.2.14 and Endpoint 5.2.15): validation of what clients send, the
 * normalized form the node stores, and the representation it returns. Pure functions:
 * no I/O. Terms stay as the client wrote them; they are expanded with the subscription's
 * @context when stored (filters) and when notifying (payloads).
 */
import { randomUUID } from 'node:crypto';
import { badRequest } from '../platform/http/errors.js';
import { isDateTime, isUri, isValidName } from '../context/entities/entity.model.js';
import { parseTypeExpression } from '../context/entities/entity.query.js';
import { parseGeoQuery, parseQ, parseScopeQ } from '../context/query/index.js';

export const TRIGGERS = [
  'entityCreated',
  'entityUpdated',
  'entityDeleted',
  'attributeCreated',
  'attributeUpdated',
  'attributeDeleted',
] as const;
export type Trigger = (typeof TRIGGERS)[number];
/** Clause 5.2.12: without notificationTrigger, attribute creation and update notify. */
export const DEFAULT_TRIGGERS: readonly Trigger[] = ['attributeCreated', 'attributeUpdated'];

export const FORMATS = ['normalized', 'concise', 'keyValues'] as const;
export type NotificationFormat = (typeof FORMATS)[number];
export const ACCEPTS = ['application/json', 'application/ld+json'] as const;

/** Limits on what one subscription may hold, so matching stays cheap. */
export const LIMITS = {
  entities: 100,
  attributes: 100,
  receiverInfo: 20,
  notifierInfo: 20,
  text: 2048,
  minTimeInterval: 1,
  maxSeconds: 31 * 86_400,
} as const;

export interface EntitySelectorDoc {
  id?: string;
  idPattern?: string;
  type: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface EndpointDoc {
  uri: string;
  accept?: string;
  receiverInfo?: KeyValue[];
  notifierInfo?: KeyValue[];
}

export interface NotificationDoc {
  attributes?: string[];
  format?: NotificationFormat;
  sysAttrs?: boolean;
  showChanges?: boolean;
  endpoint: EndpointDoc;
}

export interface GeoQDoc {
  geometry: string;
  coordinates: unknown;
  georel: string;
  geoproperty?: string;
}

/** The client-controlled members of a subscription, as stored. */
export interface SubscriptionDoc {
  id: string;
  type: 'Subscription';
  subscriptionName?: string;
  description?: string;
  entities?: EntitySelectorDoc[];
  watchedAttributes?: string[];
  notificationTrigger?: Trigger[];
  timeInterval?: number;
  q?: string;
  geoQ?: GeoQDoc;
  scopeQ?: string;
  isActive?: boolean;
  notification: NotificationDoc;
  expiresAt?: string;
  throttling?: number;
  lang?: string;
  jsonldContext?: string;
}

/** Members the node maintains; ignored when a client sends them. */
const READ_ONLY = new Set(['status', 'createdAt', 'modifiedAt']);
const NOTIFICATION_READ_ONLY = new Set([
  'status',
  'timesSent',
  'timesFailed',
  'lastNotification',
  'lastFailure',
  'lastSuccess',
]);

const fail = (path: string, message: string): never => {
  throw badRequest(message, [{ path, message }]);
};

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function text(value: unknown, path: string, max: number = LIMITS.text): string {
  if (typeof value !== 'string' || value === '') fail(path, `${path} must be a non-empty string`);
  if ((value as string).length > max) fail(path, `${path} is longer than ${max} characters`);
  return value as string;
}

function names(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(path, `${path} must be a non-empty array`);
  const list = value as unknown[];
  if (list.length > LIMITS.attributes) fail(path, `${path} has more than ${LIMITS.attributes}`);
  return list.map((n, i) => {
    if (!isValidName(n) && !isUri(n)) fail(`${path}/${i}`, `${path} holds an invalid name`);
    return n as string;
  });
}

function seconds(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(path, `${path} must be a positive number of seconds`);
  }
  const n = value as number;
  if (n > LIMITS.maxSeconds) fail(path, `${path} may be at most ${LIMITS.maxSeconds} seconds`);
  return n;
}

function keyValues(value: unknown, path: string, max: number): KeyValue[] {
  if (!Array.isArray(value)) fail(path, `${path} must be an array of {key, value}`);
  const list = value as unknown[];
  if (list.length > max) fail(path, `${path} may hold at most ${max} entries`);
  return list.map((kv, i) => {
    if (!isObject(kv)) fail(`${path}/${i}`, `${path} entries must be {key, value}`);
    const entry = kv as Record<string, unknown>;
    const key = text(entry.key, `${path}/${i}/key`, 256);
    const v = text(entry.value, `${path}/${i}/value`, LIMITS.text);
    // Sent as header values (HTTP) or JSON (MQTT): no control characters.
    if ([...(key + v)].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
      fail(`${path}/${i}`, `${path} entries may not contain control characters`);
    }
    return { key, value: v };
  });
}

/** Header names a receiverInfo entry may not set (the node owns them). */
const RESERVED_HEADERS = /^(content-type|content-length|host|link|connection|transfer-encoding)$/i;

function parseEndpoint(value: unknown): EndpointDoc {
  if (!isObject(value)) return fail('/notification/endpoint', 'notification.endpoint is required');
  const e = value as Record<string, unknown>;
  const uri = text(e.uri, '/notification/endpoint/uri');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return fail('/notification/endpoint/uri', 'notification.endpoint.uri must be an absolute URI');
  }
  if (!['http:', 'https:', 'mqtt:', 'mqtts:'].includes(url.protocol)) {
    fail('/notification/endpoint/uri', 'endpoint.uri must be an http, https, mqtt or mqtts URI');
  }
  const mqtt = url.protocol.startsWith('mqtt');
  if (mqtt && url.pathname.length <= 1) {
    fail('/notification/endpoint/uri', 'an MQTT endpoint names its topic: mqtt://host:port/topic');
  }
  if (mqtt && /[#+]/.test(decodeURIComponent(url.pathname))) {
    fail('/notification/endpoint/uri', 'an MQTT endpoint topic may not contain wildcards');
  }
  const out: EndpointDoc = { uri };
  if (e.accept !== undefined) {
    if (!(ACCEPTS as readonly unknown[]).includes(e.accept)) {
      fail('/notification/endpoint/accept', `endpoint.accept must be one of ${ACCEPTS.join(', ')}`);
    }
    out.accept = e.accept as string;
  }
  if (e.receiverInfo !== undefined) {
    out.receiverInfo = keyValues(
      e.receiverInfo,
      '/notification/endpoint/receiverInfo',
      LIMITS.receiverInfo,
    );
    for (const { key } of out.receiverInfo) {
      if (!mqtt && (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(key) || RESERVED_HEADERS.test(key))) {
        fail('/notification/endpoint/receiverInfo', `receiverInfo key "${key}" is not a header`);
      }
    }
  }
  if (e.notifierInfo !== undefined) {
    out.notifierInfo = keyValues(
      e.notifierInfo,
      '/notification/endpoint/notifierInfo',
      LIMITS.notifierInfo,
    );
    for (const { key, value } of out.notifierInfo) {
      if (key === 'MQTT-Version' && !['mqtt3.1.1', 'mqtt5.0'].includes(value)) {
        fail('/notification/endpoint/notifierInfo', 'MQTT-Version must be mqtt3.1.1 or mqtt5.0');
      }
      if (key === 'MQTT-QoS' && !['0', '1', '2'].includes(value)) {
        fail('/notification/endpoint/notifierInfo', 'MQTT-QoS must be 0, 1 or 2');
      }
    }
  }
  return out;
}

function parseNotification(value: unknown): NotificationDoc {
  if (!isObject(value)) return fail('/notification', 'notification is required');
  const n = value as Record<string, unknown>;
  const out: NotificationDoc = { endpoint: parseEndpoint(n.endpoint) };
  if (n.attributes !== undefined) out.attributes = names(n.attributes, '/notification/attributes');
  if (n.format !== undefined) {
    if (!(FORMATS as readonly unknown[]).includes(n.format)) {
      fail('/notification/format', `notification.format must be one of ${FORMATS.join(', ')}`);
    }
    out.format = n.format as NotificationFormat;
  }
  for (const flag of ['sysAttrs', 'showChanges'] as const) {
    if (n[flag] === undefined) continue;
    if (typeof n[flag] !== 'boolean') fail(`/notification/${flag}`, `${flag} must be a boolean`);
    out[flag] = n[flag] as boolean;
  }
  return out;
}

function parseSelector(value: unknown, i: number): EntitySelectorDoc {
  const path = `/entities/${i}`;
  if (!isObject(value)) return fail(path, 'entities must hold objects');
  const s = value as Record<string, unknown>;
  const type = text(s.type, `${path}/type`, 1024);
  parseTypeExpression(type);
  const out: EntitySelectorDoc = { type };
  if (s.id !== undefined) {
    if (!isUri(s.id)) fail(`${path}/id`, 'entities[].id must be a URI');
    out.id = s.id as string;
  }
  if (s.idPattern !== undefined) {
    const pattern = text(s.idPattern, `${path}/idPattern`, 256);
    try {
      new RegExp(pattern);
    } catch {
      fail(`${path}/idPattern`, 'entities[].idPattern is not a valid regular expression');
    }
    out.idPattern = pattern;
  }
  return out;
}

/**
 * Validates a subscription payload (without @context) and returns the stored form.
 * `now` decides whether expiresAt lies in the past.
 */
export function parseSubscription(body: unknown, now: Date): SubscriptionDoc {
  if (!isObject(body)) return fail('', 'A subscription must be a JSON object');
  const b = body as Record<string, unknown>;
  if (b.type !== 'Subscription') fail('/type', 'type must be "Subscription"');
  let id: string;
  if (b.id === undefined) id = `urn:ngsi-ld:Subscription:${randomUUID()}`;
  else {
    if (!isUri(b.id) || (b.id as string).length > 256) fail('/id', 'id must be a URI');
    id = b.id as string;
  }
  const doc: SubscriptionDoc = {
    id,
    type: 'Subscription',
    notification: parseNotification(b.notification),
  };
  if (b.subscriptionName !== undefined)
    doc.subscriptionName = text(b.subscriptionName, '/subscriptionName', 256);
  if (b.description !== undefined) doc.description = text(b.description, '/description');
  if (b.entities !== undefined) {
    if (!Array.isArray(b.entities) || b.entities.length === 0) {
      fail('/entities', 'entities must be a non-empty array');
    }
    const list = b.entities as unknown[];
    if (list.length > LIMITS.entities) fail('/entities', `at most ${LIMITS.entities} entities`);
    doc.entities = list.map(parseSelector);
  }
  if (b.watchedAttributes !== undefined)
    doc.watchedAttributes = names(b.watchedAttributes, '/watchedAttributes');
  if (b.notificationTrigger !== undefined) {
    const list = b.notificationTrigger;
    if (!Array.isArray(list) || list.length === 0) {
      fail('/notificationTrigger', 'notificationTrigger must be a non-empty array');
    }
    for (const t of list as unknown[]) {
      if (!(TRIGGERS as readonly unknown[]).includes(t)) {
        fail('/notificationTrigger', `unknown notificationTrigger "${String(t)}"`);
      }
    }
    doc.notificationTrigger = [...new Set(list as Trigger[])];
  }
  if (b.timeInterval !== undefined) {
    doc.timeInterval = seconds(b.timeInterval, '/timeInterval');
    if (doc.timeInterval < LIMITS.minTimeInterval) {
      fail('/timeInterval', `timeInterval must be at least ${LIMITS.minTimeInterval} s`);
    }
  }
  if (b.throttling !== undefined) doc.throttling = seconds(b.throttling, '/throttling');
  if (b.q !== undefined) {
    doc.q = text(b.q, '/q');
    parseQ(doc.q);
  }
  if (b.scopeQ !== undefined) {
    doc.scopeQ = text(b.scopeQ, '/scopeQ');
    parseScopeQ(doc.scopeQ);
  }
  if (b.geoQ !== undefined) {
    if (!isObject(b.geoQ)) fail('/geoQ', 'geoQ must be an object');
    const g = b.geoQ as Record<string, unknown>;
    const geoQ: GeoQDoc = {
      geometry: text(g.geometry, '/geoQ/geometry', 64),
      coordinates: g.coordinates,
      georel: text(g.georel, '/geoQ/georel', 128),
    };
    if (g.geoproperty !== undefined) geoQ.geoproperty = text(g.geoproperty, '/geoQ/geoproperty');
    if (typeof geoQ.coordinates === 'string') {
      try {
        geoQ.coordinates = JSON.parse(geoQ.coordinates);
      } catch {
        fail('/geoQ/coordinates', 'geoQ.coordinates must be a JSON array');
      }
    }
    if (!Array.isArray(geoQ.coordinates)) fail('/geoQ/coordinates', 'coordinates: an array');
    parseGeoQuery({ ...geoQ, coordinates: geoQ.coordinates });
    doc.geoQ = geoQ;
  }
  if (b.isActive !== undefined) {
    if (typeof b.isActive !== 'boolean') fail('/isActive', 'isActive must be a boolean');
    doc.isActive = b.isActive as boolean;
  }
  if (b.expiresAt !== undefined) {
    if (!isDateTime(b.expiresAt)) fail('/expiresAt', 'expiresAt must be a DateTime');
    if (new Date(b.expiresAt as string).getTime() <= now.getTime()) {
      fail('/expiresAt', 'expiresAt lies in the past');
    }
    doc.expiresAt = new Date(b.expiresAt as string).toISOString();
  }
  if (b.lang !== undefined) doc.lang = text(b.lang, '/lang', 64);
  if (b.jsonldContext !== undefined) {
    if (typeof b.jsonldContext !== 'string' || !/^https?:\/\/\S+$/.test(b.jsonldContext)) {
      fail('/jsonldContext', 'jsonldContext must be an http(s) URL');
    }
    doc.jsonldContext = b.jsonldContext as string;
  }
  for (const key of ['temporalQ', 'csf']) {
    if (b[key] !== undefined) fail(`/${key}`, `${key} is not supported by this node`);
  }
  if (!doc.entities && !doc.watchedAttributes) {
    fail('/entities', 'A subscription needs entities or watchedAttributes');
  }
  if (doc.timeInterval !== undefined && doc.watchedAttributes) {
    fail('/timeInterval', 'timeInterval and watchedAttributes cannot be combined');
  }
  if (doc.timeInterval !== undefined && doc.throttling !== undefined) {
    fail('/throttling', 'throttling and timeInterval cannot be combined');
  }
  if (doc.timeInterval !== undefined && !doc.entities) {
    fail('/entities', 'A periodic subscription (timeInterval) needs entities');
  }
  return doc;
}

/**
 * Applies a PATCH fragment (clause 5.8.2): each member given replaces the stored one;
 * `notification` members are merged one level down; read-only members are ignored.
 */
export function mergeFragment(stored: SubscriptionDoc, fragment: unknown): Record<string, unknown> {
  if (!isObject(fragment) || Object.keys(fragment).length === 0) {
    return fail('', 'The fragment must be a non-empty JSON object');
  }
  const f = fragment as Record<string, unknown>;
  if (f.id !== undefined && f.id !== stored.id) fail('/id', 'id cannot be changed');
  if (f.type !== undefined && f.type !== 'Subscription') fail('/type', 'type must be Subscription');
  const out: Record<string, unknown> = { ...stored };
  for (const [key, value] of Object.entries(f)) {
    if (READ_ONLY.has(key)) continue;
    if (key === 'notification') {
      if (!isObject(value)) fail('/notification', 'notification must be an object');
      const merged: Record<string, unknown> = { ...stored.notification };
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (!NOTIFICATION_READ_ONLY.has(k)) merged[k] = v;
      }
      out.notification = merged;
    } else if (value === null || value === 'urn:ngsi-ld:null') {
      delete out[key];
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** Removes members the node maintains before validation (clients may echo them back). */
export function stripReadOnly(body: unknown): unknown {
  if (!isObject(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!READ_ONLY.has(k)) out[k] = v;
  if (isObject(out.notification)) {
    const n: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(out.notification)) {
      if (!NOTIFICATION_READ_ONLY.has(k)) n[k] = v;
    }
    out.notification = n;
  }
  return out;
}

/** Delivery state kept next to the subscription. */
export interface DeliveryStatus {
  timesSent: number;
  timesFailed: number;
  lastNotification: Date | null;
  lastSuccess: Date | null;
  lastFailure: Date | null;
  lastStatus: 'ok' | 'failed' | null;
}

/** The Subscription as returned by GET (clause 5.2.12 with its read-only members). */
export function renderSubscription(
  doc: SubscriptionDoc,
  status: DeliveryStatus,
  now: Date,
  sys: { createdAt: Date; modifiedAt: Date } | null,
): Record<string, unknown> {
  const isActive = doc.isActive ?? true;
  const expired = doc.expiresAt !== undefined && new Date(doc.expiresAt) <= now;
  const notification: Record<string, unknown> = {
    ...doc.notification,
    format: doc.notification.format ?? 'normalized',
    timesSent: status.timesSent,
    timesFailed: status.timesFailed,
  };
  if (status.lastStatus) notification.status = status.lastStatus;
  if (status.lastNotification)
    notification.lastNotification = status.lastNotification.toISOString();
  if (status.lastSuccess) notification.lastSuccess = status.lastSuccess.toISOString();
  if (status.lastFailure) notification.lastFailure = status.lastFailure.toISOString();
  const out: Record<string, unknown> = {
    ...doc,
    isActive,
    notificationTrigger: doc.notificationTrigger ?? [...DEFAULT_TRIGGERS],
    notification,
    status: expired ? 'expired' : isActive ? 'active' : 'paused',
  };
  if (sys) {
    out.createdAt = sys.createdAt.toISOString();
    out.modifiedAt = sys.modifiedAt.toISOString();
  }
  return out;
}

/** Entity selector in disjunctive form: each row holds when the entity has all types. */
export interface SelectorRow {
  entityId: string | null;
  idPattern: string | null;
  typesAll: string[];
}

type TypeExpr = ReturnType<typeof parseTypeExpression>;

function disjunctive(expr: TypeExpr): string[][] {
  if (expr.kind === 'type') return [[expr.name]];
  if (expr.kind === 'or') return expr.items.flatMap(disjunctive);
  // and: the cross product of the items' alternatives.
  return expr.items
    .map(disjunctive)
    .reduce<string[][]>((acc, alts) => acc.flatMap((a) => alts.map((b) => [...a, ...b])), [[]]);
}

/** The selector rows of a subscription, types expanded with `expand`. */
export function selectorRows(
  entities: readonly EntitySelectorDoc[],
  expand: (term: string) => string,
): SelectorRow[] {
  const rows: SelectorRow[] = [];
  for (const s of entities) {
    for (const conj of disjunctive(parseTypeExpression(s.type))) {
      rows.push({
        entityId: s.id ?? null,
        idPattern: s.idPattern ?? null,
        typesAll: [...new Set(conj.map(expand))],
      });
    }
  }
  if (rows.length > LIMITS.entities * 4) {
    throw badRequest('The entity type expressions of this subscription are too complex');
  }
  return rows;
}

/**
 * Context source registration subscriptions (ETSI GS CIM 009 clause 5.11, binding 6.12
 * and 6.13): a Subscription (clause 5.2.12) whose entities and watchedAttributes are
 * matched against registrations instead of entities. A subscriber is told when a
 * registration starts matching (`newlyMatching`), changes while matching (`updated`) or
 * stops matching, including by its deletion (`noLongerMatching`), with the registration
 * in the notification's data (CSourceNotification, clause 5.3.2).
 *
 * The Subscription parser of /subscriptions is reused; members that only make sense for
 * entities (q, geoQ, scopeQ, periodic timeInterval, notificationTrigger, showChanges,
 * notification.attributes) and throttling are refused rather than stored and ignored.
 * Notifications go to http(s) endpoints only, through the guarded fetcher.
 */
import { badRequest } from '../platform/http/errors.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import {
  parseSubscription,
  selectorRows,
  type SubscriptionDoc,
} from '../subscriptions/subscription.model.js';
import type { RegistrationInfo, RegistrationRecord } from './registration.model.js';

export type TriggerReason = 'newlyMatching' | 'updated' | 'noLongerMatching';

/** One entity selector, expanded: an EntityInfo matches when it names all these types. */
export interface CSourceSelector {
  id?: string;
  idPattern?: string;
  typesAll: string[];
}

export interface ParsedCSourceSubscription {
  doc: SubscriptionDoc;
  /** Null: any entity. */
  selectors: CSourceSelector[] | null;
  /** Expanded; null: any attribute. */
  watchedAttrs: string[] | null;
  endpoint: string;
  expiresAt: Date | null;
  isActive: boolean;
}

const UNSUPPORTED = [
  'q',
  'geoQ',
  'scopeQ',
  'timeInterval',
  'notificationTrigger',
  'throttling',
  'temporalQ',
  'csf',
] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a context source subscription (without @context); terms expanded with `map`. */
export function parseCSourceSubscription(
  body: unknown,
  map: TermMap,
  now: Date,
): ParsedCSourceSubscription {
  if (isObject(body)) {
    for (const member of UNSUPPORTED) {
      if (body[member] !== undefined) {
        throw badRequest(`${member} is not supported on context source subscriptions`, [
          { path: `/${member}`, message: 'not supported on context source subscriptions' },
        ]);
      }
    }
    const n = body.notification;
    if (isObject(n)) {
      for (const member of ['attributes', 'showChanges'] as const) {
        if (n[member] !== undefined) {
          throw badRequest(
            `notification.${member} is not supported on context source subscriptions`,
            [
              {
                path: `/notification/${member}`,
                message: 'not supported on context source subscriptions',
              },
            ],
          );
        }
      }
    }
  }
  const doc = parseSubscription(body, now);
  const endpoint = doc.notification.endpoint.uri;
  if (!/^https?:\/\//i.test(endpoint)) {
    throw badRequest('A context source subscription notifies http(s) endpoints only', [
      { path: '/notification/endpoint/uri', message: 'must be an http(s) URL' },
    ]);
  }
  const selectors = doc.entities
    ? selectorRows(doc.entities, (t) => map.expand(t)).map((row) => ({
        ...(row.entityId !== null ? { id: row.entityId } : {}),
        ...(row.idPattern !== null ? { idPattern: row.idPattern } : {}),
        typesAll: row.typesAll,
      }))
    : null;
  return {
    doc,
    selectors,
    watchedAttrs: doc.watchedAttributes ? doc.watchedAttributes.map((a) => map.expand(a)) : null,
    endpoint,
    expiresAt: doc.expiresAt ? new Date(doc.expiresAt) : null,
    isActive: doc.isActive ?? true,
  };
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

function selectorMatches(s: CSourceSelector, info: RegistrationInfo): boolean {
  // A registration of attributes alone (no entities) answers for any entity.
  if (info.entities === null) return true;
  return info.entities.some((e) => {
    if (!s.typesAll.every((t) => e.types.includes(t))) return false;
    if (s.id !== undefined) {
      if (e.id !== undefined) return e.id === s.id;
      if (e.idPattern !== undefined) return safeTest(e.idPattern, s.id);
      return true;
    }
    if (s.idPattern !== undefined && e.id !== undefined) return safeTest(s.idPattern, e.id);
    // Two patterns may or may not overlap; the subscriber is told rather than not.
    return true;
  });
}

/** Whether a subscription's entities and watchedAttributes meet one RegistrationInfo. */
export function subscriptionMatches(
  sub: { selectors: readonly CSourceSelector[] | null; watchedAttrs: readonly string[] | null },
  registration: Pick<RegistrationRecord, 'information' | 'expiresAt'>,
  now: Date,
): boolean {
  if (registration.expiresAt !== null && registration.expiresAt <= now) return false;
  return registration.information.some((info) => {
    if (sub.selectors !== null && !sub.selectors.some((s) => selectorMatches(s, info))) {
      return false;
    }
    if (sub.watchedAttrs === null || info.attrs === null) return true;
    return info.attrs.some((a) => sub.watchedAttrs!.includes(a));
  });
}

/** The reason to notify of a change from `before` to `after` (null: none). */
export function triggerReason(matchedBefore: boolean, matchesAfter: boolean): TriggerReason | null {
  if (matchedBefore && matchesAfter) return 'updated';
  if (matchesAfter) return 'newlyMatching';
  if (matchedBefore) return 'noLongerMatching';
  return null;
}

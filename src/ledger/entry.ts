/**
 * Ledger entries: the closed shape of an event, the checks that keep personal data out
 * of a public, permanent log, and the canonical bytes that are hashed into the tree.
 *
 * The checks are a safety net, not a guarantee: they reject shapes that cannot be
 * right (e-mail addresses, phone numbers, free-form person fields, nested objects,
 * over-long text) so that a careless caller fails loudly in its own transaction
 * instead of publishing someone's details forever. Identifiers of people may only
 * appear as `actor.personHash`, a hex SHA-256/HMAC value.
 */
import { canonicalBytes } from './canonical-json.js';
import type { LedgerEvent } from './ledger.events.js';

/** Largest canonical entry, well below the 65,535 bytes an entry bundle can frame. */
export const MAX_ENTRY_BYTES = 16_384;

export interface LedgerEntry {
  index: number;
  type: string;
  /** ISO 8601 UTC with milliseconds: when the change was recorded. */
  time: string;
  actor: { organisationId: string | null; clientId: string | null; personHash: string | null };
  subject: { kind: string; id: string };
  purpose: string | null;
  count: number | null;
  details: Record<string, string | number | boolean | null>;
}

export class LedgerEventError extends Error {
  constructor(message: string) {
    super(`ledger event rejected: ${message}`);
    this.name = 'LedgerEventError';
  }
}

const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,4}$/;
const PARTY_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const SUBJECT_KIND = /^[a-z][a-z0-9_-]{0,63}$/;
/** Ids of things: prefixed ids, URNs (NGSI-LD entity ids), URLs without user info. */
const SUBJECT_ID = /^[A-Za-z0-9._:~/#%=?&+-]{1,512}$/;
const PERSON_HASH = /^[0-9a-f]{64}$/;
const DETAIL_KEY = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;
/** Detail keys that name facts about a person; the log must never carry them. */
const PERSONAL_KEY =
  /(e_?mail|phone|mobile|first_?name|last_?name|full_?name|sur_?name|given_?name|person_?name|user_?name|display_?name|address|birth|ssn|bsn|passport|ip_?addr|^name$|^ip$)/i;
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;
/** International phone numbers (+31 6 …); local formats are indistinguishable from ids. */
const PHONE = /\+\d[\d ()-]{7,}\d/;
const ALLOWED_KEYS = {
  event: ['type', 'actor', 'subject', 'purpose', 'count', 'details'],
  actor: ['organisationId', 'clientId', 'personHash'],
  subject: ['kind', 'id'],
};

function onlyKeys(value: object, allowed: string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw new LedgerEventError(`${where} has an unknown field "${key}"`);
  }
}

function text(value: string, where: string, max: number): void {
  if (value.length > max) throw new LedgerEventError(`${where} is longer than ${max} characters`);
  if (EMAIL.test(value))
    throw new LedgerEventError(`${where} looks like it holds an e-mail address`);
  if (PHONE.test(value)) {
    throw new LedgerEventError(`${where} looks like it holds a phone number`);
  }
  // Control characters have no business in a public record and break line-based tools.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new LedgerEventError(`${where} has control characters`);
}

function party(value: unknown, where: string): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'string' || !PARTY_ID.test(value)) {
    throw new LedgerEventError(`${where} must be an identifier like org_… or cli_…`);
  }
  return value;
}

/** Checks `event` and returns it in its closed, normalised form (throws LedgerEventError). */
export function normaliseEvent(event: LedgerEvent): Omit<LedgerEntry, 'index' | 'time'> {
  if (typeof event !== 'object' || event === null) throw new LedgerEventError('not an object');
  onlyKeys(event, ALLOWED_KEYS.event, 'event');
  if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type) || event.type.length > 100) {
    throw new LedgerEventError('type must be a dotted lower-case name like grant.approved');
  }
  const actor = event.actor as LedgerEvent['actor'] | undefined;
  if (typeof actor !== 'object' || actor === null) throw new LedgerEventError('actor is required');
  onlyKeys(actor, ALLOWED_KEYS.actor, 'actor');
  const personHash = actor.personHash ?? null;
  if (personHash !== null && (typeof personHash !== 'string' || !PERSON_HASH.test(personHash))) {
    throw new LedgerEventError('actor.personHash must be a lower-case hex SHA-256 value');
  }
  const subject = event.subject as LedgerEvent['subject'] | undefined;
  if (typeof subject !== 'object' || subject === null) {
    throw new LedgerEventError('subject is required');
  }
  onlyKeys(subject, ALLOWED_KEYS.subject, 'subject');
  if (typeof subject.kind !== 'string' || !SUBJECT_KIND.test(subject.kind)) {
    throw new LedgerEventError('subject.kind must be a lower-case word like dataset');
  }
  if (typeof subject.id !== 'string' || !SUBJECT_ID.test(subject.id)) {
    throw new LedgerEventError('subject.id must be an identifier (no spaces or @)');
  }
  const purpose = event.purpose ?? null;
  if (purpose !== null) {
    if (typeof purpose !== 'string') throw new LedgerEventError('purpose must be text');
    text(purpose, 'purpose', 500);
  }
  const count = event.count ?? null;
  if (count !== null && !(Number.isSafeInteger(count) && count >= 0)) {
    throw new LedgerEventError('count must be a non-negative whole number');
  }
  const details: LedgerEntry['details'] = {};
  const rawDetails = event.details ?? {};
  if (typeof rawDetails !== 'object' || rawDetails === null || Array.isArray(rawDetails)) {
    throw new LedgerEventError('details must be a flat object');
  }
  const keys = Object.keys(rawDetails);
  if (keys.length > 32) throw new LedgerEventError('details has more than 32 fields');
  for (const key of keys) {
    if (!DETAIL_KEY.test(key))
      throw new LedgerEventError(`details key "${key}" is not a plain name`);
    if (PERSONAL_KEY.test(key)) {
      throw new LedgerEventError(
        `details.${key} names personal data; use actor.personHash or nothing`,
      );
    }
    const value = rawDetails[key];
    // An absent value (undefined) is simply not recorded, as JSON would drop it.
    if (value === undefined) continue;
    if (typeof value === 'string') text(value, `details.${key}`, 1000);
    else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new LedgerEventError(`details.${key} is not finite`);
    } else if (value !== null && typeof value !== 'boolean') {
      throw new LedgerEventError(`details.${key} must be text, a number, true/false or null`);
    }
    details[key] = value as string | number | boolean | null;
  }
  return {
    type: event.type,
    actor: {
      organisationId: party(actor.organisationId, 'actor.organisationId'),
      clientId: party(actor.clientId, 'actor.clientId'),
      personHash,
    },
    subject: { kind: subject.kind, id: subject.id },
    purpose,
    count,
    details,
  };
}

/** The entry as sequenced: the stored event with its position and time. */
export function buildEntry(
  event: Omit<LedgerEntry, 'index' | 'time'>,
  index: number,
  at: Date,
): LedgerEntry {
  return { index, time: at.toISOString(), ...event };
}

export function entryBytes(entry: LedgerEntry): Buffer {
  const bytes = canonicalBytes(entry);
  if (bytes.length > MAX_ENTRY_BYTES) throw new LedgerEventError('entry is too large');
  return bytes;
}

/** Facts the search API filters on, derived from an entry (not stored in it). */
export function searchKeys(entry: LedgerEntry): {
  organisationId: string | null;
  datasetId: string | null;
  grantId: string | null;
} {
  const detail = (key: string) => {
    const value = entry.details[key];
    return typeof value === 'string' ? value : null;
  };
  return {
    organisationId: entry.actor.organisationId,
    datasetId: entry.subject.kind === 'dataset' ? entry.subject.id : detail('datasetId'),
    grantId: entry.subject.kind === 'grant' ? entry.subject.id : detail('grantId'),
  };
}

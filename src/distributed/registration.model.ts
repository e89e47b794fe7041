/**
 * The NGSI-LD CSourceRegistration data type (ETSI GS CIM 009 clause 5.2.9): parsing and
 * validation of what a client sends, the expanded form matching works on, operation
 * groups (clause 5.2.9, table "operations"), and rendering back to the client.
 */
import { randomBytes } from 'node:crypto';
import { badRequest, type FieldError } from '../platform/http/errors.js';
import { isDateTime, isUri, isValidName } from '../context/entities/entity.model.js';
import type { TermMap } from '../context/jsonld/term-map.js';

export const MODES = ['inclusive', 'exclusive', 'redirect', 'auxiliary'] as const;
export type Mode = (typeof MODES)[number];

const FEDERATION_OPS = [
  'retrieveEntity',
  'queryEntity',
  'queryBatch',
  'retrieveTemporal',
  'queryTemporal',
  'retrieveEntityTypes',
  'retrieveEntityTypeDetails',
  'retrieveEntityTypeInfo',
  'retrieveAttrTypes',
  'retrieveAttrTypeDetails',
  'retrieveAttrTypeInfo',
  'createSubscription',
  'updateSubscription',
  'retrieveSubscription',
  'querySubscription',
  'deleteSubscription',
];
const UPDATE_OPS = ['updateEntity', 'updateAttrs', 'replaceEntity', 'replaceAttrs'];
const RETRIEVE_OPS = ['retrieveEntity', 'queryEntity'];
const REDIRECTION_OPS = [
  'createEntity',
  'updateAttrs',
  'appendAttrs',
  'deleteAttrs',
  'deleteEntity',
  'createBatch',
  'upsertBatch',
  'updateBatch',
  'deleteBatch',
  'upsertTemporal',
  'appendAttrsTemporal',
  'deleteAttrsTemporal',
  'updateAttrsTemporal',
  'deleteAttrInstanceTemporal',
  'deleteTemporal',
  'mergeEntity',
  'replaceEntity',
  'replaceAttrs',
  'mergeBatch',
  'retrieveEntity',
  'queryEntity',
  'retrieveTemporal',
  'queryTemporal',
  'retrieveEntityTypes',
  'retrieveEntityTypeDetails',
  'retrieveEntityTypeInfo',
  'retrieveAttrTypes',
  'retrieveAttrTypeDetails',
  'retrieveAttrTypeInfo',
];

/** Operation groups a registration may name instead of single operations. */
export const OPERATION_GROUPS: Readonly<Record<string, readonly string[]>> = {
  federationOps: FEDERATION_OPS,
  updateOps: UPDATE_OPS,
  retrieveOps: RETRIEVE_OPS,
  redirectionOps: REDIRECTION_OPS,
};

const ALL_OPERATIONS = new Set([
  ...FEDERATION_OPS,
  ...UPDATE_OPS,
  ...REDIRECTION_OPS,
  'purgeEntity',
  'createEntityType',
  'deleteEntityType',
]);

/** The operations this node forwards; the others are accepted and stored, never used. */
export type DistributedOperation =
  'retrieveEntity' | 'queryEntity' | 'retrieveTemporal' | 'queryTemporal';

/** System members the node maintains: ignored when a client sends them. */
const SYSTEM_MEMBERS = new Set([
  'status',
  'timesSent',
  'timesFailed',
  'lastSuccess',
  'lastFailure',
  'createdAt',
  'modifiedAt',
  '@context',
]);

const MAX_INFORMATION = 100;
const MAX_ENTITIES = 100;
const MAX_NAMES = 500;
const MAX_TEXT = 2048;

export interface EntityInfo {
  id?: string;
  idPattern?: string;
  /** Expanded type IRIs (any of them). */
  types: string[];
}

export interface RegistrationInfo {
  /** Null: any entity. */
  entities: EntityInfo[] | null;
  /** Expanded attribute IRIs; null when neither propertyNames nor relationshipNames is given. */
  attrs: string[] | null;
}

export interface ParsedRegistration {
  id: string;
  /** As sent, minus system members, with id and type. */
  doc: Record<string, unknown>;
  information: RegistrationInfo[];
  endpoint: string;
  mode: Mode;
  /** Single operations, groups expanded. */
  operations: string[];
  expiresAt: Date | null;
  timeoutMs: number | null;
  cooldownMs: number | null;
}

class Errors {
  readonly list: FieldError[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(value: unknown, path: string, e: Errors): void {
  if (value !== undefined && (typeof value !== 'string' || value.length > MAX_TEXT)) {
    e.add(path, `must be a string of at most ${MAX_TEXT} characters`);
  }
}

function regexOk(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

function parseInformation(raw: unknown, map: TermMap, e: Errors): RegistrationInfo[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_INFORMATION) {
    e.add('/information', `must be an array of 1 to ${MAX_INFORMATION} RegistrationInfo`);
    return [];
  }
  return raw.map((item, i) => {
    const at = `/information/${i}`;
    const out: RegistrationInfo = { entities: null, attrs: null };
    if (!isObject(item)) {
      e.add(at, 'must be an object');
      return out;
    }
    for (const key of Object.keys(item)) {
      if (!['entities', 'propertyNames', 'relationshipNames'].includes(key)) {
        e.add(`${at}/${key}`, 'is not a member of RegistrationInfo');
      }
    }
    if (item.entities !== undefined) {
      if (!Array.isArray(item.entities) || item.entities.length === 0) {
        e.add(`${at}/entities`, `must be a non-empty array`);
      } else if (item.entities.length > MAX_ENTITIES) {
        e.add(`${at}/entities`, `may hold at most ${MAX_ENTITIES} EntityInfo`);
      } else {
        out.entities = item.entities.map((ent, j) => {
          const p = `${at}/entities/${j}`;
          const info: EntityInfo = { types: [] };
          if (!isObject(ent)) {
            e.add(p, 'must be an object');
            return info;
          }
          if (ent.id !== undefined && ent.idPattern !== undefined) {
            e.add(p, 'id and idPattern cannot both be given');
          }
          if (ent.id !== undefined) {
            if (!isUri(ent.id)) e.add(`${p}/id`, 'must be a URI');
            else info.id = ent.id;
          }
          if (ent.idPattern !== undefined) {
            if (
              typeof ent.idPattern !== 'string' ||
              ent.idPattern.length > 256 ||
              !regexOk(ent.idPattern)
            ) {
              e.add(`${p}/idPattern`, 'must be a regular expression of at most 256 characters');
            } else info.idPattern = ent.idPattern;
          }
          const types = Array.isArray(ent.type)
            ? ent.type
            : ent.type === undefined
              ? []
              : [ent.type];
          if (types.length === 0 || !types.every(isValidName)) {
            e.add(`${p}/type`, 'is required: one or more entity type names');
          } else info.types = types.map((t) => map.expand(t as string));
          return info;
        });
      }
    }
    const names: string[] = [];
    for (const member of ['propertyNames', 'relationshipNames'] as const) {
      const list = item[member];
      if (list === undefined) continue;
      if (
        !Array.isArray(list) ||
        list.length === 0 ||
        list.length > MAX_NAMES ||
        !list.every(isValidName)
      ) {
        e.add(
          `${at}/${member}`,
          `must be a non-empty array of at most ${MAX_NAMES} attribute names`,
        );
      } else names.push(...list.map((n) => map.expand(n as string)));
    }
    if (item.propertyNames !== undefined || item.relationshipNames !== undefined) out.attrs = names;
    if (item.entities === undefined && out.attrs === null) {
      e.add(at, 'needs entities, propertyNames or relationshipNames');
    }
    return out;
  });
}

function positiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * Validates a whole registration (create, or the result of a PATCH merged over the stored
 * one). Throws BadRequestData listing every problem.
 */
export function parseRegistration(
  body: unknown,
  map: TermMap,
  now: Date,
  options: { id?: string } = {},
): ParsedRegistration {
  const e = new Errors();
  if (!isObject(body)) throw badRequest('A CSourceRegistration must be a JSON object');
  const doc: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!SYSTEM_MEMBERS.has(key)) doc[key] = value;
  }
  let id = options.id;
  if (id === undefined) {
    if (doc.id === undefined) {
      id = `urn:ngsi-ld:ContextSourceRegistration:${randomBytes(12).toString('hex')}`;
    } else if (!isUri(doc.id)) e.add('/id', 'must be a URI');
    else id = doc.id;
  } else if (doc.id !== undefined && doc.id !== id) {
    e.add('/id', 'cannot be changed');
  }
  if (doc.type !== 'ContextSourceRegistration') {
    e.add('/type', 'must be "ContextSourceRegistration"');
  }
  const information = parseInformation(doc.information, map, e);
  let endpoint = '';
  if (
    typeof doc.endpoint !== 'string' ||
    doc.endpoint.length > MAX_TEXT ||
    !/^https?:\/\/[^\s]+$/.test(doc.endpoint)
  ) {
    e.add('/endpoint', 'is required: an http(s) URL');
  } else {
    try {
      endpoint = new URL(doc.endpoint).toString().replace(/\/+$/, '');
    } catch {
      e.add('/endpoint', 'is not a valid URL');
    }
  }
  const mode = (doc.mode ?? 'inclusive') as Mode;
  if (!MODES.includes(mode)) e.add('/mode', `must be one of ${MODES.join(', ')}`);
  let operations: string[] = [...FEDERATION_OPS];
  if (doc.operations !== undefined) {
    if (
      !Array.isArray(doc.operations) ||
      doc.operations.length === 0 ||
      doc.operations.length > 100
    ) {
      e.add('/operations', 'must be a non-empty array of operation or operation group names');
    } else {
      const set = new Set<string>();
      for (const op of doc.operations) {
        if (typeof op === 'string' && OPERATION_GROUPS[op])
          OPERATION_GROUPS[op].forEach((o) => set.add(o));
        else if (typeof op === 'string' && ALL_OPERATIONS.has(op)) set.add(op);
        else e.add('/operations', `unknown operation ${String(op).slice(0, 64)}`);
      }
      operations = [...set];
    }
  }
  let expiresAt: Date | null = null;
  if (doc.expiresAt !== undefined) {
    if (!isDateTime(doc.expiresAt)) e.add('/expiresAt', 'must be a DateTime');
    else {
      expiresAt = new Date(doc.expiresAt);
      if (expiresAt.getTime() <= now.getTime()) e.add('/expiresAt', 'must be in the future');
    }
  }
  let timeoutMs: number | null = null;
  let cooldownMs: number | null = null;
  if (doc.management !== undefined) {
    const m = doc.management;
    if (!isObject(m)) e.add('/management', 'must be an object');
    else {
      for (const key of Object.keys(m)) {
        if (!['localOnly', 'cacheDuration', 'timeout', 'cooldown'].includes(key)) {
          e.add(`/management/${key}`, 'is not a member of RegistrationManagementInfo');
        }
      }
      if (m.localOnly !== undefined && typeof m.localOnly !== 'boolean')
        e.add('/management/localOnly', 'must be a boolean');
      if (m.cacheDuration !== undefined && !positiveNumber(m.cacheDuration))
        e.add('/management/cacheDuration', 'must be a positive number');
      if (m.timeout !== undefined) {
        if (!positiveNumber(m.timeout) || m.timeout > 120_000)
          e.add('/management/timeout', 'must be a positive number of milliseconds up to 120000');
        else timeoutMs = Math.ceil(m.timeout);
      }
      if (m.cooldown !== undefined) {
        if (!positiveNumber(m.cooldown) || m.cooldown > 86_400_000)
          e.add('/management/cooldown', 'must be a positive number of milliseconds up to one day');
        else cooldownMs = Math.ceil(m.cooldown);
      }
    }
  }
  if (doc.contextSourceInfo !== undefined) {
    const list = doc.contextSourceInfo;
    if (
      !Array.isArray(list) ||
      list.length > 100 ||
      !list.every(
        (kv) =>
          isObject(kv) &&
          typeof kv.key === 'string' &&
          typeof kv.value === 'string' &&
          kv.key.length <= 256 &&
          kv.value.length <= MAX_TEXT,
      )
    ) {
      e.add('/contextSourceInfo', 'must be an array of at most 100 {key, value} string pairs');
    }
  }
  text(doc.registrationName, '/registrationName', e);
  text(doc.description, '/description', e);
  if (
    doc.tenant !== undefined &&
    (typeof doc.tenant !== 'string' || !/^[A-Za-z0-9_.:\-/]{1,128}$/.test(doc.tenant))
  ) {
    e.add('/tenant', 'must be a tenant name');
  }
  if (mode === 'exclusive') {
    // Clause 5.2.9: an exclusive registration names its entities by id, and its attributes.
    information.forEach((info, i) => {
      if (!info.entities || info.entities.some((ent) => ent.id === undefined)) {
        e.add(
          `/information/${i}/entities`,
          'an exclusive registration must give an id for every entity',
        );
      }
      if (info.attrs === null) {
        e.add(
          `/information/${i}`,
          'an exclusive registration must give propertyNames or relationshipNames',
        );
      }
    });
  }
  if (mode === 'redirect') {
    information.forEach((info, i) => {
      if (!info.entities)
        e.add(`/information/${i}/entities`, 'a redirect registration must give entity types');
    });
  }
  if (e.list.length > 0) {
    throw badRequest(
      `Invalid CSourceRegistration: ${e.list.map((x) => `${x.path} ${x.message}`).join('; ')}`,
      e.list,
    );
  }
  doc.id = id!;
  return {
    id: id!,
    doc,
    information,
    endpoint,
    mode,
    operations,
    expiresAt,
    timeoutMs,
    cooldownMs,
  };
}

/** Ids and attributes an exclusive registration claims: [entity id, attribute IRI] pairs. */
export function exclusiveClaims(information: readonly RegistrationInfo[]): [string, string][] {
  const out: [string, string][] = [];
  for (const info of information) {
    for (const ent of info.entities ?? []) {
      for (const attr of info.attrs ?? []) if (ent.id) out.push([ent.id, attr]);
    }
  }
  return out;
}

export interface RegistrationRecord {
  tenant: string;
  id: string;
  doc: Record<string, unknown>;
  context: unknown;
  information: RegistrationInfo[];
  endpoint: string;
  mode: Mode;
  operations: string[];
  expiresAt: Date | null;
  timeoutMs: number | null;
  cooldownMs: number | null;
  createdAt: Date;
  modifiedAt: Date;
  timesSent: number;
  timesFailed: number;
  lastSuccess: Date | null;
  lastFailure: Date | null;
}

/** The registration as the API returns it (clause 5.2.9), with the node-maintained members. */
export function renderRegistration(
  r: RegistrationRecord,
  sysAttrs: boolean,
): Record<string, unknown> {
  const failedLast =
    r.lastFailure !== null && (r.lastSuccess === null || r.lastFailure > r.lastSuccess);
  return {
    ...r.doc,
    id: r.id,
    type: 'ContextSourceRegistration',
    status: failedLast ? 'failed' : 'ok',
    timesSent: r.timesSent,
    timesFailed: r.timesFailed,
    ...(r.lastSuccess ? { lastSuccess: r.lastSuccess.toISOString() } : {}),
    ...(r.lastFailure ? { lastFailure: r.lastFailure.toISOString() } : {}),
    ...(sysAttrs
      ? { createdAt: r.createdAt.toISOString(), modifiedAt: r.modifiedAt.toISOString() }
      : {}),
  };
}

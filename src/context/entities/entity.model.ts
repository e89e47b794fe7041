/**
 * The NGSI-LD entity model: turning request payloads (normalized, concise or simplified,
 * compacted with the request's @context) into the stored form (expanded names, arrays of
 * attribute instances per datasetId), validating as we go, and rendering the stored form
 * back as normalized, concise, keyValues or GeoJSON. Pure functions: no I/O.
 */
import { badRequest, type FieldError } from '../../platform/http/errors.js';
import type { TermMap } from '../jsonld/term-map.js';

export const ATTRIBUTE_KINDS = [
  'Property',
  'Relationship',
  'GeoProperty',
  'LanguageProperty',
  'JsonProperty',
  'VocabProperty',
  'ListProperty',
  'ListRelationship',
] as const;
export type AttributeKind = (typeof ATTRIBUTE_KINDS)[number];

/** The member holding each kind's value. */
export const VALUE_MEMBER: Record<AttributeKind, string> = {
  Property: 'value',
  Relationship: 'object',
  GeoProperty: 'value',
  LanguageProperty: 'languageMap',
  JsonProperty: 'json',
  VocabProperty: 'vocab',
  ListProperty: 'valueList',
  ListRelationship: 'objectList',
};

/** Members of an attribute instance that are not sub-attributes. */
const META_MEMBERS = new Set([
  'type',
  'value',
  'object',
  'languageMap',
  'json',
  'vocab',
  'valueList',
  'objectList',
  'datasetId',
  'observedAt',
  'unitCode',
  'objectType',
  'createdAt',
  'modifiedAt',
  'deletedAt',
  'instanceId',
  'lang',
  '@context',
]);

export const GEOMETRY_TYPES = new Set([
  'Point',
  'MultiPoint',
  'LineString',
  'MultiLineString',
  'Polygon',
  'MultiPolygon',
]);

export type Instance = Record<string, unknown> & { type: AttributeKind; datasetId?: string };
export type Attrs = Record<string, Instance[]>;

export interface StoredEntity {
  id: string;
  types: string[];
  scopes: string[] | null;
  attrs: Attrs;
  createdAt: Date;
  modifiedAt: Date;
  ownerOrg: string | null;
}

/** An entity or fragment as parsed from a request, names expanded, no system members. */
export interface EntityInput {
  id?: string;
  types?: string[];
  scopes?: string[] | null;
  attrs: Attrs;
  /** Attributes a merge-patch asks to remove (value null / urn:ngsi-ld:null). */
  removals: string[];
}

export const NGSI_NULL = 'urn:ngsi-ld:null';

// --- validation -------------------------------------------------------------------------

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]+$/;
const FORBIDDEN_NAME = /[\s<>"'=;()\\]/;

export function isUri(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 2048 && URI.test(value);
}

export function isValidName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= 512 &&
    !value.startsWith('@') &&
    !FORBIDDEN_NAME.test(value)
  );
}

const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function isDateTime(value: unknown): value is string {
  return typeof value === 'string' && DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

function isPosition(p: unknown): boolean {
  return (
    Array.isArray(p) &&
    p.length >= 2 &&
    p.length <= 3 &&
    p.every((n) => typeof n === 'number' && Number.isFinite(n)) &&
    Math.abs(p[0] as number) <= 180 &&
    Math.abs(p[1] as number) <= 90
  );
}
const isLine = (l: unknown) => Array.isArray(l) && l.length >= 2 && l.every(isPosition);
const isRing = (r: unknown) =>
  Array.isArray(r) &&
  r.length >= 4 &&
  r.every(isPosition) &&
  (r[0] as number[])[0] === (r[r.length - 1] as number[])[0] &&
  (r[0] as number[])[1] === (r[r.length - 1] as number[])[1];
const isPolygon = (p: unknown) => Array.isArray(p) && p.length >= 1 && p.every(isRing);

export function isGeometry(value: unknown): value is { type: string; coordinates: unknown } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const g = value as { type?: unknown; coordinates?: unknown };
  switch (g.type) {
    case 'Point':
      return isPosition(g.coordinates);
    case 'MultiPoint':
      return Array.isArray(g.coordinates) && g.coordinates.every(isPosition);
    case 'LineString':
      return isLine(g.coordinates);
    case 'MultiLineString':
      return Array.isArray(g.coordinates) && g.coordinates.every(isLine);
    case 'Polygon':
      return isPolygon(g.coordinates);
    case 'MultiPolygon':
      return Array.isArray(g.coordinates) && g.coordinates.every(isPolygon);
    default:
      return false;
  }
}

function looksLikeGeometry(value: unknown): boolean {
  return (
    !!value &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    GEOMETRY_TYPES.has((value as { type?: unknown }).type as string) &&
    'coordinates' in value
  );
}

// --- parsing ----------------------------------------------------------------------------

class Collector {
  readonly errors: FieldError[] = [];
  add(path: string, message: string) {
    this.errors.push({ path, message });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function looksLikeAttribute(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (typeof v.type === 'string' && (ATTRIBUTE_KINDS as readonly string[]).includes(v.type))
    return true;
  return ['value', 'object', 'languageMap', 'json', 'vocab', 'valueList', 'objectList'].some(
    (m) => m in v,
  );
}

export interface ParseOptions {
  /** Merge-patch: null / urn:ngsi-ld:null mean "remove". */
  allowNull?: boolean;
}

/** Parses one attribute value (object, array of instances, or concise/simplified value). */
export function parseAttribute(
  raw: unknown,
  map: TermMap,
  path: string,
  c: Collector,
  options: ParseOptions = {},
): Instance[] {
  if (Array.isArray(raw) && raw.length > 0 && raw.every(looksLikeAttribute)) {
    const out: Instance[] = [];
    const seen = new Set<string>();
    raw.forEach((item, i) => {
      const inst = parseInstance(item, map, `${path}/${i}`, c, options);
      if (!inst) return;
      const key = inst.datasetId ?? '';
      if (seen.has(key)) c.add(`${path}/${i}`, 'duplicate datasetId in a multi-attribute');
      seen.add(key);
      out.push(inst);
    });
    return out;
  }
  const inst = parseInstance(raw, map, path, c, options);
  return inst ? [inst] : [];
}

function parseInstance(
  raw: unknown,
  map: TermMap,
  path: string,
  c: Collector,
  options: ParseOptions,
): Instance | null {
  if (raw === null || raw === undefined) {
    c.add(path, 'attribute value must not be null');
    return null;
  }
  if (!isObject(raw)) return { type: 'Property', value: raw };
  let kind: AttributeKind;
  let source: Record<string, unknown> = raw;
  if (typeof raw.type === 'string' && (ATTRIBUTE_KINDS as readonly string[]).includes(raw.type)) {
    kind = raw.type as AttributeKind;
  } else if (looksLikeAttribute(raw) && raw.type === undefined) {
    if ('object' in raw) kind = 'Relationship';
    else if ('languageMap' in raw) kind = 'LanguageProperty';
    else if ('json' in raw) kind = 'JsonProperty';
    else if ('vocab' in raw) kind = 'VocabProperty';
    else if ('valueList' in raw) kind = 'ListProperty';
    else if ('objectList' in raw) kind = 'ListRelationship';
    else kind = looksLikeGeometry(raw.value) ? 'GeoProperty' : 'Property';
  } else if (looksLikeGeometry(raw)) {
    kind = 'GeoProperty';
    source = { value: raw };
  } else if (raw.type !== undefined && looksLikeAttribute(raw)) {
    c.add(`${path}/type`, `unknown attribute type "${String(raw.type)}"`);
    return null;
  } else {
    // Concise or simplified compound value.
    return { type: 'Property', value: raw };
  }
  const inst: Instance = { type: kind };
  const member = VALUE_MEMBER[kind];
  const value = source[member];
  if (value === undefined) {
    c.add(path, `${kind} requires "${member}"`);
    return null;
  }
  if (value === null) {
    c.add(`${path}/${member}`, 'must not be null');
    return null;
  }
  switch (kind) {
    case 'Property':
      if (options.allowNull !== true && value === NGSI_NULL) {
        c.add(`${path}/value`, 'must not be urn:ngsi-ld:null here');
        return null;
      }
      inst.value = value;
      break;
    case 'GeoProperty':
      if (!isGeometry(value)) {
        c.add(`${path}/value`, 'must be a valid GeoJSON geometry');
        return null;
      }
      inst.value = value;
      break;
    case 'Relationship':
      if (!(isUri(value) || (Array.isArray(value) && value.length > 0 && value.every(isUri)))) {
        c.add(`${path}/object`, 'must be a URI');
        return null;
      }
      inst.object = value;
      if (source.objectType !== undefined) {
        if (!isValidName(source.objectType)) c.add(`${path}/objectType`, 'invalid type name');
        else inst.objectType = map.expand(source.objectType);
      }
      break;
    case 'LanguageProperty':
      if (
        !isObject(value) ||
        !Object.values(value).every(
          (v) =>
            typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')),
        )
      ) {
        c.add(`${path}/languageMap`, 'must map language tags to strings');
        return null;
      }
      inst.languageMap = value;
      break;
    case 'JsonProperty':
      inst.json = value;
      break;
    case 'VocabProperty': {
      const terms = Array.isArray(value) ? value : [value];
      if (!terms.every(isValidName)) {
        c.add(`${path}/vocab`, 'must be a term or IRI, or a list of them');
        return null;
      }
      const expanded = terms.map((t) => map.expand(t as string));
      inst.vocab = Array.isArray(value) ? expanded : expanded[0];
      break;
    }
    case 'ListProperty':
      if (!Array.isArray(value)) {
        c.add(`${path}/valueList`, 'must be an array');
        return null;
      }
      inst.valueList = value;
      break;
    case 'ListRelationship': {
      if (!Array.isArray(value)) {
        c.add(`${path}/objectList`, 'must be an array');
        return null;
      }
      const objects = value.map((v) => (isObject(v) ? v.object : v));
      if (!objects.every(isUri)) {
        c.add(`${path}/objectList`, 'must hold URIs');
        return null;
      }
      inst.objectList = objects.map((o) => ({ object: o }));
      break;
    }
  }
  if (source.datasetId !== undefined) {
    if (!isUri(source.datasetId)) c.add(`${path}/datasetId`, 'must be a URI');
    else inst.datasetId = source.datasetId;
  }
  if (source.observedAt !== undefined) {
    if (!isDateTime(source.observedAt)) c.add(`${path}/observedAt`, 'must be a date-time');
    else inst.observedAt = source.observedAt;
  }
  if (source.unitCode !== undefined) {
    if (typeof source.unitCode !== 'string') c.add(`${path}/unitCode`, 'must be a string');
    else inst.unitCode = source.unitCode;
  }
  for (const [name, sub] of Object.entries(source)) {
    if (META_MEMBERS.has(name)) continue;
    if (!isValidName(name)) {
      c.add(`${path}/${name}`, 'invalid sub-attribute name');
      continue;
    }
    const instances = parseAttribute(sub, map, `${path}/${name}`, c);
    if (instances.length > 0) inst[map.expand(name)] = instances;
  }
  return inst;
}

/** Entity members the core context reserves for geometry. */
const GEO_MEMBERS = new Set(
  ['location', 'observationSpace', 'operationSpace'].map(
    (n) => `https://uri.etsi.org/ngsi-ld/${n}`,
  ),
);

const ENTITY_MEMBERS = new Set([
  'id',
  '@id',
  'type',
  '@type',
  'scope',
  '@context',
  'createdAt',
  'modifiedAt',
  'deletedAt',
]);

/**
 * Parses an entity (requireId: for create/upsert) or an entity fragment. Throws
 * BadRequestData listing every problem; nothing is half-accepted.
 */
export function parseEntity(
  body: unknown,
  map: TermMap,
  options: ParseOptions & { requireId?: boolean; requireType?: boolean; path?: string } = {},
): EntityInput {
  const c = new Collector();
  const result = parseEntityInto(body, map, c, options);
  if (c.errors.length > 0) {
    throw badRequest(
      `Invalid entity: ${c.errors.map((e) => `${e.path} ${e.message}`).join('; ')}`,
      c.errors,
    );
  }
  return result;
}

function parseEntityInto(
  body: unknown,
  map: TermMap,
  c: Collector,
  options: ParseOptions & { requireId?: boolean; requireType?: boolean; path?: string },
): EntityInput {
  const base = options.path ?? '';
  const out: EntityInput = { attrs: {}, removals: [] };
  if (!isObject(body)) {
    c.add(base || '/', 'must be a JSON object');
    return out;
  }
  const id = body.id ?? body['@id'];
  if (id !== undefined) {
    if (!isUri(id)) c.add(`${base}/id`, 'must be a URI');
    else out.id = id;
  } else if (options.requireId) c.add(`${base}/id`, 'is required');
  const type = body.type ?? body['@type'];
  if (type !== undefined) {
    const list = Array.isArray(type) ? type : [type];
    if (list.length === 0 || !list.every(isValidName))
      c.add(`${base}/type`, 'must be one or more valid type names');
    else out.types = [...new Set(list.map((t) => map.expand(t as string)))];
  } else if (options.requireType) c.add(`${base}/type`, 'is required');
  if (body.scope !== undefined) {
    if (body.scope === null && options.allowNull) out.scopes = null;
    else {
      const list = Array.isArray(body.scope) ? body.scope : [body.scope];
      if (!list.every((s) => typeof s === 'string' && /^\/[^\s/]+(\/[^\s/]+)*$/.test(s))) {
        c.add(`${base}/scope`, 'must be one or more scopes like /a/b');
      } else out.scopes = list as string[];
    }
  }
  for (const [name, value] of Object.entries(body)) {
    if (ENTITY_MEMBERS.has(name)) continue;
    if (!isValidName(name)) {
      c.add(`${base}/${name}`, 'invalid attribute name');
      continue;
    }
    const iri = map.expand(name);
    if (
      options.allowNull &&
      (value === null ||
        value === NGSI_NULL ||
        (isObject(value) && (value.value === NGSI_NULL || value.object === NGSI_NULL)))
    ) {
      out.removals.push(iri);
      continue;
    }
    const instances = parseAttribute(value, map, `${base}/${name}`, c, options);
    if (GEO_MEMBERS.has(iri)) {
      // Common in published examples: a Property whose value is a geometry. Stored as
      // the GeoProperty it must be (docs/ngsi-ld.md, deviations).
      for (const inst of instances) {
        if (inst.type === 'Property' && isGeometry(inst.value)) inst.type = 'GeoProperty';
      }
    }
    if (GEO_MEMBERS.has(iri) && instances.some((i) => i.type !== 'GeoProperty')) {
      c.add(`${base}/${name}`, `${name} must be a GeoProperty`);
      continue;
    }
    if (instances.length > 0) out.attrs[iri] = instances;
  }
  return out;
}

/** Parses a batch: each element separately, so one bad entity fails alone. */
export function parseEntityList(
  body: unknown,
  map: (index: number) => TermMap,
  options: ParseOptions & { requireId?: boolean; requireType?: boolean },
): ({ ok: true; entity: EntityInput } | { ok: false; id: string | null; detail: string })[] {
  if (!Array.isArray(body)) throw badRequest('The body must be a JSON array of entities');
  return body.map((item, index) => {
    const c = new Collector();
    const entity = parseEntityInto(item, map(index), c, options);
    if (c.errors.length > 0) {
      const id = isObject(item) && typeof item.id === 'string' ? item.id : null;
      return { ok: false, id, detail: c.errors.map((e) => `${e.path} ${e.message}`).join('; ') };
    }
    return { ok: true, entity };
  });
}

// --- rendering --------------------------------------------------------------------------

export type Format = 'normalized' | 'concise' | 'keyValues';

export interface RenderOptions {
  format: Format;
  sysAttrs: boolean;
  lang?: string | undefined;
  /** Expanded attribute IRIs to include (undefined: all). */
  attrs?: ReadonlySet<string> | undefined;
  /** Entity members to leave out, e.g. id/type via omit. */
  omitMembers?: ReadonlySet<string> | undefined;
  /** Only these members (pick): also applies to id/type. */
  pickMembers?: ReadonlySet<string> | undefined;
  /** Only attribute instances with these datasetIds ('@none': the default instance). */
  datasetIds?: ReadonlySet<string> | undefined;
}

function pickLanguage(
  languageMap: Record<string, unknown>,
  lang: string,
): { tag: string; value: unknown } | null {
  const tags = lang
    .split(',')
    .map((t) => t.split(';')[0]!.trim())
    .filter(Boolean);
  for (const tag of tags) {
    if (tag === '*') break;
    if (tag in languageMap) return { tag, value: languageMap[tag] };
    const prefix = Object.keys(languageMap).find(
      (k) =>
        k.toLowerCase().startsWith(`${tag.toLowerCase()}-`) ||
        tag.toLowerCase().startsWith(`${k.toLowerCase()}-`),
    );
    if (prefix) return { tag: prefix, value: languageMap[prefix] };
  }
  if ('@none' in languageMap) return { tag: '@none', value: languageMap['@none'] };
  const first = Object.keys(languageMap)[0];
  return first === undefined ? null : { tag: first, value: languageMap[first] };
}

function renderInstance(inst: Instance, map: TermMap, o: RenderOptions): unknown {
  const kind = inst.type;
  if (o.format === 'keyValues') return simplifiedValue(inst, map, o);
  const out: Record<string, unknown> = {};
  let hasExtras = false;
  if (kind === 'LanguageProperty' && o.lang && o.lang !== '*') {
    const picked = pickLanguage(inst.languageMap as Record<string, unknown>, o.lang);
    out.type = 'Property';
    out.value = picked?.value ?? null;
    if (picked && picked.tag !== '@none') out.lang = picked.tag;
  } else {
    out.type = kind;
    const member = VALUE_MEMBER[kind];
    out[member] = kind === 'VocabProperty' ? compactVocab(inst.vocab, map) : inst[member];
  }
  if (inst.objectType !== undefined) out.objectType = map.compact(inst.objectType as string);
  for (const m of ['datasetId', 'observedAt', 'unitCode']) {
    if (inst[m] !== undefined) {
      out[m] = inst[m];
      hasExtras = true;
    }
  }
  if (o.sysAttrs) {
    if (inst.createdAt !== undefined) out.createdAt = inst.createdAt;
    if (inst.modifiedAt !== undefined) out.modifiedAt = inst.modifiedAt;
    hasExtras = true;
  }
  for (const [name, value] of Object.entries(inst)) {
    if (META_MEMBERS.has(name)) continue;
    const subs = (value as Instance[]).map((s) =>
      renderInstance(s, map, { ...o, attrs: undefined }),
    );
    out[map.compact(name)] = subs.length === 1 ? subs[0] : subs;
    hasExtras = true;
  }
  if (o.format === 'concise') {
    if (
      out.type === 'Property' &&
      !hasExtras &&
      out.lang === undefined &&
      !looksLikeAttribute(out.value) &&
      !looksLikeGeometry(out.value)
    ) {
      return out.value;
    }
    if (out.type === 'GeoProperty' && !hasExtras) return { value: out.value };
    delete out.type;
  }
  return out;
}

function compactVocab(vocab: unknown, map: TermMap): unknown {
  return Array.isArray(vocab)
    ? vocab.map((v) => map.compact(v as string))
    : map.compact(vocab as string);
}

function simplifiedValue(inst: Instance, map: TermMap, o: RenderOptions): unknown {
  switch (inst.type) {
    case 'Property':
    case 'GeoProperty':
      return inst.value;
    case 'Relationship':
      return inst.object;
    case 'LanguageProperty':
      if (o.lang && o.lang !== '*') {
        return pickLanguage(inst.languageMap as Record<string, unknown>, o.lang)?.value ?? null;
      }
      return { languageMap: inst.languageMap };
    case 'JsonProperty':
      return { json: inst.json };
    case 'VocabProperty':
      return { vocab: compactVocab(inst.vocab, map) };
    case 'ListProperty':
      return inst.valueList;
    case 'ListRelationship':
      return (inst.objectList as { object: string }[]).map((x) => x.object);
  }
}

/** Renders a stored entity in the requested format, compacted with `map`. */
export function renderEntity(
  e: StoredEntity,
  map: TermMap,
  o: RenderOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const include = (member: string) =>
    (!o.pickMembers || o.pickMembers.has(member)) && !o.omitMembers?.has(member);
  if (include('id')) out.id = e.id;
  if (include('type')) {
    const types = e.types.map((t) => map.compact(t));
    out.type = types.length === 1 ? types[0] : types;
  }
  if (e.scopes && e.scopes.length > 0 && include('scope')) {
    out.scope = e.scopes.length === 1 ? e.scopes[0] : e.scopes;
  }
  if (o.sysAttrs) {
    out.createdAt = e.createdAt.toISOString();
    out.modifiedAt = e.modifiedAt.toISOString();
  }
  for (const [iri, all] of Object.entries(e.attrs)) {
    if (o.attrs && !o.attrs.has(iri)) continue;
    const instances = o.datasetIds
      ? all.filter((i) => o.datasetIds!.has(i.datasetId ?? '@none'))
      : all;
    if (instances.length === 0) continue;
    const name = map.compact(iri);
    if (o.omitMembers?.has(iri) || (o.pickMembers && !o.pickMembers.has(iri))) continue;
    if (o.format === 'keyValues') {
      // Several instances: { "dataset": { "@none" | datasetId: value } }.
      if (instances.length === 1) out[name] = renderInstance(instances[0]!, map, o);
      else {
        const dataset: Record<string, unknown> = {};
        for (const i of instances) dataset[i.datasetId ?? '@none'] = renderInstance(i, map, o);
        out[name] = { dataset };
      }
      continue;
    }
    const rendered = instances.map((i) => renderInstance(i, map, o));
    out[name] = rendered.length === 1 ? rendered[0] : rendered;
  }
  return out;
}

/** GeoJSON Feature for an entity (Accept: application/geo+json). */
export function renderFeature(
  e: StoredEntity,
  map: TermMap,
  o: RenderOptions,
  geometryProperty: string,
): Record<string, unknown> {
  const body = renderEntity(e, map, o);
  const geo = e.attrs[geometryProperty]?.find((i) => i.type === 'GeoProperty');
  const properties: Record<string, unknown> = { ...body };
  delete properties.id;
  return {
    id: e.id,
    type: 'Feature',
    geometry: geo ? geo.value : null,
    properties,
  };
}

/** Axis-aligned bounds of a geometry, for the geo index. */
export function boundingBox(geometry: { coordinates: unknown }): [number, number, number, number] {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const walk = (c: unknown) => {
    if (Array.isArray(c) && typeof c[0] === 'number') {
      const [x, y] = c as [number, number];
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    } else if (Array.isArray(c)) c.forEach(walk);
  };
  walk(geometry.coordinates);
  return [minX, minY, maxX, maxY];
}

/** Parses the body of PATCH/PUT /attrs/{attrId}: one attribute instance. */
export function parseAttributeFragment(body: unknown, map: TermMap): Instance {
  const c = new Collector();
  if (!isObject(body)) throw badRequest('The body must be an attribute object');
  const instances = parseAttribute(body, map, '', c);
  if (c.errors.length > 0 || instances.length !== 1) {
    throw badRequest(
      `Invalid attribute: ${c.errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`,
      c.errors,
    );
  }
  return instances[0]!;
}

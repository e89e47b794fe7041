/**
 * The CKAN 2.9+ action API subset, as pure functions: package and organization dicts with
 * the field names CKAN (and its harvesters: ckanext-harvest's CKAN harvester, ckanext-dcat)
 * read, and package_search's q / fq / sort / rows / start over the catalog entries.
 *
 * Search semantics, kept close to CKAN's Solr setup:
 *   - q: whitespace-separated terms; every term must occur (case-insensitive) in the
 *     title, notes, tags, name or organization; `*:*` or empty matches all; `field:value`
 *     terms in q are treated like fq clauses.
 *   - fq: clauses `field:value` or `field:"quoted value"`, optionally prefixed with `+`
 *     (must) or `-` (must not), separated by spaces or AND; fields organization, tags,
 *     license_id, res_format, name, id, dataset_type, metadata_modified / metadata_created
 *     ranges `[from TO to]` (`*` open). Other fields are a Search Query Error, as Solr
 *     rejects undefined fields.
 *   - sort: `score`, `name`, `title_string`, `metadata_modified`, `metadata_created`,
 *     each `asc` or `desc`, comma-separated; default `score desc, metadata_modified desc`.
 */
import type { CatalogEntry } from './catalog.service.js';

export class CkanError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly fields: Record<string, string[]> = {},
  ) {
    super(message);
  }
}

export const ckanNotFound = (what = 'Not found') => new CkanError(404, 'Not Found Error', what);
export const ckanValidation = (fields: Record<string, string[]>) =>
  new CkanError(409, 'Validation Error', '', fields);
export const ckanSearchError = (message: string) =>
  new CkanError(409, 'Search Query Error', `Search Query is invalid: ${message}`);

export const ROWS_DEFAULT = 10;
export const ROWS_MAX = 1000;

const iso = (d: Date | null) => (d ? d.toISOString().replace(/Z$/, '') : null);

export function organizationDict(org: CatalogEntry['org'], packageCount?: number) {
  return {
    id: org.id,
    name: org.name,
    title: org.title,
    display_name: org.title,
    description: '',
    image_url: '',
    type: 'organization',
    is_organization: true,
    approval_status: 'approved',
    state: 'active',
    ...(packageCount === undefined ? {} : { package_count: packageCount }),
  };
}

export function packageDict(e: CatalogEntry) {
  const tags = e.keywords.map((k) => ({
    id: k,
    name: k,
    display_name: k,
    state: 'active',
    vocabulary_id: null,
  }));
  const resources = [
    {
      id: `${e.id}-ngsi-ld`,
      package_id: e.id,
      name: 'NGSI-LD query',
      description: 'The entities of this dataset through the NGSI-LD API.',
      url: e.accessUrl,
      format: e.formats[0] ?? 'JSON-LD',
      mimetype: 'application/ld+json',
      state: 'active',
      position: 0,
      created: iso(e.created),
      last_modified: iso(e.modified),
      url_type: null,
    },
  ];
  const extras: { key: string; value: string }[] = [
    { key: 'uri', value: e.iri },
    { key: 'dcat_landing_page', value: e.landingPage },
  ];
  if (e.classification) extras.push({ key: 'classification', value: e.classification });
  if (e.home) {
    extras.push({ key: 'home_node_id', value: e.home.nodeId });
    extras.push({ key: 'home_node_name', value: e.home.name });
  }
  const licenceUrl = e.licenceId ? `https://spdx.org/licenses/${e.licenceId}` : '';
  return {
    id: e.kind === 'local' ? e.id : e.name,
    name: e.name,
    title: e.title,
    notes: e.description,
    type: 'dataset',
    state: 'active',
    private: false,
    isopen: e.classification === 'open',
    license_id: e.licenceId ?? 'other',
    license_title: e.licenceId ?? 'Other',
    license_url: licenceUrl,
    url: e.landingPage,
    author: null,
    author_email: null,
    maintainer: null,
    maintainer_email: null,
    version: null,
    metadata_created: iso(e.created),
    metadata_modified: iso(e.modified),
    owner_org: e.org.id,
    organization: organizationDict(e.org),
    tags,
    num_tags: tags.length,
    groups: [],
    resources,
    num_resources: resources.length,
    extras,
    relationships_as_object: [],
    relationships_as_subject: [],
  };
}

// ── search ──────────────────────────────────────────────────────────────────────

type Clause =
  | { field: string; value: string; negate: boolean }
  | { field: string; range: [string, string]; negate: boolean };

const FIELDS = new Set([
  'organization',
  'tags',
  'license_id',
  'res_format',
  'name',
  'id',
  'dataset_type',
  'type',
  'metadata_modified',
  'metadata_created',
  'capacity',
]);

/** Splits `a:b +c:"d e" AND -f:[x TO y]` into clauses. */
export function parseFq(fq: string): Clause[] {
  const clauses: Clause[] = [];
  const re =
    /\s*(?:(AND)\b|([+-]?)([A-Za-z_][A-Za-z0-9_.]*):(?:"((?:[^"\\]|\\.)*)"|\[([^\]]*)\]|(\S+)))/y;
  let pos = 0;
  const text = fq.trim();
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw ckanSearchError(`cannot parse "${text.slice(pos, pos + 40)}"`);
    pos = re.lastIndex;
    if (m[1]) continue;
    const field = m[3]!;
    if (!FIELDS.has(field)) throw ckanSearchError(`undefined field ${field}`);
    const negate = m[2] === '-';
    if (m[5] !== undefined) {
      const range = /^\s*(\S+)\s+TO\s+(\S+)\s*$/.exec(m[5]);
      if (!range) throw ckanSearchError(`bad range [${m[5]}]`);
      clauses.push({ field, range: [range[1]!, range[2]!], negate });
    } else {
      const value = m[4] !== undefined ? m[4].replace(/\\(.)/g, '$1') : m[6]!;
      clauses.push({ field, value, negate });
    }
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  }
  return clauses;
}

function solrDate(raw: string, end: boolean): number | null {
  if (raw === '*') return end ? Infinity : -Infinity;
  const cleaned = raw.replace(/\\:/g, ':').replace(/^NOW$/, new Date().toISOString());
  const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(cleaned) ? cleaned : `${cleaned}Z`);
  return Number.isNaN(t) ? null : t;
}

function matches(e: CatalogEntry, c: Clause): boolean {
  if ('range' in c) {
    const date = c.field === 'metadata_created' ? e.created : e.modified;
    if (c.field !== 'metadata_modified' && c.field !== 'metadata_created') {
      throw ckanSearchError(`ranges apply to dates only (${c.field})`);
    }
    const from = solrDate(c.range[0], false);
    const to = solrDate(c.range[1], true);
    if (from === null || to === null) throw ckanSearchError('bad date in range');
    return date !== null && date.getTime() >= from && date.getTime() <= to;
  }
  const v = c.value.toLowerCase();
  const wild = (s: string) =>
    v === '*' ||
    (v.endsWith('*') ? s.toLowerCase().startsWith(v.slice(0, -1)) : s.toLowerCase() === v);
  switch (c.field) {
    case 'organization':
      return wild(e.org.name);
    case 'tags':
      return e.keywords.some(wild);
    case 'license_id':
      return wild(e.licenceId ?? 'other');
    case 'res_format':
      return e.formats.some(wild);
    case 'name':
      return wild(e.name);
    case 'id':
      return wild(e.kind === 'local' ? e.id : e.name);
    case 'dataset_type':
    case 'type':
      return wild('dataset');
    case 'capacity':
      return wild('public');
    default:
      return false;
  }
}

function textOf(e: CatalogEntry): string {
  return [e.title, e.description, e.name, e.org.title, e.org.name, ...e.keywords]
    .join(' ')
    .toLowerCase();
}

export interface SearchParams {
  q: string;
  fq: string;
  sort: string;
  rows: number;
  start: number;
}

interface Scored {
  e: CatalogEntry;
  score: number;
}

function sorter(sort: string): (a: Scored, b: Scored) => number {
  const keys = sort
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((part) => {
      const m = /^(score|name|title_string|metadata_modified|metadata_created)\s+(asc|desc)$/.exec(
        part,
      );
      if (!m) throw ckanSearchError(`cannot sort by "${part}"`);
      return { field: m[1]!, dir: m[2] === 'asc' ? 1 : -1 };
    });
  const value = (s: Scored, field: string): number | string => {
    switch (field) {
      case 'score':
        return s.score;
      case 'name':
        return s.e.name;
      case 'title_string':
        return s.e.title.toLowerCase();
      case 'metadata_modified':
        return s.e.modified?.getTime() ?? 0;
      default:
        return s.e.created?.getTime() ?? 0;
    }
  };
  return (a, b) => {
    for (const k of keys) {
      const x = value(a, k.field);
      const y = value(b, k.field);
      if (x < y) return -k.dir;
      if (x > y) return k.dir;
    }
    return a.e.name < b.e.name ? -1 : a.e.name > b.e.name ? 1 : 0;
  };
}

/** Runs a package_search over `entries`; returns the total and one page. */
export function search(
  entries: CatalogEntry[],
  p: SearchParams,
): { count: number; results: CatalogEntry[] } {
  const clauses = parseFq(p.fq);
  const terms: string[] = [];
  const q = p.q.trim();
  if (q !== '' && q !== '*:*' && q !== '*') {
    for (const token of q.match(/[+-]?[A-Za-z_]+:"[^"]*"|"[^"]*"|\S+/g) ?? []) {
      if (/^[+-]?[A-Za-z_][A-Za-z0-9_.]*:/.test(token)) clauses.push(...parseFq(token));
      else if (token !== 'AND') terms.push(token.replace(/^"|"$/g, '').toLowerCase());
    }
  }
  const order = sorter(p.sort || 'score desc, metadata_modified desc');
  const hits: Scored[] = [];
  for (const e of entries) {
    if (!clauses.every((c) => matches(e, c) !== c.negate)) continue;
    const text = textOf(e);
    if (!terms.every((t) => text.includes(t))) continue;
    const title = e.title.toLowerCase();
    const score = terms.reduce((s, t) => s + (title.includes(t) ? 2 : 1), 0);
    hits.push({ e, score });
  }
  hits.sort(order);
  return { count: hits.length, results: hits.slice(p.start, p.start + p.rows).map((h) => h.e) };
}

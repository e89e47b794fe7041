/**
 * Datasets as DCAT-AP 3 in JSON-LD. Pure mapping: the caller decides which datasets may be
 * shown (catalog.service.ts) and passes what this needs (the publisher's name, the base URL).
 *
 * Every term is a compact IRI under the prefixes of DCAT_CONTEXT, so the documents mean the
 * same to a JSON-LD processor and to a client reading plain JSON. The ODRL policy is embedded
 * as the steward wrote it (with its own ODRL @context), given an identifier when it has none.
 */
import type { Classification, Dataset } from '../governance/governance.repository.js';

export const DCAT_CONTEXT = {
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  odrl: 'http://www.w3.org/ns/odrl/2/',
  hydra: 'http://www.w3.org/ns/hydra/core#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
  rdfs: 'http://www.w3.org/2000/01/rdf-schema#',
  ocp: 'https://opencity.example/ns/catalog#',
} as const;

/** EU access-right authority table. */
const ACCESS_RIGHT = 'http://publications.europa.eu/resource/authority/access-right/';
const FILE_TYPE = 'http://publications.europa.eu/resource/authority/file-type/';
export const NGSI_LD_SPEC = 'https://www.etsi.org/deliver/etsi_gs/CIM/001_099/009/';

export function accessRightsOf(c: Classification): string {
  switch (c) {
    case 'open':
      return `${ACCESS_RIGHT}PUBLIC`;
    case 'restricted':
    case 'personal':
      return `${ACCESS_RIGHT}RESTRICTED`;
    case 'confidential':
      return `${ACCESS_RIGHT}NON_PUBLIC`;
  }
}

export interface DcatOptions {
  /** The node's public base URL, no trailing slash. */
  base: string;
  /** Display name of the publisher organisation (null: the node itself). */
  publisherName: string;
  publisherId: string | null;
  nodeName: string;
}

type Literal = string | { '@value': string; '@language': string } | undefined;

/** A catalog text field: a plain string, or per-language strings ({ en, fr }). */
export function literals(value: unknown): Literal | Literal[] {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const out = Object.entries(value as Record<string, unknown>)
      .filter(
        ([lang, text]) => /^[a-z]{2}(-[A-Za-z0-9]{1,8})?$/.test(lang) && typeof text === 'string',
      )
      .map(([lang, text]) => ({ '@value': text as string, '@language': lang }));
    return out.length === 1 ? out[0] : out;
  }
  return undefined;
}

/** First plain text of a literal field (for search and CKAN). */
export function plainText(value: unknown, lang = 'en'): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const chosen = record[lang] ?? Object.values(record).find((v) => typeof v === 'string');
    return typeof chosen === 'string' ? chosen : '';
  }
  return '';
}

export const datasetIri = (base: string, id: string) =>
  `${base}/catalog/datasets/${encodeURIComponent(id)}`;

/** The NGSI-LD query that returns the dataset's entities (its selector). */
export function ngsiQueryUrl(base: string, d: Dataset): string {
  const query = new URLSearchParams({ type: d.types.join(',') });
  if (d.idPattern) query.set('idPattern', d.idPattern);
  if (d.attrs) query.set('attrs', d.attrs.join(','));
  return `${base}/ngsi-ld/v1/entities?${query}`;
}

export function licenceIri(d: Dataset): { '@id': string; '@type': string; 'dct:title'?: string } {
  if ('spdx' in d.licence) {
    return {
      '@id': `https://spdx.org/licenses/${d.licence.spdx}`,
      '@type': 'dct:LicenseDocument',
      'dct:title': d.licence.spdx,
    };
  }
  return { '@id': d.licence.url, '@type': 'dct:LicenseDocument', 'dct:title': d.licence.title };
}

function date(value: unknown): { '@value': string; '@type': string } | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const type = /^\d{4}-\d{2}-\d{2}$/.test(value) ? 'xsd:date' : 'xsd:dateTime';
  return { '@value': value, '@type': type };
}

const dateTime = (d: Date) => ({ '@value': d.toISOString(), '@type': 'xsd:dateTime' });

function compact<T extends Record<string, unknown>>(o: T): T {
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) {
      delete (o as Record<string, unknown>)[key];
    }
  }
  return o;
}

/** The NGSI-LD API of this node as a dcat:DataService. */
export function dataService(base: string, nodeName: string) {
  return {
    '@id': `${base}/ngsi-ld/v1`,
    '@type': 'dcat:DataService',
    'dct:title': `NGSI-LD API of ${nodeName}`,
    'dcat:endpointURL': { '@id': `${base}/ngsi-ld/v1` },
    'dcat:endpointDescription': { '@id': `${base}/openapi.json` },
    'dct:conformsTo': { '@id': NGSI_LD_SPEC },
  };
}

/** One dataset as a dcat:Dataset node (no @context: it is embedded in a catalog, or added). */
export function dcatDataset(d: Dataset, o: DcatOptions): Record<string, unknown> {
  const iri = datasetIri(o.base, d.id);
  const c = d.catalog as Record<string, unknown>;
  const title = literals(c.title) ?? d.id;
  const description =
    literals(c.description) ?? `Dataset ${d.id} published by ${o.publisherName} on ${o.nodeName}.`;
  const keywords = Array.isArray(c.keywords) ? (c.keywords as string[]) : [];
  const themes = Array.isArray(c.themes) ? (c.themes as string[]) : [];
  const temporal = (c.temporal ?? {}) as { start?: string; end?: string };
  const licence = licenceIri(d);
  const policy = {
    ...(d.policy as unknown as Record<string, unknown>),
  };
  if (!('uid' in policy) && !('@id' in policy)) policy.uid = `${iri}#policy`;
  return compact({
    '@id': iri,
    '@type': 'dcat:Dataset',
    'dct:identifier': d.id,
    'dct:title': title,
    'dct:description': description,
    'dct:publisher': compact({
      '@type': 'foaf:Agent',
      'foaf:name': o.publisherName,
      'dct:identifier': o.publisherId ?? undefined,
    }),
    'dcat:keyword': keywords,
    'dcat:theme': themes.map((t) => ({ '@id': t })),
    'dct:spatial':
      typeof c.spatial === 'string' && c.spatial !== ''
        ? { '@type': 'dct:Location', 'rdfs:label': c.spatial }
        : undefined,
    'dct:temporal':
      temporal.start || temporal.end
        ? compact({
            '@type': 'dct:PeriodOfTime',
            'dcat:startDate': date(temporal.start),
            'dcat:endDate': date(temporal.end),
          })
        : undefined,
    'dcat:contactPoint':
      typeof c.contact === 'string' && c.contact !== ''
        ? {
            '@type': 'vcard:Kind',
            'vcard:fn': o.publisherName,
            ...(c.contact.includes('@')
              ? { 'vcard:hasEmail': { '@id': `mailto:${c.contact}` } }
              : { 'vcard:hasURL': { '@id': c.contact } }),
          }
        : undefined,
    'dct:license': licence,
    'dct:accessRights': { '@id': accessRightsOf(d.classification) },
    'ocp:classification': d.classification,
    'dcat:landingPage': { '@id': `${o.base}/datasets/${encodeURIComponent(d.id)}` },
    'dct:issued': dateTime(d.createdAt),
    'dct:modified': dateTime(d.updatedAt),
    'dcat:distribution': [
      {
        '@id': `${iri}#ngsi-ld`,
        '@type': 'dcat:Distribution',
        'dct:title': 'NGSI-LD query',
        'dct:description':
          'The entities of this dataset through the NGSI-LD API (GET, JSON-LD or JSON). ' +
          'Non-open data needs an access token and an OCP-Purpose header under a grant.',
        'dcat:accessURL': { '@id': ngsiQueryUrl(o.base, d) },
        'dcat:accessService': dataService(o.base, o.nodeName),
        'dct:format': { '@id': `${FILE_TYPE}JSON_LD` },
        'dcat:mediaType': {
          '@id': 'https://www.iana.org/assignments/media-types/application/ld+json',
        },
        'dct:license': licence,
        'dct:conformsTo': { '@id': NGSI_LD_SPEC },
      },
    ],
    'odrl:hasPolicy': policy,
  });
}

/** Formats of the distributions, as CKAN `res_format` names them. */
export const DISTRIBUTION_FORMAT = 'JSON-LD';

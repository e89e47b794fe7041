/**
 * The NGSI-LD core @context v1.9, shipped in the repository (see NOTICE): every core
 * context URL from v1.3 to v1.9 resolves to it locally, without network.
 */
import { readFileSync } from 'node:fs';
import type { ContextObject } from './term-map.js';

export const CORE_CONTEXT_URL = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld';

const versions = ['1.3', '1.4', '1.5', '1.6', '1.7', '1.8', '1.9'];

export const CORE_CONTEXT_URLS: ReadonlySet<string> = new Set([
  'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
  ...versions.map((v) => `https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v${v}.jsonld`),
  ...versions.map((v) => `http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v${v}.jsonld`),
  'http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
]);

export function isCoreContextUrl(url: string): boolean {
  return CORE_CONTEXT_URLS.has(url);
}

/** The parsed core context document `{ "@context": {...} }`. */
export const coreContextDocument = JSON.parse(
  readFileSync(new URL('./ngsi-ld-core-context-v1.9.jsonld', import.meta.url), 'utf8'),
) as { '@context': ContextObject };

export const coreContextObject: ContextObject = coreContextDocument['@context'];

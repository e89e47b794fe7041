/**
 * Term expansion and compaction for NGSI-LD without a general JSON-LD processor on the
 * hot path. A `TermMap` is built once per distinct @context (see context-resolver.ts,
 * which caches them) and then answers `expand(term)` / `compact(iri)` with map lookups.
 *
 * What it covers is what NGSI-LD payloads need: term definitions (string or object with
 * `@id`, `@type`, `@container`), compact IRIs through prefixes, `@vocab`, protected core
 * terms and scoped removal (`null`). Property values are not JSON-LD-expanded: they are
 * stored as given (see docs/ngsi-ld.md).
 */

export const NGSI_LD_VOCAB = 'https://uri.etsi.org/ngsi-ld/';
export const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';

export interface TermDefinition {
  iri: string;
  /** `@id`, `@vocab`, `@json`, a datatype IRI, … */
  type?: string;
  container?: string;
}

export type ContextObject = Record<string, unknown>;

const ABSOLUTE_IRI = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export class TermMap {
  private readonly terms = new Map<string, TermDefinition>();
  private readonly reverse = new Map<string, string>();
  private readonly protectedTerms = new Set<string>();
  private vocab: string = DEFAULT_VOCAB;

  /** Applies context objects in order (later ones add to / override earlier ones). */
  static build(objects: readonly ContextObject[], protectedObjects: readonly ContextObject[] = []) {
    const map = new TermMap();
    for (const object of protectedObjects) map.apply(object, true);
    for (const object of objects) map.apply(object, false);
    return map;
  }

  private apply(object: ContextObject, isProtected: boolean): void {
    if ('@vocab' in object) {
      const vocab = object['@vocab'];
      this.vocab = typeof vocab === 'string' ? this.expandValue(vocab, object) : DEFAULT_VOCAB;
    }
    for (const [term, raw] of Object.entries(object)) {
      if (term.startsWith('@')) continue;
      if (this.protectedTerms.has(term) && !isProtected) continue;
      if (raw === null) {
        const old = this.terms.get(term);
        this.terms.delete(term);
        if (old && this.reverse.get(old.iri) === term) this.reverse.delete(old.iri);
        continue;
      }
      let def: TermDefinition | null = null;
      if (typeof raw === 'string') {
        if (raw.startsWith('@')) continue; // keyword aliases such as "id": "@id"
        def = { iri: this.expandValue(raw, object) };
      } else if (typeof raw === 'object' && !Array.isArray(raw)) {
        const spec = raw as Record<string, unknown>;
        const id = typeof spec['@id'] === 'string' ? spec['@id'] : term;
        if (id.startsWith('@')) continue;
        def = { iri: this.expandValue(id, object) };
        if (typeof spec['@type'] === 'string') def.type = spec['@type'];
        if (typeof spec['@container'] === 'string') def.container = spec['@container'];
      }
      if (!def) continue;
      this.terms.set(term, def);
      if (isProtected) this.protectedTerms.add(term);
      // Later (user) definitions win for compaction; among core terms the first one wins.
      if (!isProtected || !this.reverse.has(def.iri)) this.reverse.set(def.iri, term);
    }
  }

  /** Expands a term value inside a context: prefixes may be defined in the same object. */
  private expandValue(value: string, object: ContextObject): string {
    const colon = value.indexOf(':');
    if (colon > 0) {
      const prefix = value.slice(0, colon);
      const rest = value.slice(colon + 1);
      if (!rest.startsWith('//')) {
        const local = object[prefix];
        const localIri =
          typeof local === 'string'
            ? local
            : local &&
                typeof local === 'object' &&
                typeof (local as ContextObject)['@id'] === 'string'
              ? ((local as ContextObject)['@id'] as string)
              : undefined;
        if (localIri && !localIri.startsWith('@')) return localIri + rest;
        const known = this.terms.get(prefix);
        if (known) return known.iri + rest;
      }
      return value;
    }
    return this.vocab + value;
  }

  definition(term: string): TermDefinition | undefined {
    return this.terms.get(term);
  }

  /** Term (attribute name, type name) → IRI. */
  expand(term: string): string {
    const def = this.terms.get(term);
    if (def) return def.iri;
    const colon = term.indexOf(':');
    if (colon > 0) {
      const rest = term.slice(colon + 1);
      if (!rest.startsWith('//')) {
        const prefix = this.terms.get(term.slice(0, colon));
        if (prefix) return prefix.iri + rest;
      }
      if (ABSOLUTE_IRI.test(term)) return term;
    }
    return this.vocab + term;
  }

  /** IRI → the shortest name this context gives it. */
  compact(iri: string): string {
    const term = this.reverse.get(iri);
    if (term !== undefined) return term;
    if (iri.startsWith(this.vocab) && iri.length > this.vocab.length) {
      const local = iri.slice(this.vocab.length);
      // Only when the local name reads back to the same IRI.
      if (!this.terms.has(local) && !local.includes(':')) return local;
    }
    return iri;
  }
}

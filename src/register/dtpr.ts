/**
 * The DTPR taxonomy (device categories and elements) the technology register speaks,
 * copied into this repository with attribution (taxonomy.json: CC BY 4.0, Digital
 * Transparency in the Public Realm contributors).
 */
import { readFileSync } from 'node:fs';

export interface DtprTaxonomy {
  source: string;
  licence: string;
  changes: string;
  categories: { id: string; name: string; description: string; prompt?: string }[];
  elements: { id: string; categories: string[]; name: string; description: string }[];
}

export const dtpr: DtprTaxonomy = JSON.parse(
  readFileSync(new URL('./dtpr/taxonomy.json', import.meta.url), 'utf8'),
);

/** Which register field takes elements of which DTPR category. */
export const facetCategories = {
  technology: 'tech',
  purpose: 'purpose',
  dataCollected: 'data',
  processing: 'process',
  storage: 'storage',
  retention: 'retention',
  access: 'access',
} as const;

const byCategory = new Map<string, Set<string>>();
for (const element of dtpr.elements) {
  for (const category of element.categories) {
    if (!byCategory.has(category)) byCategory.set(category, new Set());
    byCategory.get(category)!.add(element.id);
  }
}

/** The element ids that are not in `category`, for error messages. */
export function unknownElements(category: string, ids: readonly string[]): string[] {
  const known = byCategory.get(category) ?? new Set<string>();
  return ids.filter((id) => !known.has(id));
}

/**
 * Words of the catalog pages (dataset list, dataset page, live preview) in both official
 * languages. Kept next to the preview rather than in i18n.ts so the catalog pages can
 * change without touching the shared dictionary; every key exists in both languages.
 */
import { lang } from './context.js';

const en = {
  federation: 'Whole federation',
  federationHint: 'Include the datasets of the cities this node federates with.',
  thisNode: 'This city only',
  homeNode: 'Published by {node}',
  publisher: 'Publisher',
  keywords: 'Keywords',
  coverage: 'Coverage',
  period: 'Period',
  from: 'from {date}',
  until: 'until {date}',
  contact: 'Contact',
  updated: 'Last updated',
  accessRights: 'Access',
  open: 'Open data: anyone may read it.',
  restricted: 'Restricted: readable under an approved access request.',
  personal: 'Personal data: readable under an approved access request only.',
  confidential: 'Confidential: not shared outside the publisher.',
  download: 'Download and API',
  downloadIntro:
    'The data is served by the NGSI-LD API of this node. Non-open data needs an access token and an OCP-Purpose header that an approved request covers.',
  ngsiQuery: 'NGSI-LD query',
  dcatRecord: 'DCAT-AP record (JSON-LD)',
  ckanRecord: 'CKAN record',
  preview: 'Live preview',
  previewIntro: 'A sample of the data exactly as you may read it, {n} of {total} entities.',
  previewNone: 'No entity of this dataset is visible to you.',
  previewCaption: 'Sample of the dataset’s entities',
  previewMap: 'Map of the sampled entities',
  entity: 'Entity',
  onMap: 'On the map',
  results: '{n} datasets',
  search: 'Search the catalog',
  searchButton: 'Search',
};

const fr: Record<keyof typeof en, string> = {
  federation: 'Toute la fédération',
  federationHint: 'Inclure les jeux de données des villes avec lesquelles ce nœud est fédéré.',
  thisNode: 'Cette ville seulement',
  homeNode: 'Publié par {node}',
  publisher: 'Éditeur',
  keywords: 'Mots-clés',
  coverage: 'Couverture',
  period: 'Période',
  from: 'à partir du {date}',
  until: 'jusqu’au {date}',
  contact: 'Contact',
  updated: 'Dernière mise à jour',
  accessRights: 'Accès',
  open: 'Données ouvertes : tout le monde peut les lire.',
  restricted: 'Restreint : lisible avec une demande d’accès approuvée.',
  personal: 'Données personnelles : lisibles seulement avec une demande d’accès approuvée.',
  confidential: 'Confidentiel : non partagé hors de l’éditeur.',
  download: 'Téléchargement et API',
  downloadIntro:
    'Les données sont servies par l’API NGSI-LD de ce nœud. Les données non ouvertes exigent un jeton d’accès et un en-tête OCP-Purpose couvert par une demande approuvée.',
  ngsiQuery: 'Requête NGSI-LD',
  dcatRecord: 'Fiche DCAT-AP (JSON-LD)',
  ckanRecord: 'Fiche CKAN',
  preview: 'Aperçu en direct',
  previewIntro:
    'Un échantillon des données telles que vous pouvez les lire : {n} entités sur {total}.',
  previewNone: 'Aucune entité de ce jeu de données ne vous est visible.',
  previewCaption: 'Échantillon des entités du jeu de données',
  previewMap: 'Carte des entités de l’échantillon',
  entity: 'Entité',
  onMap: 'Sur la carte',
  results: '{n} jeux de données',
  search: 'Chercher dans le catalogue',
  searchButton: 'Chercher',
};

export type CatalogKey = keyof typeof en;

/** For tests: both dictionaries have the same keys. */
export const catalogKeysOf = (l: 'en' | 'fr') => Object.keys(l === 'fr' ? fr : en).sort();

export function ct(key: CatalogKey, values: Record<string, string | number> = {}): string {
  return (lang === 'fr' ? fr : en)[key].replace(/\{(\w+)\}/g, (_, name: string) =>
    String(values[name] ?? ''),
  );
}

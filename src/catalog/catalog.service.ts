/**
 * The catalog as each caller may see it: this node's datasets (the governance rule for
 * listing — confidential datasets only to their publisher and admins) and, for the
 * federation scope, what was harvested from peers. Both become `CatalogEntry` values that
 * the DCAT and CKAN renderings and the search share.
 *
 * Search runs over the visible list in memory: a city catalog holds hundreds to a few
 * thousand datasets, and the visibility rule (mayListDataset) is code, not SQL. The lists
 * are bounded (MAX_LOCAL, MAX_HARVESTED) and the bound is documented in docs/catalog.md.
 */
import { governanceRepository } from '../governance/governance.repository.js';
import type { Dataset } from '../governance/governance.repository.js';
import { mayListDataset } from '../governance/governance.service.js';
import type { Database } from '../platform/db/database.js';
import type { Actor } from '../platform/http/access.js';
import { catalogRepository as repo, type HarvestedDataset } from './catalog.repository.js';
import { DISTRIBUTION_FORMAT, dcatDataset, datasetIri, ngsiQueryUrl, plainText } from './dcat.js';

export const MAX_LOCAL = 5000;
export const MAX_HARVESTED = 20000;

export interface CatalogEntry {
  kind: 'local' | 'harvested';
  /** Local dataset id, or the id the home node gives the dataset. */
  id: string;
  /** CKAN name: lower case, unique in this node's catalog. */
  name: string;
  iri: string;
  title: string;
  description: string;
  keywords: string[];
  licenceId: string | null;
  formats: string[];
  org: { id: string; name: string; title: string };
  created: Date | null;
  modified: Date | null;
  /** The dataset's page at its home node. */
  landingPage: string;
  /** Where the data is (the NGSI-LD query of its distribution). */
  accessUrl: string;
  home: { nodeId: string; name: string } | null;
  classification: string | null;
  dataset?: Dataset;
  harvested?: HarvestedDataset;
}

export interface CatalogSettings {
  base: string;
  title: string;
  publisher: string;
}

/** CKAN names are lower-case; our ids are unique case-sensitively but 20 random characters. */
export const ckanName = (id: string) => id.toLowerCase().replace(/[^a-z0-9_-]/g, '-');

const NODE_ORG = '_node';

export class CatalogService {
  constructor(
    private readonly db: Database,
    readonly settings: CatalogSettings,
  ) {}

  /** This node's datasets the caller may see listed, with their publishers' names. */
  async localDatasets(actor: Actor): Promise<{ datasets: Dataset[]; orgs: Map<string, string> }> {
    const all = await governanceRepository.allDatasets(this.db);
    const datasets = all.filter((d) => mayListDataset(actor, d)).slice(0, MAX_LOCAL);
    const ids = [...new Set(datasets.map((d) => d.publisherOrg).filter((o): o is string => !!o))];
    return { datasets, orgs: await repo.organisationNames(this.db, ids) };
  }

  async localDataset(
    actor: Actor,
    id: string,
  ): Promise<{ dataset: Dataset; publisherName: string } | null> {
    const d = await governanceRepository.dataset(this.db, id);
    if (!d || !mayListDataset(actor, d)) return null;
    const orgs = await repo.organisationNames(this.db, d.publisherOrg ? [d.publisherOrg] : []);
    return { dataset: d, publisherName: this.publisherName(d, orgs) };
  }

  publisherName(d: Dataset, orgs: Map<string, string>): string {
    return (d.publisherOrg && orgs.get(d.publisherOrg)) || this.settings.publisher;
  }

  dcat(d: Dataset, publisherName: string): Record<string, unknown> {
    return dcatDataset(d, {
      base: this.settings.base,
      publisherName,
      publisherId: d.publisherOrg,
      nodeName: this.settings.title,
    });
  }

  localEntry(d: Dataset, orgs: Map<string, string>): CatalogEntry {
    const c = d.catalog as Record<string, unknown>;
    const orgId = d.publisherOrg ?? NODE_ORG;
    return {
      kind: 'local',
      id: d.id,
      name: ckanName(d.id),
      iri: datasetIri(this.settings.base, d.id),
      title: plainText(c.title) || d.id,
      description: plainText(c.description),
      keywords: Array.isArray(c.keywords) ? (c.keywords as string[]) : [],
      licenceId: 'spdx' in d.licence ? d.licence.spdx : null,
      formats: [DISTRIBUTION_FORMAT],
      org: { id: orgId, name: ckanName(orgId), title: this.publisherName(d, orgs) },
      created: d.createdAt,
      modified: d.updatedAt,
      landingPage: `${this.settings.base}/datasets/${encodeURIComponent(d.id)}`,
      accessUrl: ngsiQueryUrl(this.settings.base, d),
      home: null,
      classification: d.classification,
      dataset: d,
    };
  }

  harvestedEntry(h: HarvestedDataset): CatalogEntry {
    const orgId = `node_${h.nodeId}`;
    return {
      kind: 'harvested',
      id: h.localId,
      name: ckanName(`${h.nodeId}--${h.localId}`),
      iri: h.datasetIri,
      title: h.title,
      description: h.description,
      keywords: h.keywords,
      licenceId: h.licence,
      formats: h.formats,
      org: { id: orgId, name: ckanName(orgId), title: h.publisher ?? h.nodeName },
      created: null,
      modified: h.modified,
      landingPage: h.landingPage ?? h.datasetIri,
      accessUrl: h.accessUrl ?? h.landingPage ?? h.datasetIri,
      home: { nodeId: h.nodeId, name: h.nodeName },
      classification: null,
      harvested: h,
    };
  }

  /** The entries a caller may see: this node's, plus the federation's when asked. */
  async entries(actor: Actor, federation: boolean): Promise<CatalogEntry[]> {
    const { datasets, orgs } = await this.localDatasets(actor);
    const local = datasets.map((d) => this.localEntry(d, orgs));
    if (!federation) return local;
    const harvested = (await repo.harvested(this.db, MAX_HARVESTED)).map((h) =>
      this.harvestedEntry(h),
    );
    return [...local, ...harvested];
  }

  /** Organisations publishing at least one dataset the caller may see. */
  async organisations(actor: Actor) {
    const entries = await this.entries(actor, false);
    const byId = new Map<string, { org: CatalogEntry['org']; entries: CatalogEntry[] }>();
    for (const e of entries) {
      const slot = byId.get(e.org.id) ?? { org: e.org, entries: [] };
      slot.entries.push(e);
      byId.set(e.org.id, slot);
    }
    return [...byId.values()].sort((a, b) => a.org.name.localeCompare(b.org.name));
  }

  /** The harvest state of each peer (public: names, URLs and times only). */
  sources() {
    return repo.sources(this.db);
  }
}

/** SQL of the catalog: publisher names, harvested peer catalogs, and the harvest lease. */
import type { Queryable } from '../platform/db/database.js';

export interface HarvestSource {
  nodeId: string;
  name: string;
  catalogUrl: string;
  etag: string | null;
  lastModified: string | null;
  lastAttemptAt: Date | null;
  lastSuccessAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  datasetCount: number;
}

interface SourceRow {
  node_id: string;
  name: string;
  catalog_url: string;
  etag: string | null;
  last_modified: string | null;
  last_attempt_at: Date | null;
  last_success_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  dataset_count: number;
}

const toSource = (r: SourceRow): HarvestSource => ({
  nodeId: r.node_id,
  name: r.name,
  catalogUrl: r.catalog_url,
  etag: r.etag,
  lastModified: r.last_modified,
  lastAttemptAt: r.last_attempt_at,
  lastSuccessAt: r.last_success_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
  datasetCount: r.dataset_count,
});

/** A dataset harvested from a peer, as stored. */
export interface HarvestedDataset {
  nodeId: string;
  nodeName: string;
  datasetIri: string;
  localId: string;
  title: string;
  description: string;
  keywords: string[];
  licence: string | null;
  formats: string[];
  publisher: string | null;
  landingPage: string | null;
  accessUrl: string | null;
  modified: Date | null;
  doc: Record<string, unknown>;
  harvestedAt: Date;
}

interface HarvestedRow {
  node_id: string;
  node_name: string;
  dataset_iri: string;
  local_id: string;
  title: string;
  description: string;
  keywords: string[];
  licence: string | null;
  formats: string[];
  publisher: string | null;
  landing_page: string | null;
  access_url: string | null;
  modified: Date | null;
  doc: Record<string, unknown>;
  harvested_at: Date;
}

const toHarvested = (r: HarvestedRow): HarvestedDataset => ({
  nodeId: r.node_id,
  nodeName: r.node_name,
  datasetIri: r.dataset_iri,
  localId: r.local_id,
  title: r.title,
  description: r.description,
  keywords: r.keywords,
  licence: r.licence,
  formats: r.formats,
  publisher: r.publisher,
  landingPage: r.landing_page,
  accessUrl: r.access_url,
  modified: r.modified,
  doc: r.doc,
  harvestedAt: r.harvested_at,
});

export type NewHarvested = Omit<HarvestedDataset, 'nodeId' | 'nodeName' | 'harvestedAt'>;

export const catalogRepository = {
  async organisationNames(db: Queryable, ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const { rows } = await db.query<{ id: string; name: string }>(
      'SELECT id, name FROM identity_organisations WHERE id = ANY($1::text[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.id, r.name]));
  },

  async sources(db: Queryable): Promise<HarvestSource[]> {
    const { rows } = await db.query<SourceRow>(
      'SELECT * FROM catalog_harvest_sources ORDER BY name, node_id',
    );
    return rows.map(toSource);
  },

  async source(db: Queryable, nodeId: string): Promise<HarvestSource | undefined> {
    const { rows } = await db.query<SourceRow>(
      'SELECT * FROM catalog_harvest_sources WHERE node_id = $1',
      [nodeId],
    );
    return rows[0] && toSource(rows[0]);
  },

  /** Registers a peer as a source; a changed catalog URL forgets the validators. */
  async upsertSource(db: Queryable, nodeId: string, name: string, url: string): Promise<void> {
    await db.query(
      `INSERT INTO catalog_harvest_sources (node_id, name, catalog_url) VALUES ($1, $2, $3)
       ON CONFLICT (node_id) DO UPDATE SET name = EXCLUDED.name,
         catalog_url = EXCLUDED.catalog_url,
         etag = CASE WHEN catalog_harvest_sources.catalog_url = EXCLUDED.catalog_url
                     THEN catalog_harvest_sources.etag END,
         last_modified = CASE WHEN catalog_harvest_sources.catalog_url = EXCLUDED.catalog_url
                     THEN catalog_harvest_sources.last_modified END`,
      [nodeId, name, url],
    );
  },

  /** Peers no longer active: their harvested datasets go with them. */
  async removeSourcesExcept(db: Queryable, nodeIds: string[]): Promise<number> {
    const { rows } = await db.query<{ node_id: string }>(
      'DELETE FROM catalog_harvest_sources WHERE NOT (node_id = ANY($1::text[])) RETURNING node_id',
      [nodeIds],
    );
    return rows.length;
  },

  async recordAttempt(
    db: Queryable,
    nodeId: string,
    at: Date,
    status: number | null,
    error: string | null,
  ): Promise<void> {
    await db.query(
      `UPDATE catalog_harvest_sources SET last_attempt_at = $2, last_status = $3, last_error = $4
       WHERE node_id = $1`,
      [nodeId, at, status, error],
    );
  },

  /** Replaces everything harvested from one peer (one transaction, the caller's). */
  async replaceHarvest(
    tx: Queryable,
    nodeId: string,
    datasets: NewHarvested[],
    validators: { etag: string | null; lastModified: string | null },
    at: Date,
  ): Promise<void> {
    await tx.query('DELETE FROM catalog_harvested_datasets WHERE node_id = $1', [nodeId]);
    if (datasets.length > 0) {
      await tx.query(
        `INSERT INTO catalog_harvested_datasets (node_id, dataset_iri, local_id, title, description,
           keywords, licence, formats, publisher, landing_page, access_url, modified, doc, harvested_at)
         SELECT $1, x.dataset_iri, x.local_id, x.title, x.description,
                ARRAY(SELECT jsonb_array_elements_text(x.keywords)), x.licence,
                ARRAY(SELECT jsonb_array_elements_text(x.formats)), x.publisher, x.landing_page,
                x.access_url, x.modified, x.doc, $2
           FROM jsonb_to_recordset($3::jsonb) AS x(dataset_iri text, local_id text, title text,
                description text, keywords jsonb, licence text, formats jsonb, publisher text,
                landing_page text, access_url text, modified timestamptz, doc jsonb)
         ON CONFLICT (node_id, dataset_iri) DO NOTHING`,
        [
          nodeId,
          at,
          JSON.stringify(
            datasets.map((d) => ({
              dataset_iri: d.datasetIri,
              local_id: d.localId,
              title: d.title,
              description: d.description,
              keywords: d.keywords,
              licence: d.licence,
              formats: d.formats,
              publisher: d.publisher,
              landing_page: d.landingPage,
              access_url: d.accessUrl,
              modified: d.modified?.toISOString() ?? null,
              doc: d.doc,
            })),
          ),
        ],
      );
    }
    await tx.query(
      `UPDATE catalog_harvest_sources SET etag = $2, last_modified = $3, last_success_at = $4,
         last_attempt_at = $4, last_status = 200, last_error = NULL,
         dataset_count = (SELECT count(*) FROM catalog_harvested_datasets WHERE node_id = $1)
       WHERE node_id = $1`,
      [nodeId, validators.etag, validators.lastModified, at],
    );
  },

  async notModified(db: Queryable, nodeId: string, at: Date): Promise<void> {
    await db.query(
      `UPDATE catalog_harvest_sources SET last_attempt_at = $2, last_success_at = $2,
         last_status = 304, last_error = NULL WHERE node_id = $1`,
      [nodeId, at],
    );
  },

  /** Every harvested dataset, up to `cap` (the federation search works on this list). */
  async harvested(db: Queryable, cap: number): Promise<HarvestedDataset[]> {
    const { rows } = await db.query<HarvestedRow>(
      `SELECT h.*, s.name AS node_name FROM catalog_harvested_datasets h
         JOIN catalog_harvest_sources s ON s.node_id = h.node_id
        ORDER BY h.title, h.node_id, h.dataset_iri LIMIT $1`,
      [cap],
    );
    return rows.map(toHarvested);
  },

  /**
   * Takes (or renews) the lease `name` for `holder` until `until`, when it is free, expired
   * or already held by `holder`. One statement, so two processes never both get it.
   */
  async takeLease(
    db: Queryable,
    name: string,
    holder: string,
    now: Date,
    until: Date,
  ): Promise<boolean> {
    const { rows } = await db.query(
      `INSERT INTO catalog_leases (name, holder, expires_at) VALUES ($1, $2, $4)
       ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE catalog_leases.expires_at <= $3 OR catalog_leases.holder = EXCLUDED.holder
       RETURNING holder`,
      [name, holder, now, until],
    );
    return rows.length > 0;
  },

  async releaseLease(db: Queryable, name: string, holder: string): Promise<void> {
    await db.query('DELETE FROM catalog_leases WHERE name = $1 AND holder = $2', [name, holder]);
  },
};

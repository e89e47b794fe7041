/**
 * Rows → temporal representation: the one function every temporal read goes through
 * (`renderTemporalEntity`), so attribute-level rules (allow-lists, privacy transforms)
 * can be applied in one place. Attribute instances are compacted with the entity
 * model's own renderer, so the temporal and current-state APIs agree on every member.
 */
import { renderEntity, type StoredEntity } from '../context/entities/entity.model.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import type { AggregateRow, InstanceRow } from './history.repository.js';
import type { AggrMethod, Duration, Representation } from './temporal.params.js';

export interface TemporalRenderOptions {
  representation: Representation;
  sysAttrs: boolean;
  aggrMethods: readonly AggrMethod[];
  aggrPeriod: Duration | null;
  /** For aggregation over the whole range: where it starts and ends when the query says. */
  rangeStart?: Date | undefined;
  rangeEnd?: Date | undefined;
  pickMembers?: ReadonlySet<string> | undefined;
  omitMembers?: ReadonlySet<string> | undefined;
  lang?: string | undefined;
}

export interface TemporalEntityData {
  entity: StoredEntity;
  /** Ascending by time within each attribute. */
  instances: readonly InstanceRow[];
  aggregates: readonly AggregateRow[];
  /** Attribute kind by expanded attribute IRI (aggregated output). */
  kinds: ReadonlyMap<string, string>;
}

const SIMPLIFIED_MEMBER: Record<string, [source: string, member: string]> = {
  Property: ['value', 'values'],
  GeoProperty: ['value', 'values'],
  Relationship: ['object', 'objects'],
  LanguageProperty: ['languageMap', 'languageMaps'],
  JsonProperty: ['json', 'jsons'],
  VocabProperty: ['vocab', 'vocabs'],
  ListProperty: ['valueList', 'valueLists'],
  ListRelationship: ['objectList', 'objectLists'],
};

const include = (o: TemporalRenderOptions, member: string) =>
  (!o.pickMembers || o.pickMembers.has(member)) && !o.omitMembers?.has(member);

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Adds one month-or-millisecond period to a period start (UTC calendar months). */
export function addPeriod(start: Date, period: Duration): Date {
  if (period.months === 0) return new Date(start.getTime() + period.millis);
  const d = new Date(start);
  d.setUTCMonth(d.getUTCMonth() + period.months);
  return d;
}

export function renderTemporalEntity(
  data: TemporalEntityData,
  map: TermMap,
  o: TemporalRenderOptions,
): Record<string, unknown> {
  const { entity } = data;
  // The entity members (id, type, scope, system attributes) come from the entity
  // renderer with no attributes.
  const out = renderEntity({ ...entity, attrs: {} }, map, {
    format: 'normalized',
    sysAttrs: o.sysAttrs,
    pickMembers: o.pickMembers,
    omitMembers: o.omitMembers,
  });
  if (o.representation === 'aggregatedValues') {
    for (const [attr, rows] of groupBy(data.aggregates, (r) => r.attr)) {
      if (!include(o, attr)) continue;
      const kind = data.kinds.get(attr) ?? 'Property';
      const perDataset = [...groupBy(rows, (r) => r.dataset_id)].map(([datasetId, list]) => {
        const attrOut: Record<string, unknown> = { type: kind };
        if (datasetId !== '') attrOut.datasetId = datasetId;
        for (const m of o.aggrMethods) {
          attrOut[m] = list.map((r) => {
            const start = r.bucket ?? o.rangeStart ?? r.first_t;
            const end = r.bucket ? addPeriod(r.bucket, o.aggrPeriod!) : (o.rangeEnd ?? r.last_t);
            return [r[m] ?? null, start.toISOString(), end.toISOString()];
          });
        }
        return attrOut;
      });
      out[map.compact(attr)] = perDataset.length === 1 ? perDataset[0] : perDataset;
    }
    return out;
  }
  const byAttr = groupBy(data.instances, (r) => r.attr);
  if (o.representation === 'temporalValues') {
    for (const [attr, rows] of byAttr) {
      if (!include(o, attr)) continue;
      const perDataset = [...groupBy(rows, (r) => r.dataset_id)].map(([datasetId, list]) => {
        const kind = list[list.length - 1]!.instance.type;
        const [source, member] = SIMPLIFIED_MEMBER[kind] ?? ['value', 'values'];
        const attrOut: Record<string, unknown> = { type: kind };
        if (datasetId !== '') attrOut.datasetId = datasetId;
        attrOut[member] = list.map((r) => {
          let v = r.instance[source];
          if (kind === 'VocabProperty') {
            v = Array.isArray(v) ? v.map((x) => map.compact(String(x))) : map.compact(String(v));
          }
          if (kind === 'ListRelationship' && Array.isArray(v)) {
            v = (v as { object: string }[]).map((x) => x.object);
          }
          return [v, r.t.toISOString()];
        });
        return attrOut;
      });
      out[map.compact(attr)] = perDataset.length === 1 ? perDataset[0] : perDataset;
    }
    return out;
  }
  // Normalized: every instance in full, with its instanceId.
  const attrs: Record<string, StoredEntity['attrs'][string]> = {};
  for (const [attr, rows] of byAttr)
    if (include(o, attr)) attrs[attr] = rows.map((r) => r.instance);
  const rendered = renderEntity({ ...entity, attrs }, map, {
    format: 'normalized',
    sysAttrs: false,
    lang: o.lang,
  });
  for (const [attr, rows] of byAttr) {
    if (!attrs[attr]) continue;
    const name = map.compact(attr);
    const value = rendered[name];
    const list = (Array.isArray(value) ? value : [value]) as Record<string, unknown>[];
    out[name] = list.map((inst, i) => {
      const row = rows[i]!;
      const instOut: Record<string, unknown> = { ...inst, instanceId: row.instance_id };
      if (o.sysAttrs) {
        instOut.createdAt = row.created_at.toISOString();
        instOut.modifiedAt = row.modified_at.toISOString();
      }
      return instOut;
    });
  }
  return out;
}

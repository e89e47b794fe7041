/**
 * Merging temporal entities from several sources (distributed temporal queries). Each
 * source answers in the caller's @context and representation, so entities are merged as
 * rendered JSON, by entity id and attribute:
 *   normalized      instances of an attribute from all sources, one list, in time order
 *                   (the query's timeproperty), an instance seen twice kept once;
 *   temporalValues  per datasetId, the [value, time] pairs of all sources in time order;
 *   aggregatedValues aggregates of one attribute and datasetId cannot be combined from
 *                   partial answers (an average of averages is not an average): the first
 *                   source's are kept and the clash is reported to the caller.
 * lastN, when given, is applied again after merging (per attribute and datasetId).
 */
import { commaList } from '../context/ngsi-request.js';

export type TemporalRepresentation = 'normalized' | 'temporalValues' | 'aggregatedValues';

export interface TemporalMergeOptions {
  representation: TemporalRepresentation;
  timeproperty: string;
  lastN: number | undefined;
  /** Auxiliary sources only fill in attributes nobody else gave. */
  fillOnly: boolean;
}

type Json = Record<string, unknown>;

/** Entity members that are not attributes. */
const ENTITY_MEMBERS = new Set(['id', 'type', 'scope', 'createdAt', 'modifiedAt', 'deletedAt']);
/** The list members of the simplified (temporalValues) representation. */
const LIST_MEMBERS = [
  'values',
  'objects',
  'languageMaps',
  'jsons',
  'vocabs',
  'valueLists',
  'objectLists',
];

const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: unknown): Json[] => (Array.isArray(v) ? v : [v]).filter(isObject);
const strings = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
const datasetOf = (v: Json) => (typeof v.datasetId === 'string' ? v.datasetId : '');
const timeOf = (v: unknown) => (typeof v === 'string' ? Date.parse(v) || 0 : 0);

export function temporalOptionsOf(
  params: Record<string, string | undefined>,
  fillOnly = false,
): TemporalMergeOptions {
  const options = commaList(params.options) ?? [];
  const said = (r: TemporalRepresentation) => params.format === r || options.includes(r);
  const lastN = params.lastN === undefined ? undefined : Number(params.lastN);
  return {
    representation: said('aggregatedValues')
      ? 'aggregatedValues'
      : said('temporalValues')
        ? 'temporalValues'
        : 'normalized',
    timeproperty: params.timeproperty ?? 'observedAt',
    lastN: lastN !== undefined && Number.isInteger(lastN) && lastN > 0 ? lastN : undefined,
    fillOnly,
  };
}

/** Keeps the last `n` of each datasetId's items (which are in time order). */
function lastPerDataset<T>(items: T[], dataset: (t: T) => string, n: number | undefined): T[] {
  if (n === undefined) return items;
  const left = new Map<string, number>();
  const keep: T[] = [];
  for (let i = items.length - 1; i >= 0; i--) {
    const d = dataset(items[i]!);
    const count = left.get(d) ?? 0;
    if (count < n) keep.push(items[i]!);
    left.set(d, count + 1);
  }
  return keep.reverse();
}

function mergeInstances(mine: Json[], theirs: Json[], o: TemporalMergeOptions): Json[] {
  const seen = new Set<string>();
  const all: Json[] = [];
  for (const inst of [...mine, ...theirs]) {
    const key = typeof inst.instanceId === 'string' ? inst.instanceId : JSON.stringify(inst);
    if (seen.has(key)) continue;
    seen.add(key);
    all.push(inst);
  }
  // Stable: instances at the same time keep their source order.
  all.sort((a, b) => timeOf(a[o.timeproperty]) - timeOf(b[o.timeproperty]));
  return lastPerDataset(all, datasetOf, o.lastN);
}

function mergeSimplified(mine: Json[], theirs: Json[], o: TemporalMergeOptions): Json[] {
  const out = mine.map((m) => ({ ...m }));
  for (const t of theirs) {
    const m = out.find((x) => datasetOf(x) === datasetOf(t));
    if (!m) {
      out.push({ ...t });
      continue;
    }
    const member = LIST_MEMBERS.find((k) => Array.isArray(t[k]));
    if (!member) continue;
    const seen = new Set<string>();
    const pairs = [...((m[member] as unknown[] | undefined) ?? []), ...(t[member] as unknown[])]
      .filter((p): p is unknown[] => Array.isArray(p))
      .filter((p) => {
        const key = JSON.stringify(p);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((a, b) => timeOf(a[1]) - timeOf(b[1]));
    m[member] = o.lastN === undefined ? pairs : pairs.slice(-o.lastN);
  }
  return out;
}

/**
 * Adds `from` into `into` (the same entity id). Returns the attributes whose aggregates
 * clashed and were left out.
 */
export function mergeTemporalEntity(into: Json, from: Json, o: TemporalMergeOptions): string[] {
  const types = [...new Set([...strings(into.type), ...strings(from.type)])];
  into.type = types.length === 1 ? types[0] : types;
  const clashes: string[] = [];
  for (const [name, value] of Object.entries(from)) {
    if (ENTITY_MEMBERS.has(name) || name.startsWith('@')) continue;
    const there = into[name];
    if (there === undefined) {
      into[name] = structuredClone(value);
      continue;
    }
    if (o.fillOnly) continue;
    const mine = asList(there);
    const theirs = asList(value);
    if (o.representation === 'normalized') {
      into[name] = mergeInstances(mine, theirs, o);
      continue;
    }
    let merged: Json[];
    if (o.representation === 'temporalValues') merged = mergeSimplified(mine, theirs, o);
    else {
      merged = [...mine];
      for (const t of theirs) {
        if (merged.some((m) => datasetOf(m) === datasetOf(t))) clashes.push(name);
        else merged.push(t);
      }
    }
    into[name] = merged.length === 1 ? merged[0] : merged;
  }
  return [...new Set(clashes)];
}

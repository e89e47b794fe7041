/**
 * The temporal query language of NGSI-LD (ETSI GS CIM 009 v1.9, clauses 4.11 and
 * 6.18–6.24): timerel/timeAt/endTimeAt/timeproperty/lastN, the representation options
 * and aggregation parameters. Parsed and checked here once, for GET query strings and
 * the `temporalQ` member of POST /temporal/entityOperations/query alike.
 */
import { badRequest } from '../platform/http/errors.js';
import { commaList } from '../context/ngsi-request.js';
import { isDateTime } from '../context/entities/entity.model.js';

export type TimeProperty = 'observedAt' | 'createdAt' | 'modifiedAt';
export type AggrMethod =
  'totalCount' | 'distinctCount' | 'sum' | 'avg' | 'min' | 'max' | 'stddev' | 'sumsq';

export const AGGR_METHODS: readonly AggrMethod[] = [
  'totalCount',
  'distinctCount',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'sumsq',
];

export interface TemporalQuery {
  timerel?: 'before' | 'after' | 'between';
  timeAt?: Date;
  endTimeAt?: Date;
  timeproperty: TimeProperty;
  lastN?: number;
}

/** An ISO 8601 duration split into what PostgreSQL intervals keep apart. */
export interface Duration {
  months: number;
  /** Days, hours, minutes and seconds as milliseconds (weeks count as 7 days). */
  millis: number;
  /** The original text, for messages. */
  text: string;
}

export type Representation = 'normalized' | 'temporalValues' | 'aggregatedValues';

export interface TemporalOptions {
  representation: Representation;
  sysAttrs: boolean;
  aggrMethods: AggrMethod[];
  /** Null: the whole time range is one period (P0D, the default). */
  aggrPeriod: Duration | null;
}

export interface TemporalQueryInput {
  timerel?: string | undefined;
  timeAt?: string | undefined;
  endTimeAt?: string | undefined;
  timeproperty?: string | undefined;
  lastN?: string | number | undefined;
}

export function parseTemporalQuery(input: TemporalQueryInput): TemporalQuery {
  const out: TemporalQuery = { timeproperty: 'observedAt' };
  if (input.timeproperty !== undefined) {
    if (!['observedAt', 'createdAt', 'modifiedAt'].includes(input.timeproperty)) {
      throw badRequest('timeproperty must be observedAt, createdAt or modifiedAt');
    }
    out.timeproperty = input.timeproperty as TimeProperty;
  }
  if (input.timerel !== undefined) {
    if (!['before', 'after', 'between'].includes(input.timerel)) {
      throw badRequest('timerel must be before, after or between');
    }
    out.timerel = input.timerel as TemporalQuery['timerel'];
    if (input.timeAt === undefined) throw badRequest('timerel requires timeAt');
    out.timeAt = dateTime(input.timeAt, 'timeAt');
    if (out.timerel === 'between') {
      if (input.endTimeAt === undefined) throw badRequest('timerel=between requires endTimeAt');
      out.endTimeAt = dateTime(input.endTimeAt, 'endTimeAt');
      if (out.endTimeAt.getTime() <= out.timeAt.getTime()) {
        throw badRequest('endTimeAt must be later than timeAt');
      }
    } else if (input.endTimeAt !== undefined) {
      throw badRequest('endTimeAt is only allowed with timerel=between');
    }
  } else if (input.timeAt !== undefined || input.endTimeAt !== undefined) {
    throw badRequest('timeAt and endTimeAt require timerel');
  }
  if (input.lastN !== undefined) {
    const text = String(input.lastN);
    if (!/^[1-9]\d{0,8}$/.test(text)) throw badRequest('lastN must be a positive integer');
    out.lastN = Number(text);
  }
  return out;
}

function dateTime(value: string, name: string): Date {
  if (!isDateTime(value)) throw badRequest(`${name} must be an ISO 8601 date-time`);
  return new Date(value);
}

const DURATION =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration such as PT1H, P1D, P1W, P1M, P1Y, P1DT12H, PT0.5S. */
export function parseDuration(text: string): Duration {
  const m = DURATION.exec(text);
  if (!m || text.endsWith('T')) throw badRequest(`Invalid ISO 8601 duration: ${text}`);
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  const months = n(1) * 12 + n(2);
  const millis =
    ((n(3) * 7 + n(4)) * 86_400 + n(5) * 3_600 + n(6) * 60) * 1000 + Math.round(n(7) * 1000);
  if (!Number.isSafeInteger(months) || !Number.isSafeInteger(millis) || months > 12 * 10_000) {
    throw badRequest(`Duration out of range: ${text}`);
  }
  return { months, millis, text };
}

export interface OptionsInput {
  options?: string | undefined;
  format?: string | undefined;
  aggrMethods?: string | undefined;
  aggrPeriodDuration?: string | undefined;
}

export function parseTemporalOptions(input: OptionsInput): TemporalOptions {
  const options = commaList(input.options) ?? [];
  const known = ['temporalValues', 'aggregatedValues', 'sysAttrs', 'normalized'];
  for (const o of options) if (!known.includes(o)) throw badRequest(`Unknown option ${o}`);
  const chosen = (['temporalValues', 'aggregatedValues', 'normalized'] as const).filter((r) =>
    options.includes(r),
  );
  if (chosen.length > 1) throw badRequest('options may name only one representation');
  let representation: Representation = chosen[0] ?? 'normalized';
  if (input.format !== undefined) {
    const f = input.format === 'simplified' ? 'temporalValues' : input.format;
    if (!['normalized', 'temporalValues', 'aggregatedValues'].includes(f)) {
      throw badRequest(`Unknown format ${input.format}`);
    }
    representation = f as Representation;
  }
  const methods = commaList(input.aggrMethods);
  let aggrMethods: AggrMethod[] = [];
  let aggrPeriod: Duration | null = null;
  if (representation === 'aggregatedValues') {
    if (!methods || methods.length === 0) {
      throw badRequest('aggregatedValues requires aggrMethods');
    }
    for (const m of methods) {
      if (!AGGR_METHODS.includes(m as AggrMethod)) throw badRequest(`Unknown aggrMethod ${m}`);
    }
    aggrMethods = [...new Set(methods)] as AggrMethod[];
    if (input.aggrPeriodDuration !== undefined) {
      const d = parseDuration(input.aggrPeriodDuration);
      if (d.months > 0 && d.millis > 0) {
        throw badRequest(
          'aggrPeriodDuration may use years/months or weeks/days/hours/minutes/seconds, not both',
        );
      }
      aggrPeriod = d.months === 0 && d.millis === 0 ? null : d;
    }
  }
  return { representation, sysAttrs: options.includes('sysAttrs'), aggrMethods, aggrPeriod };
}

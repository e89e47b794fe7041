/**
 * Which registrations a request concerns (clause 5.2.9 / 4.3.6): a registration matches
 * when it is unexpired, allows the operation, and one of its RegistrationInfo matches the
 * request's types, ids or idPattern and attributes. Each match says which attributes to
 * ask the source for (the registered ones, narrowed by the request's `attrs`).
 */
import type { EntityInfo, RegistrationInfo, RegistrationRecord } from './registration.model.js';

export interface RequestSelector {
  /** Expanded type IRIs; empty: any type (retrieve by id). */
  types: readonly string[];
  ids?: readonly string[] | undefined;
  idPattern?: string | undefined;
  /** Expanded attribute IRIs asked for; undefined: all. */
  attrs?: readonly string[] | undefined;
}

export interface Match {
  registration: RegistrationRecord;
  /** Attributes to ask the source for; null: whatever the request asked. */
  attrs: string[] | null;
  /** Entity ids the registration names for this request (exclusive/redirect scoping). */
  infos: RegistrationInfo[];
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

export function entityInfoMatches(info: EntityInfo, req: RequestSelector): boolean {
  if (req.types.length > 0 && !info.types.some((t) => req.types.includes(t))) return false;
  if (req.ids && req.ids.length > 0) {
    if (info.id !== undefined) return req.ids.includes(info.id);
    if (info.idPattern !== undefined) return req.ids.some((id) => safeTest(info.idPattern!, id));
    return true;
  }
  if (req.idPattern !== undefined && info.id !== undefined) return safeTest(req.idPattern, info.id);
  // Two patterns: whether they overlap is undecidable in general; ask the source.
  return true;
}

/** The attributes of `info` the request wants: null (all), a non-empty list, or 'none'. */
function attrsFor(info: RegistrationInfo, req: RequestSelector): string[] | null | 'none' {
  if (info.attrs === null) return req.attrs ? [...req.attrs] : null;
  if (!req.attrs) return [...info.attrs];
  const both = info.attrs.filter((a) => req.attrs!.includes(a));
  return both.length > 0 ? both : 'none';
}

export function matchRegistration(
  registration: RegistrationRecord,
  operation: string,
  req: RequestSelector,
  now: Date,
): Match | null {
  if (registration.expiresAt && registration.expiresAt <= now) return null;
  if (!registration.operations.includes(operation)) return null;
  let attrs: Set<string> | null = new Set();
  const infos: RegistrationInfo[] = [];
  for (const info of registration.information) {
    if (info.entities && !info.entities.some((e) => entityInfoMatches(e, req))) continue;
    // Without entities, a registration of attributes alone needs a type-less match.
    const wanted = attrsFor(info, req);
    if (wanted === 'none') continue;
    infos.push(info);
    if (wanted === null) attrs = null;
    else if (attrs) wanted.forEach((a) => attrs!.add(a));
  }
  if (infos.length === 0) return null;
  return { registration, attrs: attrs ? [...attrs] : null, infos };
}

/** Whether an entity (id, types) lies in what `infos` registered. */
export function coveredEntity(
  infos: readonly RegistrationInfo[],
  id: string,
  types: readonly string[],
): boolean {
  return infos.some(
    (info) =>
      info.entities === null ||
      info.entities.some(
        (e) =>
          e.types.some((t) => types.includes(t)) &&
          (e.id !== undefined
            ? e.id === id
            : e.idPattern !== undefined
              ? safeTest(e.idPattern, id)
              : true),
      ),
  );
}

/** Attributes `infos` registered for that entity; null: every attribute. */
export function coveredAttrs(
  infos: readonly RegistrationInfo[],
  id: string,
  types: readonly string[],
): Set<string> | null {
  const out = new Set<string>();
  for (const info of infos) {
    if (!coveredEntity([info], id, types)) continue;
    if (info.attrs === null) return null;
    info.attrs.forEach((a) => out.add(a));
  }
  return out;
}

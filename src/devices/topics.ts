/**
 * The device topic scheme (docs/mqtt.md). Every level that carries a name is
 * percent-encoded, so tenants and entity ids may contain `/`, `+` or `#`:
 *
 *   ocp/v1/<tenant>/<client id>/entities                   one entity or an array (ids in the payload)
 *   ocp/v1/<tenant>/<client id>/entities/<entity id>/attrs an NGSI-LD fragment for one entity
 *   ocp/v1/<tenant>/<client id>/measurements/<entity id>   the compact measurement format
 *
 * `<tenant>` is `_default` for the default tenant. `<client id>` is the API client the
 * device publishes as (the broker checks it is the one that authenticated).
 */

export const TOPIC_ROOT = 'ocp/v1';
export const DEFAULT_TENANT = '_default';
/** The filter the node subscribes to (before a `$share/<group>/` prefix). */
export const INGEST_FILTER = `${TOPIC_ROOT}/#`;

const TENANT = /^[A-Za-z0-9_.:\-/]{1,128}$/;
const CLIENT_ID = /^(cli_[A-Za-z0-9]{1,40}|admin)$/;

export type DeviceTopic =
  | { kind: 'entities'; tenant: string; clientId: string }
  | { kind: 'attrs'; tenant: string; clientId: string; entityId: string }
  | { kind: 'measurements'; tenant: string; clientId: string; entityId: string };

export type TopicParse =
  | { ok: true; topic: DeviceTopic }
  | { ok: false; detail: string; tenant?: string; clientId?: string };

function decode(level: string): string | null {
  try {
    return decodeURIComponent(level);
  } catch {
    return null;
  }
}

/** True for topics under the device root (whether or not they are well-formed). */
export function isDeviceTopic(topic: string): boolean {
  return topic === TOPIC_ROOT || topic.startsWith(`${TOPIC_ROOT}/`);
}

/** The client id level of a device topic, for broker authorization (undecoded check). */
export function clientLevel(topic: string): string | null {
  const levels = topic.split('/');
  return levels.length >= 4 ? decode(levels[3]!) : null;
}

export function parseTopic(topic: string): TopicParse {
  const levels = topic.split('/');
  if (levels[0] !== 'ocp' || levels[1] !== 'v1' || levels.length < 5) {
    return { ok: false, detail: `not a device topic: expected ${TOPIC_ROOT}/<tenant>/<client>/…` };
  }
  const rawTenant = decode(levels[2]!);
  const tenant = rawTenant === DEFAULT_TENANT ? '' : rawTenant;
  if (tenant === null || (tenant !== '' && !TENANT.test(tenant))) {
    return { ok: false, detail: 'invalid tenant level' };
  }
  const clientId = decode(levels[3]!);
  if (clientId === null || !CLIENT_ID.test(clientId)) {
    return { ok: false, detail: 'invalid client id level', tenant };
  }
  const rest = levels.slice(4);
  const where = { tenant, clientId };
  if (rest.length === 1 && rest[0] === 'entities') {
    return { ok: true, topic: { kind: 'entities', ...where } };
  }
  if (rest.length === 3 && rest[0] === 'entities' && rest[2] === 'attrs') {
    const entityId = decode(rest[1]!);
    if (entityId === null || entityId === '') {
      return { ok: false, detail: 'invalid entity id level', ...where };
    }
    return { ok: true, topic: { kind: 'attrs', ...where, entityId } };
  }
  if (rest.length === 2 && rest[0] === 'measurements') {
    const entityId = decode(rest[1]!);
    if (entityId === null || entityId === '') {
      return { ok: false, detail: 'invalid entity id level', ...where };
    }
    return { ok: true, topic: { kind: 'measurements', ...where, entityId } };
  }
  return {
    ok: false,
    detail: 'unknown topic: use …/entities, …/entities/<id>/attrs or …/measurements/<id>',
    ...where,
  };
}

/** Builds a device topic (for devices, tests and the load script). */
export function deviceTopic(t: DeviceTopic): string {
  const tenant = encodeURIComponent(t.tenant === '' ? DEFAULT_TENANT : t.tenant);
  const base = `${TOPIC_ROOT}/${tenant}/${encodeURIComponent(t.clientId)}`;
  if (t.kind === 'entities') return `${base}/entities`;
  if (t.kind === 'attrs') return `${base}/entities/${encodeURIComponent(t.entityId)}/attrs`;
  return `${base}/measurements/${encodeURIComponent(t.entityId)}`;
}

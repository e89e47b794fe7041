/**
 * Turns one device message into entity inputs for the entity service, or into the
 * reason it is refused. The NGSI-LD formats are parsed by the same code as HTTP
 * requests (parseEntity); the compact measurement format is first rewritten into a
 * normalized NGSI-LD fragment.
 */
import { AppError } from '../platform/http/errors.js';
import { assertStorableJson } from '../platform/http/json-body.js';
import type { EntityInput } from '../context/entities/entity.model.js';
import { isDateTime, isGeometry, parseEntity } from '../context/entities/entity.model.js';
import type { RequestContext } from '../context/jsonld/context-resolver.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import type { DeviceTopic } from './topics.js';

/** Why a message goes to the dead-letter table (docs/mqtt.md lists them). */
export type DeadLetterReason =
  | 'payload_too_large'
  | 'malformed_json'
  | 'invalid_topic'
  | 'invalid_payload'
  | 'context_unavailable'
  | 'unauthorized'
  | 'forbidden'
  | 'rejected'
  | 'write_failed';

export const deadLetterReasons: readonly DeadLetterReason[] = [
  'payload_too_large',
  'malformed_json',
  'invalid_topic',
  'invalid_payload',
  'context_unavailable',
  'unauthorized',
  'forbidden',
  'rejected',
  'write_failed',
];

export type Decoded =
  { ok: true; inputs: EntityInput[] } | { ok: false; reason: DeadLetterReason; detail: string };

/** Entities one message on …/entities may carry. */
export const MAX_ENTITIES_PER_MESSAGE = 100;

type Resolve = (context: RequestContext | undefined) => Promise<TermMap>;

const fail = (reason: DeadLetterReason, detail: string): Decoded => ({ ok: false, reason, detail });

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Resolves the context of one item: payload @context first, then the user property. */
async function termMap(
  item: Record<string, unknown>,
  fallback: string | undefined,
  resolve: Resolve,
): Promise<TermMap> {
  const ctx = item['@context'] as RequestContext | undefined;
  return resolve(ctx ?? fallback);
}

function withoutContext(item: Record<string, unknown>): Record<string, unknown> {
  if (!('@context' in item)) return item;
  const copy = { ...item };
  delete copy['@context'];
  return copy;
}

function failure(error: unknown): Decoded {
  if (error instanceof AppError) {
    const detail = error.detail ?? error.message;
    if (error.code === 'ld_context_not_available') return fail('context_unavailable', detail);
    return fail('invalid_payload', detail);
  }
  throw error;
}

/** `{"t": …, "<attr>": <value>, …}` → a normalized NGSI-LD fragment. */
function compactToFragment(
  body: Record<string, unknown>,
  receivedAt: Date,
): Record<string, unknown> | string {
  let observedAt = receivedAt.toISOString();
  const t = body.t;
  if (t !== undefined) {
    if (typeof t === 'number' && Number.isFinite(t) && t > 0 && t < 1e14) {
      observedAt = new Date(t).toISOString();
    } else if (isDateTime(t)) {
      observedAt = t;
    } else {
      return '"t" must be an ISO 8601 date-time or milliseconds since 1970';
    }
  }
  const out: Record<string, unknown> = {};
  if (body.type !== undefined) out.type = body.type;
  let count = 0;
  for (const [name, value] of Object.entries(body)) {
    if (name === 't' || name === 'type' || name === '@context') continue;
    if (name === 'id') return '"id" is taken from the topic';
    if (isGeometry(value)) {
      out[name] = { type: 'GeoProperty', value, observedAt };
    } else if (
      (typeof value === 'number' && Number.isFinite(value)) ||
      typeof value === 'string' ||
      typeof value === 'boolean'
    ) {
      out[name] = { type: 'Property', value, observedAt };
    } else {
      return `"${name}" must be a number, a string, a boolean or a GeoJSON geometry`;
    }
    count++;
  }
  if (count === 0) return 'a measurement needs at least one value besides "t"';
  return out;
}

/**
 * Decodes a message already known to be within the size limit. `contextProperty` is the
 * `ngsi-ld-context` user property (MQTT 5), used when the payload names no @context.
 */
export async function decodeMessage(
  topic: DeviceTopic,
  payload: Buffer,
  contextProperty: string | undefined,
  resolve: Resolve,
  receivedAt: Date,
): Promise<Decoded> {
  let body: unknown;
  const text = payload.toString('utf8');
  try {
    body = JSON.parse(text);
  } catch (error) {
    return fail('malformed_json', `not JSON: ${(error as Error).message}`.slice(0, 300));
  }
  try {
    // A string PostgreSQL cannot store would fail the whole write batch, other devices'
    // messages included: refuse this message alone.
    assertStorableJson(text, body);
    if (topic.kind === 'entities') {
      const items = Array.isArray(body) ? body : [body];
      if (items.length === 0) return fail('invalid_payload', 'the array of entities is empty');
      if (items.length > MAX_ENTITIES_PER_MESSAGE) {
        return fail(
          'invalid_payload',
          `at most ${MAX_ENTITIES_PER_MESSAGE} entities per message, got ${items.length}`,
        );
      }
      const inputs: EntityInput[] = [];
      for (const [index, item] of items.entries()) {
        if (!isObject(item)) return fail('invalid_payload', `entity #${index} is not an object`);
        const map = await termMap(item, contextProperty, resolve);
        inputs.push(
          parseEntity(withoutContext(item), map, {
            requireId: true,
            requireType: true,
            path: items.length > 1 ? `/${index}` : '',
          }),
        );
      }
      return { ok: true, inputs };
    }
    if (!isObject(body)) return fail('invalid_payload', 'the payload must be a JSON object');
    const map = await termMap(body, contextProperty, resolve);
    let fragment: Record<string, unknown>;
    if (topic.kind === 'attrs') {
      const id = body.id ?? body['@id'];
      if (id !== undefined && id !== topic.entityId) {
        return fail('invalid_payload', 'the payload id differs from the entity id of the topic');
      }
      fragment = withoutContext(body);
    } else {
      const converted = compactToFragment(body, receivedAt);
      if (typeof converted === 'string') return fail('invalid_payload', converted);
      fragment = converted;
    }
    const input = parseEntity({ ...fragment, id: topic.entityId }, map, { requireId: true });
    if (Object.keys(input.attrs).length === 0 && !input.types) {
      return fail('invalid_payload', 'the fragment carries no attribute');
    }
    return { ok: true, inputs: [input] };
  } catch (error) {
    return failure(error);
  }
}

/**
 * Who may write device data (docs/decisions/0017). A device publishes as an API client:
 * the client id is a level of the topic, the broker checks that the connection
 * authenticated as that client (the embedded broker here, an external broker through its
 * ACL), and the node maps the client to its organisation and roles exactly as for an HTTP
 * request with that client's token. Entities a device creates belong to the client's
 * organisation; existing entities of another organisation are refused.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Aedes, AuthenticateError } from 'aedes';
import type { Clock } from '../platform/clock.js';
import { hasRole, type Actor } from '../platform/http/access.js';
import type { RegistryService } from '../identity/registry.service.js';
import { clientLevel, isDeviceTopic } from './topics.js';

export type PublisherCheck = { ok: true; actor: Actor } | { ok: false; detail: string };

/** Client id → actor, cached briefly so a busy device does not cost a lookup per batch. */
export class DevicePublishers {
  private readonly cache = new Map<string, { check: PublisherCheck; until: number }>();

  constructor(
    private readonly registry: RegistryService,
    private readonly clock: Clock,
    private readonly ttlMs = 10_000,
  ) {}

  async check(clientId: string): Promise<PublisherCheck> {
    const now = this.clock.now().getTime();
    const hit = this.cache.get(clientId);
    if (hit && hit.until > now) return hit.check;
    const client = await this.registry.getClient(clientId);
    let check: PublisherCheck;
    if (!client || client.status !== 'active') {
      check = { ok: false, detail: `client ${clientId} is unknown or disabled` };
    } else {
      const actor: Actor = {
        kind: 'client',
        id: client.id,
        organisationId: client.organisationId,
        roles: client.roles,
      };
      check = hasRole(actor, 'publisher')
        ? { ok: true, actor }
        : { ok: false, detail: `client ${clientId} lacks the publisher role` };
    }
    this.cache.set(clientId, { check, until: now + this.ttlMs });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return check;
  }
}

export interface BrokerAuthOptions {
  registry: RegistryService;
  /** Credentials of the node's own ingestion connection. */
  ingest: { username: string; password: string };
  /** A device publish the broker refused (recorded as a dead letter). */
  onRefused(topic: string, clientId: string | null, payload: Buffer, detail: string): void;
}

const authError = (message: string): AuthenticateError =>
  Object.assign(new Error(message), { returnCode: 4 }) as AuthenticateError;

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Embedded broker: connections with a user name authenticate as an API client (user name
 * = client id, password = client secret); connections without one stay anonymous as
 * before. Only a client may publish device data, and only under its own client id; device
 * data is forwarded to the node's ingestion connection and to no one else. Other topics
 * keep whatever rules were installed before (the hooks chain to them).
 */
export function installBrokerAuth(broker: Aedes, options: BrokerAuthOptions): void {
  const identity = new WeakMap<object, string>();
  const ingestConnections = new WeakSet<object>();
  const previous = {
    authenticate: broker.authenticate.bind(broker),
    authorizePublish: broker.authorizePublish.bind(broker),
    authorizeForward: broker.authorizeForward.bind(broker),
  };

  broker.authenticate = (client, username, password, done) => {
    if (username === undefined || username === '') {
      previous.authenticate(client, username, password, done);
      return;
    }
    const secret = password?.toString('utf8') ?? '';
    if (username === options.ingest.username) {
      if (!sameSecret(secret, options.ingest.password)) {
        done(authError('bad user name or password'), false);
        return;
      }
      ingestConnections.add(client);
      done(null, true);
      return;
    }
    options.registry.authenticateClient(username, secret).then(
      (found) => {
        if (!found) return done(authError('bad user name or password'), false);
        identity.set(client, found.id);
        done(null, true);
      },
      () =>
        done(
          Object.assign(authError('unavailable'), { returnCode: 3 }) as AuthenticateError,
          false,
        ),
    );
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!isDeviceTopic(packet.topic)) {
      previous.authorizePublish(client, packet, callback);
      return;
    }
    const clientId = client ? (identity.get(client) ?? null) : null;
    const named = clientLevel(packet.topic);
    if (clientId !== null && named === clientId) {
      callback(null);
      return;
    }
    const detail =
      clientId === null
        ? 'device data must be published by an authenticated client'
        : `client ${clientId} may not publish under client id ${named ?? '(none)'}`;
    options.onRefused(packet.topic, clientId, Buffer.from(packet.payload), detail);
    callback(new Error(detail));
  };

  broker.authorizeForward = (client, packet) => {
    if (isDeviceTopic(packet.topic)) return ingestConnections.has(client) ? packet : null;
    return previous.authorizeForward(client, packet);
  };
}

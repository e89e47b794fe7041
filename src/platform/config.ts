/**
 * The one place configuration is read. Every variable is declared once below with its
 * parser, default and a one-line doc; `loadConfig` validates all of them, reports every
 * problem at once and returns a frozen, typed object. Nothing else reads `process.env`.
 *
 * Sources, highest precedence first: environment variables, then an optional JSON file
 * named by `OCP_CONFIG_FILE` whose keys are the variable names (`{"OCP_PORT": 9000}`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Parser<T> = (raw: string) => T;

interface VariableSpec<T> {
  /** One line for docs/configuration.md and `ocp --help`. */
  doc: string;
  /** Default when unset; `undefined` means the variable is optional with no value. */
  default?: T;
  parse: Parser<T>;
  /** Never printed: logs and the startup summary show `(set)` instead. */
  secret?: boolean;
}

class InvalidValue extends Error {}

const integer =
  (min: number, max: number): Parser<number> =>
  (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new InvalidValue(`must be a whole number, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) throw new InvalidValue(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

const oneOf =
  <T extends string>(...values: T[]): Parser<T> =>
  (raw) => {
    if (!(values as string[]).includes(raw)) {
      throw new InvalidValue(`must be one of ${values.join(', ')}, got "${raw}"`);
    }
    return raw as T;
  };

const text: Parser<string> = (raw) => raw;

/** One line of display text: bounded, and no control characters. */
const plainLine =
  (max: number): Parser<string> =>
  (raw) => {
    if (raw.length > max || [...raw].some((ch) => ch.charCodeAt(0) < 0x20)) {
      throw new InvalidValue(`must be at most ${max} characters without control characters`);
    }
    return raw;
  };

const hostList: Parser<string[]> = (raw) =>
  raw
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');

/** Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is believed. */
const proxyList: Parser<string[]> = (raw) => {
  const entries = hostList(raw);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(address!);
    const v6 = /^[0-9a-f:]+$/.test(address!) && address!.includes(':');
    const maxBits = v4 ? 32 : 128;
    const bitsOk = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= maxBits);
    if ((!v4 && !v6) || !bitsOk || extra !== undefined) {
      throw new InvalidValue(`"${entry}" is not an IP address or CIDR range`);
    }
  }
  return entries;
};

const boolean: Parser<boolean> = (raw) => {
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new InvalidValue(`must be true or false, got "${raw}"`);
};

const httpUrl: Parser<string> = (raw) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidValue(`must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidValue(`must be an http or https URL, got "${raw}"`);
  }
  return url.toString().replace(/\/$/, '');
};

export type DatabaseTarget =
  { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string };

/** Parsed later against OCP_DATA_DIR, so keep the raw choice here. */
const databaseUrl: Parser<string> = (raw) => {
  if (raw === 'memory:') return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidValue(`must be "memory:" or a postgres:// URL, got "${redactUrl(raw)}"`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InvalidValue(
      `must be "memory:" or a postgres:// / postgresql:// URL, got "${redactUrl(raw)}"`,
    );
  }
  return raw;
};

const mqttUrl: Parser<string> = (raw) => {
  if (raw === 'none') return raw;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidValue(`must be "none" or an mqtt:// / mqtts:// URL, got "${redactUrl(raw)}"`);
  }
  if (!['mqtt:', 'mqtts:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new InvalidValue(`must be "none" or an mqtt://, mqtts://, ws:// or wss:// URL`);
  }
  return raw;
};

const secretText =
  (minLength: number): Parser<string> =>
  (raw) => {
    if (raw.length < minLength) throw new InvalidValue(`must be at least ${minLength} characters`);
    return raw;
  };

/** An external OpenID Connect issuer trusted for single sign-on. */
export interface OidcIssuerConfig {
  /** Short name used in URLs (`/auth/login?issuer=<name>`). */
  readonly name: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Claim whose value names the organisation (looked up in `organisations`). */
  readonly organisationClaim?: string;
  /** Claim value → organisation id (`org_…`). */
  readonly organisations?: Readonly<Record<string, string>>;
  /** Claim holding role names or groups (string or array). */
  readonly rolesClaim?: string;
  /** Claim value → role. Values without an entry give no role. */
  readonly roles?: Readonly<Record<string, string>>;
  /** Scopes to ask for; default "openid profile email". */
  readonly scope?: string;
}

/** Another application that signs people in through the node's built-in provider. */
export interface OidcProviderClientConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUris: readonly string[];
}

const oidcIssuers: Parser<OidcIssuerConfig[]> = (raw) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidValue('must be a JSON array of issuers');
  }
  if (!Array.isArray(parsed)) throw new InvalidValue('must be a JSON array of issuers');
  const names = new Set<string>();
  return parsed.map((entry: unknown, index) => {
    const e = entry as Record<string, unknown>;
    const where = `issuer #${index + 1}`;
    if (typeof e !== 'object' || e === null) throw new InvalidValue(`${where} must be an object`);
    for (const key of ['name', 'issuer', 'clientId', 'clientSecret']) {
      if (typeof e[key] !== 'string' || e[key] === '') {
        throw new InvalidValue(`${where} needs a non-empty string "${key}"`);
      }
    }
    if (!/^[a-z0-9-]{1,40}$/.test(e.name as string)) {
      throw new InvalidValue(`${where}: name must be lower-case letters, digits or -`);
    }
    if (names.has(e.name as string)) throw new InvalidValue(`${where}: duplicate name`);
    names.add(e.name as string);
    httpUrl(e.issuer as string);
    for (const key of ['organisations', 'roles']) {
      const map = e[key];
      if (map === undefined) continue;
      if (typeof map !== 'object' || map === null || Array.isArray(map)) {
        throw new InvalidValue(`${where}: "${key}" must be an object of strings`);
      }
      if (Object.values(map).some((v) => typeof v !== 'string')) {
        throw new InvalidValue(`${where}: "${key}" must be an object of strings`);
      }
    }
    const roleNames = ['admin', 'steward', 'publisher', 'consumer'];
    for (const role of Object.values((e.roles ?? {}) as Record<string, string>)) {
      if (!roleNames.includes(role)) throw new InvalidValue(`${where}: unknown role "${role}"`);
    }
    return Object.freeze({
      name: e.name as string,
      issuer: (e.issuer as string).replace(/\/$/, ''),
      clientId: e.clientId as string,
      clientSecret: e.clientSecret as string,
      ...(typeof e.organisationClaim === 'string'
        ? { organisationClaim: e.organisationClaim }
        : {}),
      ...(e.organisations ? { organisations: e.organisations as Record<string, string> } : {}),
      ...(typeof e.rolesClaim === 'string' ? { rolesClaim: e.rolesClaim } : {}),
      ...(e.roles ? { roles: e.roles as Record<string, string> } : {}),
      ...(typeof e.scope === 'string' ? { scope: e.scope } : {}),
    });
  });
};

const oidcProviderClients: Parser<OidcProviderClientConfig[]> = (raw) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidValue('must be a JSON array of clients');
  }
  if (!Array.isArray(parsed)) throw new InvalidValue('must be a JSON array of clients');
  return parsed.map((entry: unknown, index) => {
    const e = entry as Record<string, unknown>;
    const where = `client #${index + 1}`;
    if (typeof e !== 'object' || e === null) throw new InvalidValue(`${where} must be an object`);
    if (typeof e.clientId !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(e.clientId)) {
      throw new InvalidValue(`${where} needs a "clientId" of letters, digits, . _ -`);
    }
    if (e.clientId === 'ocp-portal') throw new InvalidValue(`${where}: "ocp-portal" is reserved`);
    if (typeof e.clientSecret !== 'string' || e.clientSecret.length < 32) {
      throw new InvalidValue(`${where} needs a "clientSecret" of at least 32 characters`);
    }
    if (!Array.isArray(e.redirectUris) || e.redirectUris.length === 0) {
      throw new InvalidValue(`${where} needs "redirectUris" (a non-empty array)`);
    }
    const redirectUris = e.redirectUris.map((uri) => {
      if (typeof uri !== 'string') throw new InvalidValue(`${where}: redirect URIs must be text`);
      httpUrl(uri);
      return uri;
    });
    return Object.freeze({ clientId: e.clientId, clientSecret: e.clientSecret, redirectUris });
  });
};

/** Every configuration variable of a node. Keep docs/configuration.md in step (a test checks). */
export const variables = {
  OCP_CONFIG_FILE: {
    doc: 'Optional JSON file with any of these variables as keys; environment variables win.',
    parse: text,
  },
  OCP_HOST: {
    doc: 'Interface the HTTP server (and the embedded MQTT broker) binds to. Use 0.0.0.0 in containers.',
    default: '127.0.0.1',
    parse: text,
  },
  OCP_TRUST_PROXY: {
    doc: 'Comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (client IPs for rate limits and logs). Empty: none.',
    default: [],
    parse: proxyList,
  },
  OCP_PORT: {
    doc: 'HTTP port. 0 picks a free port.',
    default: 8080,
    parse: integer(0, 65535),
  },
  OCP_PUBLIC_URL: {
    doc: 'Public base URL of this node (links, ledger origin, OAuth issuer). Default: http://localhost:<OCP_PORT>.',
    parse: httpUrl,
  },
  OCP_DATA_DIR: {
    doc: 'Directory for embedded PostgreSQL (PGlite) data and other local state.',
    default: './.ocp-data',
    parse: text,
  },
  OCP_DATABASE_URL: {
    doc: 'Unset: PGlite in OCP_DATA_DIR. "memory:": in-memory PGlite (lost at exit). postgres://…: an external PostgreSQL.',
    parse: databaseUrl,
    secret: true,
  },
  OCP_DATABASE_POOL_SIZE: {
    doc: 'Maximum connections in the PostgreSQL pool (ignored on PGlite).',
    default: 10,
    parse: integer(1, 1000),
  },
  OCP_MQTT_URL: {
    doc: 'Unset: start the embedded MQTT broker on OCP_MQTT_PORT. "none": MQTT off. mqtt://…: an external broker.',
    parse: mqttUrl,
    secret: true,
  },
  OCP_MQTT_PORT: {
    doc: 'Port of the embedded MQTT broker (only when OCP_MQTT_URL is unset). 0 picks a free port.',
    default: 1883,
    parse: integer(0, 65535),
  },
  OCP_LOG_LEVEL: {
    doc: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    default: 'info' as const,
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
  OCP_BODY_LIMIT: {
    doc: 'Largest accepted request body in bytes; larger bodies get 413.',
    default: 1_048_576,
    parse: integer(1024, 256 * 1_048_576),
  },
  OCP_SHUTDOWN_TIMEOUT_MS: {
    doc: 'On SIGTERM/SIGINT, how long in-flight work may take before the process exits anyway.',
    default: 10_000,
    parse: integer(100, 600_000),
  },
  OCP_ANONYMOUS_ROLE: {
    doc: 'DEVELOPMENT ONLY: give anonymous callers this role (e.g. admin for conformance suites). Unset by default.',
    parse: oneOf('admin', 'steward', 'publisher', 'consumer'),
  },
  OCP_BOOTSTRAP_ADMIN_SECRET: {
    doc: 'On start, creates or resets the client "admin" with role admin and this secret (min. 16 characters).',
    parse: secretText(16),
    secret: true,
  },
  OCP_FETCH_TIMEOUT_MS: {
    doc: 'Outbound HTTP fetches (remote @contexts): time allowed for the whole request, in milliseconds.',
    default: 3000,
    parse: integer(100, 120_000),
  },
  OCP_FETCH_MAX_BYTES: {
    doc: 'Outbound HTTP fetches: largest accepted response body in bytes.',
    default: 1_048_576,
    parse: integer(1024, 64 * 1_048_576),
  },
  OCP_FETCH_ALLOW_HOSTS: {
    doc: 'Outbound HTTP fetches: comma-separated host names allowed (a leading "*." matches subdomains). Empty: any public host.',
    default: [] as string[],
    parse: hostList,
  },
  OCP_FETCH_DENY_HOSTS: {
    doc: 'Outbound HTTP fetches: comma-separated host names always refused (a leading "*." matches subdomains).',
    default: [] as string[],
    parse: hostList,
  },
  OCP_FETCH_ALLOW_PRIVATE: {
    doc: 'Outbound HTTP fetches: "true" allows loopback, private and link-local addresses (refused by default).',
    default: false,
    parse: boolean,
  },
  OCP_DISTRIBUTED_TIMEOUT_MS: {
    doc: 'Distributed operations: time a registered context source has to answer when its registration sets no management.timeout, in milliseconds.',
    default: 5000,
    parse: integer(100, 120_000),
  },
  OCP_DISTRIBUTED_MAX_HOPS: {
    doc: 'Distributed operations: a request that already passed this many nodes (Via entries) is answered locally only.',
    default: 4,
    parse: integer(1, 32),
  },
  OCP_JSONLD_CONTEXT_TTL_SECONDS: {
    doc: 'How long a fetched remote JSON-LD @context is used before it is fetched again.',
    default: 3600,
    parse: integer(1, 30 * 86_400),
  },
  OCP_CATALOG_TITLE: {
    doc: "Title of this node's DCAT catalog (/catalog) and of its NGSI-LD data service.",
    default: 'Open City Platform data catalog',
    parse: text,
  },
  OCP_CATALOG_PUBLISHER: {
    doc: 'Publisher of the catalog (foaf:name), and of datasets whose organisation has no name.',
    default: 'City data office',
    parse: text,
  },
  OCP_CATALOG_HARVEST_INTERVAL_SECONDS: {
    doc: "Federated catalog: seconds between harvests of the active peers' catalogs; 0 turns harvesting off.",
    default: 3600,
    parse: integer(0, 7 * 86_400),
  },
  OCP_ACCESS_TOKEN_TTL_SECONDS: {
    doc: 'Lifetime of access tokens issued at POST /auth/token, in seconds.',
    default: 300,
    parse: integer(30, 86_400),
  },
  OCP_SESSION_TTL_SECONDS: {
    doc: 'Lifetime of a portal session after single sign-on, in seconds.',
    default: 28_800,
    parse: integer(60, 30 * 86_400),
  },
  OCP_OIDC_ISSUERS: {
    doc: 'External OpenID Connect issuers for single sign-on (JSON array, see docs/identity.md). Unset: the built-in OpenID Provider with local accounts.',
    parse: oidcIssuers,
    secret: true,
  },
  OCP_OIDC_PROVIDER_CLIENTS: {
    doc: 'Other applications that may sign people in through the built-in OpenID Provider (JSON array, see docs/identity.md).',
    parse: oidcProviderClients,
    secret: true,
  },
  OCP_RATE_LIMIT: {
    doc: 'Rate limiting of HTTP requests per client and per IP address: on or off (e.g. for benchmarks).',
    default: 'on' as const,
    parse: oneOf('on', 'off'),
  },
  OCP_RATE_LIMIT_CLIENT_PER_MINUTE: {
    doc: 'Requests per minute an authenticated client or person may make (per process).',
    default: 1200,
    parse: integer(1, 10_000_000),
  },
  OCP_RATE_LIMIT_IP_PER_MINUTE: {
    doc: 'Requests per minute anonymous callers from one IP address may make (per process).',
    default: 300,
    parse: integer(1, 10_000_000),
  },
  OCP_NOTIFY_WORKER: {
    doc: 'Whether this node delivers subscription notifications (entity and context source subscriptions) from their outboxes: on or off (another node delivers).',
    default: 'on',
    parse: oneOf('on', 'off'),
  },
  OCP_NOTIFY_CONCURRENCY: {
    doc: 'Notifications one node sends at the same time at most (each to a different subscription).',
    default: 16,
    parse: integer(1, 256),
  },
  OCP_NOTIFY_POLL_MS: {
    doc: 'How often the notification worker looks for due retries and periodic notifications, in milliseconds.',
    default: 1000,
    parse: integer(50, 60_000),
  },
  OCP_GOV_METER_FLUSH_MS: {
    doc: 'How often metering counters (per grant and day) are written, in milliseconds; a crash loses at most this much counting.',
    default: 5000,
    parse: integer(50, 3_600_000),
  },
  OCP_GOV_RETENTION_INTERVAL_MS: {
    doc: 'How often each process tries the history retention job (one process runs it at a time), in milliseconds.',
    default: 3_600_000,
    parse: integer(100, 604_800_000),
  },
  OCP_NOTIFY_RETRY_BASE_MS: {
    doc: 'First retry delay of a failed notification in milliseconds; it doubles with every attempt.',
    default: 1000,
    parse: integer(10, 600_000),
  },
  OCP_NOTIFY_RETRY_MAX_MS: {
    doc: 'Longest delay between two attempts of a failed notification, in milliseconds.',
    default: 300_000,
    parse: integer(10, 86_400_000),
  },
  OCP_NOTIFY_MAX_AGE_SECONDS: {
    doc: 'A notification still failing this long after its change committed is dropped (and logged).',
    default: 86_400,
    parse: integer(1, 30 * 86_400),
  },
  OCP_DEVICES_INGEST: {
    doc: 'Whether this node writes device data published over MQTT (docs/mqtt.md): on or off.',
    default: 'on' as const,
    parse: oneOf('on', 'off'),
  },
  OCP_DEVICES_BATCH_SIZE: {
    doc: 'Device messages written per batch at most (one transaction per tenant and client).',
    default: 500,
    parse: integer(1, 10_000),
  },
  OCP_DEVICES_BATCH_WAIT_MS: {
    doc: 'How long a device message may wait for its batch to fill before it is written.',
    default: 20,
    parse: integer(1, 10_000),
  },
  OCP_DEVICES_MAX_PAYLOAD_BYTES: {
    doc: 'Largest device message payload in bytes; larger ones go to the dead-letter table.',
    default: 262_144,
    parse: integer(256, 16 * 1_048_576),
  },
  OCP_DEVICES_SHARE_GROUP: {
    doc: 'MQTT 5 shared-subscription group the nodes split device data in; "none" subscribes plainly.',
    default: 'ocp-ingest',
    parse: (raw: string) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) {
        throw new InvalidValue('must be 1-64 letters, digits, _ or -, or "none"');
      }
      return raw;
    },
  },
  OCP_DEVICES_MQTT_SESSION: {
    doc: 'Unset: a clean MQTT session for device data. A name unique per node: a persistent session the broker keeps across restarts.',
    parse: (raw: string) => {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) {
        throw new InvalidValue('must be 1-64 letters, digits, _ or -');
      }
      return raw;
    },
  },
  OCP_NODE_NAME: {
    doc: 'Federation: the name other nodes show for this node (e.g. "City of Utrecht"). Default: the host of OCP_PUBLIC_URL.',
    parse: plainLine(200),
  },
  OCP_NODE_JURISDICTION: {
    doc: 'Federation: the jurisdiction the node acts for, published in its node descriptor (e.g. "NL-UT Utrecht").',
    default: 'unspecified',
    parse: plainLine(200),
  },
  OCP_FEDERATION_SIGNATURE_WINDOW_SECONDS: {
    doc: 'Federation: how far the "created" time of a signed request from a peer may be from now, in seconds.',
    default: 300,
    parse: integer(5, 3600),
  },
  OCP_FEDERATION_PEER_TOKEN_TTL_SECONDS: {
    doc: 'Federation: lifetime of the peer tokens this node mints for its organisations to use at a peer, in seconds.',
    default: 300,
    parse: integer(30, 3600),
  },
  OCP_WITNESS_INTERVAL_SECONDS: {
    doc: 'Federation: how often the witness checks and cosigns the checkpoints of the active peers, in seconds; 0 turns the job off.',
    default: 60,
    parse: integer(0, 86_400),
  },
} satisfies Record<string, VariableSpec<unknown>>;

type Variables = typeof variables;
export type VariableName = keyof Variables;
type ValueOf<K extends VariableName> = ReturnType<Variables[K]['parse']>;

export interface Config {
  readonly host: string;
  readonly port: number;
  /** Reverse proxies trusted for X-Forwarded-*; empty trusts none. */
  readonly trustProxy: readonly string[];
  readonly publicUrl: string;
  readonly dataDir: string;
  readonly database: DatabaseTarget;
  readonly databasePoolSize: number;
  readonly mqtt:
    | { readonly kind: 'embedded'; readonly host: string; readonly port: number }
    | { readonly kind: 'external'; readonly url: string }
    | { readonly kind: 'off' };
  readonly logLevel: ValueOf<'OCP_LOG_LEVEL'>;
  readonly bodyLimit: number;
  readonly shutdownTimeoutMs: number;
  readonly bootstrapAdminSecret: string | undefined;
  readonly anonymousRole: ValueOf<'OCP_ANONYMOUS_ROLE'> | undefined;
  readonly accessTokenTtlSeconds: number;
  readonly sessionTtlSeconds: number;
  /** External single sign-on issuers; empty means the built-in OpenID Provider. */
  readonly oidcIssuers: readonly OidcIssuerConfig[];
  /** Further relying parties of the built-in provider (besides the node's portal). */
  readonly oidcProviderClients: readonly OidcProviderClientConfig[];
  readonly rateLimit: {
    readonly enabled: boolean;
    readonly clientPerMinute: number;
    readonly ipPerMinute: number;
  };
  readonly fetch: {
    readonly timeoutMs: number;
    readonly maxBytes: number;
    readonly allowHosts: readonly string[];
    readonly denyHosts: readonly string[];
    readonly allowPrivate: boolean;
  };
  readonly jsonldContextTtlSeconds: number;
  readonly distributed: { readonly timeoutMs: number; readonly maxHops: number };
  readonly federation: {
    readonly nodeName: string;
    readonly jurisdiction: string;
    readonly signatureWindowSeconds: number;
    readonly peerTokenTtlSeconds: number;
  };
  readonly witness: {
    /** 0: the witness job does not run. */
    readonly intervalSeconds: number;
  };
  readonly catalog: {
    readonly title: string;
    readonly publisher: string;
    readonly harvestIntervalSeconds: number;
  };
  readonly governance: {
    readonly meterFlushMs: number;
    readonly retentionIntervalMs: number;
  };
  readonly notify: {
    readonly worker: boolean;
    readonly concurrency: number;
    readonly pollMs: number;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    readonly maxAgeSeconds: number;
  };
  readonly devices: {
    readonly ingest: boolean;
    readonly batchSize: number;
    readonly batchWaitMs: number;
    readonly maxPayloadBytes: number;
    /** Null: plain subscription. */
    readonly shareGroup: string | null;
    /** Null: clean session. */
    readonly mqttSession: string | null;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

function readConfigFile(file: string, problems: string[]): Source {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push(`OCP_CONFIG_FILE: ${file} must hold a JSON object`);
      return {};
    }
    const out: Source = {};
    for (const [key, value] of Object.entries(parsed)) {
      if (!(key in variables)) {
        problems.push(`OCP_CONFIG_FILE: unknown variable "${key}" in ${file}`);
      } else if (['string', 'number', 'boolean'].includes(typeof value)) {
        out[key] = String(value);
      } else {
        problems.push(`${key}: in ${file} must be a string or a number`);
      }
    }
    return out;
  } catch (error) {
    problems.push(`OCP_CONFIG_FILE: cannot read ${file}: ${(error as Error).message}`);
    return {};
  }
}

/**
 * Validates the environment (and optional config file) and returns the node's config.
 * Throws ConfigError listing every bad variable.
 */
export function loadConfig(env: Source = process.env): Config {
  const problems: string[] = [];
  const fileName = env.OCP_CONFIG_FILE;
  const source: Source = { ...(fileName ? readConfigFile(fileName, problems) : {}) };
  for (const name of Object.keys(variables)) {
    if (env[name] !== undefined && env[name] !== '') source[name] = env[name];
  }

  const values: Partial<Record<VariableName, unknown>> = {};
  for (const [name, spec] of Object.entries(variables) as [VariableName, VariableSpec<unknown>][]) {
    const raw = source[name];
    if (raw === undefined) {
      values[name] = spec.default;
      continue;
    }
    try {
      values[name] = spec.parse(raw);
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      problems.push(`${name}: ${error.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const get = <K extends VariableName>(name: K) => values[name] as ValueOf<K>;
  const port = get('OCP_PORT');
  const dataDir = path.resolve(get('OCP_DATA_DIR'));
  const rawDb = get('OCP_DATABASE_URL') as string | undefined;
  const rawMqtt = get('OCP_MQTT_URL') as string | undefined;
  const host = get('OCP_HOST');

  return Object.freeze({
    host,
    port,
    trustProxy: Object.freeze(get('OCP_TRUST_PROXY') as string[]),
    publicUrl: (get('OCP_PUBLIC_URL') as string | undefined) ?? `http://localhost:${port}`,
    dataDir,
    database:
      rawDb === undefined
        ? { kind: 'pglite', dataDir: path.join(dataDir, 'pg') }
        : rawDb === 'memory:'
          ? { kind: 'pglite', dataDir: null }
          : { kind: 'postgres', url: rawDb },
    databasePoolSize: get('OCP_DATABASE_POOL_SIZE'),
    mqtt:
      rawMqtt === undefined
        ? { kind: 'embedded', host, port: get('OCP_MQTT_PORT') }
        : rawMqtt === 'none'
          ? { kind: 'off' }
          : { kind: 'external', url: rawMqtt },
    logLevel: get('OCP_LOG_LEVEL'),
    bodyLimit: get('OCP_BODY_LIMIT'),
    shutdownTimeoutMs: get('OCP_SHUTDOWN_TIMEOUT_MS'),
    bootstrapAdminSecret: get('OCP_BOOTSTRAP_ADMIN_SECRET') as string | undefined,
    anonymousRole: get('OCP_ANONYMOUS_ROLE') as ValueOf<'OCP_ANONYMOUS_ROLE'> | undefined,
    accessTokenTtlSeconds: get('OCP_ACCESS_TOKEN_TTL_SECONDS'),
    sessionTtlSeconds: get('OCP_SESSION_TTL_SECONDS'),
    oidcIssuers: Object.freeze((get('OCP_OIDC_ISSUERS') as OidcIssuerConfig[] | undefined) ?? []),
    oidcProviderClients: Object.freeze(
      (get('OCP_OIDC_PROVIDER_CLIENTS') as OidcProviderClientConfig[] | undefined) ?? [],
    ),
    rateLimit: Object.freeze({
      enabled: get('OCP_RATE_LIMIT') === 'on',
      clientPerMinute: get('OCP_RATE_LIMIT_CLIENT_PER_MINUTE'),
      ipPerMinute: get('OCP_RATE_LIMIT_IP_PER_MINUTE'),
    }),
    fetch: {
      timeoutMs: get('OCP_FETCH_TIMEOUT_MS'),
      maxBytes: get('OCP_FETCH_MAX_BYTES'),
      allowHosts: get('OCP_FETCH_ALLOW_HOSTS'),
      denyHosts: get('OCP_FETCH_DENY_HOSTS'),
      allowPrivate: get('OCP_FETCH_ALLOW_PRIVATE'),
    },
    jsonldContextTtlSeconds: get('OCP_JSONLD_CONTEXT_TTL_SECONDS'),
    distributed: Object.freeze({
      timeoutMs: get('OCP_DISTRIBUTED_TIMEOUT_MS'),
      maxHops: get('OCP_DISTRIBUTED_MAX_HOPS'),
    }),
    federation: Object.freeze({
      nodeName:
        (get('OCP_NODE_NAME') as string | undefined) ??
        new URL((get('OCP_PUBLIC_URL') as string | undefined) ?? `http://localhost:${port}`).host,
      jurisdiction: get('OCP_NODE_JURISDICTION'),
      signatureWindowSeconds: get('OCP_FEDERATION_SIGNATURE_WINDOW_SECONDS'),
      peerTokenTtlSeconds: get('OCP_FEDERATION_PEER_TOKEN_TTL_SECONDS'),
    }),
    witness: Object.freeze({ intervalSeconds: get('OCP_WITNESS_INTERVAL_SECONDS') }),
    catalog: Object.freeze({
      title: get('OCP_CATALOG_TITLE'),
      publisher: get('OCP_CATALOG_PUBLISHER'),
      harvestIntervalSeconds: get('OCP_CATALOG_HARVEST_INTERVAL_SECONDS'),
    }),
    governance: Object.freeze({
      meterFlushMs: get('OCP_GOV_METER_FLUSH_MS'),
      retentionIntervalMs: get('OCP_GOV_RETENTION_INTERVAL_MS'),
    }),
    notify: Object.freeze({
      worker: get('OCP_NOTIFY_WORKER') === 'on',
      concurrency: get('OCP_NOTIFY_CONCURRENCY'),
      pollMs: get('OCP_NOTIFY_POLL_MS'),
      retryBaseMs: get('OCP_NOTIFY_RETRY_BASE_MS'),
      retryMaxMs: get('OCP_NOTIFY_RETRY_MAX_MS'),
      maxAgeSeconds: get('OCP_NOTIFY_MAX_AGE_SECONDS'),
    }),
    devices: Object.freeze({
      ingest: get('OCP_DEVICES_INGEST') === 'on',
      batchSize: get('OCP_DEVICES_BATCH_SIZE'),
      batchWaitMs: get('OCP_DEVICES_BATCH_WAIT_MS'),
      maxPayloadBytes: get('OCP_DEVICES_MAX_PAYLOAD_BYTES'),
      shareGroup: get('OCP_DEVICES_SHARE_GROUP') === 'none' ? null : get('OCP_DEVICES_SHARE_GROUP'),
      mqttSession: (get('OCP_DEVICES_MQTT_SESSION') as string | undefined) ?? null,
    }),
  } satisfies Config) as Config;
}

/** Replaces the password of a URL so it can be shown in logs and errors. */
export function redactUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return raw.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@');
  }
}

/** What the node says at startup about where it stores data and which broker it uses. */
export function describeConfig(config: Config): { storage: string; mqtt: string } {
  const storage =
    config.database.kind === 'postgres'
      ? `PostgreSQL at ${redactUrl(config.database.url)}`
      : config.database.dataDir
        ? `embedded PGlite in ${config.database.dataDir}`
        : 'embedded PGlite in memory (data is lost at exit)';
  const mqtt =
    config.mqtt.kind === 'embedded'
      ? `embedded broker on mqtt://${config.mqtt.host}:${config.mqtt.port}`
      : config.mqtt.kind === 'external'
        ? `external broker at ${redactUrl(config.mqtt.url)}`
        : 'off';
  return { storage, mqtt };
}

/** `ocp --help` text for the variables. */
export function variablesHelp(): string {
  return Object.entries(variables as Record<string, VariableSpec<unknown>>)
    .map(([name, spec]) => {
      const def = spec.default === undefined ? '' : ` (default ${String(spec.default)})`;
      return `  ${name}${def}\n      ${spec.doc}`;
    })
    .join('\n');
}

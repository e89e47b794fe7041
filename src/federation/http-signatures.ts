/**
 * HTTP Message Signatures (RFC 9421) between nodes, with Ed25519 node keys, and
 * Content-Digest (RFC 9530) for bodies.
 *
 * A node signs: "@method", "@target-uri", and every one of `authorization`,
 * `content-digest`, `ngsild-tenant`, `ocp-purpose` the request carries;
 * parameters `created`, `nonce`, `keyid` (the node key fingerprint), `alg="ed25519"` and
 * `tag="ocp-federation"`. The receiver rebuilds "@target-uri" from its own public URL,
 * so a request signed for another node (or another path) does not verify here; it
 * requires every header of that list that is present to be covered, refuses a `created`
 * outside its window and a nonce it has already seen from that key (nonce table in the
 * database, so a replay to another process of the node is caught too).
 */
import { createHash, randomBytes, verify } from 'node:crypto';
import type { Queryable } from '../platform/db/database.js';
import { rawPublicKey, signEd25519, type NodeKey } from './node-keys.js';

export const SIGNATURE_TAG = 'ocp-federation';
export const SIGNATURE_LABEL = 'ocp';
/** Headers covered whenever the request carries them. */
export const COVERED_HEADERS = [
  'authorization',
  'content-digest',
  'ngsild-tenant',
  'ocp-purpose',
] as const;

export function contentDigest(body: string | Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

interface SignatureParams {
  components: string[];
  created: number;
  nonce: string;
  keyid: string;
  alg: string | null;
  tag: string | null;
  expires: number | null;
  /** The serialised parameters exactly as received (part of the signature base). */
  raw: string;
}

function serialiseParams(
  components: string[],
  p: Omit<SignatureParams, 'components' | 'raw'>,
): string {
  let out = `(${components.map((c) => `"${c}"`).join(' ')});created=${p.created}`;
  if (p.expires !== null) out += `;expires=${p.expires}`;
  out += `;keyid="${p.keyid}";nonce="${p.nonce}"`;
  if (p.alg !== null) out += `;alg="${p.alg}"`;
  if (p.tag !== null) out += `;tag="${p.tag}"`;
  return out;
}

function signatureBase(
  components: string[],
  values: { method: string; targetUri: string; headers: Record<string, string | undefined> },
  params: string,
): string | null {
  const lines: string[] = [];
  for (const component of components) {
    let value: string | undefined;
    if (component === '@method') value = values.method.toUpperCase();
    else if (component === '@target-uri') value = values.targetUri;
    else if (component.startsWith('@')) return null;
    else value = values.headers[component];
    if (value === undefined) return null;
    // Header values are trimmed; obs-fold and line breaks never make it into a base.
    if (/[\r\n]/.test(value)) return null;
    lines.push(`"${component}": ${value.trim()}`);
  }
  lines.push(`"@signature-params": ${params}`);
  return lines.join('\n');
}

export interface OutgoingRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * The headers to add to `request` to sign it: Content-Digest (when there is a body),
 * Signature-Input and Signature. Header names in `request.headers` may be in any case.
 */
export function signRequest(
  request: OutgoingRequest,
  key: NodeKey,
  now: Date,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const added: Record<string, string> = {};
  if (request.body !== undefined && request.body !== '') {
    added['content-digest'] = contentDigest(request.body);
    headers['content-digest'] = added['content-digest'];
  }
  const components = ['@method', '@target-uri', ...COVERED_HEADERS.filter((h) => h in headers)];
  const params = serialiseParams(components, {
    created: Math.floor(now.getTime() / 1000),
    expires: null,
    keyid: key.fingerprint,
    nonce: randomBytes(16).toString('base64url'),
    alg: 'ed25519',
    tag: SIGNATURE_TAG,
  });
  // The URI as it goes on the wire (what fetch sends), which is what the receiver rebuilds.
  const targetUri = new URL(request.url).href;
  const base = signatureBase(components, { method: request.method, targetUri, headers }, params)!;
  const signature = signEd25519(key.privateKey, Buffer.from(base, 'utf8')).toString('base64');
  added['signature-input'] = `${SIGNATURE_LABEL}=${params}`;
  added.signature = `${SIGNATURE_LABEL}=:${signature}:`;
  return added;
}

const INNER_LIST = /^\(((?:"[a-z0-9@_.-]+"(?: "[a-z0-9@_.-]+")*)?)\)/;
const PARAM = /^;([a-z][a-z0-9_.*-]*)=(?:(\d{1,15})|"([\x20-\x21\x23-\x5b\x5d-\x7e]*)")/;

/** Parses one `label=(...)` member of Signature-Input (RFC 8941 dictionary). */
function parseSignatureInput(header: string, label: string): SignatureParams | null {
  if (header.length > 4096) return null;
  const members = splitDictionary(header);
  const member = members.get(label);
  if (member === undefined) return null;
  const list = INNER_LIST.exec(member);
  if (!list) return null;
  const components = list[1] ? list[1].split(' ').map((c) => c.slice(1, -1)) : [];
  let rest = member.slice(list[0].length);
  const values: Record<string, string | number> = {};
  while (rest.length > 0) {
    const param = PARAM.exec(rest);
    if (!param) return null;
    if (param[1]! in values) return null;
    values[param[1]!] = param[2] !== undefined ? Number(param[2]) : param[3]!;
    rest = rest.slice(param[0].length);
  }
  const { created, nonce, keyid, alg, tag, expires } = values;
  if (typeof created !== 'number' || typeof nonce !== 'string' || typeof keyid !== 'string') {
    return null;
  }
  if (new Set(components).size !== components.length) return null;
  return {
    components,
    created,
    nonce,
    keyid,
    alg: typeof alg === 'string' ? alg : null,
    tag: typeof tag === 'string' ? tag : null,
    expires: typeof expires === 'number' ? expires : null,
    raw: member,
  };
}

/** Splits a dictionary header into label → member text, respecting quoted strings. */
function splitDictionary(header: string): Map<string, string> {
  const out = new Map<string, string>();
  let current = '';
  let quoted = false;
  const flush = () => {
    const text = current.trim();
    const eq = text.indexOf('=');
    if (eq > 0) out.set(text.slice(0, eq), text.slice(eq + 1));
    current = '';
  };
  for (let i = 0; i < header.length; i++) {
    const ch = header[i]!;
    if (ch === '"' && header[i - 1] !== '\\') quoted = !quoted;
    if (ch === ',' && !quoted) flush();
    else current += ch;
  }
  flush();
  return out;
}

export interface IncomingRequest {
  method: string;
  /** The URI as the receiving node publishes it: its public URL + path and query. */
  targetUri: string;
  headers: Record<string, string | string[] | undefined>;
}

export type SignatureCheck =
  | { ok: true; keyid: string; nonce: string; created: number; coversBody: boolean }
  | { ok: false; reason: string };

/** Reads the signature parameters without verifying (to find the signer's key). */
export function signatureKeyId(headers: IncomingRequest['headers']): string | null {
  const input = headers['signature-input'];
  if (typeof input !== 'string') return null;
  return parseSignatureInput(input, SIGNATURE_LABEL)?.keyid ?? null;
}

/**
 * Checks a request's signature with the signer's public key: structure, coverage,
 * time window and the signature itself. Nonce reuse is checked separately
 * (`rememberNonce`), after this succeeds, so unsigned noise cannot fill the table.
 */
export function verifyRequestSignature(
  request: IncomingRequest,
  publicKey: Buffer,
  options: { now: Date; windowSeconds: number },
): SignatureCheck {
  const input = request.headers['signature-input'];
  const signature = request.headers.signature;
  if (typeof input !== 'string' || typeof signature !== 'string') {
    return { ok: false, reason: 'the request is not signed' };
  }
  const params = parseSignatureInput(input, SIGNATURE_LABEL);
  if (!params) return { ok: false, reason: 'malformed Signature-Input' };
  if (params.alg !== null && params.alg !== 'ed25519') {
    return { ok: false, reason: 'unsupported signature algorithm' };
  }
  if (params.tag !== SIGNATURE_TAG) return { ok: false, reason: 'wrong signature tag' };
  if (!/^[A-Za-z0-9_-]{16,128}$/.test(params.nonce)) return { ok: false, reason: 'bad nonce' };
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  for (const required of ['@method', '@target-uri']) {
    if (!params.components.includes(required)) {
      return { ok: false, reason: `the signature does not cover ${required}` };
    }
  }
  for (const header of COVERED_HEADERS) {
    if (headers[header] !== undefined && !params.components.includes(header)) {
      return { ok: false, reason: `the signature does not cover ${header}` };
    }
  }
  const now = Math.floor(options.now.getTime() / 1000);
  if (Math.abs(now - params.created) > options.windowSeconds) {
    return { ok: false, reason: 'the signature is too old or from the future' };
  }
  if (params.expires !== null && params.expires < now) {
    return { ok: false, reason: 'the signature has expired' };
  }
  const sig = /^:([A-Za-z0-9+/]+={0,2}):$/.exec(
    splitDictionary(signature).get(SIGNATURE_LABEL) ?? '',
  );
  if (!sig) return { ok: false, reason: 'malformed Signature' };
  const base = signatureBase(
    params.components,
    { method: request.method, targetUri: request.targetUri, headers },
    params.raw,
  );
  if (base === null) return { ok: false, reason: 'a covered component is missing' };
  const good = verify(
    null,
    Buffer.from(base, 'utf8'),
    rawPublicKey(publicKey),
    Buffer.from(sig[1]!, 'base64'),
  );
  if (!good) return { ok: false, reason: 'the signature does not verify' };
  return {
    ok: true,
    keyid: params.keyid,
    nonce: params.nonce,
    created: params.created,
    coversBody: params.components.includes('content-digest'),
  };
}

/**
 * Records a nonce as used; false when this key already used it. Rows live until the
 * signature could no longer be accepted anyway (created + window).
 */
export async function rememberNonce(
  db: Queryable,
  keyid: string,
  nonce: string,
  expiresAt: Date,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO federation_nonces (key_id, nonce, expires_at) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING`,
    [keyid, nonce, expiresAt],
  );
  return rowCount === 1;
}

export async function purgeNonces(db: Queryable, now: Date): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM federation_nonces WHERE expires_at < $1', [now]);
  return rowCount;
}

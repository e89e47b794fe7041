/**
 * The node descriptor served at /.well-known/ocp-node: who the node is (name,
 * jurisdiction, public URL), its identity key and fingerprint, its ledger origin and
 * keys, its API endpoints, supported versions and how it issues peer tokens.
 *
 * Envelope: `{ "descriptor": {…}, "signature": "<JWS>" }`, where the signature is a JWS
 * (RFC 7515) in compact serialisation with a detached payload (RFC 7515 appendix F):
 * `BASE64URL(header)..BASE64URL(sig)`, header `{"alg":"EdDSA","kid":"<fingerprint>",
 * "typ":"ocp-node+jws"}`, and the payload is the RFC 8785 canonical JSON of `descriptor`.
 * A verifier re-canonicalises the descriptor it received, so the JSON stays readable and
 * no second copy of it travels base64-encoded.
 */
import { verify } from 'node:crypto';
import { canonicalBytes } from '../ledger/canonical-json.js';
import { fingerprintOf, rawPublicKey, signEd25519, type NodeKey } from './node-keys.js';

export const DESCRIPTOR_PATH = '/.well-known/ocp-node';
export const DESCRIPTOR_TYPE = 'ocp-node+jws';
export const DESCRIPTOR_VERSION = 1;

export interface NodeDescriptor {
  version: number;
  nodeId: string;
  name: string;
  jurisdiction: string;
  url: string;
  keys: { fingerprint: string; alg: 'EdDSA'; crv: 'Ed25519'; x: string; status: 'active' }[];
  ledger: {
    origin: string;
    checkpointUrl: string;
    keys: { id: string; vkey: string; status: string }[];
  };
  token: { issuer: string; alg: 'EdDSA'; typ: string; keys: string[] };
  endpoints: {
    ngsiLd: string;
    catalog: string | null;
    handshake: string;
    peerTokens: string;
    ledger: string;
  };
  versions: { ocp: string; descriptor: number; ngsiLd: string[] };
  issuedAt: string;
}

export interface SignedDescriptor {
  descriptor: NodeDescriptor;
  signature: string;
}

const b64u = (value: Buffer | string) => Buffer.from(value).toString('base64url');

export function signDescriptor(descriptor: NodeDescriptor, key: NodeKey): SignedDescriptor {
  const header = b64u(JSON.stringify({ alg: 'EdDSA', kid: key.fingerprint, typ: DESCRIPTOR_TYPE }));
  const input = Buffer.from(`${header}.${b64u(canonicalBytes(descriptor))}`, 'ascii');
  return { descriptor, signature: `${header}..${b64u(signEd25519(key.privateKey, input))}` };
}

export type DescriptorCheck =
  { ok: true; descriptor: NodeDescriptor; publicKey: Buffer } | { ok: false; reason: string };

const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/** Accepts `sha256:<hex>` in any case, with or without colons between hex pairs. */
export function normaliseFingerprint(raw: string): string | null {
  const lower = raw.trim().toLowerCase();
  const hex = lower.startsWith('sha256:') ? lower.slice(7).replace(/:/g, '') : null;
  const candidate = `sha256:${hex ?? ''}`;
  return FINGERPRINT.test(candidate) ? candidate : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The minimum shape a peer's descriptor must have for this node to use it. */
function wellFormed(d: unknown): d is NodeDescriptor {
  if (!isObject(d)) return false;
  const str = (v: unknown, max = 2048) => typeof v === 'string' && v.length > 0 && v.length <= max;
  return (
    d.version === DESCRIPTOR_VERSION &&
    str(d.nodeId, 64) &&
    /^node_[0-9a-f]{24}$/.test(d.nodeId as string) &&
    str(d.name, 200) &&
    str(d.jurisdiction, 200) &&
    str(d.url) &&
    Array.isArray(d.keys) &&
    d.keys.length > 0 &&
    d.keys.length <= 4 &&
    d.keys.every((k) => isObject(k) && str(k.fingerprint, 80) && str(k.x, 64)) &&
    isObject(d.ledger) &&
    str(d.ledger.origin, 512) &&
    str(d.ledger.checkpointUrl) &&
    Array.isArray(d.ledger.keys) &&
    d.ledger.keys.length <= 8 &&
    d.ledger.keys.every((k) => isObject(k) && str(k.vkey, 512)) &&
    isObject(d.token) &&
    str(d.token.issuer) &&
    isObject(d.endpoints) &&
    str(d.endpoints.ngsiLd) &&
    str(d.endpoints.handshake) &&
    (d.endpoints.catalog === null || str(d.endpoints.catalog))
  );
}

/**
 * Verifies a descriptor document against a pinned fingerprint: the signing key must be
 * the descriptor's own key whose fingerprint is the pin, and the signature must hold.
 */
export function verifyDescriptor(document: unknown, pin: string): DescriptorCheck {
  if (!isObject(document) || typeof document.signature !== 'string') {
    return { ok: false, reason: 'not a signed node descriptor' };
  }
  const descriptor = document.descriptor;
  if (!wellFormed(descriptor)) return { ok: false, reason: 'the descriptor is malformed' };
  const parts = document.signature.split('.');
  if (parts.length !== 3 || parts[1] !== '') return { ok: false, reason: 'malformed signature' };
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return { ok: false, reason: 'malformed signature header' };
  }
  if (header.alg !== 'EdDSA' || header.typ !== DESCRIPTOR_TYPE || header.kid !== pin) {
    return { ok: false, reason: 'the descriptor is not signed with the pinned key' };
  }
  const key = descriptor.keys.find((k) => k.fingerprint === pin);
  if (!key) return { ok: false, reason: 'the descriptor does not list the pinned key' };
  const raw = Buffer.from(key.x, 'base64url');
  if (raw.length !== 32 || fingerprintOf(raw) !== pin) {
    return { ok: false, reason: 'the key does not match the pinned fingerprint' };
  }
  const input = Buffer.from(`${parts[0]}.${b64u(canonicalBytes(descriptor))}`, 'ascii');
  const good = verify(null, input, rawPublicKey(raw), Buffer.from(parts[2]!, 'base64url'));
  if (!good) return { ok: false, reason: 'the descriptor signature does not verify' };
  return { ok: true, descriptor, publicKey: raw };
}

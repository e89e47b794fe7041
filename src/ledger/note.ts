/**
 * C2SP signed notes (signed-note v1.0.0) with Ed25519 keys, and the tlog-checkpoint
 * body they carry. Both the node (signing) and `ocp verify` (checking) use this file,
 * so it depends on nothing but node:crypto.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { HASH_SIZE, sha256 } from './merkle.js';

const ED25519 = 0x01;
const MAX_NOTE_BYTES = 1_000_000;
const MAX_SIGNATURES = 100;

export class NoteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoteError';
  }
}

/** key ID = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4]. */
export function ed25519KeyId(name: string, publicKey: Uint8Array): Buffer {
  return sha256(Buffer.from(`${name}\n`, 'utf8'), Buffer.from([ED25519]), publicKey).subarray(0, 4);
}

function assertKeyName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new NoteError(`key name "${name}" must be non-empty without spaces or "+"`);
  }
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new NoteError('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url');
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new NoteError('an Ed25519 public key is 32 bytes');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`. */
export function formatVkey(name: string, publicKey: Uint8Array): string {
  assertKeyName(name);
  const id = ed25519KeyId(name, publicKey).toString('hex');
  return `${name}+${id}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`;
}

export interface Verifier {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  verify(text: Buffer, signature: Buffer): boolean;
}

export function parseVkey(vkey: string): Verifier {
  const parts = vkey.trim().split('+');
  // base64 may itself contain "+", so the key material is everything after the second.
  if (parts.length < 3) throw new NoteError('a verifier key looks like name+keyid+base64key');
  const [name, hexId, ...rest] = parts as [string, string, ...string[]];
  assertKeyName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new NoteError('verifier key ID must be 8 hex digits');
  const material = Buffer.from(rest.join('+'), 'base64');
  if (material.length !== 33 || material[0] !== ED25519) {
    throw new NoteError('only Ed25519 verifier keys (type 0x01) are supported');
  }
  const publicKey = material.subarray(1);
  const keyId = Buffer.from(hexId, 'hex');
  if (!ed25519KeyId(name, publicKey).equals(keyId)) {
    throw new NoteError('verifier key ID does not match its name and public key');
  }
  const key = publicKeyFromRaw(publicKey);
  return {
    name,
    keyId,
    publicKey,
    verify: (text, signature) => verify(null, text, key, signature),
  };
}

export interface Signer {
  name: string;
  keyId: Buffer;
  sign(text: Buffer): Buffer;
}

export function ed25519Signer(name: string, privateKeyPkcs8: Uint8Array): Signer {
  assertKeyName(name);
  const key = createPrivateKey({ key: Buffer.from(privateKeyPkcs8), format: 'der', type: 'pkcs8' });
  const publicKey = rawPublicKey(createPublicKey(key));
  return {
    name,
    keyId: ed25519KeyId(name, publicKey),
    sign: (text) => sign(null, text, key),
  };
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new NoteError('note text must end with a newline');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) throw new NoteError('note has control characters');
}

/** The note: text, a blank line, one `— name base64(id ‖ signature)` line per signer. */
export function signNote(text: string, signers: readonly Signer[]): string {
  assertNoteText(text);
  if (signers.length === 0) throw new NoteError('a note needs at least one signature');
  const body = Buffer.from(text, 'utf8');
  const lines = signers.map(
    (signer) =>
      `\u2014 ${signer.name} ${Buffer.concat([signer.keyId, signer.sign(body)]).toString('base64')}\n`,
  );
  return `${text}\n${lines.join('')}`;
}

export interface OpenedNote {
  text: string;
  /** Names of the trusted keys whose signatures verified. */
  verifiedBy: string[];
}

/**
 * Splits and checks a signed note. Signatures by unknown keys are ignored; a known key
 * whose signature fails rejects the note; at least one known key must have signed.
 */
export function openNote(note: string, verifiers: readonly Verifier[]): OpenedNote {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw new NoteError('note is too large');
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new NoteError('malformed note: no signature block');
  const text = note.slice(0, split + 1);
  assertNoteText(text);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('note has too many signatures');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!match) throw new NoteError('malformed signature line');
    const name = match[1]!;
    const blob = Buffer.from(match[2]!, 'base64');
    if (blob.length < 5) throw new NoteError('malformed signature');
    const keyId = blob.subarray(0, 4);
    const verifier = verifiers.find((v) => v.name === name && v.keyId.equals(keyId));
    if (!verifier) continue;
    if (!verifier.verify(Buffer.from(text, 'utf8'), blob.subarray(4))) {
      throw new NoteError(`signature by ${name} does not verify`);
    }
    verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new NoteError('note is not signed by any trusted key');
  return { text, verifiedBy };
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export function formatCheckpoint(checkpoint: Checkpoint): string {
  return `${checkpoint.origin}\n${checkpoint.size}\n${checkpoint.root.toString('base64')}\n`;
}

export function parseCheckpoint(text: string): Checkpoint & { extensions: string[] } {
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length < 3 || lines.some((line) => line === '')) {
    throw new NoteError('a checkpoint has at least three non-empty lines');
  }
  const [origin, sizeLine, rootLine, ...extensions] = lines as [string, string, string];
  if (!/^(0|[1-9]\d*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine))) {
    throw new NoteError('checkpoint tree size is not a decimal number');
  }
  const root = Buffer.from(rootLine, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootLine) {
    throw new NoteError('checkpoint root hash is not 32 bytes of base64');
  }
  return { origin, size: Number(sizeLine), root, extensions };
}

/**
 * The log's origin (and key name): the scheme-less URL prefix of the tlog-tiles API
 * with no trailing slash, e.g. `https://data.city.example/` → `data.city.example/ledger`.
 */
export function ledgerOrigin(publicUrl: string): string {
  const url = new URL(publicUrl);
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.host}${path}/ledger`;
}

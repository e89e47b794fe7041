/**
 * C2SP tlog-cosignature, cosignature/v1 with Ed25519: a witness's statement that, as of
 * its timestamp, the checkpoint is the largest consistent tree head it has seen of that
 * log. A cosignature is a signed-note signature line over the checkpoint, so existing
 * verifiers skip it (unknown key ID) and the note stays a valid checkpoint.
 *
 *   signed message = "cosignature/v1\n" ‖ "time <seconds>\n" ‖ checkpoint note body
 *   key ID         = SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]
 *   signature line = "— <name> base64(key ID ‖ uint64be(time) ‖ Ed25519 signature)"
 *
 * Depends only on node:crypto and the ledger's note helpers, so tests and external tools
 * can check cosignatures the same way.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { sha256 } from '../../ledger/merkle.js';
import { NoteError, publicKeyFromRaw, rawPublicKey } from '../../ledger/note.js';

/** signed-note signature type of Ed25519 cosignature/v1. */
export const COSIGNATURE_V1 = 0x04;
const SIGNATURE_BYTES = 4 + 8 + 64;

export class CosignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CosignatureError';
  }
}

function assertName(name: string): void {
  if (name.length === 0 || /[\s+]/u.test(name)) {
    throw new CosignatureError(`key name "${name}" must be non-empty without spaces or "+"`);
  }
}

export function cosignatureKeyId(name: string, publicKey: Uint8Array): Buffer {
  return sha256(
    Buffer.from(`${name}\n`, 'utf8'),
    Buffer.from([COSIGNATURE_V1]),
    publicKey,
  ).subarray(0, 4);
}

/** The message a cosignature signs: header, timestamp line, the checkpoint note body. */
export function cosignedMessage(checkpointText: string, timestamp: number): Buffer {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new CosignatureError('the timestamp must be a non-negative integer');
  }
  if (!checkpointText.endsWith('\n')) throw new CosignatureError('note body must end in \\n');
  return Buffer.from(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`, 'utf8');
}

/** `name+keyid+base64(0x04 ‖ public key)`: how a witness key is published and pinned. */
export function formatWitnessVkey(name: string, publicKey: Uint8Array): string {
  assertName(name);
  const id = cosignatureKeyId(name, publicKey).toString('hex');
  const material = Buffer.concat([Buffer.from([COSIGNATURE_V1]), publicKey]);
  return `${name}+${id}+${material.toString('base64')}`;
}

export interface WitnessVerifier {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  key: KeyObject;
}

export function parseWitnessVkey(vkey: string): WitnessVerifier {
  const parts = vkey.trim().split('+');
  if (parts.length < 3) throw new CosignatureError('a verifier key looks like name+keyid+key');
  const [name, hexId, ...rest] = parts as [string, string, ...string[]];
  assertName(name);
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new CosignatureError('key ID must be 8 hex digits');
  const material = Buffer.from(rest.join('+'), 'base64');
  if (material.length !== 33 || material[0] !== COSIGNATURE_V1) {
    throw new CosignatureError('not an Ed25519 cosignature/v1 key (type 0x04)');
  }
  const publicKey = material.subarray(1);
  const keyId = Buffer.from(hexId, 'hex');
  if (!cosignatureKeyId(name, publicKey).equals(keyId)) {
    throw new CosignatureError('key ID does not match the name and public key');
  }
  let key: KeyObject;
  try {
    key = publicKeyFromRaw(publicKey);
  } catch (error) {
    throw new CosignatureError((error as NoteError).message);
  }
  return { name, keyId, publicKey, key };
}

export interface WitnessSigner {
  name: string;
  keyId: Buffer;
  publicKey: Buffer;
  /** The signature line (without newline) over `checkpointText` at `timestamp` seconds. */
  cosign(checkpointText: string, timestamp: number): string;
}

/** A cosigner with an Ed25519 private key (a KeyObject or PKCS#8 DER bytes). */
export function witnessSigner(name: string, privateKey: KeyObject | Uint8Array): WitnessSigner {
  assertName(name);
  const key =
    privateKey instanceof Uint8Array
      ? createPrivateKey({ key: Buffer.from(privateKey), format: 'der', type: 'pkcs8' })
      : privateKey;
  const publicKey = rawPublicKey(createPublicKey(key));
  const keyId = cosignatureKeyId(name, publicKey);
  return {
    name,
    keyId,
    publicKey,
    cosign(checkpointText, timestamp) {
      const time = Buffer.alloc(8);
      time.writeBigUInt64BE(BigInt(timestamp));
      const signature = sign(null, cosignedMessage(checkpointText, timestamp), key);
      return `\u2014 ${name} ${Buffer.concat([keyId, time, signature]).toString('base64')}`;
    },
  };
}

export interface ParsedCosignature {
  name: string;
  keyId: Buffer;
  timestamp: number;
  signature: Buffer;
  /** The signature line as received, without newline. */
  line: string;
}

/** Parses a note signature line as a cosignature/v1 (it does not check the signature). */
export function parseCosignatureLine(line: string): ParsedCosignature {
  const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
  if (!match) throw new CosignatureError('malformed signature line');
  const blob = Buffer.from(match[2]!, 'base64');
  if (blob.length !== SIGNATURE_BYTES || blob.toString('base64') !== match[2]) {
    throw new CosignatureError('a cosignature/v1 is a key ID, a timestamp and 64 bytes');
  }
  const timestamp = blob.readBigUInt64BE(4);
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CosignatureError('cosignature timestamp is out of range');
  }
  return {
    name: match[1]!,
    keyId: blob.subarray(0, 4),
    timestamp: Number(timestamp),
    signature: blob.subarray(12),
    line,
  };
}

/** True when `cosignature` was made by `verifier` over `checkpointText`. */
export function verifyCosignature(
  checkpointText: string,
  cosignature: ParsedCosignature,
  verifier: WitnessVerifier,
): boolean {
  if (cosignature.name !== verifier.name || !cosignature.keyId.equals(verifier.keyId)) {
    return false;
  }
  return verify(
    null,
    cosignedMessage(checkpointText, cosignature.timestamp),
    verifier.key,
    cosignature.signature,
  );
}

/** Witness key name of a node: its public URL without scheme, then `/witness`. */
export function witnessName(publicUrl: string): string {
  const url = new URL(publicUrl);
  return `${url.host}${url.pathname.replace(/\/+$/, '')}/witness`;
}

/**
 * Splits a signed note into its body and signature lines (no signature checked here;
 * `openNote` checks the log's own signature).
 */
export function splitNote(note: string): { text: string; lines: string[] } {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new CosignatureError('not a signed note');
  return { text: note.slice(0, split + 1), lines: note.slice(split + 2, -1).split('\n') };
}

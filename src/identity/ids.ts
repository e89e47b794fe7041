/** Identifiers we mint: a type prefix and 128 random bits, URL-safe. */
import { randomBytes } from 'node:crypto';

export type IdPrefix = 'org' | 'cli' | 'per' | 'key';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomBytes(16).toString('base64url').replace(/[-_]/g, '').slice(0, 20)}`;
}

/** A high-entropy value to hand out once (client secrets, session ids). */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

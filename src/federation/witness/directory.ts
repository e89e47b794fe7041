/**
 * What the witness needs to know about peers and about this node's own key. The peer
 * fields are a subset of the federation peer directory's `PeerInfo`, so that directory
 * serves as is; tests may put a directory of their own in front of a node.
 */
import type { KeyObject } from 'node:crypto';
import type { Platform } from '../../platform/platform.js';

export interface WitnessPeer {
  /** The peer's node id (`node_…`). */
  nodeId: string;
  /** The peer's public base URL, without a trailing slash. */
  url: string;
  /** Origin line of the peer's checkpoints. */
  ledgerOrigin: string;
  /** The peer's checkpoint verifier keys (signed-note vkeys) from its pinned descriptor. */
  ledgerKeys: readonly string[];
  /** URL of the peer's checkpoint (`<ledger prefix>/checkpoint`, tlog-tiles). */
  checkpointUrl: string;
  /**
   * Pinned fingerprint (`sha256:` + hex SHA-256) of the peer's node identity key, which is
   * also its witness key: a cosignature from the peer is accepted only with that key.
   */
  fingerprint: string;
}

export interface WitnessPeerDirectory {
  /** Peers both sides have added and nobody suspended; read afresh on every call. */
  listActivePeers(): Promise<readonly WitnessPeer[]>;
}

/** The key this node cosigns with: its Ed25519 node identity key. */
export interface WitnessKey {
  publicKey: Buffer;
  privateKey: KeyObject;
}

export interface WitnessKeySource {
  active(): Promise<WitnessKey>;
}

export interface WitnessWiring {
  directory: WitnessPeerDirectory;
  keys: WitnessKeySource;
}

const overrides = new WeakMap<Platform, Partial<WitnessWiring>>();

/** Puts a directory or key source in front of a running node's (tests, embedding). */
export function overrideWitnessWiring(platform: Platform, wiring: Partial<WitnessWiring>): void {
  overrides.set(platform, { ...overrides.get(platform), ...wiring });
}

export function witnessOverrides(platform: Platform): Partial<WitnessWiring> {
  return overrides.get(platform) ?? {};
}

/**
 * `ocp verify <node-url>`: an independent check of a node's ledger, needing nothing
 * from the node but its public tlog-tiles resources. It fetches the checkpoint and
 * verifies its signature with a pinned key, then
 *   - on the first run (or with --full): fetches every entry bundle and hash tile,
 *     checks each entry is canonical JSON at its index, hashes it into the level-0
 *     tiles, recomputes every higher tile and the root, which must equal the signed
 *     root, and recomputes the root saved last time from the same leaves;
 *   - on later runs: checks a consistency proof (from the node's tiles) from the saved
 *     checkpoint to the new one, and an inclusion proof for every entry added since;
 * checks inclusion of the entries asked for, and only then saves the checkpoint as the
 * new local state. Any mismatch throws a VerifyError saying what did not match.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { canonicalJson } from './canonical-json.js';
import {
  consistencyProof,
  HASH_SIZE,
  inclusionProof,
  leafHash,
  memoryReader,
  ProofError,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type Hash,
  type HashReader,
} from './merkle.js';
import { NoteError, openNote, parseCheckpoint, parseVkey, type Verifier } from './note.js';
import { hashesAtLevel, splitHashes, tilePath, TILE_WIDTH, tileReader } from './tiles.js';

export class VerifyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VerifyError';
  }
}

const MAX_CHECKPOINT_BYTES = 64 * 1024;
const MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + 65_535);
const PARALLEL = 8;

export interface VerifyOptions {
  /** Base URL of the node (its public URL); the log lives under `<url>/ledger`. */
  url: string;
  /** Pinned verifier key (vkey); defaults to the one saved in the state file. */
  key?: string;
  /** Local state: the last verified checkpoint per log. */
  statePath?: string;
  /** Entry indexes whose inclusion to check and report. */
  entries?: number[];
  /** Accept and pin the key the node publishes when none is pinned yet. */
  trustOnFirstUse?: boolean;
  /**
   * Audit every entry and tile even when a checkpoint was saved before (the first run
   * always does); otherwise only the growth since the saved checkpoint is checked.
   */
  full?: boolean;
  timeoutMs?: number;
  /** Progress lines for people. */
  log?: (line: string) => void;
}

export interface VerifyReport {
  origin: string;
  size: number;
  root: string;
  previous: { size: number; root: string } | null;
  mode: 'full' | 'incremental';
  entries: { index: number; type: string; time: string; leafHash: string }[];
}

interface SavedLog {
  vkey: string;
  origin: string;
  size: number;
  root: string;
  verifiedAt: string;
}

type State = Record<string, SavedLog>;

export function defaultStatePath(): string {
  return path.join(homedir(), '.ocp', 'verify-state.json');
}

function readState(file: string): State {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    return parsed as State;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new VerifyError(`cannot read the state file ${file}: ${(error as Error).message}`);
  }
}

function writeState(file: string, state: State): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

/** GET with a time limit, no redirects and a cap on the body size. */
async function fetchBytes(url: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { 'Accept-Encoding': 'gzip, identity' },
    });
  } catch (error) {
    const reason =
      (error as Error).name === 'TimeoutError' ? 'timed out' : (error as Error).message;
    throw new VerifyError(`cannot fetch ${url}: ${reason}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new VerifyError(`${url} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > maxBytes) throw new VerifyError(`${url} is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let total = 0;
  const reader = response.body?.getReader();
  try {
    for (;;) {
      const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        await reader?.cancel().catch(() => undefined);
        throw new VerifyError(`${url} is larger than ${maxBytes} bytes`);
      }
      chunks.push(Buffer.from(value));
    }
  } catch (error) {
    if (error instanceof VerifyError) throw error;
    throw new VerifyError(`cannot read ${url}: ${(error as Error).message}`);
  }
  return Buffer.concat(chunks);
}

async function inParallel<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(PARALLEL, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}

function parseBundle(bundle: Buffer, where: string): Buffer[] {
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < bundle.length) {
    if (offset + 2 > bundle.length) throw new VerifyError(`${where} is truncated`);
    const length = bundle.readUInt16BE(offset);
    if (offset + 2 + length > bundle.length) throw new VerifyError(`${where} is truncated`);
    entries.push(bundle.subarray(offset + 2, offset + 2 + length));
    offset += 2 + length;
  }
  return entries;
}

/** Verifies the log at `options.url`; throws VerifyError on any mismatch. */
export async function verifyLog(options: VerifyOptions): Promise<VerifyReport> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const base = new URL(options.url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new VerifyError('the node URL must be http:// or https://');
  }
  const prefix = `${base.toString().replace(/\/+$/, '')}/ledger`;
  const statePath = options.statePath ?? defaultStatePath();
  const state = readState(statePath);
  const saved = state[prefix];

  // 1. The checkpoint and its signature.
  let vkey = options.key ?? saved?.vkey;
  if (!vkey) {
    if (!options.trustOnFirstUse) {
      throw new VerifyError(
        `no key is pinned for ${prefix}: pass --key <vkey> with the key published by the city ` +
          `(also at ${prefix}/key), or --trust-on-first-use to pin whatever the node serves now`,
      );
    }
    vkey = (await fetchBytes(`${prefix}/key`, 4096, timeoutMs)).toString('utf8').trim();
    log(`pinning the key the node serves now (trust on first use): ${vkey}`);
  }
  let verifier: Verifier;
  try {
    verifier = parseVkey(vkey);
  } catch (error) {
    throw new VerifyError(
      `the pinned key is not a valid verifier key: ${(error as Error).message}`,
    );
  }
  const note = (await fetchBytes(`${prefix}/checkpoint`, MAX_CHECKPOINT_BYTES, timeoutMs)).toString(
    'utf8',
  );
  let checkpoint: ReturnType<typeof parseCheckpoint>;
  try {
    checkpoint = parseCheckpoint(openNote(note, [verifier]).text);
  } catch (error) {
    if (error instanceof NoteError) {
      throw new VerifyError(
        `checkpoint signature check failed: ${error.message} (pinned key ${verifier.name}+${verifier.keyId.toString('hex')})`,
      );
    }
    throw error;
  }
  if (checkpoint.origin !== verifier.name) {
    throw new VerifyError(
      `checkpoint origin "${checkpoint.origin}" does not match the key name "${verifier.name}"`,
    );
  }
  const size = checkpoint.size;
  log(
    `checkpoint: ${checkpoint.origin}, ${size} entries, root ${checkpoint.root.toString('base64')}`,
  );

  const context: AuditContext = {
    prefix,
    timeoutMs,
    log,
    size,
    root: checkpoint.root,
    entries: options.entries ?? [],
  };
  const incremental = saved !== undefined && saved.origin === checkpoint.origin && !options.full;
  const { previous, entries: reported } = incremental
    ? await auditGrowth(context, saved)
    : await auditAll(context, saved?.origin === checkpoint.origin ? saved : undefined);

  state[prefix] = {
    vkey,
    origin: checkpoint.origin,
    size,
    root: checkpoint.root.toString('base64'),
    verifiedAt: new Date().toISOString(),
  };
  writeState(statePath, state);
  return {
    origin: checkpoint.origin,
    size,
    root: checkpoint.root.toString('base64'),
    previous,
    mode: incremental ? 'incremental' : 'full',
    entries: reported,
  };
}

interface AuditContext {
  prefix: string;
  timeoutMs: number;
  log: (line: string) => void;
  size: number;
  /** The signed root. */
  root: Buffer;
  entries: number[];
}

interface AuditResult {
  previous: VerifyReport['previous'];
  entries: VerifyReport['entries'];
}

/** Width of tile `index` at a level holding `count` hashes: null when full. */
function tileWidth(count: number, index: number): number | null {
  const width = count - index * TILE_WIDTH;
  return width >= TILE_WIDTH ? null : width;
}

/**
 * A HashReader over a log's hash tiles fetched by path relative to its prefix
 * (`tile/<L>/<N>[.p/<W>]`), addressing the tiles of the tree of `size` entries. Used by
 * `ocp verify` and by witnesses checking a peer's log.
 */
export function remoteTileReader(
  fetchTile: (path: string) => Promise<Uint8Array>,
  size: number,
): HashReader {
  return tileReader(async (level, index) => {
    const width = tileWidth(hashesAtLevel(size, level), index);
    if (width !== null && width <= 0) {
      throw new VerifyError(`tile ${level}/${index} is outside the tree`);
    }
    return fetchTile(tilePath({ level, index, width }));
  });
}

/**
 * Throws ProofError unless the tree (`to`) extends the tree (`from`), checked with a
 * consistency proof built from `read` (the log's tiles for the larger tree).
 */
export async function checkConsistency(
  read: HashReader,
  from: { size: number; root: Uint8Array },
  to: { size: number; root: Uint8Array },
): Promise<void> {
  if (from.size === 0) return; // the empty tree is a prefix of every tree
  if (to.size < from.size) {
    throw new ProofError(`tree size went down from ${from.size} to ${to.size}`);
  }
  const proof = from.size === to.size ? [] : await consistencyProof(read, from.size, to.size);
  verifyConsistency(from.size, to.size, proof, from.root, to.root);
}

function checkEntry(entry: Buffer, index: number): { type: string; time: string } {
  let parsed: { index?: unknown; type?: unknown; time?: unknown };
  try {
    parsed = JSON.parse(entry.toString('utf8')) as typeof parsed;
  } catch {
    throw new VerifyError(`entry ${index} is not JSON`);
  }
  if (canonicalJson(parsed) !== entry.toString('utf8')) {
    throw new VerifyError(`entry ${index} is not in RFC 8785 canonical form`);
  }
  if (parsed.index !== index) {
    throw new VerifyError(`entry ${index} claims index ${String(parsed.index)}`);
  }
  return { type: String(parsed.type), time: String(parsed.time) };
}

/**
 * The full audit: every entry and every tile, the root recomputed from the entries,
 * and the saved checkpoint's root recomputed from the same leaves.
 */
async function auditAll(context: AuditContext, saved: SavedLog | undefined): Promise<AuditResult> {
  const { prefix, timeoutMs, log, size, root: signedRoot } = context;

  // Entries → leaf hashes → level-0 tiles.
  const tileCount = Math.ceil(size / TILE_WIDTH);
  const leafTiles = await inParallel(
    Array.from({ length: tileCount }, (_, n) => n),
    async (n) => {
      const width = tileWidth(size, n);
      const [tile, bundle] = await Promise.all([
        fetchBytes(
          `${prefix}/${tilePath({ level: 0, index: n, width })}`,
          MAX_TILE_BYTES,
          timeoutMs,
        ),
        fetchBytes(
          `${prefix}/${tilePath({ level: 'entries', index: n, width })}`,
          MAX_BUNDLE_BYTES,
          timeoutMs,
        ),
      ]);
      const expected = width ?? TILE_WIDTH;
      if (tile.length !== expected * HASH_SIZE) {
        throw new VerifyError(
          `tile 0/${n} has ${tile.length / HASH_SIZE} hashes, expected ${expected}`,
        );
      }
      const entries = parseBundle(bundle, `entry bundle ${n}`);
      if (entries.length !== expected) {
        throw new VerifyError(
          `entry bundle ${n} has ${entries.length} entries, expected ${expected}`,
        );
      }
      const hashes = splitHashes(tile);
      entries.forEach((entry, i) => {
        const index = n * TILE_WIDTH + i;
        if (!leafHash(entry).equals(hashes[i]!)) {
          throw new VerifyError(`entry ${index} does not match its leaf hash in tile 0/${n}`);
        }
        checkEntry(entry, index);
      });
      return { hashes, entries };
    },
  );
  const leaves: Hash[] = leafTiles.flatMap((tile) => tile.hashes);

  // Every higher tile must hold the roots of the full tiles below it.
  let below = leaves;
  for (let level = 1; hashesAtLevel(size, level) > 0; level++) {
    const count = hashesAtLevel(size, level);
    const expected = Array.from({ length: count }, (_, i) =>
      rootFromLeafHashes(below.slice(i * TILE_WIDTH, (i + 1) * TILE_WIDTH)),
    );
    const tiles = await inParallel(
      Array.from({ length: Math.ceil(count / TILE_WIDTH) }, (_, n) => n),
      async (n) => {
        const url = `${prefix}/${tilePath({ level, index: n, width: tileWidth(count, n) })}`;
        return splitHashes(await fetchBytes(url, MAX_TILE_BYTES, timeoutMs));
      },
    );
    const served = tiles.flat();
    if (served.length !== count) {
      throw new VerifyError(`level ${level} tiles hold ${served.length} hashes, expected ${count}`);
    }
    served.forEach((hash, i) => {
      if (!hash.equals(expected[i]!)) {
        throw new VerifyError(
          `tile ${level}/${Math.floor(i / TILE_WIDTH)} hash ${i % TILE_WIDTH} does not match the tiles below it`,
        );
      }
    });
    below = expected;
  }

  // The root.
  const root = rootFromLeafHashes(leaves);
  if (!root.equals(signedRoot)) {
    throw new VerifyError(
      `the entries hash to root ${root.toString('base64')}, but the checkpoint signs ${signedRoot.toString('base64')}`,
    );
  }
  log(`recomputed the root from ${size} entries and ${tileCount} leaf tiles: match`);

  // Consistency with the checkpoint saved last time.
  let previous: VerifyReport['previous'] = null;
  if (saved) {
    previous = { size: saved.size, root: saved.root };
    if (size < saved.size) {
      throw new VerifyError(
        `the log shrank: it had ${saved.size} entries when last verified, now ${size}`,
      );
    }
    const oldRoot = rootFromLeafHashes(leaves.slice(0, saved.size));
    if (oldRoot.toString('base64') !== saved.root) {
      throw new VerifyError(
        `the log was rewritten: its first ${saved.size} entries no longer hash to the root verified on ${saved.verifiedAt}`,
      );
    }
    log(`consistent with the checkpoint verified on ${saved.verifiedAt} (size ${saved.size})`);
  }

  // Inclusion of the entries asked for.
  const read = memoryReader(leaves);
  const reported: VerifyReport['entries'] = [];
  for (const index of context.entries) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new VerifyError(`entry ${index} is not in the log (size ${size})`);
    }
    try {
      verifyInclusion(index, size, leaves[index]!, await inclusionProof(read, index, size), root);
    } catch (error) {
      throw new VerifyError(`entry ${index} is not included: ${(error as Error).message}`);
    }
    const entry = leafTiles[Math.floor(index / TILE_WIDTH)]!.entries[index % TILE_WIDTH]!;
    const { type, time } = checkEntry(entry, index);
    reported.push({ index, type, time, leafHash: leaves[index]!.toString('base64') });
    log(`entry ${index} (${type}, ${time}) is included`);
  }
  return { previous, entries: reported };
}

/**
 * The incremental audit, after a full one: a consistency proof (built from the node's
 * tiles) from the saved checkpoint to the new one, and inclusion proofs for every entry
 * added since and for the entries asked for. Downloads only the tiles those proofs
 * touch and the new entries' bundles.
 */
async function auditGrowth(context: AuditContext, saved: SavedLog): Promise<AuditResult> {
  const { prefix, timeoutMs, log, size, root } = context;
  if (size < saved.size) {
    throw new VerifyError(
      `the log shrank: it had ${saved.size} entries when last verified, now ${size}`,
    );
  }
  const read = remoteTileReader(
    (path) => fetchBytes(`${prefix}/${path}`, MAX_TILE_BYTES, timeoutMs),
    size,
  );
  if (saved.size > 0) {
    try {
      await checkConsistency(
        read,
        { size: saved.size, root: Buffer.from(saved.root, 'base64') },
        { size, root },
      );
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      throw new VerifyError(
        `the log was rewritten: the tree of ${size} does not extend the one of ${saved.size} verified on ${saved.verifiedAt} (${error.message})`,
      );
    }
    log(`consistent with the checkpoint verified on ${saved.verifiedAt} (size ${saved.size})`);
  }

  const bundles = new Map<number, Promise<Buffer[]>>();
  const entryAt = async (index: number): Promise<Buffer> => {
    const n = Math.floor(index / TILE_WIDTH);
    let bundle = bundles.get(n);
    if (!bundle) {
      const width = tileWidth(size, n);
      bundle = fetchBytes(
        `${prefix}/${tilePath({ level: 'entries', index: n, width })}`,
        MAX_BUNDLE_BYTES,
        timeoutMs,
      ).then((bytes) => parseBundle(bytes, `entry bundle ${n}`));
      bundles.set(n, bundle);
    }
    const entry = (await bundle)[index % TILE_WIDTH];
    if (!entry) throw new VerifyError(`entry bundle ${n} is missing entry ${index}`);
    return entry;
  };
  const check = async (index: number) => {
    const entry = await entryAt(index);
    const facts = checkEntry(entry, index);
    const leaf = leafHash(entry);
    try {
      verifyInclusion(index, size, leaf, await inclusionProof(read, index, size), root);
    } catch (error) {
      if (!(error instanceof ProofError)) throw error;
      throw new VerifyError(`entry ${index} does not match the signed tree: ${error.message}`);
    }
    return { ...facts, leaf };
  };
  for (let index = saved.size; index < size; index++) await check(index);
  log(`checked the ${size - saved.size} entries added since then`);

  const reported: VerifyReport['entries'] = [];
  for (const index of context.entries) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      throw new VerifyError(`entry ${index} is not in the log (size ${size})`);
    }
    const { type, time, leaf } = await check(index);
    reported.push({ index, type, time, leafHash: leaf.toString('base64') });
    log(`entry ${index} (${type}, ${time}) is included`);
  }
  return { previous: { size: saved.size, root: saved.root }, entries: reported };
}

export const verifyUsage = `Usage: ocp verify <node-url> [options]

Checks a node's public ledger: the checkpoint signature against a pinned key, every
entry and tile against the signed root, consistency with the checkpoint saved on the
last run, and inclusion of the entries named.

Options:
  --key <vkey>             pin this verifier key (name+keyid+base64); saved for next runs
  --entry <index>          check and show this entry (repeatable)
  --state <file>           where the last verified checkpoint is kept
                           (default ~/.ocp/verify-state.json)
  --trust-on-first-use     pin the key the node serves now if none is pinned
  --full                   re-check every entry and tile, not only what was added
                           since the saved checkpoint (the first run always does)
  --timeout <ms>           time limit per request (default 15000)
`;

/** Runs `ocp verify`; returns the exit code (0 verified, 1 mismatch, 2 usage). */
export async function verifyCommand(
  args: string[],
  out: (text: string) => void = (text) => process.stdout.write(text),
  err: (text: string) => void = (text) => process.stderr.write(text),
): Promise<number> {
  const options: VerifyOptions = { url: '', entries: [] };
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new VerifyError(`${arg} needs a value`);
      return next;
    };
    try {
      if (arg === '--key') options.key = value();
      else if (arg === '--state') options.statePath = value();
      else if (arg === '--entry') {
        const raw = value();
        if (!/^\d+$/.test(raw)) throw new VerifyError(`--entry needs an index, got "${raw}"`);
        options.entries!.push(Number(raw));
      } else if (arg === '--timeout') {
        const raw = value();
        if (!/^\d+$/.test(raw)) throw new VerifyError(`--timeout needs milliseconds, got "${raw}"`);
        options.timeoutMs = Number(raw);
      } else if (arg === '--trust-on-first-use') options.trustOnFirstUse = true;
      else if (arg === '--help' || arg === '-h') {
        out(verifyUsage);
        return 0;
      } else if (arg.startsWith('-')) throw new VerifyError(`unknown option ${arg}`);
      else positional.push(arg);
    } catch (error) {
      err(`ocp verify: ${(error as Error).message}\n\n${verifyUsage}`);
      return 2;
    }
  }
  if (positional.length !== 1) {
    err(`ocp verify: name exactly one node URL\n\n${verifyUsage}`);
    return 2;
  }
  options.url = positional[0]!;
  options.log = (line) => out(`${line}\n`);
  try {
    const report = await verifyLog(options);
    out(`OK: ${report.origin} at size ${report.size} verifies\n`);
    return 0;
  } catch (error) {
    // Whatever went wrong, the log could not be verified: say so, plainly.
    err(`ocp verify: FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

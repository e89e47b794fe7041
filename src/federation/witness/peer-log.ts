/**
 * What the witness reads from and sends to a peer's node, always through the guarded
 * fetcher's checks (allow/deny lists, no private addresses unless configured, time
 * limit, size cap, no redirects for binary tiles): the checkpoint, hash tiles and the
 * delivery of a cosignature.
 */
import { GuardedFetchError, type GuardedFetcher } from '../../platform/http/guarded-fetch.js';
import { HASH_SIZE } from '../../ledger/merkle.js';
import { TILE_WIDTH } from '../../ledger/tiles.js';

/** A checkpoint is a few lines and a few signatures. */
const MAX_CHECKPOINT_BYTES = 64 * 1024;
const MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

export const COSIGNATURE_PATH = '/federation/witness/cosignatures';
export const WITNESS_KEY_HEADER = 'ocp-witness-key';

export interface PeerLog {
  checkpoint(checkpointUrl: string): Promise<string>;
  /** A hash tile, by path relative to the log prefix (`tile/0/000.p/12`). */
  tile(ledgerUrl: string, path: string): Promise<Buffer>;
  /** Sends a cosigned checkpoint to the peer; resolves to the HTTP status. */
  deliver(peerUrl: string, cosignedNote: string, witnessVkey: string): Promise<number>;
}

export function peerLog(fetcher: GuardedFetcher, timeoutMs: number): PeerLog {
  return {
    async checkpoint(checkpointUrl) {
      const document = await fetcher.fetchText(checkpointUrl, { accept: 'text/plain' });
      if (Buffer.byteLength(document.body, 'utf8') > MAX_CHECKPOINT_BYTES) {
        throw new GuardedFetchError('too_large', 'the checkpoint is too large');
      }
      return document.body;
    },
    async tile(ledgerUrl, path) {
      // The guarded fetcher reads text; tiles are binary, so check the URL with it and
      // fetch the bytes here, with the same limits and no redirects.
      const url = await fetcher.check(`${ledgerUrl.replace(/\/+$/, '')}/${path}`, [
        'http:',
        'https:',
      ]);
      const signal = AbortSignal.timeout(timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, { redirect: 'error', signal });
      } catch {
        throw new GuardedFetchError(signal.aborted ? 'timeout' : 'network', `cannot fetch ${path}`);
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => undefined);
        throw new GuardedFetchError('http_status', `${path} answered ${response.status}`);
      }
      const chunks: Uint8Array[] = [];
      let size = 0;
      const reader = response.body?.getReader();
      for (;;) {
        const { done, value } = reader ? await reader.read() : { done: true, value: undefined };
        if (done) break;
        size += value.byteLength;
        if (size > MAX_TILE_BYTES) {
          await reader?.cancel().catch(() => undefined);
          throw new GuardedFetchError('too_large', `${path} is larger than a tile`);
        }
        chunks.push(value);
      }
      return Buffer.concat(chunks);
    },
    deliver(peerUrl, cosignedNote, witnessVkey) {
      return fetcher.post(`${peerUrl.replace(/\/+$/, '')}${COSIGNATURE_PATH}`, cosignedNote, {
        'content-type': 'text/plain; charset=utf-8',
        [WITNESS_KEY_HEADER]: witnessVkey,
      });
    },
  };
}

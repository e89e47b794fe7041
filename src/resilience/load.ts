/**
 * Sustained HTTP write load for the resilience tests and the soak: workers sending
 * NGSI-LD batch upserts of new AirQualityObserved entities, remembering exactly which
 * entities were acknowledged (2xx) so a test can check that every one of them is stored.
 */
import pg from 'pg';

export interface WriteOutcome {
  at: number;
  /** HTTP status, or 'timeout' (no answer within the bound) or 'network' (refused, reset). */
  status: number | 'timeout' | 'network';
  ms: number;
  /** Content type and parsed body of a non-2xx answer. */
  contentType?: string;
  body?: unknown;
}

export interface WriteLoad {
  /** Entity ids in batches the node acknowledged with 2xx. */
  readonly acknowledged: Set<string>;
  readonly outcomes: WriteOutcome[];
  /** Waits for `n` more acknowledged batches (rejects after `timeoutMs`). */
  acknowledgedMore(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface WriteLoadOptions {
  workers?: number;
  batchSize?: number;
  /** Makes ids unique per load (several loads may write to one node). */
  prefix: string;
  /** A request without an answer after this long counts as 'timeout'. */
  timeoutMs?: number;
  /** Pause between a worker's requests after a failure, so an outage is not a busy loop. */
  backoffMs?: number;
}

export function airQuality(id: string, n: number) {
  return {
    id,
    type: 'AirQualityObserved',
    NO2: { type: 'Property', value: 20 + (n % 40), unitCode: 'GQ' },
    PM10: { type: 'Property', value: 10 + (n % 25), unitCode: 'GQ' },
    temperature: { type: 'Property', value: 5 + (n % 20), unitCode: 'CEL' },
  };
}

export function startWriteLoad(url: string, options: WriteLoadOptions): WriteLoad {
  const workers = options.workers ?? 4;
  const batchSize = options.batchSize ?? 20;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const backoffMs = options.backoffMs ?? 100;
  const acknowledged = new Set<string>();
  const outcomes: WriteOutcome[] = [];
  let okBatches = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  let stopped = false;
  let counter = 0;

  async function worker(w: number): Promise<void> {
    while (!stopped) {
      const ids = Array.from(
        { length: batchSize },
        () => `urn:ngsi-ld:AirQualityObserved:${options.prefix}-${w}-${counter++}`,
      );
      const started = Date.now();
      let outcome: WriteOutcome;
      try {
        const response = await fetch(`${url}/ngsi-ld/v1/entityOperations/upsert`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ids.map((id, i) => airQuality(id, i))),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await response.text();
        outcome = { at: started, status: response.status, ms: Date.now() - started };
        if (response.ok) {
          for (const id of ids) acknowledged.add(id);
          okBatches++;
          for (const waiter of waiters.filter((x) => okBatches >= x.target)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        } else {
          outcome.contentType = response.headers.get('content-type') ?? '';
          try {
            outcome.body = JSON.parse(text);
          } catch {
            outcome.body = text;
          }
        }
      } catch (error) {
        const name = (error as Error).name;
        outcome = {
          at: started,
          status: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network',
          ms: Date.now() - started,
        };
      }
      outcomes.push(outcome);
      if (outcome.status !== 200 && outcome.status !== 201 && outcome.status !== 204) {
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  const running = Array.from({ length: workers }, (_, w) => worker(w));
  return {
    acknowledged,
    outcomes,
    acknowledgedMore(n, waitMs = 30_000) {
      return new Promise((resolve, reject) => {
        const waiter = { target: okBatches + n, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`fewer than ${n} acknowledged batches within ${waitMs} ms`));
        }, waitMs);
        waiters.push(waiter);
      });
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/** Which of `ids` are not stored in the node's PostgreSQL database at `databaseUrl`. */
export async function missingEntities(
  databaseUrl: string,
  ids: Iterable<string>,
): Promise<string[]> {
  const wanted = [...ids];
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM ngsi_entities WHERE id = ANY($1::text[])',
      [wanted],
    );
    const present = new Set(rows.map((r) => r.id));
    return wanted.filter((id) => !present.has(id));
  } finally {
    await client.end();
  }
}

/** p-th percentile (0–100) of a list of numbers (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Which of `ids` the node does not return through the NGSI-LD API (any backend). */
export async function missingViaApi(url: string, ids: Iterable<string>): Promise<string[]> {
  const wanted = [...ids];
  const missing: string[] = [];
  for (let i = 0; i < wanted.length; i += 100) {
    const chunk = wanted.slice(i, i + 100);
    const query = new URLSearchParams({ id: chunk.join(','), limit: '100', attrs: 'NO2' });
    const response = await fetch(`${url}/ngsi-ld/v1/entities?${query}`);
    if (response.status !== 200)
      throw new Error(`query failed: ${response.status} ${await response.text()}`);
    const present = new Set(((await response.json()) as { id: string }[]).map((e) => e.id));
    missing.push(...chunk.filter((id) => !present.has(id)));
  }
  return missing;
}

/**
 * Device ingestion: messages are collected into batches (bounded by count and by time),
 * checked (size, topic, publisher, payload), written through the entity service's batch
 * upsert — the same path as POST /ngsi-ld/v1/entityOperations/upsert?options=update, so
 * history and notifications follow — and refused messages go to the dead-letter table.
 * Only when all of that has committed are the batch's messages acknowledged.
 *
 * If the database is unreachable the batch is kept and retried with backoff; nothing is
 * acknowledged meanwhile, and reading from the broker pauses once enough messages wait.
 */
import type { Clock } from '../platform/clock.js';
import type { Database } from '../platform/db/database.js';
import { AppError } from '../platform/http/errors.js';
import type { Logger } from '../platform/logging.js';
import type { EntityInput } from '../context/entities/entity.model.js';
import type { EntityService, WriteScope } from '../context/entities/entity.service.js';
import type { RequestContext } from '../context/jsonld/context-resolver.js';
import type { TermMap } from '../context/jsonld/term-map.js';
import { visibilityForActor } from '../context/ngsi-request.js';
import { deadLetterRepository, type NewDeadLetter } from './dead-letter.repository.js';
import type { DevicePublishers } from './device-auth.js';
import type { IngestMessage } from './ingest.client.js';
import { decodeMessage, type DeadLetterReason } from './payload.js';
import { parseTopic } from './topics.js';

export interface IngestSettings {
  batchSize: number;
  batchWaitMs: number;
  maxPayloadBytes: number;
  /** Bytes of a refused payload kept in the dead-letter table. */
  storedPayloadBytes: number;
}

export interface IngestMetrics {
  received(count: number): void;
  written(messages: number, attributes: number): void;
  deadLettered(reason: DeadLetterReason): void;
  batch(size: number, seconds: number): void;
  retried(): void;
}

interface Item {
  message: IngestMessage;
  /** False for refusals reported by the broker itself: no ack, not counted as pending. */
  fromBroker: boolean;
  refusal?: { reason: DeadLetterReason; detail: string; clientId: string | null };
}

interface Group {
  scope: WriteScope;
  inputs: EntityInput[];
  /** Item index per input. */
  owners: number[];
  done: boolean;
}

interface Letter {
  index: number;
  reason: DeadLetterReason;
  detail: string;
  tenant: string | null;
  clientId: string | null;
  entityId: string | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Text PostgreSQL can store: no NUL, no unpaired surrogate. Details quote what devices
 * sent (a JSON parse error quotes the payload), and one unstorable string would fail
 * the insert of every dead letter of the batch.
 */
const storable = (text: string) =>
  text
    // eslint-disable-next-line no-control-regex -- NUL is what is removed.
    .replace(/\u0000/g, '\uFFFD')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\uFFFD');

export class DeviceIngestor {
  private queue: Item[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closing = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly deps: {
      db: Database;
      entities: EntityService;
      resolve: (context: RequestContext | undefined) => Promise<TermMap>;
      publishers: DevicePublishers;
      clock: Clock;
      logger: Logger;
      metrics: IngestMetrics;
      settings: IngestSettings;
      /** Tells the MQTT client how many received messages left memory. */
      released: (count: number) => void;
    },
  ) {}

  /** A message from the broker. */
  accept(message: IngestMessage): void {
    this.deps.metrics.received(1);
    this.enqueue({ message, fromBroker: false });
  }

  /** A publish the embedded broker refused: recorded, nothing to acknowledge. */
  refused(topic: string, clientId: string | null, payload: Buffer, detail: string): void {
    this.enqueue({
      message: {
        topic,
        payload,
        qos: 0,
        contextProperty: undefined,
        receivedAt: this.deps.clock.now(),
        ack: () => undefined,
      },
      fromBroker: true,
      refusal: { reason: 'unauthorized', detail, clientId },
    });
  }

  /** Messages received and not yet committed. */
  pending(): number {
    return this.queue.length;
  }

  /** Resolves when everything received so far has been committed (tests, shutdown). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running === null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Commits what is queued and stops. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
    if (this.queue.length > 0) await this.drain();
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (this.running) return;
    if (this.queue.length >= this.deps.settings.batchSize) {
      this.start();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.start(), this.deps.settings.batchWaitMs);
    }
  }

  private start(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.running || this.queue.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.queue.length > 0 && !this.closing) {
        // What arrived while writing is written next: at once if a batch is full.
        if (this.queue.length >= this.deps.settings.batchSize) this.start();
        else this.timer = setTimeout(() => this.start(), this.deps.settings.batchWaitMs);
      } else if (this.queue.length === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, this.deps.settings.batchSize);
      const started = performance.now();
      await this.commit(batch);
      this.queue = this.queue.slice(batch.length);
      for (const item of batch) item.message.ack();
      const fromDevices = batch.filter((i) => !i.fromBroker).length;
      this.deps.released(fromDevices);
      this.deps.metrics.batch(batch.length, (performance.now() - started) / 1000);
      if (this.queue.length < this.deps.settings.batchSize && !this.closing) return;
    }
  }

  /** Writes a batch; retries (with backoff) for as long as the database is unreachable. */
  private async commit(batch: Item[]): Promise<void> {
    let prepared: { groups: Group[]; letters: Letter[] } | null = null;
    let givenUp = false;
    let failuresSinceGivenUp = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        prepared ??= await this.prepare(batch);
        await this.write(batch, prepared.groups, prepared.letters);
        return;
      } catch (error) {
        const reachable = await this.deps.db.ping().then(
          () => true,
          () => false,
        );
        if (reachable && attempt >= 2 && !givenUp) {
          // The database answers but this batch keeps failing: keep the evidence, move on.
          this.deps.logger.error({ err: error }, 'device batch could not be written');
          if (prepared === null) {
            prepared = {
              groups: [],
              letters: batch.map((_item, index) =>
                this.letterFor(batch, index, 'write_failed', 'the message could not be processed'),
              ),
            };
          }
          for (const group of prepared.groups) {
            if (group.done) continue;
            group.done = true;
            for (const index of new Set(group.owners)) {
              prepared.letters.push(
                this.letterFor(batch, index, 'write_failed', 'the write failed'),
              );
            }
          }
          // The dead letters themselves are retried while the database is unreachable.
          givenUp = true;
          continue;
        }
        if (reachable && givenUp && ++failuresSinceGivenUp >= 3) {
          // Not even the dead letters can be stored although the database answers: log
          // what is dropped rather than stop all ingestion behind this batch.
          this.deps.logger.error(
            {
              err: error,
              dropped: (prepared?.letters ?? []).map((l) => ({
                topic: batch[l.index]!.message.topic,
                reason: l.reason,
              })),
            },
            'device messages dropped: neither written nor dead-lettered',
          );
          return;
        }
        this.deps.metrics.retried();
        this.deps.logger.warn(
          { err: error, attempt, messages: batch.length },
          'device batch not written yet, retrying',
        );
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  private letterFor(
    batch: Item[],
    index: number,
    reason: DeadLetterReason,
    detail: string,
  ): Letter {
    const parsed = parseTopic(batch[index]!.message.topic);
    const topic = parsed.ok ? parsed.topic : null;
    return {
      index,
      reason,
      detail,
      tenant: topic?.tenant ?? (parsed.ok ? null : (parsed.tenant ?? null)),
      clientId: topic?.clientId ?? (parsed.ok ? null : (parsed.clientId ?? null)),
      entityId: topic && topic.kind !== 'entities' ? topic.entityId : null,
    };
  }

  /** Checks every message and groups the accepted ones by tenant and publisher. */
  private async prepare(batch: Item[]): Promise<{ groups: Group[]; letters: Letter[] }> {
    const { settings, publishers } = this.deps;
    const groups = new Map<string, Group>();
    const letters: Letter[] = [];
    for (const [index, item] of batch.entries()) {
      const { message } = item;
      if (item.refusal) {
        const letter = this.letterFor(batch, index, item.refusal.reason, item.refusal.detail);
        letters.push({ ...letter, clientId: item.refusal.clientId ?? letter.clientId });
        continue;
      }
      const parsed = parseTopic(message.topic);
      if (!parsed.ok) {
        letters.push(this.letterFor(batch, index, 'invalid_topic', parsed.detail));
        continue;
      }
      if (message.payload.length > settings.maxPayloadBytes) {
        letters.push(
          this.letterFor(
            batch,
            index,
            'payload_too_large',
            `${message.payload.length} bytes, the limit is ${settings.maxPayloadBytes}`,
          ),
        );
        continue;
      }
      const topic = parsed.topic;
      const publisher = await publishers.check(topic.clientId);
      if (!publisher.ok) {
        letters.push(this.letterFor(batch, index, 'unauthorized', publisher.detail));
        continue;
      }
      const decoded = await decodeMessage(
        topic,
        message.payload,
        message.contextProperty,
        this.deps.resolve,
        message.receivedAt,
      );
      if (!decoded.ok) {
        letters.push(this.letterFor(batch, index, decoded.reason, decoded.detail));
        continue;
      }
      const key = `${topic.tenant}\u0000${topic.clientId}`;
      let group = groups.get(key);
      if (!group) {
        const actor = publisher.actor;
        group = {
          scope: {
            tenant: topic.tenant,
            visibility: visibilityForActor(actor, null),
            ownerOrg: actor.organisationId,
          },
          inputs: [],
          owners: [],
          done: false,
        };
        groups.set(key, group);
      }
      for (const input of decoded.inputs) {
        group.inputs.push(input);
        group.owners.push(index);
      }
    }
    return { groups: [...groups.values()], letters };
  }

  private async write(batch: Item[], groups: Group[], letters: Letter[]): Promise<void> {
    const { entities, metrics, settings } = this.deps;
    let messages = 0;
    let attributes = 0;
    for (const group of groups) {
      if (group.done) continue;
      const outcomes = await entities.batchUpsert(group.scope, group.inputs, 'update');
      group.done = true;
      const failed = new Map<number, string[]>();
      const reasons = new Map<number, DeadLetterReason>();
      outcomes.forEach((outcome, i) => {
        const owner = group.owners[i]!;
        if (outcome.ok) {
          attributes += Object.values(group.inputs[i]!.attrs).reduce((n, a) => n + a.length, 0);
          return;
        }
        const error = outcome.error;
        // An id the publisher may not see exists: it belongs to another organisation.
        const reason: DeadLetterReason =
          error instanceof AppError && error.code === 'already_exists' ? 'forbidden' : 'rejected';
        const detail =
          reason === 'forbidden'
            ? `entity ${outcome.id} belongs to another organisation`
            : `entity ${outcome.id}: ${error.detail}`;
        failed.set(owner, [...(failed.get(owner) ?? []), detail]);
        if (!reasons.has(owner)) reasons.set(owner, reason);
      });
      for (const owner of new Set(group.owners)) {
        const details = failed.get(owner);
        if (details)
          letters.push(this.letterFor(batch, owner, reasons.get(owner)!, details.join('; ')));
        else messages++;
      }
    }
    if (letters.length > 0) {
      const rows: NewDeadLetter[] = letters.map((l) => {
        const payload = batch[l.index]!.message.payload;
        return {
          receivedAt: batch[l.index]!.message.receivedAt,
          topic: storable(batch[l.index]!.message.topic.slice(0, 1024)),
          tenant: l.tenant === null ? null : storable(l.tenant),
          clientId: l.clientId === null ? null : storable(l.clientId),
          entityId: l.entityId === null ? null : storable(l.entityId.slice(0, 2048)),
          reason: l.reason,
          detail: storable(l.detail.slice(0, 2000)),
          payload: payload.subarray(0, settings.storedPayloadBytes),
          payloadBytes: payload.length,
          truncated: payload.length > settings.storedPayloadBytes,
        };
      });
      await deadLetterRepository.insertMany(this.deps.db, rows);
      for (const l of letters) metrics.deadLettered(l.reason);
      letters.length = 0;
    }
    metrics.written(messages, attributes);
  }
}

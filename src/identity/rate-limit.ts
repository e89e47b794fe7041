/**
 * Fixed-window request limits per caller: authenticated callers by client or person id,
 * anonymous callers by IP address. Counters live in the process, so with N processes
 * behind a load balancer the effective limit is up to N times the configured one; that
 * keeps the hot path free of database writes. Time comes from the platform clock.
 */
import type { Clock } from '../platform/clock.js';
import type { Actor } from '../platform/http/access.js';

const WINDOW_MS = 60_000;
/** Above this many tracked callers, windows that have ended are swept. */
const SWEEP_THRESHOLD = 10_000;

export interface RateLimitSettings {
  clientPerMinute: number;
  ipPerMinute: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly settings: RateLimitSettings,
  ) {}

  check(actor: Actor, ip: string): RateDecision {
    const identified = actor.kind !== 'anonymous' && actor.id !== null;
    const key = identified ? `${actor.kind}:${actor.id}` : `ip:${ip}`;
    const limit = identified ? this.settings.clientPerMinute : this.settings.ipPerMinute;
    const now = this.clock.now().getTime();
    const start = now - (now % WINDOW_MS);
    let window = this.windows.get(key);
    if (!window || window.start !== start) {
      if (this.windows.size >= SWEEP_THRESHOLD) this.sweep(start);
      window = { start, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    if (window.count <= limit) return { ok: true };
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000)),
    };
  }

  private sweep(currentStart: number): void {
    for (const [key, window] of this.windows) {
      if (window.start !== currentStart) this.windows.delete(key);
    }
  }
}

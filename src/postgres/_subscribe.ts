/**
 * Subscriptions: catch up by pages of the global order, then wait for a
 * wake-up and read again. `LISTEN` on the schema's channel is the wake-up
 * (every committed append notifies it); a timer every `pollIntervalMs` is
 * the safety net, so a lost notification (a dropped listen connection, a
 * writer that died before notifying, a transaction that rolled back) costs
 * latency, never an event. A generation counter closes the race between a
 * read that came back short and the start of the wait.
 *
 * Memory is one page per subscriber; events wait in the table, not in a
 * queue.
 *
 * @module
 */

import type postgres from "./_driver.ts";
import type { StoredEvent } from "../core/types.ts";
import { IoError } from "../core/errors.ts";

/** Events read per page of a subscription. */
export const SUBSCRIPTION_PAGE_EVENTS = 256;
/** Consecutive failed reads (lost connection) a subscription rides out before it throws. */
export const SUBSCRIPTION_RETRIES_MAX = 20;

/** The wake-ups of one store's subscriptions. */
export class WakeHub {
  readonly #sql: postgres.Sql;
  readonly #channel: string;
  readonly #pollMs: number;
  #generation = 0;
  #waiters = new Set<() => void>();
  #listen: Promise<postgres.ListenMeta | undefined> | undefined;
  #closed = false;

  constructor(sql: postgres.Sql, channel: string, pollMs: number) {
    this.#sql = sql;
    this.#channel = channel;
    this.#pollMs = pollMs;
  }

  /** Increases at every notification (and every (re)connect of the listener). */
  get generation(): number {
    return this.#generation;
  }

  /** Start listening (once); failures only mean polling until the next try. */
  ensureListening(): void {
    if (this.#listen || this.#closed) return;
    this.#listen = this.#sql.listen(this.#channel, () => this.wake(), () => this.wake())
      .catch(() => {
        this.#listen = undefined;
        return undefined;
      });
  }

  /** Wake every waiting subscription. */
  wake(): void {
    this.#generation++;
    for (const w of [...this.#waiters]) w();
  }

  /**
   * Resolve at the next wake-up after `generation`, after the poll
   * interval, or on abort/close, whichever comes first.
   */
  wait(generation: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#generation !== generation || this.#closed || signal?.aborted) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, this.#pollMs);
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Stop listening and release every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    this.wake();
    const meta = await this.#listen;
    this.#listen = undefined;
    await meta?.unlisten().catch(() => {});
  }
}

/** How a subscription reads and knows it should stop. */
export interface SubscriptionSource {
  /** The next page of the region after `position`, in global order, never skipping. */
  page(position: number, limit: number): Promise<StoredEvent[]>;
  /** True once the store is closed. */
  isClosed(): boolean;
  readonly hub: WakeHub;
  readonly pollIntervalMs: number;
}

function isTransient(e: unknown): boolean {
  return e instanceof IoError && /connection lost|reconnects/.test(e.message);
}

/** The events of the region after `after`: catch-up, then live, until aborted or closed. */
export async function* subscription(
  src: SubscriptionSource,
  after: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<StoredEvent, void, undefined> {
  const stopped = () => signal?.aborted === true || src.isClosed();
  src.hub.ensureListening();
  let position = after;
  let failures = 0;
  while (!stopped()) {
    const generation = src.hub.generation;
    let page: StoredEvent[];
    try {
      page = await src.page(position, SUBSCRIPTION_PAGE_EVENTS);
      failures = 0;
    } catch (e) {
      if (stopped()) return;
      if (!isTransient(e) || ++failures > SUBSCRIPTION_RETRIES_MAX) throw e;
      await src.hub.wait(src.hub.generation, signal);
      continue;
    }
    for (const event of page) {
      if (stopped()) return;
      position = event.globalSequence;
      yield event;
    }
    if (page.length === SUBSCRIPTION_PAGE_EVENTS) continue;
    src.hub.ensureListening();
    await src.hub.wait(generation, signal);
  }
}

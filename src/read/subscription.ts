/**
 * Live subscriptions: an async iterator that catches up from the log and
 * then follows appends.
 *
 * There is no separate "live" channel that could race the catch-up: the
 * iterator only ever asks the index for the region's events after its
 * position. When that comes back empty, it registers for the next append in
 * the same synchronous step, so an append cannot fall between the empty
 * answer and the registration (no gap), and an event is delivered only from
 * a position strictly before it (no duplicate).
 *
 * Memory is bounded for a slow consumer: at most one page
 * ({@linkcode SUBSCRIPTION_PAGE_EVENTS} events, about
 * {@linkcode SUBSCRIPTION_PAGE_BYTES} of frames) is held; the rest stays in
 * the log until asked for. Appends only wake a waiting iterator; they never
 * queue events.
 *
 * Caught up: the first time an iteration finds nothing more to deliver,
 * it calls `onCaughtUp(position)` (once), before it waits for an append —
 * so after the last historical event and before the first live one.
 *
 * @module
 */

import { describeValue } from "../core/describe.ts";
import { InvalidArgumentError } from "../core/errors.ts";
import type { Region } from "../core/region.ts";
import type { StoredEvent, StoreSubscribeOptions } from "../core/types.ts";
import { checkPosition } from "./cursor.ts";
import { type EventSource, readPage } from "./events.ts";
import { queryVisible } from "./visibility.ts";

/** Most events read from the log per page. */
export const SUBSCRIPTION_PAGE_EVENTS = 256;
/** A page stops growing once its frames reach this many bytes (it always holds one event). */
export const SUBSCRIPTION_PAGE_BYTES = 1 << 20;

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** One subscriber's iterator. */
class Subscription implements AsyncIterator<StoredEvent, undefined> {
  readonly #s: EventSource;
  readonly #region: Region;
  readonly #signal: AbortSignal | undefined;
  /** Called once, when catch-up ends (then cleared). */
  #onCaughtUp: ((position: number) => void) | undefined;
  #position: number;
  #page: StoredEvent[] = [];
  #next = 0;
  #pageVersion = -1;
  #finished = false;
  /** Wakes the pending wait, if any; also called by return(). */
  #wake: (() => void) | undefined;
  /** Serializes overlapping next() calls. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    s: EventSource,
    region: Region,
    after: number,
    signal: AbortSignal | undefined,
    onCaughtUp: ((position: number) => void) | undefined,
  ) {
    this.#s = s;
    this.#region = region;
    this.#position = after;
    this.#signal = signal;
    this.#onCaughtUp = onCaughtUp;
  }

  #stopped(): boolean {
    if (!this.#finished && (this.#signal?.aborted === true || this.#s.closed)) {
      this.#finish();
    }
    return this.#finished;
  }

  #finish(): void {
    this.#finished = true;
    this.#page = [];
    this.#next = 0;
    this.#wake?.();
  }

  /** Fill the page with the next events after the position; false when caught up. */
  #fill(): boolean {
    const gs = queryVisible(this.#s, this.#region, this.#position, SUBSCRIPTION_PAGE_EVENTS);
    if (gs.length === 0) return false;
    this.#page = readPage(this.#s, gs, 0, SUBSCRIPTION_PAGE_EVENTS, SUBSCRIPTION_PAGE_BYTES);
    this.#pageVersion = this.#s.lifecycle.version;
    this.#next = 0;
    return true;
  }

  /** Resolves at the next append, abort, close or return(). */
  #waitForAppend(): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.#signal;
      const wake = () => {
        off();
        signal?.removeEventListener("abort", wake);
        this.#wake = undefined;
        resolve();
      };
      const off = this.#s.onAppend(wake);
      signal?.addEventListener("abort", wake, { once: true });
      this.#wake = wake;
    });
  }

  async #step(): Promise<IteratorResult<StoredEvent, undefined>> {
    for (;;) {
      if (this.#stopped()) return DONE;
      if (this.#next < this.#page.length && this.#pageVersion !== this.#s.lifecycle.version) {
        this.#page = []; // a deletion since the page was read takes effect at once
        this.#next = 0;
      }
      if (this.#next < this.#page.length) {
        const event = this.#page[this.#next++];
        this.#position = event.globalSequence;
        return { done: false, value: event };
      }
      if (this.#fill()) continue;
      const caughtUp = this.#onCaughtUp;
      if (caughtUp !== undefined) {
        this.#onCaughtUp = undefined;
        try {
          caughtUp(this.#position);
        } catch (e) {
          this.#finish();
          throw e;
        }
        continue; // it may have appended: look again before waiting
      }
      await this.#waitForAppend();
    }
  }

  next(): Promise<IteratorResult<StoredEvent, undefined>> {
    const result = this.#tail.then(() => this.#step());
    this.#tail = result.catch(() => {});
    return result;
  }

  return(): Promise<IteratorResult<StoredEvent, undefined>> {
    this.#finish();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<StoredEvent, undefined> {
    return this;
  }
}

/**
 * The async iterable behind `Store.subscribe`. Each iteration (each call of
 * `[Symbol.asyncIterator]()`) is an independent subscriber starting after
 * `options.after`.
 */
export function subscribe(
  s: EventSource,
  region: Region,
  options: StoreSubscribeOptions | undefined,
): AsyncIterable<StoredEvent> {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new InvalidArgumentError(
      `subscribe: options must be an object, found ${describeValue(options)}`,
    );
  }
  const { after: from, signal, onCaughtUp } = options ?? {};
  const after = checkPosition(s, "subscribe: after", from ?? 0);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError("subscribe: signal must be an AbortSignal");
  }
  if (onCaughtUp !== undefined && typeof onCaughtUp !== "function") {
    throw new InvalidArgumentError(
      `subscribe: onCaughtUp must be a function, found ${describeValue(onCaughtUp)}`,
    );
  }
  return {
    [Symbol.asyncIterator]: () => new Subscription(s, region, after, signal, onCaughtUp),
  };
}

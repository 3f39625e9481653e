/**
 * Shared pieces of the conformance cases: the case and context types, a
 * manual clock, and small helpers written against `EventStore` only.
 * Web-standard TypeScript: no `node:` or `Deno` imports.
 *
 * @module
 */

import { Region } from "../../src/core/region.ts";
import type { EventStore, StoredEvent } from "../../src/core/types.ts";
import { assert, assertEquals, fail } from "./assert.ts";

/** What a backend guarantees beyond the contract (cases check these only where true). */
export interface BackendFeatures {
  /** `globalSequence` is 1, 2, 3… with no gaps (embedded: true; PostgreSQL: false). */
  gaplessGlobalSequence: boolean;
  /** `open()` may be called while an earlier handle is still open (several clients). */
  concurrentHandles: boolean;
}

/** A clock the cases move by hand: the stores `open` returns must read it. */
export class ManualClock {
  /** Now, epoch ms. */
  nowMs: number;
  /** Start at `startMs`. */
  constructor(startMs = 1_700_000_000_000) {
    this.nowMs = startMs;
  }
  /** The clock function to hand to a store. */
  readonly now = (): number => this.nowMs;
  /** Move time forward. */
  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** What a case gets besides `open`. */
export interface ConformanceContext {
  /** The time of every store `open` returns; advance it to expire leases. */
  readonly clock: ManualClock;
  /** The backend's extra guarantees. */
  readonly features: BackendFeatures;
}

/**
 * One conformance case. `open()` returns a handle on the store under test:
 * empty on the first call of a case, the same data on later calls (close,
 * then open again, is a reopen).
 */
export interface ConformanceCase {
  /** `area: behaviour`. */
  readonly name: string;
  /** Run the case; throws on failure. */
  run(open: () => Promise<EventStore>, ctx: ConformanceContext): Promise<void>;
}

/** Open a store, run `fn`, close it whatever happens. */
export async function withStore<T>(
  open: () => Promise<EventStore>,
  fn: (store: EventStore) => Promise<T>,
): Promise<T> {
  const store = await open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Page size of {@linkcode readAll}. */
const READ_PAGE = 97;

/** Every event of the region, paging with `read` (an odd page size, to cross page edges). */
export async function readAll(
  store: EventStore,
  region: Region = Region.all(),
): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.read(region, { after, limit: READ_PAGE });
    out.push(...page);
    if (page.length < READ_PAGE) return out;
    after = page[page.length - 1].globalSequence;
  }
}

/** What "nothing was written" compares: every event, and the entities' last sequences. */
export interface StoreState {
  events: string[];
  lasts: number[];
}

/** The observable state of `entities` and the whole log. */
export async function stateOf(store: EventStore, entities: string[]): Promise<StoreState> {
  const events = (await readAll(store)).map((e) => `${e.eventId}@${e.globalSequence}`);
  const lasts: number[] = [];
  for (const e of entities) lasts.push(await store.lastSequence(e));
  return { events, lasts };
}

/** Fail unless the state is unchanged (a rejected call wrote nothing). */
export async function assertUnchanged(
  store: EventStore,
  entities: string[],
  before: StoreState,
  what: string,
): Promise<void> {
  assertEquals(await stateOf(store, entities), before, `${what} wrote something`);
}

/** Fail unless the global sequences strictly increase (and, when gapless, count from 1). */
export function assertGlobalOrder(events: StoredEvent[], gapless: boolean, what: string): void {
  for (let i = 1; i < events.length; i++) {
    assert(
      events[i].globalSequence > events[i - 1].globalSequence,
      `${what}: globalSequence ${events[i].globalSequence} after ${events[i - 1].globalSequence}`,
    );
  }
  if (gapless) {
    events.forEach((e, i) =>
      assertEquals(e.globalSequence, events[0].globalSequence + i, `${what}: gapless`)
    );
  }
}

/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Iterate a subscription until `until` returns true for the events so far,
 * then abort it; fail if that takes longer than `timeoutMs`. `onEvent` may
 * append (it runs between pulls). Returns the events and whether the
 * iteration ended cleanly after the abort.
 */
export async function follow(
  subscribe: (signal: AbortSignal) => AsyncIterable<StoredEvent>,
  until: (events: StoredEvent[]) => boolean,
  onEvent: (events: StoredEvent[]) => Promise<void> | void = () => {},
  timeoutMs = 10_000,
): Promise<StoredEvent[]> {
  const stop = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stop.abort();
  }, timeoutMs);
  const events: StoredEvent[] = [];
  try {
    if (until(events)) stop.abort();
    for await (const e of subscribe(stop.signal)) {
      events.push(e);
      await onEvent(events);
      if (until(events)) stop.abort();
    }
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) {
    fail(`subscription: timed out after ${timeoutMs} ms with ${events.length} events`);
  }
  return events;
}

/** The fields of an event a reader must see identically on every read path. */
export function essence(e: StoredEvent): Record<string, unknown> {
  return {
    eventId: e.eventId,
    entity: e.entity,
    scope: e.scope,
    kind: e.kind,
    sequence: e.sequence,
    globalSequence: e.globalSequence,
    timestampMs: e.timestampMs,
    payload: e.payload,
    prevHash: e.prevHash,
    eventHash: e.eventHash,
    correlationId: e.correlationId,
    causationId: e.causationId,
  };
}

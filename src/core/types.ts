/**
 * The store's public data shapes.
 *
 * @module
 */

import type { Coordinate } from "./coordinate.ts";
import type { EventId } from "./ids.ts";
import type { EventKind, TypedKind } from "./kind.ts";
import type { Region } from "./region.ts";

/**
 * An ownership fence: who may write to a scope, in which epoch, proven by a token.
 *
 * @example
 * ```ts
 * import { type Fence, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const fence: Fence = store.ownership("orders").claim("worker-a", 60_000);
 * console.log(fence.owner, fence.epoch); // worker-a 1
 * store.close();
 * ```
 */
export interface Fence {
  /** The owner's name. */
  owner: string;
  /** Increases by one at every takeover. */
  epoch: number;
  /** Secret proof of ownership; unguessable by rivals. */
  token: string;
}

/**
 * Per-append options.
 *
 * @example
 * ```ts
 * import { type AppendOptions, Coordinate, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const options: AppendOptions = { expectedSequence: 0, idempotencyKey: "order-1-placed" };
 * const r = store.append(new Coordinate("order:1", "shop"), EventKind.custom(1, 1), {}, options);
 * console.log(r.sequence); // 1
 * store.close();
 * ```
 */
export interface AppendOptions {
  /** Succeed only if the entity's last sequence is this (0 = no events yet). */
  expectedSequence?: number;
  /** A repeated key returns the first receipt and writes nothing (bigint ≤ 128 bits or string). */
  idempotencyKey?: bigint | string;
  /** Id of the event that started the conversation this event belongs to. */
  correlationId?: EventId;
  /** Id of the event that caused this one. */
  causationId?: EventId;
  /** Ownership fence of the coordinate's scope; the append is rejected if it is not current. */
  fence?: Fence;
}

/**
 * What every successful write returns.
 *
 * @example
 * ```ts
 * import { type AppendReceipt, Coordinate, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const r: AppendReceipt = store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), "x");
 * console.log(r.sequence, r.globalSequence, r.eventHash.length); // 1 1 64
 * store.close();
 * ```
 */
export interface AppendReceipt {
  /** The event's UUIDv7. */
  eventId: EventId;
  /** Position in the entity's stream, from 1. */
  sequence: number;
  /** Position in the whole log, from 1, gapless. */
  globalSequence: number;
  /** Hex BLAKE3 link of the entity's hash chain. */
  eventHash: string;
  /**
   * True when the idempotency key matched an earlier append of the same
   * entity and kind: this is that append's receipt and nothing was written.
   */
  duplicate: boolean;
}

/**
 * One item of {@linkcode Store.appendBatch}.
 *
 * @example
 * ```ts
 * import { type BatchAppendItem, Coordinate, EventKind, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const coord = new Coordinate("cart:1", "shop");
 * const items: BatchAppendItem[] = [
 *   { coord, kind: EventKind.custom(1, 1), payload: { sku: "apple" } },
 *   { coord, kind: EventKind.custom(1, 2), payload: { paid: true }, causation: { priorItem: 0 } },
 * ];
 * const [first, second] = store.appendBatch(items);
 * console.log(store.get(second.eventId).causationId === first.eventId); // true
 * store.close();
 * ```
 */
export interface BatchAppendItem {
  /** Where the event goes. */
  coord: Coordinate;
  /** Its kind (not in a reserved category). */
  kind: EventKind;
  /** Any MessagePack-encodable value. */
  payload: unknown;
  /** CAS, idempotency, correlation and fence options. */
  options?: AppendOptions;
  /** The cause: an earlier item of the same batch, or an existing event. */
  causation?: { priorItem: number } | { eventId: EventId };
}

/**
 * A batch item of a typed kind ({@linkcode TypedKind}): its payload must
 * have the kind's payload type. `appendBatch` checks each item of an array
 * literal against its own kind.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, type TypedBatchAppendItem } from "@seed/batpak";
 * const Deposited = EventKind.define<{ amount: number }>(0x1, 4, "Deposited");
 * const item: TypedBatchAppendItem<{ amount: number }> = {
 *   coord: new Coordinate("acct:1", "bank"),
 *   kind: Deposited,
 *   payload: { amount: 5 },
 * };
 * const store = Store.open(Deno.makeTempDirSync());
 * console.log(store.appendBatch([item, { ...item, payload: { amount: 7 } }]).length); // 2
 * store.close();
 * ```
 */
export interface TypedBatchAppendItem<P> {
  /** Where the event goes. */
  coord: Coordinate;
  /** Its typed kind. */
  kind: TypedKind<P>;
  /** A payload of the kind's type. */
  payload: NoInfer<P>;
  /** CAS, idempotency, correlation and fence options. */
  options?: AppendOptions;
  /** The cause: an earlier item of the same batch, or an existing event. */
  causation?: { priorItem: number } | { eventId: EventId };
}

/**
 * The items of `appendBatch`, each checked against its own kind: an item
 * whose `kind` is a {@linkcode TypedKind} is a
 * {@linkcode TypedBatchAppendItem} of it, any other a
 * {@linkcode BatchAppendItem}.
 *
 * @example
 * ```ts
 * import { type BatchAppendItem, type CheckedBatchItems, Coordinate, EventKind } from "@seed/batpak";
 * const items: BatchAppendItem[] = [
 *   { coord: new Coordinate("a", "s"), kind: EventKind.custom(1, 1), payload: 1 },
 * ];
 * const checked: CheckedBatchItems<typeof items> = items;
 * console.log(checked.length); // 1
 * ```
 */
export type CheckedBatchItems<T> = {
  readonly [I in keyof T]: T[I] extends { readonly kind: TypedKind<infer P> }
    ? TypedBatchAppendItem<P>
    : BatchAppendItem;
};

/**
 * What the index knows about an event, without reading its payload.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type IndexEntry, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * const [entry]: IndexEntry[] = store.stream("a");
 * console.log(entry.entity, entry.scope, entry.sequence, entry.globalSequence); // a s 1 1
 * store.close();
 * ```
 */
export interface IndexEntry {
  /** The event's UUIDv7. */
  eventId: EventId;
  /** Its entity. */
  entity: string;
  /** Its scope. */
  scope: string;
  /** Its kind. */
  kind: EventKind;
  /** Position in the entity's stream, from 1. */
  sequence: number;
  /** Position in the log, from 1. */
  globalSequence: number;
  /** Append time, epoch ms, from the store's clock. */
  timestampMs: number;
}

/**
 * A whole event as read from the log.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, type StoredEvent } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const { eventId } = store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { n: 1 });
 * const event: StoredEvent = store.get(eventId);
 * console.log(event.payload, event.prevHash === ""); // { n: 1 } true
 * store.close();
 * ```
 */
export interface StoredEvent extends IndexEntry {
  /** The decoded payload. */
  payload: unknown;
  /** Correlation id, if one was given. */
  correlationId?: EventId;
  /** Causation id, if one was given. */
  causationId?: EventId;
  /** Hex hash of the entity's previous event ("" for the first). */
  prevHash: string;
  /** Hex BLAKE3 of this event's encoded body (which includes `prevHash`). */
  eventHash: string;
  /**
   * Schema version of `payload`, when above 1: after upcasting (a kind the
   * store registered in `StoreConfig.kinds`) the kind's current version,
   * otherwise the version it was written at. Absent: version 1.
   */
  schemaVersion?: number;
  /**
   * Present (`true`) when the payload was redacted (`Store.redact`): `payload`
   * is then `undefined`, the rest of the event and its hashes are kept.
   */
  redacted?: true;
}

/**
 * An event as `Store.replay` delivers it: a {@linkcode StoredEvent} without
 * its id and hash texts (`eventId`, `prevHash`, `eventHash`,
 * `correlationId`, `causationId`) — what rebuilding a read model needs, read
 * with the same checks (every frame's CRC, the event the index places
 * there, the hash chain). Making those five strings was about a quarter of
 * a full read's time. A plain object like `StoredEvent`; `globalSequence`
 * names the event (`store.query` or `read` give its `eventId`).
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Region, type ReplayedEvent, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), { n: 1 });
 * store.replay(Region.all(), (event: ReplayedEvent) => {
 *   console.log(event.entity, event.sequence, event.payload); // a 1 { n: 1 }
 * });
 * store.close();
 * ```
 */
export type ReplayedEvent = Omit<
  StoredEvent,
  "eventId" | "prevHash" | "eventHash" | "correlationId" | "causationId"
>;

/**
 * Options of `Store.replay`.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Region, type ReplayOptions, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * for (let i = 0; i < 3; i++) store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), i);
 * const options: ReplayOptions = { after: 1, limit: 1 };
 * console.log(store.replay(Region.all(), (e) => console.log(e.payload), options)); // 1, then 2
 * store.close();
 * ```
 */
export interface ReplayOptions {
  /** Start after this global sequence (default 0: from the first event). */
  after?: number;
  /** Visit at most this many events (default: every one). */
  limit?: number;
}

/**
 * A pull-based reader that delivers every event of a region in global order.
 *
 * @example
 * ```ts
 * import { Coordinate, type Cursor, EventKind, Region, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 1);
 * const cursor: Cursor = store.cursorGuaranteed(Region.all());
 * console.log(cursor.poll()?.payload, cursor.position); // 1 1
 * console.log(cursor.poll()); // undefined
 * store.close();
 * ```
 */
export interface Cursor {
  /** The next event, or `undefined` when caught up. Never skips, never repeats. */
  poll(): StoredEvent | undefined;
  /** Up to `max` next events. */
  pollBatch(max: number): StoredEvent[];
  /** The last delivered `globalSequence` (the `after` it started from, before any). */
  readonly position: number;
}

/**
 * A fold of an entity's events into a state.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type EventSourced, Store } from "@seed/batpak";
 * const added = EventKind.custom(1, 1);
 * const count: EventSourced<number> = { kinds: [added], initial: () => 0, apply: (n) => n + 1 };
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("list:1", "s"), added, "x");
 * store.append(new Coordinate("list:1", "s"), EventKind.custom(1, 2), "not counted");
 * console.log(store.project("list:1", count)); // 1
 * store.close();
 * ```
 */
export interface EventSourced<T> {
  /** Kinds the projection cares about; absent = all. */
  readonly kinds?: readonly EventKind[];
  /** The state before any event. */
  initial(): T;
  /** Fold one event into the state. */
  apply(state: T, event: StoredEvent): T;
}

/**
 * `"consistent"`: see every event; `{ maybeStaleMs }`: a cached state this young will do.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type Freshness, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 2);
 * const sum = { initial: () => 0, apply: (s: number, e: { payload: unknown }) => s + Number(e.payload) };
 * const fresh: Freshness = { maybeStaleMs: 1000 };
 * console.log(store.project("a", sum, fresh)); // 2
 * store.close();
 * ```
 */
export type Freshness = "consistent" | { maybeStaleMs: number };

/**
 * One problem found by {@linkcode Store.verify}.
 *
 * @example
 * ```ts
 * import { Store, type VerifyProblem } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const problems: VerifyProblem[] = store.verify().problems;
 * for (const p of problems) console.log(`${p.file} at offset ${p.offset}: ${p.message}`);
 * store.close();
 * ```
 */
export interface VerifyProblem {
  /** The file holding the problem. */
  file: string;
  /** Byte offset within it. */
  offset: number;
  /** What is wrong. */
  message: string;
}

/**
 * Result of {@linkcode Store.verify}.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Store, type VerifyReport } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * const report: VerifyReport = store.verify();
 * console.log(report.ok, report.eventsChecked, report.problems.length); // true 1 0
 * store.close();
 * ```
 */
export interface VerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  /** Events whose frames were re-read. */
  eventsChecked: number;
  /** Every problem found. */
  problems: VerifyProblem[];
}

/**
 * How the last open restored the index.
 *
 * @example
 * ```ts
 * import { type OpenReport, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const report: OpenReport = store.diagnostics().openReport;
 * console.log(report.path, report.truncatedBytes); // rebuild 0
 * store.close();
 * ```
 */
export interface OpenReport {
  /**
   * `"image"`: the index image (`index.img`); `"checkpoint"`: the periodic
   * checkpoint; `"rebuild"`: a full scan. (Before 0.2 the image path was
   * reported as `"mmap"`.)
   */
  path: "image" | "checkpoint" | "rebuild";
  /** Events restored from the sidecar. */
  restoredEntries: number;
  /** Events scanned from the log past the sidecar's position. */
  tailEntries: number;
  /** Wall time of the open, ms. */
  elapsedMs: number;
  /** Bytes cut from a torn tail of the last segment (0 when clean). */
  truncatedBytes: number;
  /** Sidecars that were present but rejected, and why. */
  rejectedSidecars: string[];
}

/**
 * A snapshot of the store's state.
 *
 * @example
 * ```ts
 * import { Coordinate, type Diagnostics, EventKind, Store } from "@seed/batpak";
 * const dir = Deno.makeTempDirSync();
 * const first = Store.open(dir);
 * first.append(new Coordinate("a", "s"), EventKind.custom(1, 1), {});
 * first.close(); // writes the index image
 * const store = Store.open(dir);
 * const d: Diagnostics = store.diagnostics();
 * console.log(d.events, d.entities, d.openReport.path); // 1 1 image
 * store.close();
 * ```
 */
export interface Diagnostics {
  /** How the index was restored at open. */
  openReport: OpenReport;
  /** Segment files. */
  segments: number;
  /** Events in the log. */
  events: number;
  /** Distinct entities. */
  entities: number;
  /** What deletions, truncations, retention policies and redactions are in force. */
  lifecycle: LifecycleSummary;
}

/**
 * Counts of the lifecycle changes in force in a store (see `Store.deleteStream`,
 * `truncateBefore`, `setRetention`, `redact`).
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type LifecycleSummary, Store } from "@seed/batpak";
 * using store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), 1);
 * store.deleteStream("a");
 * const l: LifecycleSummary = store.diagnostics().lifecycle;
 * console.log(l.deletedStreams, l.redactedEvents); // 1 0
 * ```
 */
export interface LifecycleSummary {
  /** Deleted streams (entities). */
  deletedStreams: number;
  /** Streams truncated before some sequence. */
  truncatedStreams: number;
  /** Scopes with a retention policy. */
  retentionPolicies: number;
  /** Redacted events. */
  redactedEvents: number;
}

/**
 * Options of `readStream`: which part of one entity's stream, in which order.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type ReadStreamOptions, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * for (let i = 1; i <= 5; i++) store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), i);
 * const newestTwo: ReadStreamOptions = { direction: "backwards", maxCount: 2 };
 * console.log(store.readStream("a", newestTwo).map((e) => e.sequence)); // [ 5, 4 ]
 * store.close();
 * ```
 */
export interface ReadStreamOptions {
  /**
   * First sequence wanted, inclusive (default: 1 forwards, the last sequence
   * backwards).
   */
  from?: number;
  /** At most this many events (default: all). */
  maxCount?: number;
  /** `"forwards"` (default, ascending sequences) or `"backwards"`. */
  direction?: "forwards" | "backwards";
}

/**
 * Options of `read` / `subscribe`: where in the global order to start.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type ReadOptions, Region, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * for (let i = 1; i <= 5; i++) store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), i);
 * const page: ReadOptions = { after: 2, limit: 2 };
 * console.log(store.read(Region.all(), page).map((e) => e.payload)); // [ 3, 4 ]
 * store.close();
 * ```
 */
export interface ReadOptions {
  /** Deliver events after this global sequence. */
  after: number;
  /** At most this many events. */
  limit: number;
}

/**
 * Options of `subscribe`.
 *
 * @example
 * ```ts
 * import { type SubscribeOptions } from "@seed/batpak";
 * const stop = new AbortController();
 * const options: SubscribeOptions = { after: 0, signal: stop.signal };
 * console.log(options.after); // 0
 * ```
 */
export interface SubscribeOptions {
  /** Deliver events after this global sequence (default 0: from the start). */
  after?: number;
  /** Ends the iteration (cleanly, without an error) when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of the embedded store's `subscribe`: {@linkcode SubscribeOptions}
 * and a caught-up signal.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, Region, Store, type StoreSubscribeOptions } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), "history");
 * const stop = new AbortController();
 * const seen: string[] = [];
 * const options: StoreSubscribeOptions = {
 *   signal: stop.signal,
 *   onCaughtUp: (position) => {
 *     seen.push(`caught up at ${position}`);
 *     store.append(new Coordinate("a", "s"), EventKind.custom(1, 1), "live");
 *   },
 * };
 * for await (const e of store.subscribe(Region.all(), options)) {
 *   seen.push(String(e.payload));
 *   if (e.payload === "live") stop.abort();
 * }
 * console.log(seen); // [ "history", "caught up at 1", "live" ]
 * store.close();
 * ```
 */
export interface StoreSubscribeOptions extends SubscribeOptions {
  /**
   * Called once per iteration, when catch-up ends and live delivery starts:
   * after the last event that was in the log when the iteration caught up
   * has been delivered (the consumer asked for the next one and there was
   * none), before any later event — at once when there is no history.
   * Gets the position caught up to (the last delivered global sequence, or
   * `after`). Not called when the iteration ends before catching up. If it
   * throws, the iteration ends with that error.
   */
  onCaughtUp?: (position: number) => void;
}

/** A value, or a promise of it: what a backend's method may return. */
export type Awaitable<T> = T | Promise<T>;

/**
 * Leases and fencing tokens of one scope, on any backend (see the embedded
 * store's `Ownership` for the semantics; every return may be a promise).
 *
 * @example
 * ```ts
 * import { type AsyncOwnership, Store } from "@seed/batpak";
 * const store = Store.open(Deno.makeTempDirSync());
 * const orders: AsyncOwnership = store.ownership("orders");
 * const fence = await orders.claim("worker-a", 60_000);
 * console.log(fence.epoch); // 1
 * store.close();
 * ```
 */
export interface AsyncOwnership {
  /** The scope guarded. */
  readonly scope: string;
  /** Take a free scope. */
  claim(owner: string, leaseMs: number): Awaitable<Fence>;
  /** Extend the current lease. */
  renew(fence: Fence, leaseMs: number): Awaitable<Fence>;
  /** Replace an expired owner: epoch + 1. */
  takeover(owner: string, observed: Fence, leaseMs: number): Awaitable<Fence>;
  /** Give the lease up. */
  release(fence: Fence): Awaitable<void>;
  /** The current owner and epoch (token `""`), or `undefined`. */
  current(): Awaitable<Fence | undefined>;
}

/**
 * The contract every backend satisfies — the embedded `Store` (whose
 * returns are synchronous), the browser worker client, `PostgresStore` —
 * so app code written once against it runs on any of them.
 *
 * @example
 * ```ts
 * import { Coordinate, EventKind, type EventStore, Store } from "@seed/batpak";
 * async function deposit(store: EventStore, account: string, amount: number): Promise<number> {
 *   const receipt = await store.append(new Coordinate(account, "bank"), EventKind.custom(1, 1), {
 *     amount,
 *   });
 *   return receipt.sequence;
 * }
 * const store = Store.open(Deno.makeTempDirSync());
 * console.log(await deposit(store, "account:1", 10)); // 1
 * store.close();
 * ```
 */
export interface EventStore {
  /** Append one event. */
  append(
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    options?: AppendOptions,
  ): Awaitable<AppendReceipt>;
  /** Append several events atomically. */
  appendBatch(items: BatchAppendItem[]): Awaitable<AppendReceipt[]>;
  /** Resolves once everything appended so far is durable. */
  durable(): Promise<void>;
  /** The event with this id (`NotFoundError` when unknown). */
  get(id: EventId): Awaitable<StoredEvent>;
  /** Events of exactly this entity, with payloads. */
  readStream(entity: string, options?: ReadStreamOptions): Awaitable<StoredEvent[]>;
  /** The entity's last sequence, 0 when it has none. */
  lastSequence(entity: string): Awaitable<number>;
  /** A page of the region in global order. */
  read(region: Region, options: ReadOptions): Awaitable<StoredEvent[]>;
  /** The region's events from `after`, then live ones. */
  subscribe(region: Region, options?: SubscribeOptions): AsyncIterable<StoredEvent>;
  /** Fold an entity's events (cached). */
  project<T>(
    entity: string,
    projection: EventSourced<T>,
    freshness?: Freshness,
  ): Awaitable<T | undefined>;
  /** Leases and fences of a scope. */
  ownership(scope: string): AsyncOwnership;
  /** Save a named cursor position. */
  saveCursor(name: string, position: number): Awaitable<void>;
  /** The saved position, or `undefined`. */
  loadCursor(name: string): Awaitable<number | undefined>;
  /** Release the backend. */
  close(): Awaitable<void>;
}

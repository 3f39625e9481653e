/**
 * Conformance cases for bad input: every entry point of `EventStore` given
 * wrong types, out-of-range values and hostile payloads throws (or rejects
 * with) a typed `StoreError`, writes nothing, and leaves the store usable.
 *
 * @module
 */

import { Coordinate } from "../../src/core/coordinate.ts";
import {
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  NotFoundError,
  PayloadTooLargeError,
  ReservedKindError,
  StoreClosedError,
  type StoreError,
} from "../../src/core/errors.ts";
import { EventKind } from "../../src/core/kind.ts";
import { Region } from "../../src/core/region.ts";
import type {
  AppendOptions,
  BatchAppendItem,
  EventSourced,
  EventStore,
  Freshness,
  ReadOptions,
  ReadStreamOptions,
} from "../../src/core/types.ts";
import { assertEquals, assertFails, type ErrorClass } from "./assert.ts";
import { assertUnchanged, type ConformanceCase, readAll, stateOf, withStore } from "./_support.ts";

const K1 = EventKind.custom(0x1, 1);
const GOOD = new Coordinate("good:1", "s");
/** An id no store has issued. */
const UNKNOWN_ID = "01890a5d-ac96-774b-bcce-b302099a8057";
/** Bigger than the largest frame body (16 MiB). */
const TOO_LARGE_BYTES = 16 * 1024 * 1024 + 1;

type Bad = [what: string, call: (store: EventStore) => unknown, error: ErrorClass<StoreError>];

class Money {
  constructor(readonly cents: number) {}
}

function cyclic(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function throwingGetter(): unknown {
  return Object.defineProperty({}, "boom", {
    enumerable: true,
    get() {
      throw new Error("getter exploded");
    },
  });
}

const appendWith = (options: unknown) => (s: EventStore) =>
  s.append(GOOD, K1, 1, options as AppendOptions);

const badAppends: Bad[] = [
  ["coord: a string", (s) => s.append("good:1" as never, K1, 1), InvalidCoordinateError],
  [
    "coord: a plain object",
    (s) => s.append({ entity: "e", scope: "s" } as never, K1, 1),
    InvalidCoordinateError,
  ],
  ["coord: null", (s) => s.append(null as never, K1, 1), InvalidCoordinateError],
  ["kind: fractional", (s) => s.append(GOOD, 1.5 as EventKind, 1), InvalidArgumentError],
  ["kind: negative", (s) => s.append(GOOD, -1 as EventKind, 1), InvalidArgumentError],
  ["kind: above u16", (s) => s.append(GOOD, 0x10000 as EventKind, 1), InvalidArgumentError],
  [
    "kind: a string",
    (s) => s.append(GOOD, "4097" as unknown as EventKind, 1),
    InvalidArgumentError,
  ],
  ["kind: system", (s) => s.append(GOOD, EventKind.custom(0x0, 1), 1), ReservedKindError],
  ["kind: effect", (s) => s.append(GOOD, EventKind.custom(0xd, 7), 1), ReservedKindError],
  ["options: a string", appendWith("fast"), InvalidArgumentError],
  ["options: null", appendWith(null), InvalidArgumentError],
  ["expectedSequence: -1", appendWith({ expectedSequence: -1 }), InvalidArgumentError],
  ["expectedSequence: 1.5", appendWith({ expectedSequence: 1.5 }), InvalidArgumentError],
  ["expectedSequence: NaN", appendWith({ expectedSequence: NaN }), InvalidArgumentError],
  ["expectedSequence: a string", appendWith({ expectedSequence: "0" }), InvalidArgumentError],
  ["idempotencyKey: empty", appendWith({ idempotencyKey: "" }), InvalidArgumentError],
  ["idempotencyKey: a number", appendWith({ idempotencyKey: 5 }), InvalidArgumentError],
  ["idempotencyKey: an object", appendWith({ idempotencyKey: {} }), InvalidArgumentError],
  [
    "idempotencyKey: lone surrogate",
    appendWith({ idempotencyKey: "k\ud800" }),
    InvalidArgumentError,
  ],
  ["idempotencyKey: negative bigint", appendWith({ idempotencyKey: -1n }), InvalidArgumentError],
  ["idempotencyKey: 2^128", appendWith({ idempotencyKey: 2n ** 128n }), InvalidArgumentError],
  [
    "idempotencyKey: 1025 bytes",
    appendWith({ idempotencyKey: "k".repeat(1025) }),
    InvalidArgumentError,
  ],
  ["correlationId: not a UUID", appendWith({ correlationId: "nope" }), InvalidArgumentError],
  ["causationId: a number", appendWith({ causationId: 5 }), InvalidArgumentError],
  ["fence: a string", appendWith({ fence: "mine" }), InvalidArgumentError],
  [
    "fence: epoch 0",
    appendWith({ fence: { owner: "w", epoch: 0, token: "t" } }),
    InvalidArgumentError,
  ],
  ["fence: no token", appendWith({ fence: { owner: "w", epoch: 1 } }), InvalidArgumentError],
  ["payload: a function", (s) => s.append(GOOD, K1, () => 1), InvalidPayloadError],
  ["payload: a symbol", (s) => s.append(GOOD, K1, { s: Symbol("x") }), InvalidPayloadError],
  ["payload: a Map", (s) => s.append(GOOD, K1, new Map([[1, 2]])), InvalidPayloadError],
  ["payload: a class instance", (s) => s.append(GOOD, K1, new Money(5)), InvalidPayloadError],
  ["payload: a cycle", (s) => s.append(GOOD, K1, cyclic()), InvalidPayloadError],
  ["payload: a throwing getter", (s) => s.append(GOOD, K1, throwingGetter()), InvalidPayloadError],
  ["payload: a lone surrogate", (s) => s.append(GOOD, K1, { t: "a\udc00" }), InvalidPayloadError],
  ["payload: bigint past 64 bits", (s) => s.append(GOOD, K1, 2n ** 64n), InvalidPayloadError],
  ["payload: an invalid Date", (s) => s.append(GOOD, K1, new Date(NaN)), InvalidPayloadError],
  [
    "payload: an own __proto__ key",
    (s) => s.append(GOOD, K1, JSON.parse('{"__proto__": 1}')),
    InvalidPayloadError,
  ],
  [
    "payload: nested too deep",
    (s) => {
      let deep: unknown = 1;
      for (let i = 0; i < 100; i++) deep = [deep];
      return s.append(GOOD, K1, deep);
    },
    InvalidPayloadError,
  ],
  [
    "payload: larger than a frame",
    (s) => s.append(GOOD, K1, new Uint8Array(TOO_LARGE_BYTES)),
    PayloadTooLargeError,
  ],
];

const item = (extra: Partial<BatchAppendItem> = {}): BatchAppendItem => ({
  coord: GOOD,
  kind: K1,
  payload: 1,
  ...extra,
});

const badBatches: Bad[] = [
  ["batch: a string", (s) => s.appendBatch("items" as never), InvalidArgumentError],
  ["batch: null", (s) => s.appendBatch(null as never), InvalidArgumentError],
  ["batch: a null item", (s) => s.appendBatch([item(), null as never]), InvalidArgumentError],
  [
    "batch: a bad coord",
    (s) => s.appendBatch([item(), item({ coord: "x" as never })]),
    InvalidCoordinateError,
  ],
  [
    "batch: a reserved kind",
    (s) => s.appendBatch([item(), item({ kind: EventKind.custom(0, 2) })]),
    ReservedKindError,
  ],
  [
    "batch: a bad payload",
    (s) => s.appendBatch([item(), item({ payload: new Set() })]),
    InvalidPayloadError,
  ],
  [
    "batch: bad options",
    (s) => s.appendBatch([item(), item({ options: { expectedSequence: -2 } })]),
    InvalidArgumentError,
  ],
  [
    "batch: priorItem ahead",
    (s) => s.appendBatch([item({ causation: { priorItem: 1 } }), item()]),
    InvalidArgumentError,
  ],
  [
    "batch: priorItem itself",
    (s) => s.appendBatch([item(), item({ causation: { priorItem: 1 } })]),
    InvalidArgumentError,
  ],
  [
    "batch: priorItem negative",
    (s) => s.appendBatch([item(), item({ causation: { priorItem: -1 } })]),
    InvalidArgumentError,
  ],
  [
    "batch: causation empty",
    (s) => s.appendBatch([item(), item({ causation: {} as never })]),
    InvalidArgumentError,
  ],
  [
    "batch: causation eventId bad",
    (s) => s.appendBatch([item({ causation: { eventId: "x" } })]),
    InvalidArgumentError,
  ],
  [
    "batch: too many items",
    (s) => s.appendBatch(new Array(65_537).fill(item())),
    InvalidArgumentError,
  ],
];

const projection: EventSourced<number> = { initial: () => 0, apply: (n) => n + 1 };

const badReads: Bad[] = [
  ["get: not a UUID", (s) => s.get("nope"), InvalidArgumentError],
  ["get: a number", (s) => s.get(5 as never), InvalidArgumentError],
  ["get: unknown id", (s) => s.get(UNKNOWN_ID), NotFoundError],
  ["readStream: entity a number", (s) => s.readStream(5 as never), InvalidArgumentError],
  [
    "readStream: options a string",
    (s) => s.readStream("good:1", "x" as never),
    InvalidArgumentError,
  ],
  [
    "readStream: direction up",
    (s) => s.readStream("good:1", { direction: "up" } as unknown as ReadStreamOptions),
    InvalidArgumentError,
  ],
  ["readStream: from 0", (s) => s.readStream("good:1", { from: 0 }), InvalidArgumentError],
  ["readStream: from 1.5", (s) => s.readStream("good:1", { from: 1.5 }), InvalidArgumentError],
  [
    "readStream: maxCount -1",
    (s) => s.readStream("good:1", { maxCount: -1 }),
    InvalidArgumentError,
  ],
  ["lastSequence: a number", (s) => s.lastSequence(5 as never), InvalidArgumentError],
  [
    "read: region a string",
    (s) => s.read("all" as never, { after: 0, limit: 1 }),
    InvalidArgumentError,
  ],
  [
    "read: options null",
    (s) => s.read(Region.all(), null as unknown as ReadOptions),
    InvalidArgumentError,
  ],
  ["read: after -1", (s) => s.read(Region.all(), { after: -1, limit: 1 }), InvalidArgumentError],
  ["read: after 1.5", (s) => s.read(Region.all(), { after: 1.5, limit: 1 }), InvalidArgumentError],
  [
    "read: after a string",
    (s) => s.read(Region.all(), { after: "0" as never, limit: 1 }),
    InvalidArgumentError,
  ],
  ["read: limit -1", (s) => s.read(Region.all(), { after: 0, limit: -1 }), InvalidArgumentError],
  ["read: limit NaN", (s) => s.read(Region.all(), { after: 0, limit: NaN }), InvalidArgumentError],
  ["project: entity a number", (s) => s.project(5 as never, projection), InvalidArgumentError],
  ["project: no functions", (s) => s.project("good:1", {} as never), InvalidArgumentError],
  [
    "project: kinds not kinds",
    (s) => s.project("good:1", { ...projection, kinds: ["x"] as never }),
    InvalidArgumentError,
  ],
  [
    "project: freshness a string",
    (s) => s.project("good:1", projection, "fresh" as Freshness),
    InvalidArgumentError,
  ],
  [
    "project: maybeStaleMs negative",
    (s) => s.project("good:1", projection, { maybeStaleMs: -1 }),
    InvalidArgumentError,
  ],
  ["saveCursor: empty name", (s) => s.saveCursor("", 0), InvalidArgumentError],
  ["saveCursor: a number name", (s) => s.saveCursor(5 as never, 0), InvalidArgumentError],
  ["saveCursor: a control char", (s) => s.saveCursor("a\nb", 0), InvalidArgumentError],
  ["saveCursor: position -1", (s) => s.saveCursor("c", -1), InvalidArgumentError],
  ["saveCursor: position 1.5", (s) => s.saveCursor("c", 1.5), InvalidArgumentError],
  ["saveCursor: position a string", (s) => s.saveCursor("c", "1" as never), InvalidArgumentError],
  [
    "saveCursor: past the end",
    (s) => s.saveCursor("c", Number.MAX_SAFE_INTEGER),
    InvalidArgumentError,
  ],
  ["loadCursor: empty name", (s) => s.loadCursor(""), InvalidArgumentError],
];

/** Subscribe and pull once: a backend may reject at the call or at the first pull. */
const firstPull = (region: unknown, options: unknown) => async (s: EventStore) => {
  const stop = new AbortController();
  const opts = options === "default"
    ? { signal: stop.signal }
    : options as { after?: number; signal?: AbortSignal };
  const it = s.subscribe(region as Region, opts)[Symbol.asyncIterator]();
  try {
    const t = setTimeout(() => stop.abort(), 2_000);
    try {
      await it.next();
    } finally {
      clearTimeout(t);
    }
  } finally {
    stop.abort();
    await it.return?.();
  }
};

const badSubscribes: Bad[] = [
  ["subscribe: region a string", firstPull("all", "default"), InvalidArgumentError],
  ["subscribe: options a string", firstPull(Region.all(), "x"), InvalidArgumentError],
  ["subscribe: after -1", firstPull(Region.all(), { after: -1 }), InvalidArgumentError],
  ["subscribe: after 1.5", firstPull(Region.all(), { after: 1.5 }), InvalidArgumentError],
  ["subscribe: signal a string", firstPull(Region.all(), { signal: "stop" }), InvalidArgumentError],
  [
    "subscribe: after past the end",
    firstPull(Region.all(), { after: Number.MAX_SAFE_INTEGER }),
    InvalidArgumentError,
  ],
];

function group(name: string, bad: Bad[]): ConformanceCase {
  return {
    name,
    run: (open) =>
      withStore(open, async (store) => {
        await store.append(GOOD, K1, "baseline");
        const entities = ["good:1", "x", "e"];
        const before = await stateOf(store, entities);
        const wrong: string[] = [];
        for (const [what, call, cls] of bad) {
          try {
            await assertFails(() => call(store), cls, what);
          } catch (e) {
            wrong.push((e as Error).message);
          }
        }
        assertEquals(wrong, [], "calls that did not fail as expected");
        await assertUnchanged(store, entities, before, name);
        // Still usable.
        const r = await store.append(GOOD, K1, "after");
        assertEquals(r.sequence, 2);
        assertEquals((await readAll(store)).length, before.events.length + 1);
      }),
  };
}

export const badInputCases: ConformanceCase[] = [
  group("bad input: append arguments and hostile payloads", badAppends),
  group("bad input: appendBatch items", badBatches),
  group("bad input: reads, projections and cursors", badReads),
  group("bad input: subscribe", badSubscribes),
  {
    name: "bad input: every call after close is StoreClosedError",
    run: async (open) => {
      const store = await open();
      const r = await store.append(GOOD, K1, 1);
      await store.close();
      const calls: [string, () => unknown][] = [
        ["append", () => store.append(GOOD, K1, 2)],
        ["appendBatch", () => store.appendBatch([item()])],
        ["get", () => store.get(r.eventId)],
        ["readStream", () => store.readStream("good:1")],
        ["lastSequence", () => store.lastSequence("good:1")],
        ["read", () => store.read(Region.all(), { after: 0, limit: 1 })],
        ["project", () => store.project("good:1", projection)],
        ["saveCursor", () => store.saveCursor("c", 0)],
        ["loadCursor", () => store.loadCursor("c")],
        ["durable", () => store.durable()],
        ["ownership", () => store.ownership("s").claim("w", 1000)],
        ["subscribe", () => firstPull(Region.all(), "default")(store)],
      ];
      const wrong: string[] = [];
      for (const [what, call] of calls) {
        try {
          await assertFails(call, StoreClosedError, what);
        } catch (e) {
          wrong.push((e as Error).message);
        }
      }
      assertEquals(wrong, [], "calls after close");
      await store.close(); // idempotent
      await withStore(open, async (again) => assertEquals(await again.lastSequence("good:1"), 1));
    },
  },
];

/**
 * R4, bad input: every public entry point given invalid input throws a typed
 * `StoreError`, writes nothing (the event count is unchanged, and a
 * reopen shows the same log), and leaves the store usable (a valid append
 * works right after); a closed store rejects every call with
 * `StoreClosedError`. The value types' own checks are in `tests/core/`, the
 * config's in `tests/engine/settings_test.ts`.
 */

import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  Denial,
  EventKind,
  InvalidPayloadError,
  NotFoundError,
  OwnershipError,
  PayloadTooLargeError,
  Region,
  ReservedKindError,
  Store,
  StoreClosedError,
  StoreError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";

// deno-lint-ignore no-explicit-any
type Any = any;
type ErrorClass = abstract new (...args: Any[]) => Error;

interface Case {
  name: string;
  call: (store: Store) => unknown;
  /** The typed error expected (default: any StoreError). */
  error?: ErrorClass;
}

const DIR = "/db";
const KIND = EventKind.custom(0x1, 1);
const COORD = new Coordinate("acct:1", "bank");
const GOOD_ID = "018f0000-0000-7000-8000-000000000000";

class Point {
  constructor(public x = 1) {}
}

function cyclic(): unknown {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
}

function deep(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { v };
  return v;
}

const append = (payload: unknown, options?: unknown) => (s: Store) =>
  s.append(COORD, KIND, payload, options as Any);
const item = (payload: unknown = { ok: 1 }, extra: Record<string, unknown> = {}) => ({
  coord: COORD,
  kind: KIND,
  payload,
  ...extra,
});

const BAD_NUMBERS: [string, unknown][] = [
  ["NaN", NaN],
  ["-1", -1],
  ["1.5", 1.5],
  ['"1"', "1"],
  ["Infinity", Infinity],
  ["null", null],
  ["1n", 1n],
];

const CASES: Case[] = [
  // ---- append: coordinate and kind
  { name: "append: coord is a string", call: (s) => s.append("a@b" as Any, KIND, 1) },
  {
    name: "append: coord is a plain object",
    call: (s) => s.append({ entity: "a", scope: "b" } as Any, KIND, 1),
  },
  { name: "append: coord is null", call: (s) => s.append(null as Any, KIND, 1) },
  {
    name: "append: system kind 0x0",
    call: (s) => s.append(COORD, 0x0001 as Any, 1),
    error: ReservedKindError,
  },
  {
    name: "append: effect kind 0xD",
    call: (s) => s.append(COORD, 0xd001 as Any, 1),
    error: ReservedKindError,
  },
  ...[-1, 0x10000, 1.5, NaN, "1", null, undefined].map((k): Case => ({
    name: `append: kind ${String(k)}`,
    call: (s) => s.append(COORD, k as Any, 1),
  })),
  // ---- append: payloads
  { name: "payload: a function", call: append(() => 1), error: InvalidPayloadError },
  { name: "payload: a symbol", call: append(Symbol("x")), error: InvalidPayloadError },
  {
    name: "payload: a nested function",
    call: append({ a: [1, { f() {} }] }),
    error: InvalidPayloadError,
  },
  { name: "payload: cyclic object", call: append(cyclic()), error: InvalidPayloadError },
  {
    name: "payload: cyclic array",
    call: append((() => {
      const a: unknown[] = [];
      a.push(a);
      return a;
    })()),
    error: InvalidPayloadError,
  },
  { name: "payload: Map", call: append(new Map([["a", 1]])), error: InvalidPayloadError },
  { name: "payload: Set", call: append(new Set([1])), error: InvalidPayloadError },
  { name: "payload: class instance", call: append(new Point()), error: InvalidPayloadError },
  { name: "payload: Float32Array", call: append(new Float32Array(2)), error: InvalidPayloadError },
  { name: "payload: WeakMap", call: append(new WeakMap()), error: InvalidPayloadError },
  { name: "payload: Promise", call: append(Promise.resolve(1)), error: InvalidPayloadError },
  { name: "payload: RegExp", call: append(/x/), error: InvalidPayloadError },
  { name: "payload: 65 levels deep", call: append(deep(65)), error: InvalidPayloadError },
  { name: "payload: bigint above 2^64", call: append(2n ** 64n), error: InvalidPayloadError },
  {
    name: "payload: bigint below -2^63",
    call: append(-(2n ** 63n) - 1n),
    error: InvalidPayloadError,
  },
  // Lone surrogates: MessagePack turns them into U+FFFD for long strings: silently different data.
  {
    name: "payload: string with a lone surrogate",
    call: append("x".repeat(300) + "\ud800"),
    error: InvalidPayloadError,
  },
  {
    name: "payload: key with a lone surrogate",
    call: append({ ["k\udc00"]: 1 }),
    error: InvalidPayloadError,
  },
  // Written, then unreadable forever: the decoder refuses an own "__proto__" key.
  {
    name: 'payload: own "__proto__" key (from JSON.parse)',
    call: append(JSON.parse('{"__proto__": {"x": 1}, "a": 1}')),
    error: InvalidPayloadError,
  },
  {
    name: "payload: invalid Date (would read back as 1970)",
    call: append({ at: new Date(NaN) }),
    error: InvalidPayloadError,
  },
  {
    name: "payload: a throwing getter",
    call: append({
      get x() {
        throw new Error("boom");
      },
    }),
    error: InvalidPayloadError,
  },
  {
    name: "payload: a Proxy whose traps throw",
    call: append(
      new Proxy({}, {
        ownKeys() {
          throw new Error("trap");
        },
      }),
    ),
    error: InvalidPayloadError,
  },
  {
    name: "payload: over 16 MiB",
    call: append("x".repeat(16 * 1024 * 1024 + 1)),
    error: PayloadTooLargeError,
  },
  // ---- append: options
  { name: "options: a number", call: append(1, 5) },
  { name: "options: a string", call: append(1, "x") },
  ...BAD_NUMBERS.map(([label, v]): Case => ({
    name: `options.expectedSequence ${label}`,
    call: append(1, { expectedSequence: v }),
  })),
  {
    name: "options.expectedSequence mismatch",
    call: append(1, { expectedSequence: 99 }),
    error: ConcurrencyError,
  },
  ...([
    ["a number", 1],
    ["an object", {}],
    ["null", null],
    ["a negative bigint", -1n],
    ["a bigint ≥ 2^128", 2n ** 128n],
    ["empty", ""],
    ["1025 bytes", "x".repeat(1025)],
    ["345 three-byte chars (1035 bytes)", "日".repeat(345)],
    ["a lone surrogate", "k\ud800"],
  ] as [string, unknown][]).map(([label, v]): Case => ({
    name: `options.idempotencyKey ${label}`,
    call: append(1, { idempotencyKey: v }),
  })),
  ...([
    ["not a uuid", "not-a-uuid"],
    ["a number", 42],
    ["too short", GOOD_ID.slice(0, -1)],
    ["null", null],
  ] as [string, unknown][]).flatMap(([label, v]): Case[] => [
    { name: `options.correlationId ${label}`, call: append(1, { correlationId: v }) },
    { name: `options.causationId ${label}`, call: append(1, { causationId: v }) },
  ]),
  ...([
    ["null", null],
    ["a string", "fence"],
    ["empty", {}],
    ["owner a number", { owner: 1, epoch: 1, token: "t" }],
    ["epoch 0", { owner: "a", epoch: 0, token: "t" }],
    ["epoch 1.5", { owner: "a", epoch: 1.5, token: "t" }],
    ["epoch NaN", { owner: "a", epoch: NaN, token: "t" }],
    ["token missing", { owner: "a", epoch: 1 }],
  ] as [string, unknown][]).map(([label, v]): Case => ({
    name: `options.fence ${label}`,
    call: append(1, { fence: v }),
  })),
  {
    name: "options.fence of an unclaimed scope",
    call: append(1, { fence: { owner: "a", epoch: 1, token: "t" } }),
    error: OwnershipError,
  },
  // ---- appendBatch
  ...[null, {}, "x", 5].map((v): Case => ({
    name: `appendBatch: items ${JSON.stringify(v)}`,
    call: (s) => s.appendBatch(v as Any),
  })),
  { name: "appendBatch: a null item", call: (s) => s.appendBatch([item(), null as Any]) },
  {
    name: "appendBatch: item without coord",
    call: (s) => s.appendBatch([item(), { kind: KIND, payload: 1 } as Any]),
  },
  {
    name: "appendBatch: reserved kind in item 1",
    call: (s) => s.appendBatch([item(), { ...item(), kind: 0x0001 as Any }]),
    error: ReservedKindError,
  },
  {
    name: "appendBatch: bad payload in item 2",
    call: (s) => s.appendBatch([item(), item(), item(new Map())]),
    error: InvalidPayloadError,
  },
  {
    name: "appendBatch: bad options in item 1",
    call: (s) => s.appendBatch([item(), item(1, { options: { expectedSequence: -1 } })]),
  },
  {
    name: "appendBatch: CAS fails in item 1",
    call: (s) => s.appendBatch([item(), item(1, { options: { expectedSequence: 0 } })]),
    error: ConcurrencyError,
  },
  ...([
    ["priorItem of item 0", { priorItem: 0 }, 0],
    ["priorItem forward", { priorItem: 1 }, 1],
    ["priorItem -1", { priorItem: -1 }, 1],
    ["priorItem 1.5", { priorItem: 0.5 }, 1],
    ['priorItem "0"', { priorItem: "0" }, 1],
    ["eventId malformed", { eventId: "nope" }, 1],
    ["empty object", {}, 1],
    ["a string", "prior", 1],
    ["null", null, 1],
  ] as [string, unknown, number][]).map(([label, causation, at]): Case => ({
    name: `appendBatch: causation ${label}`,
    call: (s) => {
      const items = [item(), item()];
      (items[at] as Any).causation = causation;
      return s.appendBatch(items as Any);
    },
  })),
  { name: "appendBatch: 65,537 items", call: (s) => s.appendBatch(new Array(65_537).fill(item())) },
  {
    name: "appendBatch: items over 16 MiB each fine, one too large",
    call: (s) => s.appendBatch([item(), item("x".repeat(16 * 1024 * 1024 + 1))]),
    error: PayloadTooLargeError,
  },
  // ---- reads
  ...[42, null, undefined, "x", GOOD_ID.toUpperCase(), {}].map((v): Case => ({
    name: `get(${String(v)})`,
    call: (s) => s.get(v as Any),
  })),
  { name: "get(unknown id)", call: (s) => s.get(GOOD_ID), error: NotFoundError },
  ...[42, null, undefined, {}].map((v): Case => ({
    name: `stream(${String(v)})`,
    call: (s) => s.stream(v as Any),
  })),
  ...[null, {}, "all", Region].map((v): Case => ({
    name: `query(${String(v).slice(0, 20)})`,
    call: (s) => s.query(v as Any),
  })),
  ...BAD_NUMBERS.flatMap(([label, v]): Case[] => [
    { name: `queryAfter: after ${label}`, call: (s) => s.queryAfter(Region.all(), v as Any, 10) },
    { name: `queryAfter: limit ${label}`, call: (s) => s.queryAfter(Region.all(), 0, v as Any) },
  ]),
  { name: "cursorGuaranteed: region null", call: (s) => s.cursorGuaranteed(null as Any) },
  {
    name: "cursorGuaranteed: options a number",
    call: (s) => s.cursorGuaranteed(Region.all(), 5 as Any),
  },
  // (`after: null` counts as absent, like `undefined`.)
  ...BAD_NUMBERS.filter(([l]) => l !== "null").map(([label, v]): Case => ({
    name: `cursorGuaranteed: after ${label}`,
    call: (s) => s.cursorGuaranteed(Region.all(), { after: v as Any }),
  })),
  ...[0, -1, 1.5, "2", NaN].map((v): Case => ({
    name: `cursor.pollBatch(${String(v)})`,
    call: (s) => s.cursorGuaranteed(Region.all()).pollBatch(v as Any),
  })),
  { name: "subscribe: region a string", call: (s) => s.subscribe("all" as Any) },
  ...[...BAD_NUMBERS.filter(([l]) => l !== "null"), ["options a number", 5]].map((
    [label, v],
  ): Case => ({
    name: `subscribe: after ${label}`,
    call: (s) =>
      s.subscribe(Region.all(), label === "options a number" ? v as Any : { after: v as Any }),
  })),
  {
    name: "subscribe: signal not an AbortSignal",
    call: (s) => s.subscribe(Region.all(), { signal: "stop" as Any }),
  },
  {
    name: "project: entity a number",
    call: (s) => s.project(42 as Any, { initial: () => 0, apply: (x) => x }),
  },
  ...[null, {}, { initial: 1, apply: () => 0 }, { initial: () => 0 }].map((v): Case => ({
    name: `project: projection ${JSON.stringify(v)}`,
    call: (s) => s.project("acct:1", v as Any),
  })),
  {
    name: "project: kinds not an array",
    call: (s) => s.project("acct:1", { kinds: 5 as Any, initial: () => 0, apply: (x) => x }),
  },
  ...["fresh", { maybeStaleMs: -1 }, { maybeStaleMs: NaN }, { maybeStaleMs: "1" }, 5].map((
    v,
  ): Case => ({
    name: `project: freshness ${JSON.stringify(v)}`,
    call: (s) => s.project("acct:1", { initial: () => 0, apply: (x) => x }, v as Any),
  })),
  ...[42, "", null].map((v): Case => ({
    name: `snapshot(${JSON.stringify(v)})`,
    call: (s) => s.snapshot(v as Any),
  })),
  { name: "snapshot into the store's own (non-empty) directory", call: (s) => s.snapshot(DIR) },
  { name: "verify: options a number", call: (s) => s.verify(5 as Any) },
  { name: "verify: onProgress not a function", call: (s) => s.verify({ onProgress: 5 as Any }) },
  // ---- cursors, denials
  ...[42, "", null, "x".repeat(2000), "a\u0000b"].map((v): Case => ({
    name: `saveCursor: name ${JSON.stringify(v)?.slice(0, 20)}`,
    call: (s) => s.saveCursor(v as Any, 0),
  })),
  ...BAD_NUMBERS.map(([label, v]): Case => ({
    name: `saveCursor: position ${label}`,
    call: (s) => s.saveCursor("c", v as Any),
  })),
  { name: "loadCursor: name a number", call: (s) => s.loadCursor(42 as Any) },
  { name: "appendDenial: not a Denial", call: (s) => s.appendDenial({ gate: "g" } as Any) },
  {
    name: "appendDenial: attempt with a number",
    call: (s) => s.appendDenial(new Denial("g", "m"), { a: 1 } as Any),
  },
  // ---- ownership
  ...[42, "", null, "a\u0000"].map((v): Case => ({
    name: `ownership(${JSON.stringify(v)})`,
    call: (s) => s.ownership(v as Any),
  })),
  ...[
    ["owner empty", "", 1000],
    ["owner a number", 7, 1000],
    ["lease 0", "w", 0],
    ["lease -1", "w", -1],
    ["lease 1.5", "w", 1.5],
    ["lease NaN", "w", NaN],
    ["lease 10 days", "w", 864_000_000],
    ["lease a string", "w", "100"],
  ].map(
    ([label, owner, lease]): Case => ({
      name: `ownership.claim: ${label}`,
      call: (s) => s.ownership("bank").claim(owner as Any, lease as Any),
    }),
  ),
  ...[null, {}, { owner: "w", epoch: "1", token: "t" }].flatMap((f): Case[] => [
    {
      name: `ownership.renew: fence ${JSON.stringify(f)}`,
      call: (s) => s.ownership("bank").renew(f as Any, 1000),
    },
    {
      name: `ownership.release: fence ${JSON.stringify(f)}`,
      call: (s) => s.ownership("bank").release(f as Any),
    },
    {
      name: `ownership.takeover: observed ${JSON.stringify(f)}`,
      call: (s) => s.ownership("bank").takeover("w", f as Any, 1000),
    },
  ]),
  {
    name: "ownership.renew of an unclaimed scope",
    call: (s) => s.ownership("bank").renew({ owner: "w", epoch: 1, token: "t" }, 1000),
    error: OwnershipError,
  },
];

/** Call `fn`; await it when it returns a promise or an async iterable (first element). */
async function outcome(fn: () => unknown): Promise<unknown> {
  try {
    const r = fn();
    if (r && typeof (r as Any)[Symbol.asyncIterator] === "function") {
      const it = (r as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      const first = it.next();
      const timeout = new Promise((res) => setTimeout(() => res("pending"), 20));
      const got = await Promise.race([first, timeout]);
      await it.return?.();
      return got === "pending" ? undefined : undefined;
    }
    if (r instanceof Promise) await r;
    return undefined;
  } catch (e) {
    return e;
  }
}

Deno.test("every public method rejects bad input with a typed error, writes nothing, stays usable", async () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: DIR, fs, clock: () => 1_700_000_000_000 });
  const failures: string[] = [];
  let valid = 0;
  try {
    store.append(COORD, KIND, { valid: valid++ });
    for (const c of CASES) {
      const before = store.diagnostics().events;
      const e = await outcome(() => c.call(store));
      const want = c.error ?? StoreError;
      if (e === undefined) failures.push(`${c.name}: no error`);
      else if (!(e instanceof want) || !(e instanceof StoreError)) {
        failures.push(`${c.name}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
      if (store.diagnostics().events !== before) failures.push(`${c.name}: wrote an event`);
      // Still usable: a valid append lands right after.
      const r = store.append(COORD, KIND, { valid: valid++ });
      if (r.globalSequence !== before + 1) {
        failures.push(`${c.name}: the next append got g=${r.globalSequence}`);
      }
    }
  } finally {
    store.close();
  }
  assert.deepEqual(failures, [], `${failures.length} of ${CASES.length} cases failed`);
  // A reopen shows exactly the valid appends.
  const again = Store.open({ dataDir: DIR, fs, enableMmapIndex: false });
  try {
    const events = again.query(Region.all()).map((e) => again.get(e.eventId).payload);
    assert.deepEqual(events, Array.from({ length: valid }, (_, i) => ({ valid: i })));
    assert.ok(again.verify().ok);
  } finally {
    again.close();
  }
});

Deno.test("a closed store rejects every call with StoreClosedError", async () => {
  const store = Store.open({ dataDir: DIR, fs: new MemoryFileSystem() });
  store.append(COORD, KIND, 1);
  store.close();
  const calls: (() => unknown)[] = [
    () => store.append(COORD, KIND, 1),
    () => store.appendBatch([item()]),
    () => store.durable(),
    () => store.sync(),
    () => store.get(GOOD_ID),
    () => store.stream("acct:1"),
    () => store.query(Region.all()),
    () => store.queryAfter(Region.all(), 0, 1),
    () => store.cursorGuaranteed(Region.all()),
    () => store.subscribe(Region.all()),
    () => store.project("acct:1", { initial: () => 0, apply: (x) => x }),
    () => store.snapshot("/snap"),
    () => store.verify(),
    () => store.ownership("bank"),
    () => store.saveCursor("c", 1),
    () => store.loadCursor("c"),
  ];
  for (const f of calls) {
    const e = await outcome(f);
    assert.ok(e instanceof StoreClosedError, `${f.toString()}: ${String(e)}`);
  }
  store.close(); // idempotent
});

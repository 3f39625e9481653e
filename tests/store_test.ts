/**
 * Store behaviour: append receipts and reads, CAS, idempotency, batches, the
 * durability API, closed-store errors, bad inputs, and the seed's
 * correctness gates on a real directory.
 */

import assert from "node:assert/strict";
import {
  type AppendReceipt,
  ConcurrencyError,
  Coordinate,
  EventKind,
  IdempotencyConflictError,
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  NotFoundError,
  PayloadTooLargeError,
  Region,
  ReservedKindError,
  Store,
  StoreClosedError,
  type StoreConfig,
  StoreError,
} from "../mod.ts";
import type { MemoryFileSystem } from "../testing.ts";
import { storeInternals } from "../src/store/_internals.ts";
import { FRAME_BODY_BYTES_MAX } from "../src/log/frame.ts";
import {
  assertHealthy,
  cloneFs,
  coords,
  DIR,
  dump,
  KIND_A,
  KIND_B,
  memStore,
  reopen,
  throwsType,
} from "./fixtures/store_helpers.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX_64 = /^[0-9a-f]{64}$/;

/** The three ways a store reopens, forced by config and by removing sidecars. */
const OPEN_PATHS: { name: string; prepare: (fs: MemoryFileSystem) => Partial<StoreConfig> }[] = [
  { name: "mmap", prepare: () => ({}) },
  {
    name: "rebuild",
    prepare: () => ({ enableMmapIndex: false, enableCheckpoint: false }),
  },
  {
    name: "rebuild after a crash (no image)",
    prepare: (fs) => {
      fs.remove(`${DIR}/index.img`);
      return {};
    },
  },
];

// ------------------------------------------------------------------ append

Deno.test("append: receipts count per entity and globally from 1, ids are UUIDv7, hashes hex", () => {
  const { store } = memStore();
  const [a, b] = coords(2);
  const r = [
    store.append(a, KIND_A, { n: 1 }),
    store.append(b, KIND_A, { n: 2 }),
    store.append(a, KIND_B, { n: 3 }),
    store.append(a, KIND_A, { n: 4 }),
  ];
  assert.deepEqual(r.map((x) => x.sequence), [1, 1, 2, 3]);
  assert.deepEqual(r.map((x) => x.globalSequence), [1, 2, 3, 4]);
  for (const x of r) {
    assert.match(x.eventId, UUID_V7);
    assert.match(x.eventHash, HEX_64);
  }
  assert.equal(new Set(r.map((x) => x.eventId)).size, 4);
  // Receipts serialize with every field.
  const json = JSON.parse(JSON.stringify(r[2]));
  assert.deepEqual(json, {
    eventId: r[2].eventId,
    sequence: 2,
    globalSequence: 3,
    eventHash: r[2].eventHash,
    duplicate: false,
  });
  // Event hashes chain per entity.
  assert.equal(store.get(r[0].eventId).prevHash, "");
  assert.equal(store.get(r[2].eventId).prevHash, r[0].eventHash);
  assert.equal(store.get(r[3].eventId).prevHash, r[2].eventHash);
  assert.equal(store.get(r[1].eventId).prevHash, "");
  assert.equal(store.get(r[3].eventId).eventHash, r[3].eventHash);
  store.close();
});

Deno.test("append: ids stay strictly increasing when the clock stalls or goes backwards", () => {
  const times = [1_000, 1_000, 1_000, 900, 500, 1_000, 2_000, 1_999, 5];
  let i = 0;
  const { fs, store } = memStore({ clock: () => times[Math.min(i++, times.length - 1)] });
  const coord = new Coordinate("clock", "s");
  const ids: string[] = [];
  for (let k = 0; k < times.length + 20; k++) ids.push(store.append(coord, KIND_A, k).eventId);
  const sorted = [...ids].sort();
  assert.deepEqual(ids, sorted, "lexical order of ids is append order");
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, UUID_V7);
  // The recorded timestamp is the clock's reading.
  assert.equal(store.get(ids[0]).timestampMs, 1_000);
  assert.equal(store.get(ids[4]).timestampMs, 500);
  store.close();
  // After a reopen with a clock far in the past, ids still sort after the old ones.
  const again = reopen(fs, { clock: () => 1 });
  const later = again.append(coord, KIND_A, "later").eventId;
  assert.ok(later > ids[ids.length - 1], `${later} sorts after ${ids[ids.length - 1]}`);
  again.close();
});

Deno.test("append: the same clock millisecond yields thousands of distinct ordered ids", () => {
  const { store } = memStore({ clock: () => 42 });
  const coord = new Coordinate("burst", "s");
  let prev = "";
  for (let k = 0; k < 5_000; k++) {
    const id = store.append(coord, KIND_A, k).eventId;
    assert.ok(id > prev, `id ${k} is greater than the previous one`);
    prev = id;
  }
  store.close();
});

Deno.test("append: get/stream/query/queryAfter return what was written", () => {
  const t0 = 1_700_000_000_000;
  let t = t0;
  const { store } = memStore({ clock: () => t++ });
  const alice = new Coordinate("user:alice", "users");
  const bob = new Coordinate("user:bob", "users");
  const order = new Coordinate("order:1", "shop");
  const r1 = store.append(alice, KIND_A, { name: "alice" });
  const r2 = store.append(order, KIND_B, { total: 10 });
  const r3 = store.append(bob, KIND_A, { name: "bob" });
  const r4 = store.append(alice, KIND_B, { renamed: "al" });

  const stream = store.stream("user:alice");
  assert.equal(stream.length, 2);
  // Direct property access.
  assert.equal(stream[0].eventId, r1.eventId);
  assert.equal(stream[0].entity, "user:alice");
  assert.equal(stream[0].scope, "users");
  assert.equal(stream[0].kind, KIND_A);
  assert.equal(stream[0].sequence, 1);
  assert.equal(stream[0].globalSequence, 1);
  assert.equal(stream[0].timestampMs, t0);
  // And via toJSON.
  assert.deepEqual(JSON.parse(JSON.stringify(stream[1])), {
    eventId: r4.eventId,
    entity: "user:alice",
    scope: "users",
    kind: KIND_B,
    sequence: 2,
    globalSequence: 4,
    timestampMs: t0 + 3,
  });
  assert.deepEqual(store.stream("nobody"), []);
  assert.deepEqual(store.stream("user:"), [], "stream is exact, not a prefix");

  const ids = (entries: { eventId: string }[]) => entries.map((e) => e.eventId);
  assert.deepEqual(ids(store.query(Region.all())), [r1, r2, r3, r4].map((r) => r.eventId));
  assert.deepEqual(ids(store.query(Region.scope("users"))), [r1, r3, r4].map((r) => r.eventId));
  assert.deepEqual(ids(store.query(Region.entity("user:"))), [r1, r3, r4].map((r) => r.eventId));
  assert.deepEqual(ids(store.query(Region.all().withKinds(KIND_B))), [r2.eventId, r4.eventId]);
  assert.deepEqual(ids(store.query(Region.all().withCategory(0x1))), [r1.eventId, r3.eventId]);
  assert.deepEqual(ids(store.query(Region.scope("nope"))), []);
  assert.deepEqual(ids(store.queryAfter(Region.all(), 1, 2)), [r2.eventId, r3.eventId]);
  assert.deepEqual(ids(store.queryAfter(Region.scope("users"), 3, 10)), [r4.eventId]);
  assert.deepEqual(ids(store.queryAfter(Region.all(), 4, 10)), []);
  assert.deepEqual(ids(store.queryAfter(Region.all(), 0, 0)), []);

  const ev = store.get(r2.eventId);
  assert.equal(ev.entity, "order:1");
  assert.equal(ev.scope, "shop");
  assert.equal(ev.kind, KIND_B);
  assert.equal(ev.sequence, 1);
  assert.equal(ev.globalSequence, 2);
  assert.equal(ev.timestampMs, t0 + 1);
  assert.deepEqual(ev.payload, { total: 10 });
  assert.equal(ev.correlationId, undefined);
  assert.equal(ev.causationId, undefined);
  assert.equal(store.get(r2.eventId.toUpperCase()).eventId, r2.eventId, "ids parse in any case");
  throwsType(() => store.get("01890000-0000-7000-8000-000000000000"), NotFoundError);
  store.close();
});

Deno.test("query/queryAfter agree with a naive filter for every region, after and limit", () => {
  const { fs, store } = memStore({ segmentMaxBytes: 4096 });
  const names = ["user:1", "user:10", "user:2", "user", "admin:1", "u", "userX", "user:1:a"];
  const scopes = ["a", "b", "c"];
  const kinds = [KIND_A, KIND_B, EventKind.custom(0x3, 5)];
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const model: { entity: string; scope: string; kind: number; g: number }[] = [];
  const scopeOf = new Map<string, string>();
  const push = (entity: string, kind: EventKind, g: number) =>
    model.push({ entity, scope: scopeOf.get(entity)!, kind, g });
  for (const n of names) scopeOf.set(n, scopes[rnd(3)]);
  for (let i = 0; i < 400; i++) {
    if (i % 25 === 0) {
      const items = Array.from({ length: 4 }, () => {
        const e = names[rnd(names.length)];
        return { coord: new Coordinate(e, scopeOf.get(e)!), kind: kinds[rnd(3)], payload: i };
      });
      const rs = store.appendBatch(items);
      items.forEach((it, k) => push(it.coord.entity, it.kind, rs[k].globalSequence));
    } else {
      const e = names[rnd(names.length)];
      const kind = kinds[rnd(3)];
      push(e, kind, store.append(new Coordinate(e, scopeOf.get(e)!), kind, i).globalSequence);
    }
  }
  const regions: [string, Region, (m: typeof model[0]) => boolean][] = [
    ["all", Region.all(), () => true],
    ["kinds", Region.all().withKinds(KIND_B, kinds[2]), (m) => m.kind !== KIND_A],
    ["category 1", Region.all().withCategory(1), (m) => m.kind === KIND_A],
    ["empty prefix", Region.entity(""), () => true],
    ...names.map((n): [string, Region, (m: typeof model[0]) => boolean] => [
      `prefix ${n}`,
      Region.entity(n),
      (m) => m.entity.startsWith(n),
    ]),
    [
      "prefix user:1 kind B",
      Region.entity("user:1").withKinds(KIND_B),
      (m) => m.entity.startsWith("user:1") && m.kind === KIND_B,
    ],
    ["prefix none", Region.entity("zzz"), () => false],
    ...scopes.map((sc): [string, Region, (m: typeof model[0]) => boolean] => [
      `scope ${sc}`,
      Region.scope(sc),
      (m) => m.scope === sc,
    ]),
    [
      "scope a category 2",
      Region.scope("a").withCategory(2),
      (m) => m.scope === "a" && m.kind === KIND_B,
    ],
  ];
  const check = (s: Store) => {
    for (const [name, region, keep] of regions) {
      const all = model.filter(keep).map((m) => m.g);
      assert.deepEqual(s.query(region).map((e) => e.globalSequence), all, name);
      for (const after of [0, 1, 17, 200, model.length - 1, model.length, model.length + 5]) {
        for (const limit of [0, 1, 3, 1_000]) {
          const expected = all.filter((g) => g > after).slice(0, limit);
          const got = s.queryAfter(region, after, limit).map((e) => e.globalSequence);
          assert.deepEqual(got, expected, `${name} after ${after} limit ${limit}`);
        }
      }
    }
    for (const n of [...names, "user:"]) {
      assert.deepEqual(
        s.stream(n).map((e) => e.globalSequence),
        model.filter((m) => m.entity === n).map((m) => m.g),
        `stream ${n}`,
      );
    }
  };
  check(store);
  store.close();
  for (const cfg of [{}, { enableMmapIndex: false }]) {
    const again = reopen(fs, cfg);
    check(again);
    again.close();
  }
});

Deno.test("append: payloads round-trip (nested, arrays, bytes, Date, bigint, unicode)", () => {
  const { fs, store } = memStore();
  const coord = new Coordinate("payloads", "s");
  const payloads: unknown[] = [
    { nested: { deeper: { deepest: [1, { x: "y" }, [[]]] } }, empty: {}, list: [] },
    [1, "two", 3.5, true, false, null, -0.25],
    new Uint8Array([0, 1, 2, 254, 255]),
    { bytes: new Uint8Array(300).fill(7) },
    new Date(1_700_000_000_123),
    { when: new Date(0) },
    { small: 5n, negative: -(2n ** 63n), big: 2n ** 64n - 1n },
    { large: 2 ** 40, negLarge: -(2 ** 52), max: Number.MAX_SAFE_INTEGER, frac: 1e-9 },
    "plain string",
    "unicode: ΩΣ ☃ 日本語 🦕🏳️‍🌈 \u{10FFFF} and a\u0000nul",
    42,
    null,
    { "key with spaces": 1, "ключ": "значение", "": "empty key" },
  ];
  const receipts = payloads.map((p) => store.append(coord, KIND_A, p));
  const check = (s: Store) =>
    receipts.forEach((r, i) => assert.deepEqual(s.get(r.eventId).payload, payloads[i]));
  check(store);
  store.close();
  const again = reopen(fs);
  check(again);
  again.close();
  const rebuilt = reopen(fs, { enableMmapIndex: false });
  check(rebuilt);
  rebuilt.close();
});

Deno.test("append: correlation and causation ids are stored and read back", () => {
  const { fs, store } = memStore();
  const coord = new Coordinate("corr", "s");
  const root = store.append(coord, KIND_A, "root");
  const child = store.append(coord, KIND_A, "child", {
    correlationId: root.eventId,
    causationId: root.eventId,
  });
  const onlyCorr = store.append(coord, KIND_A, "c", { correlationId: child.eventId });
  const upper = store.append(coord, KIND_A, "u", { causationId: child.eventId.toUpperCase() });
  const check = (s: Store) => {
    assert.equal(s.get(root.eventId).correlationId, undefined);
    assert.equal(s.get(child.eventId).correlationId, root.eventId);
    assert.equal(s.get(child.eventId).causationId, root.eventId);
    assert.equal(s.get(onlyCorr.eventId).correlationId, child.eventId);
    assert.equal(s.get(onlyCorr.eventId).causationId, undefined);
    assert.equal(s.get(upper.eventId).causationId, child.eventId, "ids are canonical lowercase");
  };
  check(store);
  store.close();
  const again = reopen(fs, { enableMmapIndex: false });
  check(again);
  again.close();
});

// --------------------------------------------------------------------- CAS

Deno.test("CAS: expectedSequence 0 creates, a mismatch throws ConcurrencyError and writes nothing", () => {
  const { store } = memStore();
  const coord = new Coordinate("cas", "s");
  assert.equal(store.append(coord, KIND_A, 1, { expectedSequence: 0 }).sequence, 1);
  const e = throwsType(
    () => store.append(coord, KIND_A, 2, { expectedSequence: 0 }),
    ConcurrencyError,
  );
  assert.equal(e.expected, 0);
  assert.equal(e.actual, 1);
  assert.equal(e.entity, "cas");
  assert.equal(e.code, "CONCURRENCY");
  const ahead = throwsType(
    () => store.append(coord, KIND_A, 2, { expectedSequence: 5 }),
    ConcurrencyError,
  );
  assert.equal(ahead.expected, 5);
  assert.equal(ahead.actual, 1);
  const fresh = throwsType(
    () => store.append(new Coordinate("new", "s"), KIND_A, 1, { expectedSequence: 1 }),
    ConcurrencyError,
  );
  assert.equal(fresh.actual, 0);
  assert.equal(store.diagnostics().events, 1);
  assert.deepEqual(store.stream("new"), []);
  assert.equal(store.append(coord, KIND_A, 2, { expectedSequence: 1 }).sequence, 2);
  assertHealthy(store);
  store.close();
});

for (const path of OPEN_PATHS) {
  Deno.test(`CAS: after reopen (${path.name}) the last sequence is still known`, () => {
    const { fs, store } = memStore();
    const [a, b] = coords(2, "cas");
    for (let i = 0; i < 3; i++) store.append(a, KIND_A, i);
    store.append(b, KIND_A, 0);
    store.close();
    const again = reopen(fs, path.prepare(fs));
    const e = throwsType(
      () => again.append(a, KIND_A, "x", { expectedSequence: 2 }),
      ConcurrencyError,
    );
    assert.equal(e.actual, 3);
    assert.equal(again.append(a, KIND_A, "x", { expectedSequence: 3 }).sequence, 4);
    assert.equal(again.append(b, KIND_A, "y", { expectedSequence: 1 }).globalSequence, 6);
    assertHealthy(again);
    again.close();
  });
}

Deno.test("CAS: a checkpoint reopen (no image) still sees the right last sequence", () => {
  const { fs, store } = memStore();
  const many = coords(10, "ck");
  for (let i = 0; i < 70_000; i++) store.append(many[i % 10], KIND_A, i);
  store.close();
  fs.remove(`${DIR}/index.img`);
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "checkpoint");
  assert.equal(again.append(many[3], KIND_A, "x", { expectedSequence: 7_000 }).sequence, 7_001);
  throwsType(
    () => again.append(many[4], KIND_A, "x", { expectedSequence: 6_999 }),
    ConcurrencyError,
  );
  again.close();
});

// ------------------------------------------------------------- idempotency

/** A receipt as JSON without its `duplicate` flag (a retry's receipt equals the first one's). */
function sameReceipt(retry: AppendReceipt, first: AppendReceipt): void {
  const { duplicate: d1, ...a } = JSON.parse(JSON.stringify(retry));
  const { duplicate: d0, ...b } = JSON.parse(JSON.stringify(first));
  assert.deepEqual(a, b);
  assert.equal(d1, true, "the retry is flagged duplicate");
  assert.equal(d0, false, "the first write is not");
}

Deno.test("idempotency: a retry (same key, entity, kind) returns the first receipt and writes nothing", () => {
  const { store } = memStore();
  const coord = new Coordinate("idem", "s");
  const first = store.append(coord, KIND_A, { v: 1 }, { idempotencyKey: "order-1" });
  // Whatever the retry's payload, and even with a CAS that would fail now.
  const again = store.append(coord, KIND_A, { v: "different" }, {
    idempotencyKey: "order-1",
    expectedSequence: 9,
  });
  sameReceipt(again, first);
  assert.equal(store.diagnostics().events, 1);
  assert.deepEqual(store.get(first.eventId).payload, { v: 1 });
  store.close();
});

Deno.test('entities starting with "$" are the store\'s own: a user append there is refused', () => {
  const { store } = memStore();
  store.ownership("orders").claim("w", 1000); // writes a $fence:orders system event
  for (const entity of ["$fence:orders", "$denials", "$anything"]) {
    throwsType(
      () => store.append(new Coordinate(entity, "orders"), KIND_A, 1),
      InvalidCoordinateError,
      /reserved/,
    );
    throwsType(
      () =>
        store.appendBatch([{ coord: new Coordinate(entity, "orders"), kind: KIND_A, payload: 1 }]),
      InvalidCoordinateError,
    );
  }
  assert.equal(store.query(Region.all()).length, 0);
  assert.equal(store.query(Region.all().withSystem()).length, 1);
  store.append(new Coordinate("a$b", "orders"), KIND_A, 1); // only the prefix is reserved
  store.close();
});

Deno.test("idempotency: the same key with another entity or kind is a conflict, nothing written", () => {
  const { store } = memStore();
  const coord = new Coordinate("idem", "s");
  store.append(coord, KIND_A, { v: 1 }, { idempotencyKey: "order-1" });
  const conflict = throwsType(
    () => store.append(new Coordinate("other", "t"), KIND_A, 0, { idempotencyKey: "order-1" }),
    IdempotencyConflictError,
  );
  assert.equal(conflict.existingEntity, "idem");
  assert.equal(conflict.entity, "other");
  throwsType(
    () => store.append(coord, KIND_B, 0, { idempotencyKey: "order-1" }),
    IdempotencyConflictError,
  );
  assert.equal(store.diagnostics().events, 1);
  assert.equal(store.diagnostics().entities, 1, "no ghost entity");
  assert.deepEqual(store.stream("other"), []);
  store.close();
});

Deno.test("idempotency: bigint keys up to 2^128-1, distinct from equal-looking strings", () => {
  const { store } = memStore();
  const coord = new Coordinate("idem", "s");
  const max = 2n ** 128n - 1n;
  const keys: (bigint | string)[] = [0n, 1n, "1", 255n, 256n, 2n ** 64n, max, max - 1n, "b:01"];
  const receipts = keys.map((k, i) => store.append(coord, KIND_A, i, { idempotencyKey: k }));
  assert.equal(new Set(receipts.map((r) => r.eventId)).size, keys.length, "all keys distinct");
  keys.forEach((k, i) => {
    assert.equal(
      store.append(coord, KIND_A, "dup", { idempotencyKey: k }).eventId,
      receipts[i].eventId,
    );
  });
  assert.equal(store.diagnostics().events, keys.length);
  store.close();
});

for (const path of [...OPEN_PATHS, { name: "checkpoint", prepare: () => ({}) }]) {
  Deno.test(`idempotency: keys survive reopen (${path.name})`, () => {
    const { fs, store } = memStore();
    const coord = new Coordinate("idem", "s");
    const byString = store.append(coord, KIND_A, 1, { idempotencyKey: "k-1" });
    const byBigint = store.append(coord, KIND_A, 2, { idempotencyKey: 2n ** 128n - 1n });
    if (path.name === "checkpoint") {
      const filler = new Coordinate("filler", "s");
      for (let i = 0; i < 70_000; i++) store.append(filler, KIND_A, i);
    }
    store.close();
    let config: Partial<StoreConfig> = path.prepare(fs);
    if (path.name === "checkpoint") {
      fs.remove(`${DIR}/index.img`);
      config = {};
    }
    const again = reopen(fs, config);
    if (path.name === "checkpoint") assert.equal(again.diagnostics().openReport.path, "checkpoint");
    const before = again.diagnostics().events;
    const r1 = again.append(coord, KIND_A, "x", { idempotencyKey: "k-1" });
    const r2 = again.append(coord, KIND_A, "y", { idempotencyKey: 2n ** 128n - 1n });
    sameReceipt(r1, byString);
    sameReceipt(r2, byBigint);
    assert.equal(again.diagnostics().events, before);
    // "k-1" as bigint-looking string and 1n are different keys.
    assert.notEqual(again.append(coord, KIND_A, "z", { idempotencyKey: 1n }).eventId, r1.eventId);
    again.close();
  });
}

// ------------------------------------------------------------------ batches

Deno.test("appendBatch: sequences, causation by prior item and by id, hash chain, verify", () => {
  const { fs, store } = memStore();
  const cart = new Coordinate("cart:1", "shop");
  const stock = new Coordinate("stock:apple", "shop");
  const root = store.append(cart, KIND_A, { open: true });
  const receipts = store.appendBatch([
    { coord: cart, kind: KIND_A, payload: { add: "apple" } },
    { coord: stock, kind: KIND_B, payload: { take: 1 }, causation: { priorItem: 0 } },
    { coord: cart, kind: KIND_A, payload: { add: "pear" }, causation: { eventId: root.eventId } },
    {
      coord: cart,
      kind: KIND_B,
      payload: { checkout: true },
      causation: { priorItem: 2 },
      options: { correlationId: root.eventId },
    },
  ]);
  assert.deepEqual(receipts.map((r) => r.sequence), [2, 1, 3, 4]);
  assert.deepEqual(receipts.map((r) => r.globalSequence), [2, 3, 4, 5]);
  const check = (s: Store) => {
    assert.equal(s.get(receipts[1].eventId).causationId, receipts[0].eventId);
    assert.equal(s.get(receipts[2].eventId).causationId, root.eventId);
    assert.equal(s.get(receipts[3].eventId).causationId, receipts[2].eventId);
    assert.equal(s.get(receipts[3].eventId).correlationId, root.eventId);
    assert.equal(s.get(receipts[0].eventId).causationId, undefined);
    assert.equal(s.get(receipts[0].eventId).prevHash, root.eventHash);
    assert.equal(s.get(receipts[2].eventId).prevHash, receipts[0].eventHash);
    assert.equal(s.get(receipts[3].eventId).prevHash, receipts[2].eventHash);
    assert.deepEqual(s.stream("cart:1").slice(0, 4).map((e) => e.sequence), [1, 2, 3, 4]);
    assertHealthy(s);
  };
  check(store);
  // Plain appends continue the chain after a batch.
  const after = store.append(cart, KIND_A, "after");
  assert.equal(store.get(after.eventId).prevHash, receipts[3].eventHash);
  store.close();
  const rebuilt = reopen(fs, { enableMmapIndex: false });
  check(rebuilt);
  rebuilt.close();
});

Deno.test("appendBatch: CAS and idempotency count earlier items of the same batch", () => {
  const { store } = memStore();
  const c = new Coordinate("acct", "bank");
  const prior = store.append(c, KIND_A, "open", { idempotencyKey: 7n });
  const receipts = store.appendBatch([
    { coord: c, kind: KIND_A, payload: 1, options: { expectedSequence: 1 } },
    { coord: c, kind: KIND_A, payload: 2, options: { expectedSequence: 2, idempotencyKey: "a" } },
    { coord: c, kind: KIND_A, payload: "old", options: { idempotencyKey: 7n } },
    { coord: c, kind: KIND_A, payload: 3, options: { expectedSequence: 3 } },
  ]);
  assert.equal(receipts[2].eventId, prior.eventId, "a key used before the batch gets that receipt");
  assert.equal(receipts[2].duplicate, true);
  assert.deepEqual(receipts.map((r) => r.sequence), [2, 3, 1, 4]);
  assert.equal(store.diagnostics().events, 4);
  assert.deepEqual(store.stream("acct").map((e) => store.get(e.eventId).payload), [
    "open",
    1,
    2,
    3,
  ]);
  // Causation pointing at an item that is a retry names the event it stands for.
  const chained = store.appendBatch([
    { coord: c, kind: KIND_A, payload: "x again", options: { idempotencyKey: "a" } },
    { coord: c, kind: KIND_A, payload: "caused", causation: { priorItem: 0 } },
  ]);
  assert.equal(chained[0].eventId, receipts[1].eventId);
  assert.equal(store.get(chained[1].eventId).causationId, receipts[1].eventId);
  assert.equal(store.diagnostics().events, 5);
  // The same key on two items of one batch is a conflict: nothing of the batch is written.
  const twice = throwsType(
    () =>
      store.appendBatch([
        { coord: c, kind: KIND_A, payload: "x", options: { idempotencyKey: "x" } },
        { coord: c, kind: KIND_A, payload: "x again", options: { idempotencyKey: "x" } },
      ]),
    IdempotencyConflictError,
  );
  assert.match(twice.message, /item 1 repeats the idempotency key of item 0/);
  assert.equal(store.diagnostics().events, 5);
  // A batch made only of retries writes nothing.
  const dupes = store.appendBatch([{
    coord: c,
    kind: KIND_A,
    payload: 0,
    options: { idempotencyKey: "a" },
  }]);
  assert.equal(dupes[0].eventId, receipts[1].eventId);
  assert.equal(store.diagnostics().events, 5);
  assert.deepEqual(store.appendBatch([]), []);
  assertHealthy(store);
  store.close();
});

Deno.test("appendBatch: a failing item writes nothing and the store stays usable", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("acct", "bank");
  store.append(c, KIND_A, "open");
  const before = dump(store);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const failing: [string, () => unknown, new (...a: never[]) => Error][] = [
    [
      "CAS on a later item",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1 },
          { coord: c, kind: KIND_A, payload: 2, options: { expectedSequence: 1 } },
        ]),
      ConcurrencyError,
    ],
    [
      "cyclic payload",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1, options: { idempotencyKey: "never" } },
          { coord: c, kind: KIND_A, payload: cyclic },
        ]),
      InvalidPayloadError,
    ],
    [
      "function payload",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1 },
          { coord: c, kind: KIND_A, payload: { f: () => 1 } },
        ]),
      InvalidPayloadError,
    ],
    [
      "reserved kind",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1 },
          { coord: c, kind: EventKind.custom(0xd, 1), payload: 2 },
        ]),
      ReservedKindError,
    ],
    [
      "priorItem pointing forward",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1, causation: { priorItem: 1 } },
          { coord: c, kind: KIND_A, payload: 2 },
        ]),
      InvalidArgumentError,
    ],
    [
      "bad coordinate",
      () =>
        store.appendBatch([
          { coord: c, kind: KIND_A, payload: 1 },
          { coord: { entity: "x", scope: "y" } as unknown as Coordinate, kind: KIND_A, payload: 2 },
        ]),
      InvalidCoordinateError,
    ],
    [
      "null item",
      () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 1 }, null as never]),
      InvalidArgumentError,
    ],
  ];
  for (const [name, fn, type] of failing) {
    const e = throwsType(fn, type as never);
    assert.ok(e instanceof StoreError, name);
    assert.deepEqual(dump(store), before, `${name}: nothing written`);
  }
  // The key of the failed batch was not consumed.
  const r = store.append(c, KIND_A, "later", { idempotencyKey: "never" });
  assert.equal(r.sequence, 2);
  assert.equal(r.globalSequence, 2);
  assertHealthy(store);
  store.close();
  const again = reopen(fs, { enableMmapIndex: false });
  assert.equal(again.diagnostics().events, 2);
  assertHealthy(again);
  again.close();
});

Deno.test("appendBatch: many entities in one batch reopen identically", () => {
  const { fs, store } = memStore({ segmentMaxBytes: 1024 });
  const cs = coords(7, "b");
  for (let round = 0; round < 10; round++) {
    store.appendBatch(
      Array.from({ length: 13 }, (_, i) => ({
        coord: cs[(i * 3 + round) % cs.length],
        kind: i % 2 ? KIND_A : KIND_B,
        payload: { round, i, pad: "x".repeat(i * 5) },
      })),
    );
  }
  assert.ok(store.diagnostics().segments > 1, "batches rotate segments");
  const before = dump(store);
  assertHealthy(store);
  store.close();
  for (const cfg of [{}, { enableMmapIndex: false }]) {
    const again = reopen(fs, cfg);
    assert.deepEqual(dump(again), before);
    assertHealthy(again);
    again.close();
  }
});

// --------------------------------------------------------------- durability

Deno.test("durable: overlapping calls share one fsync; appends during a sync join the next", async () => {
  const { fs, store } = memStore();
  const w = () => storeInternals(store).writer();
  const c = new Coordinate("d", "s");
  store.append(c, KIND_A, 1);
  const before = w().syncCount;
  const shared = [store.durable(), store.durable(), store.durable()];
  await Promise.all(shared);
  assert.equal(w().syncCount - before, 1, "three overlapping durable() calls, one fsync");

  await store.durable();
  assert.equal(w().syncCount - before, 1, "nothing new appended: no fsync at all");

  store.append(c, KIND_A, 2);
  const first = store.durable();
  await null; // the round starts on a microtask; from here its fsync is in flight
  const late = store.append(c, KIND_A, 3); // issued while the first sync is in flight
  const second = store.durable();
  const third = store.durable();
  await Promise.all([first, second, third]);
  assert.equal(w().syncCount - before, 3, "one sync for the first round, one for the joiners");
  // Durable means it survives a crash.
  const after = fs.crash();
  const again = reopen(after);
  assert.equal(again.get(late.eventId).payload, 3);
  assert.equal(again.diagnostics().events, 3);
  again.close();
});

Deno.test("durable: a real directory shares fsyncs between overlapping callers", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const store = Store.open(dir);
    const w = storeInternals(store).writer();
    const c = new Coordinate("d", "s");
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      store.append(c, KIND_A, i);
      waits.push(store.durable());
    }
    const before = w.syncCount;
    await Promise.all(waits);
    assert.ok(w.syncCount <= 2, `50 overlapping durable() calls used ${w.syncCount} fsyncs`);
    assert.ok(w.syncCount >= before);
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sync: events are on disk at once; unsynced appends are lost on a crash", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("s", "s");
  store.append(c, KIND_A, 1);
  store.sync();
  store.append(c, KIND_A, 2);
  storeInternals(store).flush();
  const again = reopen(fs.crash());
  assert.equal(again.diagnostics().events, 1);
  assertHealthy(again);
  again.close();
});

Deno.test("sync.everyNEvents: the cadence makes appends durable without an explicit sync", async () => {
  for (const [everyNEvents, atLeast, atMost] of [[5, 10, 12], [1_000, 0, 0]]) {
    const { fs, store } = memStore({ sync: { everyNEvents } });
    const c = new Coordinate("n", "s");
    for (let i = 0; i < 12; i++) store.append(c, KIND_A, i);
    storeInternals(store).flush();
    // The cadence sync may run in the background: let it finish.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const again = reopen(fs.crash());
    const n = again.diagnostics().events;
    assert.ok(n >= atLeast && n <= atMost, `everyNEvents ${everyNEvents}: ${n} events survived`);
    assertHealthy(again);
    again.close();
  }
});

Deno.test("close: idempotent; every method afterwards throws StoreClosedError", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("c", "s");
  const r = store.append(c, KIND_A, 1);
  store.close();
  store.close();
  const calls: [string, () => unknown][] = [
    ["append", () => store.append(c, KIND_A, 2)],
    ["appendBatch", () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 2 }])],
    ["appendBatch []", () => store.appendBatch([])],
    ["sync", () => store.sync()],
    ["get", () => store.get(r.eventId)],
    ["stream", () => store.stream("c")],
    ["query", () => store.query(Region.all())],
    ["queryAfter", () => store.queryAfter(Region.all(), 0, 10)],
    ["cursorGuaranteed", () => store.cursorGuaranteed(Region.all())],
    ["subscribe", () => store.subscribe(Region.all())],
    ["project", () => store.project("c", { initial: () => 0, apply: (n) => n + 1 })],
    ["snapshot", () => store.snapshot("/snap")],
    ["verify", () => store.verify()],
    ["ownership", () => store.ownership("s")],
  ];
  for (const [name, fn] of calls) {
    const e = throwsType(fn, StoreClosedError);
    assert.equal(e.code, "STORE_CLOSED", name);
  }
  await assert.rejects(store.durable(), StoreClosedError);
  // The directory is free again and holds the event.
  const again = reopen(fs);
  assert.equal(again.get(r.eventId).payload, 1);
  again.close();
});

Deno.test("close: a durable() pending at close resolves (close syncs everything)", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("c", "s");
  store.append(c, KIND_A, 1);
  const p = store.durable();
  store.append(c, KIND_A, 2);
  const q = store.durable();
  store.close();
  await Promise.all([p, q]);
  const again = reopen(fs.crash());
  assert.equal(again.diagnostics().events, 2);
  again.close();
});

// --------------------------------------------------------------- bad input

Deno.test("bad input: append rejects with a typed error, writes nothing, stays usable", () => {
  const { store } = memStore();
  const c = new Coordinate("ok", "s");
  store.append(c, KIND_A, "first");
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const cases: [string, () => unknown, new (...a: never[]) => StoreError, RegExp][] = [
    [
      "plain-object coord",
      () => store.append({ entity: "a", scope: "b" } as never, KIND_A, 1),
      InvalidCoordinateError,
      /Coordinate/,
    ],
    [
      "system kind",
      () => store.append(c, EventKind.custom(0, 1), 1),
      ReservedKindError,
      /reserved/,
    ],
    ["effect kind", () => store.append(c, EventKind.custom(0xd, 5), 1), ReservedKindError, /0xd/],
    ["kind NaN", () => store.append(c, NaN as EventKind, 1), InvalidArgumentError, /kind/],
    ["kind too big", () => store.append(c, 0x10000 as EventKind, 1), InvalidArgumentError, /kind/],
    ["cyclic payload", () => store.append(c, KIND_A, cyclic), InvalidPayloadError, /cyclic/],
    [
      "symbol payload",
      () => store.append(c, KIND_A, { s: Symbol("x") }),
      InvalidPayloadError,
      /symbol/,
    ],
    ["Map payload", () => store.append(c, KIND_A, new Map()), InvalidPayloadError, /Map/],
    ["bigint > 64 bits", () => store.append(c, KIND_A, 2n ** 64n), InvalidPayloadError, /64-bit/],
    [
      "expectedSequence -1",
      () => store.append(c, KIND_A, 1, { expectedSequence: -1 }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence 1.5",
      () => store.append(c, KIND_A, 1, { expectedSequence: 1.5 }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence NaN",
      () => store.append(c, KIND_A, 1, { expectedSequence: NaN }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence string",
      () => store.append(c, KIND_A, 1, { expectedSequence: "1" as never }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "key 2^128",
      () => store.append(c, KIND_A, 1, { idempotencyKey: 2n ** 128n }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key -1n",
      () => store.append(c, KIND_A, 1, { idempotencyKey: -1n }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key number",
      () => store.append(c, KIND_A, 1, { idempotencyKey: 5 as never }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key empty",
      () => store.append(c, KIND_A, 1, { idempotencyKey: "" }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "correlationId not a uuid",
      () => store.append(c, KIND_A, 1, { correlationId: "nope" }),
      InvalidArgumentError,
      /correlationId/,
    ],
    [
      "causationId number",
      () => store.append(c, KIND_A, 1, { causationId: 3 as never }),
      InvalidArgumentError,
      /causationId/,
    ],
    [
      "options not an object",
      () => store.append(c, KIND_A, 1, 7 as never),
      InvalidArgumentError,
      /options/,
    ],
    [
      "payload too large",
      () => store.append(c, KIND_A, "x".repeat(17 * 1024 * 1024)),
      PayloadTooLargeError,
      /maximum/,
    ],
  ];
  for (const [name, fn, type, message] of cases) {
    const e = throwsType(fn, type as never, message);
    assert.ok(e instanceof StoreError, name);
    assert.equal(typeof e.code, "string");
    assert.equal(store.diagnostics().events, 1, `${name}: nothing written`);
  }
  const r = store.append(c, KIND_A, "second", { expectedSequence: 1 });
  assert.equal(r.globalSequence, 2);
  assertHealthy(store);
  store.close();
});

Deno.test("bad input: an event one byte over the frame limit leaves no trace, not even a name", () => {
  const { fs, store } = memStore();
  store.append(new Coordinate("a", "s"), KIND_A, 1);
  const edge = new Coordinate("edge", "edge-scope");
  // Body: 44 header + 32 hash + 4 entity + 10 scope + (5 + n) msgpack bin32 payload.
  const fits = FRAME_BODY_BYTES_MAX - 95;
  const e = throwsType(
    () => store.append(edge, KIND_A, new Uint8Array(fits + 1)),
    PayloadTooLargeError,
  );
  assert.equal(e.bytes, FRAME_BODY_BYTES_MAX + 1);
  assert.equal(store.diagnostics().events, 1);
  // Regression: the rejected append used to intern the entity (and persist it in the image).
  assert.equal(store.diagnostics().entities, 1);
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().entities, 1);
  // Exactly at the limit is accepted and reads back.
  const r = again.append(edge, KIND_A, new Uint8Array(fits).fill(9));
  assert.equal((again.get(r.eventId).payload as Uint8Array).length, fits);
  assert.equal(again.diagnostics().entities, 2);
  again.close();
});

Deno.test("bad input: reads and appendBatch reject wrong types with typed errors", () => {
  const { store } = memStore();
  const c = new Coordinate("ok", "s");
  store.append(c, KIND_A, 1);
  throwsType(() => store.get("not-a-uuid"), InvalidArgumentError, /UUID/);
  throwsType(() => store.get(42 as never), InvalidArgumentError);
  throwsType(() => store.stream(42 as never), InvalidArgumentError, /entity/);
  throwsType(() => store.query({} as never), InvalidArgumentError, /Region/);
  throwsType(
    () => store.queryAfter(Region.all(), -1, 5),
    InvalidArgumentError,
    /afterGlobalSequence/,
  );
  throwsType(() => store.queryAfter(Region.all(), 0, 1.5), InvalidArgumentError, /limit/);
  throwsType(() => store.appendBatch("nope" as never), InvalidArgumentError, /array/);
  throwsType(
    () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 1, causation: { priorItem: 0 } }]),
    InvalidArgumentError,
    /priorItem/,
  );
  throwsType(
    () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 1, causation: { eventId: "x" } }]),
    InvalidArgumentError,
    /eventId/,
  );
  throwsType(
    () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 1, causation: {} as never }]),
    InvalidArgumentError,
    /causation/,
  );
  assert.equal(store.diagnostics().events, 1);
  assert.equal(store.append(c, KIND_A, 2).globalSequence, 2);
  store.close();
});

Deno.test("bad input: Store.open rejects bad config with InvalidArgumentError and takes no lock", () => {
  const fs = cloneFs(memStore().fs); // a fresh in-memory disk with /db
  const cases: [string, unknown][] = [
    ["empty dataDir", { dataDir: "", fs }],
    ["no config", null],
    ["dataDir number", { dataDir: 5, fs }],
    ["segmentMaxBytes too small", { dataDir: DIR, fs, segmentMaxBytes: 10 }],
    ["segmentMaxBytes fractional", { dataDir: DIR, fs, segmentMaxBytes: 1000.5 }],
    ["fdBudget 0", { dataDir: DIR, fs, fdBudget: 0 }],
    ["everyNEvents NaN", { dataDir: DIR, fs, sync: { everyNEvents: NaN } }],
    ["sync mode", { dataDir: DIR, fs, sync: { mode: "sometimes" } }],
    ["enableCheckpoint string", { dataDir: DIR, fs, enableCheckpoint: "yes" }],
    ["clock not a function", { dataDir: DIR, fs, clock: 5 }],
    ["fs not a FileSystem", { dataDir: DIR, fs: {} }],
    // Regression: a dataDir that is a file threw a raw Deno AlreadyExists error.
    ["dataDir is a file", { dataDir: `${DIR}/LOCK`, fs }],
  ];
  fs.writeFile(`${DIR}/LOCK`, new Uint8Array(0));
  for (const [name, config] of cases) {
    const e = throwsType(() => Store.open(config as StoreConfig), InvalidArgumentError);
    assert.ok(e.message.length > 10, `${name}: a useful message`);
  }
  // None of them took the lock.
  const store = Store.open({ dataDir: DIR, fs });
  store.append(new Coordinate("a", "b"), KIND_A, 1);
  store.close();
});

// ------------------------------------------------ the seed's correctness gates

Deno.test("seed gates on a real store: 512-byte segments, fdBudget 2, sync every event", () => {
  const dir = Deno.makeTempDirSync();
  const config = { dataDir: dir, segmentMaxBytes: 512, fdBudget: 2, sync: { everyNEvents: 1 } };
  try {
    let store = Store.open(config);
    const cs = coords(5, "gate");
    const written: { id: string; payload: unknown }[] = [];
    for (let i = 0; i < 120; i++) {
      const payload = { i, text: `event number ${i}`, pad: "p".repeat(i % 40) };
      written.push({ id: store.append(cs[i % 5], KIND_A, payload).eventId, payload });
    }
    const segments = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".fbat")).length;
    assert.ok(segments >= 10, `expected many segments, found ${segments}`);
    assert.equal(store.diagnostics().segments, segments);
    const reader = () => storeInternals(store).reader();
    const readAll = () => {
      // Reads across every segment, in an order that defeats the LRU.
      for (let k = 0; k < written.length; k++) {
        const j = (k * 37) % written.length;
        assert.deepEqual(store.get(written[j].id).payload, written[j].payload);
        assert.ok(reader().openHandles <= 2, `open handles ${reader().openHandles} > fdBudget`);
      }
    };
    readAll();
    assert.ok(reader().opens > 2, "handles were evicted and reopened");
    // Cross-segment stream reads.
    for (const c of cs) {
      const stream = store.stream(c.entity);
      assert.equal(stream.length, 24);
      stream.forEach((e, k) => assert.equal(e.sequence, k + 1));
    }
    // CAS rejects stale, idempotency dedupes.
    throwsType(
      () => store.append(cs[0], KIND_A, "stale", { expectedSequence: 3 }),
      ConcurrencyError,
    );
    const k1 = store.append(cs[0], KIND_A, "k", {
      idempotencyKey: "gate-key",
      expectedSequence: 24,
    });
    assert.equal(
      store.append(cs[0], KIND_A, "k2", { idempotencyKey: "gate-key" }).eventId,
      k1.eventId,
    );
    written.push({ id: k1.eventId, payload: "k" });
    assertHealthy(store);
    store.close();

    for (const cfg of [config, { ...config, enableMmapIndex: false }]) {
      store = Store.open(cfg);
      assert.equal(store.diagnostics().events, 121);
      readAll();
      throwsType(
        () => store.append(cs[0], KIND_A, "stale", { expectedSequence: 24 }),
        ConcurrencyError,
      );
      assert.equal(
        store.append(cs[0], KIND_A, "dup", { idempotencyKey: "gate-key" }).eventId,
        k1.eventId,
      );
      assertHealthy(store);
      store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("durable: a burst of writers (append + await durable() each) shares a single fsync", async () => {
  const { store } = memStore();
  const w = storeInternals(store).writer();
  const writers = Array.from({ length: 64 }, (_, i) => new Coordinate(`writer:${i}`, "s"));
  const before = w.syncCount;
  await Promise.all(writers.map(async (c, i) => {
    store.append(c, KIND_A, i);
    await store.durable();
  }));
  assert.equal(w.syncCount - before, 1, "64 writers of one synchronous burst, one fsync");
  assert.equal(w.durableMark, 64);
  store.close();
});

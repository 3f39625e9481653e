/**
 * Single appends: receipts, ids and hashes, reads of what was written,
 * payload round-trips, correlation and causation; CAS on the expected
 * sequence; idempotency keys (retries, conflicts, bigint keys, reopen).
 */

import assert from "node:assert/strict";
import {
  type AppendReceipt,
  ConcurrencyError,
  Coordinate,
  IdempotencyConflictError,
  InvalidCoordinateError,
  NotFoundError,
  Region,
  type Store,
  type StoreConfig,
} from "../../mod.ts";
import type { MemoryFileSystem } from "../../testing.ts";
import {
  assertHealthy,
  coords,
  DIR,
  KIND_A,
  KIND_B,
  memStore,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

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

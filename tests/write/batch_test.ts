/**
 * Atomic batches: sequences, causation by prior item and by id, the hash
 * chain; CAS and idempotency counting earlier items of the same batch; a
 * failing item writes nothing; many entities reopen identically.
 */

import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  EventKind,
  IdempotencyConflictError,
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  ReservedKindError,
  type Store,
  StoreError,
} from "../../mod.ts";
import {
  assertHealthy,
  coords,
  dump,
  KIND_A,
  KIND_B,
  memStore,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

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

/**
 * The facade: close is idempotent and every method afterwards throws
 * `StoreClosedError`; reads and `appendBatch` reject wrong argument types;
 * and the seed's correctness gates on a real directory.
 */

import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  InvalidArgumentError,
  Region,
  Store,
  StoreClosedError,
} from "../../mod.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import {
  assertHealthy,
  coords,
  KIND_A,
  memStore,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

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

/**
 * The engine's sync policy and durability: overlapping `durable()` calls
 * share one fsync (group commit), `sync()` and `sync.everyNEvents`, and
 * close syncing what is pending.
 */

import assert from "node:assert/strict";
import { Coordinate, Store } from "../../mod.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { assertHealthy, KIND_A, memStore, reopen } from "../fixtures/store_helpers.ts";

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

/**
 * What `close()` writes: nothing when the session changed nothing (the index
 * image on disk already holds the index, the log is durable), the image and
 * an fsync otherwise — and whatever it skipped, the next open finds every
 * event by the image path.
 */

import assert from "node:assert/strict";
import { Coordinate, Region } from "../../mod.ts";
import type { MemoryFileSystem } from "../../testing.ts";
import { DIR, dump, KIND_A, memStore, reopen } from "../fixtures/store_helpers.ts";
import { storeInternals } from "../../src/store/_internals.ts";

const IMAGE = `${DIR}/index.img`;

/** A store of `n` events on `fs`, closed (so an image covers them). */
function closedStore(n: number): MemoryFileSystem {
  const { fs, store } = memStore();
  const c = new Coordinate("a", "s");
  for (let i = 0; i < n; i++) store.append(new Coordinate(`e:${i % 7}`, "s"), KIND_A, { i });
  store.append(c, KIND_A, "last");
  store.close();
  return fs;
}

/** Bytes written and file syncs made by `fn`. */
function ioOf(fs: MemoryFileSystem, fn: () => void): { bytes: number; syncs: number } {
  const before = { bytes: fs.stats.bytesWritten, syncs: fs.stats.syncs };
  fn();
  return { bytes: fs.stats.bytesWritten - before.bytes, syncs: fs.stats.syncs - before.syncs };
}

Deno.test("close: a session that only read writes nothing, and the next open is by the same image", () => {
  const fs = closedStore(300);
  const image = fs.readFile(IMAGE);
  const store = reopen(fs);
  assert.equal(store.diagnostics().openReport.path, "image");
  const seen = dump(store);
  store.readStream("e:3");
  store.project("e:1", { initial: () => 0, apply: (n: number) => n + 1 });
  const io = ioOf(fs, () => store.close());
  assert.deepEqual(io, { bytes: 0, syncs: 0 }, "no image rewritten, no fsync");
  assert.deepEqual(fs.readFile(IMAGE), image);
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image");
  assert.deepEqual(dump(again), seen);
  again.close();
});

Deno.test("close: an append (synced or not) rewrites the image; the next open by it finds the event", () => {
  const syncs: number[] = [];
  for (const synced of [false, true]) {
    const fs = closedStore(100);
    const store = reopen(fs);
    store.append(new Coordinate("b", "s"), KIND_A, { synced });
    if (synced) store.sync();
    const io = ioOf(fs, () => store.close());
    assert.ok(io.bytes > 0, "the image is written again");
    syncs.push(io.syncs);
    const again = reopen(fs.crash()); // only what was durable
    const report = again.diagnostics().openReport;
    assert.equal(report.path, "image");
    assert.equal(report.tailEntries, 0, "the image covers the append");
    assert.deepEqual(again.readStream("b").map((e) => e.payload), [{ synced }]);
    again.close();
  }
  // An unsynced append costs close one fsync of the log more than a synced one (both pay the
  // image's and the cut preallocation's).
  assert.equal(syncs[0], syncs[1] + 1, JSON.stringify(syncs));
});

Deno.test("close: an image removed by hand while the store was open is written again", () => {
  const fs = closedStore(50);
  const store = reopen(fs);
  fs.remove(IMAGE);
  store.close();
  assert.ok(fs.stat(IMAGE) !== undefined);
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image");
  again.close();
});

Deno.test("close: after a compaction the image holds the rewritten log (written once, by the compaction)", async () => {
  const { fs, store } = memStore({ segmentMaxBytes: 4096 });
  for (let i = 0; i < 400; i++) {
    store.append(new Coordinate(i % 2 ? "keep" : "drop", "s"), KIND_A, { i, pad: "x".repeat(40) });
  }
  store.deleteStream("drop");
  store.close();
  const second = reopen(fs, { segmentMaxBytes: 4096 });
  const report = await second.compact();
  assert.ok(report.segmentsRewritten > 0);
  const afterCompact = fs.readFile(IMAGE);
  const seen = dump(second);
  second.close();
  assert.deepEqual(fs.readFile(IMAGE), afterCompact, "close found the compaction's image current");
  const third = reopen(fs, { segmentMaxBytes: 4096 });
  assert.equal(third.diagnostics().openReport.path, "image");
  assert.deepEqual(dump(third), seen);
  assert.equal(third.query(Region.entity("keep")).length, 200);
  assert.equal(third.verify().ok, true);
  third.close();
});

Deno.test("close: the log's tail is fsynced at close only when something is not durable yet", () => {
  const { fs, store } = memStore({ enableMmapIndex: false });
  const w = storeInternals(store).writer();
  store.append(new Coordinate("a", "s"), KIND_A, 1);
  store.sync();
  const before = w.syncCount;
  store.append(new Coordinate("a", "s"), KIND_A, 2);
  store.close();
  assert.equal(w.syncCount, before + 1, "the unsynced append is synced by close");
  const crashed = fs.crash();
  const again = reopen(crashed, { enableMmapIndex: false });
  assert.deepEqual(again.readStream("a").map((e) => e.payload), [1, 2]);
  const w2 = storeInternals(again).writer();
  again.append(new Coordinate("a", "s"), KIND_A, 3);
  again.sync();
  const synced = w2.syncCount;
  again.close();
  assert.equal(w2.syncCount, synced, "nothing left to sync");
  const third = reopen(crashed.crash(), { enableMmapIndex: false });
  assert.deepEqual(third.readStream("a").map((e) => e.payload), [1, 2, 3]);
  third.close();
});

Deno.test("close: an image whose id table was rebuilt at a lookup's miss is written again", () => {
  const fs = closedStore(50);
  const store = reopen(fs);
  const index = storeInternals(store).index;
  // An id no event has: the table read from the image cannot say so alone (see Index.findId).
  assert.throws(() => store.get("01900000-0000-7000-8000-000000000000"));
  assert.equal(index.idTableBuilds, 1);
  const io = ioOf(fs, () => store.close());
  assert.ok(io.bytes > 0, "the image holds the old table: written again");
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image");
  assert.equal(again.readStream("a").length, 1);
  again.close();
});

import assert from "node:assert/strict";
import { Coordinate, EventKind, Store, StoreError } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { FRAME_CACHE_BYTES } from "../../src/log/reader.ts";
import { storeInternals } from "../../src/store/_internals.ts";

const KIND = EventKind.custom(1, 1);

Deno.test("a failed read is a typed IO_ERROR; the next read succeeds and the writer stays healthy", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  const coord = new Coordinate("a", "s");
  const { eventId } = store.append(coord, KIND, { n: 1 });
  store.sync(); // flushed: the next get reads the file, not the write buffer
  let failNext = true;
  fs.setFaultInjector((op) => {
    if (op.kind === "read" && op.path.endsWith(".fbat") && failNext) {
      failNext = false;
      return { error: "EIO" };
    }
    return undefined;
  });
  let e: unknown;
  try {
    store.get(eventId);
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof StoreError, `a StoreError, got ${e}`);
  assert.equal(e.code, "IO_ERROR");
  assert.match(e.message, /000001\.fbat/);
  assert.deepEqual(store.get(eventId).payload, { n: 1 });
  assert.equal(store.append(coord, KIND, { n: 2 }).sequence, 2);
  store.close();
});

/** Reads of segment files, counted by a fault injector that injects nothing. */
function countReads(fs: MemoryFileSystem): { reads: number } {
  const counter = { reads: 0 };
  fs.setFaultInjector((op) => {
    if (op.kind === "read" && op.path.endsWith(".fbat")) counter.reads++;
    return undefined;
  });
  return counter;
}

Deno.test("point reads: a get of a recent event again makes no file read; the cache is bounded", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  const coord = new Coordinate("a", "s");
  // Frames of ~1 KiB: the cache holds about FRAME_CACHE_BYTES / 1 KiB of them.
  const pad = "x".repeat(1000);
  const n = Math.ceil(FRAME_CACHE_BYTES / 1000) + 50;
  const ids = Array.from({ length: n }, (_, i) => store.append(coord, KIND, { i, pad }).eventId);
  store.sync(); // in the file, not the write buffer
  const reader = storeInternals(store).reader();
  const counter = countReads(fs);
  assert.deepEqual(store.get(ids[0]).payload, { i: 0, pad });
  assert.equal(counter.reads, 1);
  store.get(ids[0]);
  assert.equal(counter.reads, 2, "a frame is kept at its second miss (a read that comes back)");
  const third = store.get(ids[0]);
  assert.equal(counter.reads, 2, "the third get is answered from the cache");
  assert.equal(reader.frameHits, 1);
  assert.deepEqual(third.payload, { i: 0, pad });
  assert.equal(third.sequence, 1);
  // Every event twice (kept at the second pass): the oldest leave first; event 0's went.
  for (let pass = 0; pass < 2; pass++) for (const id of ids) store.get(id);
  const before = counter.reads;
  store.get(ids[n - 1]);
  assert.equal(counter.reads, before, "a recent one is cached");
  store.get(ids[0]);
  assert.equal(counter.reads, before + 1, "the oldest one was dropped");
  store.close();
});

Deno.test("point reads: after a compaction a get reads the new file, not a cached frame", async () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs, segmentMaxBytes: 4096 });
  const coord = new Coordinate("a", "s");
  const ids: string[] = [];
  for (let i = 0; i < 200; i++) {
    ids.push(store.append(coord, KIND, { i, secret: `S-${i}` }).eventId);
  }
  store.sync();
  for (let k = 0; k < 2; k++) {
    assert.deepEqual(store.get(ids[3]).payload, { i: 3, secret: "S-3" }); // cached now
  }
  assert.ok(storeInternals(store).reader().frameHits === 0);
  store.get(ids[3]);
  assert.ok(storeInternals(store).reader().frameHits > 0, "it was cached");
  store.redact(ids[3]);
  assert.equal(
    store.get(ids[3]).payload,
    undefined,
    "redacted at once (the lifecycle, not the bytes)",
  );
  const report = await store.compact();
  assert.ok(report.segmentsRewritten > 0);
  const counter = countReads(fs);
  const after = store.get(ids[3]);
  // From the rewritten file: the frame, and its predecessor (whose whole hash the text needs).
  assert.equal(counter.reads, 2, "read from the rewritten file");
  assert.equal(after.redacted, true);
  assert.equal(after.payload, undefined);
  assert.deepEqual(store.get(ids[4]).payload, { i: 4, secret: "S-4" });
  assert.equal(store.verify().ok, true);
  store.close();
});

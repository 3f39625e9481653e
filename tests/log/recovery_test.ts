/**
 * Crash recovery: batches cut by a crash (all or nothing), torn tails cut
 * back with every durable event intact, flipped bytes in sealed and tail
 * segments failing closed or cut back and reported, a missing segment.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Coordinate, CorruptSegmentError, Region, Store, StoreError } from "../../mod.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { dataEnd } from "../../src/log/files.ts";
import {
  assertHealthy,
  cloneFs,
  coords,
  DIR,
  dump,
  KIND_A,
  KIND_B,
  memStore,
  onSegments,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

const SEG1 = `${DIR}/000001.fbat`;

function segPath(n: number): string {
  return `${DIR}/${String(n).padStart(6, "0")}.fbat`;
}

/** The raw frame bytes of every event, in global order. */
function rawFrames(store: Store): Uint8Array[] {
  const s = storeInternals(store);
  const out: Uint8Array[] = [];
  for (let g = 1; g <= s.index.count; g++) out.push(s.readRawFrame(g).slice());
  return out;
}

// ------------------------------------------------------------ crash mid-batch

/**
 * Write some durable events, then a batch whose sync never makes it durable
 * (`how`), crash with a seeded torn write, reopen. The batch must be all or
 * nothing, and nothing whenever its commit marker did not survive.
 */
function batchCrash(how: "eio" | "dropSync", seed: number) {
  const { fs, store } = memStore();
  const cs = coords(3, "acct");
  for (let i = 0; i < 6; i++) store.append(cs[i % 3], KIND_A, { i });
  store.sync();
  const durable = dump(store);
  // Logical sizes: the active segment is preallocated with zeros (src/log/writer.ts).
  const sizeBefore = storeInternals(store).writer().size;
  fs.setFaultInjector(
    onSegments("syncData", how === "eio" ? { error: "EIO" } : { dropSync: true }),
  );
  const items = Array.from({ length: 8 }, (_, i) => ({
    coord: cs[i % 3],
    kind: KIND_B,
    payload: { batch: i, pad: "b".repeat(20) },
    options: { idempotencyKey: `batch-${i}` },
  }));
  if (how === "eio") {
    const e = throwsType(() => store.appendBatch(items), StoreError);
    assert.equal(e.code, "IO_ERROR");
    // Not durable, so never visible.
    assert.equal(store.diagnostics().events, 6);
    assert.deepEqual(dump(store), durable);
  } else {
    store.appendBatch(items); // the disk lies: the batch believes it is durable
  }
  const sizeAfterBatch = storeInternals(store).writer().size;
  assert.ok(sizeAfterBatch > sizeBefore, "the batch reached the OS");
  assert.ok(dataEnd(fs.readFile(SEG1)) > sizeBefore, "the batch reached the OS");
  const crashed = fs.crash({ tornWrites: true, seed });
  const survived = dataEnd(crashed.readFile(SEG1));
  const again = reopen(crashed);
  const after = dump(again);
  const report = again.diagnostics().openReport;
  return { again, after, durable, survived, sizeBefore, sizeAfterBatch, report };
}

for (const how of ["eio", "dropSync"] as const) {
  Deno.test(`crash mid-batch (${how}): none of the batch survives unless its commit did`, () => {
    let cut = 0;
    for (let seed = 0; seed < 60; seed++) {
      const r = batchCrash(how, seed);
      if (r.after.length === 14) {
        // The whole batch, commit marker included, reached the disk: all of it is back.
        assert.deepEqual(r.after.slice(0, 6), r.durable, `seed ${seed}`);
        assert.deepEqual(
          r.after.slice(6).map((e) => (e.payload as { batch: number }).batch),
          [0, 1, 2, 3, 4, 5, 6, 7],
        );
        assert.equal(r.report.truncatedBytes, 0);
      } else {
        assert.deepEqual(r.after, r.durable, `seed ${seed}: no item of the batch is visible`);
        // Cut exactly back to where the batch began (the tail's trailing zeros need no cut).
        assert.ok(r.survived <= r.sizeAfterBatch, `seed ${seed}`);
        assert.equal(
          r.report.truncatedBytes,
          Math.max(0, r.survived - r.sizeBefore),
          `seed ${seed}`,
        );
        if (r.report.truncatedBytes > 0) cut++;
      }
      assertHealthy(r.again);
      // The store is usable and the next event follows the durable ones; a lost batch's
      // idempotency key is free again, a surviving one still dedupes.
      const next = r.again.append(new Coordinate("acct:0", "scope0"), KIND_B, "next", {
        idempotencyKey: "batch-3",
      });
      if (r.after.length === 14) assert.equal(next.globalSequence, 10);
      else assert.equal(next.globalSequence, r.after.length + 1);
      r.again.close();
    }
    assert.ok(cut > 30, `most seeds tear the batch (${cut} of 60 did)`);
  });
}

Deno.test("crash mid-batch without torn writes: the batch is gone, earlier events stay", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("a", "s");
  store.append(c, KIND_A, 1);
  store.sync();
  fs.setFaultInjector(onSegments("syncData", { dropSync: true }));
  store.appendBatch([
    { coord: c, kind: KIND_A, payload: 2 },
    { coord: c, kind: KIND_A, payload: 3 },
  ]);
  const again = reopen(fs.crash());
  assert.deepEqual(again.stream("a").map((e) => again.get(e.eventId).payload), [1]);
  assertHealthy(again);
  again.close();
});

// ----------------------------------------------------------------- torn tail

Deno.test("torn tail: for 150 seeds, every durable event is back byte-identical", async () => {
  let cut = 0;
  let keptUnsynced = 0;
  for (let seed = 0; seed < 150; seed++) {
    const opened = memStore({ segmentMaxBytes: 2048 });
    const fs = opened.fs;
    let store = opened.store;
    const cs = coords(4, `t${seed}`);
    let i = 0;
    const step = () => {
      if (i % 7 === 3) {
        store.appendBatch([
          { coord: cs[i % 4], kind: KIND_A, payload: { i, b: 0 } },
          { coord: cs[(i + 1) % 4], kind: KIND_B, payload: { i, b: 1 } },
        ]);
      } else {
        store.append(cs[i % 4], KIND_A, { i, text: "x".repeat(i % 50) });
      }
      i++;
    };
    const durableRounds = 1 + (seed % 4);
    for (let round = 0; round < durableRounds; round++) {
      for (let k = 0; k < 10; k++) step();
      await store.durable();
      if (seed % 3 === 1 && round === 0) {
        // Half-way through, close (writing the image) and reopen: the crash then hits the
        // tail past the image, which the next open scans.
        store.close();
        store = reopen(fs, { segmentMaxBytes: 2048 });
        assert.equal(store.diagnostics().openReport.path, "image");
      }
    }
    const acknowledged = storeInternals(store).index.count;
    for (let k = 0; k < 5 + (seed % 17); k++) step();
    storeInternals(store).flush();
    const before = dump(store);
    const beforeRaw = rawFrames(store);
    const crashed = fs.crash({ tornWrites: true, seed });
    const again = reopen(crashed);
    const after = dump(again);
    assert.ok(after.length >= acknowledged, `seed ${seed}: ${after.length} < ${acknowledged}`);
    assert.deepEqual(after, before.slice(0, after.length), `seed ${seed}: a prefix of the log`);
    assert.deepEqual(rawFrames(again), beforeRaw.slice(0, after.length), `seed ${seed}: bytes`);
    assertHealthy(again);
    if (seed % 3 === 1) assert.equal(again.diagnostics().openReport.path, "image", `seed ${seed}`);
    if (again.diagnostics().openReport.truncatedBytes > 0) cut++;
    if (after.length > acknowledged) keptUnsynced++;
    // Appending after the cut continues the log cleanly, and it reopens again.
    again.append(cs[0], KIND_A, "after");
    const expected = dump(again);
    again.close();
    const third = reopen(crashed);
    assert.deepEqual(dump(third), expected);
    assert.equal(third.diagnostics().openReport.truncatedBytes, 0);
    third.close();
  }
  // The seeds exercise both outcomes: torn frames cut, and unsynced frames that survived whole.
  assert.ok(cut > 50, `${cut} seeds cut a torn frame`);
  assert.ok(keptUnsynced > 50, `${keptUnsynced} seeds kept unsynced events`);
});

Deno.test("torn tail: garbage or a partial frame appended to a real segment is cut back", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const c = new Coordinate("real", "s");
    let store = Store.open(dir);
    for (let i = 0; i < 20; i++) store.append(c, KIND_A, { i });
    const lastFrame = storeInternals(store).readRawFrame(20).slice();
    const expected = dump(store);
    store.close();
    const seg = `${dir}/000001.fbat`;
    const size = Deno.statSync(seg).size;
    const garbage = new Uint8Array(37);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 89 + 13) & 255;
    const tails: [string, Uint8Array][] = [
      ["garbage", garbage],
      ["partial frame", lastFrame.subarray(0, 30)],
      ["frame header only", lastFrame.subarray(0, 12)],
      ["zeros", new Uint8Array(100)],
    ];
    for (const [name, tail] of tails) {
      for (const cfg of [{}, { enableMmapIndex: false }]) {
        Deno.writeFileSync(seg, tail, { append: true });
        store = Store.open({ dataDir: dir, ...cfg });
        const report = store.diagnostics().openReport;
        if (name === "zeros") {
          // Zeros past the last frame are what preallocation leaves: a clean end, nothing cut.
          assert.equal(report.truncatedBytes, 0, `${name}: nothing to cut`);
        } else {
          // Trailing zero bytes of the tail look like preallocation and need no cut.
          let nonZero = tail.length;
          while (nonZero > 0 && tail[nonZero - 1] === 0) nonZero--;
          assert.equal(report.truncatedBytes, nonZero, `${name}: cut reported`);
          const bytes = Deno.readFileSync(seg);
          assert.ok(bytes.subarray(size).every((x) => x === 0), `${name}: file cut back`);
        }
        assert.deepEqual(dump(store), expected, name);
        assertHealthy(store);
        store.close();
      }
    }
    // After the cuts the log is clean.
    store = Store.open(dir);
    assert.equal(store.diagnostics().openReport.truncatedBytes, 0);
    store.append(c, KIND_A, "more");
    store.close();
    store = Store.open({ dataDir: dir, enableMmapIndex: false });
    assert.equal(store.diagnostics().events, 21);
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

// ------------------------------------------------------------- flipped bytes

/** A closed store with several 512-byte segments and no sidecars. */
function sealedFixture(withImage = false) {
  const { fs, store } = memStore({
    segmentMaxBytes: 512,
    enableMmapIndex: withImage,
    enableCheckpoint: false,
  });
  const cs = coords(3, "seal");
  for (let i = 0; i < 40; i++) store.append(cs[i % 3], KIND_A, { i, t: "some text" });
  const s = storeInternals(store);
  const locations = Array.from({ length: s.index.count }, (_, k) => s.index.location(k + 1));
  const ids = store.query(Region.all()).map((e) => e.eventId);
  const segments = store.diagnostics().segments;
  store.close();
  assert.ok(segments >= 4, `several segments (${segments})`);
  return { fs, locations, ids, segments };
}

Deno.test("flipped byte in a sealed segment: open throws CorruptSegmentError naming file and offset", () => {
  const { fs, locations } = sealedFixture();
  // Every byte of a frame in the middle of segment 2.
  const inSeg2 = locations.filter((l) => l.segment === 2);
  const target = inSeg2[Math.floor(inSeg2.length / 2)];
  for (let b = 0; b < target.length; b++) {
    const copy = cloneFs(fs);
    copy.flipByte(segPath(2), target.offset + b);
    const e = throwsType(() => reopen(copy, { enableMmapIndex: false }), CorruptSegmentError);
    assert.equal(e.file, "000002.fbat", `byte ${b}`);
    assert.equal(e.offset, target.offset, `byte ${b}: ${e.message}`);
    assert.equal(e.code, "CORRUPT_SEGMENT");
    assert.match(e.message, /000002\.fbat/);
  }
  // The segment header.
  for (const at of [0, 5, 9, 14]) {
    const copy = cloneFs(fs);
    copy.flipByte(segPath(1), at);
    const e = throwsType(() => reopen(copy), CorruptSegmentError);
    assert.equal(e.file, "000001.fbat");
    assert.equal(e.offset, 0);
  }
  // And the lock is released after the failed open: a clean open works.
  const e = throwsType(() => {
    const copy = cloneFs(fs);
    copy.flipByte(segPath(3), locations.find((l) => l.segment === 3)!.offset + 20);
    try {
      reopen(copy);
    } finally {
      // the same directory can be tried again, and fails the same way
      throwsType(() => reopen(copy), CorruptSegmentError);
    }
  }, CorruptSegmentError);
  assert.equal(e.file, "000003.fbat");
  const clean = reopen(fs);
  assertHealthy(clean);
  clean.close();
});

Deno.test("a missing segment fails the open, with or without the index image", () => {
  for (const withImage of [false, true]) {
    const { fs, segments } = sealedFixture(withImage);
    for (const missing of [1, 2, segments - 1]) {
      const copy = cloneFs(fs);
      copy.remove(segPath(missing));
      // Regression: with the image, a missing first segment opened and reads threw NotFound.
      const e = throwsType(() => reopen(copy), CorruptSegmentError);
      assert.equal(e.file, segPath(missing).slice(DIR.length + 1), `segment ${missing}`);
      assert.match(e.message, /missing/);
    }
  }
});

Deno.test("flipped byte in a sealed segment covered by the image: reads fail closed", () => {
  const { fs, locations, ids } = sealedFixture(true);
  const g = locations.findIndex((l) => l.segment === 2) + 2; // second frame of segment 2
  const loc = locations[g - 1];
  fs.flipByte(segPath(2), loc.offset + loc.length - 40);
  const store = reopen(fs);
  assert.equal(store.diagnostics().openReport.path, "image");
  const e = throwsType(() => store.get(ids[g - 1]), CorruptSegmentError);
  assert.equal(e.file, "000002.fbat");
  assert.equal(e.offset, loc.offset);
  // Every other event still reads — except the next event of the same entity: its prevHash is
  // the damaged event's hash (format 2 keeps only an 8-byte link to it), which cannot be read
  // back verified, so that read fails closed too, naming the damaged frame.
  const nextOfEntity = g - 1 + 3; // three entities, appended round-robin
  ids.forEach((id, k) => {
    if (k === g - 1) return;
    if (k === nextOfEntity) {
      const next = throwsType(() => store.get(id), CorruptSegmentError);
      assert.equal(next.offset, loc.offset);
      return;
    }
    assert.deepEqual(store.get(id).payload, { i: k, t: "some text" });
  });
  const report = store.verify();
  assert.equal(report.ok, false);
  assert.ok(
    report.problems.some((p) => p.file === "000002.fbat" && p.offset === loc.offset),
    JSON.stringify(report.problems),
  );
  store.close();
  // Without the image the open itself refuses.
  const e2 = throwsType(() => reopen(fs, { enableMmapIndex: false }), CorruptSegmentError);
  assert.equal(e2.offset, loc.offset);
});

Deno.test("flipped byte mid-tail followed by valid frames fails closed, never drops them", () => {
  const { fs, locations, segments } = sealedFixture();
  const inTail = locations.filter((l) => l.segment === segments);
  assert.ok(inTail.length >= 3, "the tail holds several frames");
  const target = inTail[0];
  for (let b = 0; b < target.length; b++) {
    const copy = cloneFs(fs);
    copy.flipByte(segPath(segments), target.offset + b);
    const e = throwsType(() => reopen(copy), CorruptSegmentError);
    assert.equal(e.file, segPath(segments).slice(DIR.length + 1), `byte ${b}`);
    assert.equal(e.offset, target.offset, `byte ${b}: ${e.message}`);
    // The file was not cut.
    assert.equal(copy.readFile(segPath(segments)).length, fs.readFile(segPath(segments)).length);
  }
});

Deno.test("flipped byte in the last frame of the tail is cut back and reported", () => {
  const { fs, locations, segments } = sealedFixture();
  const last = locations[locations.length - 1];
  assert.equal(last.segment, segments);
  fs.flipByte(segPath(segments), last.offset + 20);
  // The cut counts up to the last non-zero byte (trailing zeros look like preallocation): the
  // frame's hash may end in zero bytes (regression: this failed for 1 seed in 256).
  const frame = fs.readFile(segPath(segments)).subarray(last.offset, last.offset + last.length);
  let nonZero = frame.length;
  while (nonZero > 0 && frame[nonZero - 1] === 0) nonZero--;
  const store = reopen(fs);
  assert.equal(store.diagnostics().openReport.truncatedBytes, nonZero);
  assert.equal(store.diagnostics().events, locations.length - 1);
  assertHealthy(store);
  store.close();
});

Deno.test("dataEnd: one past the last non-zero byte, never below the floor, looking only above it", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(300), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
      fc.nat(320),
      fc.nat(8),
      (writes, floorIn, shift) => {
        const backing = new Uint8Array(320 + shift);
        const buf = backing.subarray(shift); // unaligned views too
        for (const [at, v] of writes) buf[at] = v;
        let last = -1;
        for (let i = buf.length - 1; i >= 0; i--) {
          if (buf[i] !== 0) {
            last = i;
            break;
          }
        }
        const floor = Math.min(floorIn, buf.length);
        assert.equal(dataEnd(buf), last + 1);
        assert.equal(dataEnd(buf, floor), Math.max(floor, last + 1));
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("a damaged frame followed by a whole last frame that ends in a zero byte fails closed (was cut back as a torn tail)", () => {
  // One event hash in 256 ends in 0x00, and the hash ends the frame: the scan trims trailing
  // zeros (the preallocation) to find where data ends, and once cut the last frame short, so
  // the valid frame after a damaged one went unseen and both were truncated: an intact,
  // possibly acknowledged event lost without an error.
  const fs = new MemoryFileSystem();
  const config = { dataDir: DIR, fs, enableMmapIndex: false, enableCheckpoint: false };
  const store = Store.open(config);
  const coord = new Coordinate("a", "s");
  const tags: string[] = [];
  let lastHash = "";
  // Until the newest event's hash (the last bytes of its frame) ends in a zero byte: ~256
  // appends on average; 20,000 misses have a probability of e^-78.
  for (let i = 0; i < 20_000 && !(tags.length > 2 && lastHash.endsWith("00")); i++) {
    const tag = `tag-${String(i).padStart(6, "0")}`;
    tags.push(tag);
    lastHash = store.append(coord, KIND_A, { tag }).eventHash;
  }
  assert.ok(lastHash.endsWith("00"), "found an event whose frame ends in a zero byte");
  store.close();
  const text = new TextDecoder("latin1").decode(fs.readFile(SEG1));
  const damagedAt = text.indexOf(tags[tags.length - 2]);
  fs.flipByte(SEG1, damagedAt + 2);
  const e = throwsType(() => Store.open(config), CorruptSegmentError);
  assert.match(e.message, /bad_crc, and a valid frame continuing the log follows/);
  assert.ok(e.offset < damagedAt && e.offset > text.indexOf(tags[tags.length - 3]));
});

// ------------------------------------------------------- durability at open

/** File and directory syncs `open` makes on `fs`. */
function syncsOfOpen(fs: MemoryFileSystem, extra: Parameters<typeof reopen>[1] = {}) {
  const before = { files: fs.stats.syncs, dirs: fs.stats.dirSyncs };
  const store = reopen(fs, extra);
  return {
    store,
    files: fs.stats.syncs - before.files,
    dirs: fs.stats.dirSyncs - before.dirs,
  };
}

Deno.test("open after a clean close flushes nothing: the image covers the whole log, all of it durable", () => {
  for (const extra of [{}, { enableMmapIndex: false }]) { // image, then checkpoint-less rebuild
    const { fs, store } = memStore(extra);
    const c = new Coordinate("a", "s");
    for (let i = 0; i < 50; i++) store.append(c, KIND_A, { i });
    store.close();
    const first = syncsOfOpen(fs, extra);
    const path = first.store.diagnostics().openReport.path;
    first.store.close();
    if (path === "rebuild") {
      // No sidecar vouches for the log: the open makes it durable itself.
      assert.ok(
        first.files >= 1 && first.dirs >= 1,
        `rebuild open synced ${first.files}/${first.dirs}`,
      );
    } else {
      assert.equal(path, "image");
      assert.deepEqual([first.files, first.dirs], [0, 0], "nothing to flush after a clean close");
    }
  }
});

Deno.test("open after a process died past the image (its fsync failed, its frames only in the page cache) makes them durable", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("a", "s");
  for (let i = 0; i < 10; i++) store.append(c, KIND_A, { i });
  store.close(); // the image covers 10 events
  // The next process appends 5 more; its fsync fails, so none of them is acknowledged durable,
  // but they reach the page cache. It dies (its close cannot sync).
  const second = reopen(fs);
  for (let i = 10; i < 15; i++) second.append(c, KIND_A, { i });
  fs.setFaultInjector(onSegments("syncData", { error: "EIO" }));
  assert.equal(throwsType(() => second.sync(), StoreError).code, "IO_ERROR");
  try {
    second.close();
  } catch { /* the poisoned writer's close reports the failed sync */ }
  fs.setFaultInjector();
  // The third process finds the 5 frames past the image and adopts them (reads them, builds
  // on them): they must be durable before it goes on, so a power loss right after its open
  // keeps all 15.
  const third = syncsOfOpen(fs);
  assert.equal(third.store.diagnostics().events, 15);
  assert.ok(third.files >= 1, "the adopted tail was flushed");
  const seen = dump(third.store);
  const after = reopen(fs.crash());
  assert.deepEqual(dump(after), seen);
  assertHealthy(after);
  after.close();
});

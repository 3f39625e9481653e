/**
 * The three open paths (index image, checkpoint, full rebuild), their config
 * switches, and rejection of corrupt or stale sidecars.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  CorruptSegmentError,
  type IndexEntry,
  type OpenReport,
  Region,
  type Store,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { Index, LAG_ELSEWHERE } from "../../src/index/index.ts";
import {
  type LoadedSidecar,
  loadSidecar,
  saveSidecar,
  SidecarDamage,
} from "../../src/index/sidecar.ts";
import { CHECKPOINT_EVERY_EVENTS_MIN } from "../../src/core/limits.ts";
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
} from "../fixtures/store_helpers.ts";

const IMAGE = `${DIR}/index.img`;
const CHECKPOINT = `${DIR}/index.ckpt`;
const SEG1 = `${DIR}/000001.fbat`;
const BIG = 70_000;

/**
 * Load a sidecar and read every part of it: why it is refused (at open or
 * where a part is read), or what loaded.
 */
function loadAll(
  fs: MemoryFileSystem,
  path: string,
  kind: "image" | "checkpoint",
): LoadedSidecar | string {
  const loaded = loadSidecar(fs, path, kind);
  if (typeof loaded === "string") return loaded;
  try {
    loaded.index.readAll();
  } catch (e) {
    if (e instanceof SidecarDamage) return e.reason;
    throw e;
  }
  return loaded;
}

/** A small closed store of several entities, scopes and kinds, with an image. */
function smallStore(extra = {}) {
  const { fs, store } = memStore({ segmentMaxBytes: 4096, ...extra });
  const cs = coords(9, "small");
  for (let i = 0; i < 300; i++) {
    store.append(cs[i % 9], i % 4 === 0 ? KIND_B : KIND_A, { i }, {
      idempotencyKey: i % 10 === 0 ? `key-${i}` : undefined,
    });
  }
  const before = dump(store);
  store.close();
  return { fs, before, cs };
}

/**
 * A closed store of 70K events: big enough for a checkpoint. Built once and
 * copied per test (building it takes most of a second).
 */
let bigFixture: MemoryFileSystem | undefined;
function bigStore(): MemoryFileSystem {
  if (!bigFixture) {
    const { fs, store } = memStore();
    const cs = coords(50, "big");
    for (let i = 0; i < BIG; i++) {
      store.append(cs[i % 50], i % 3 ? KIND_A : KIND_B, { i }, {
        idempotencyKey: i % 1000 === 0 ? BigInt(i) : undefined,
      });
    }
    store.close();
    bigFixture = fs;
  }
  return cloneFs(bigFixture);
}

function report(store: Store): OpenReport {
  return store.diagnostics().openReport;
}

const plain = (entries: IndexEntry[]) => entries.map((e) => JSON.stringify(e));

/** What a user sees through the query API. */
function queries(store: Store): string[][] {
  return [
    plain(store.query(Region.all())),
    plain(store.query(Region.scope("scope1"))),
    plain(store.query(Region.entity("big:1"))),
    plain(store.query(Region.entity("small:"))),
    plain(store.query(Region.all().withKinds(KIND_B))),
    plain(store.queryAfter(Region.scope("scope2"), 1000, 77)),
    plain(store.stream("big:7")),
    plain(store.stream("small:4")),
  ];
}

// ------------------------------------------------------------------- paths

Deno.test("open paths: after close the image restores everything, without a tail", () => {
  const { fs, before } = smallStore();
  const store = reopen(fs);
  const r = report(store);
  assert.equal(r.path, "image");
  assert.equal(r.restoredEntries, 300);
  assert.equal(r.tailEntries, 0);
  assert.equal(r.truncatedBytes, 0);
  assert.deepEqual(r.rejectedSidecars, []);
  assert.ok(r.elapsedMs >= 0);
  assert.deepEqual(dump(store), before);
  assertHealthy(store);
  store.close();
});

Deno.test("open paths: without an image or checkpoint the index is rebuilt from the log", () => {
  const { fs, before } = smallStore();
  fs.remove(IMAGE);
  const store = reopen(fs);
  const r = report(store);
  assert.equal(r.path, "rebuild");
  assert.equal(r.restoredEntries, 0);
  assert.equal(r.tailEntries, 300);
  assert.deepEqual(dump(store), before);
  store.close();
});

Deno.test("open paths: without the image, a checkpoint restores most and the tail is scanned", () => {
  const fs = bigStore();
  assert.ok(fs.readFile(CHECKPOINT).length > 0, "70K appends wrote a checkpoint");
  fs.remove(IMAGE);
  const store = reopen(fs);
  const r = report(store);
  assert.equal(r.path, "checkpoint");
  assert.ok(r.restoredEntries >= CHECKPOINT_EVERY_EVENTS_MIN, `${r.restoredEntries} restored`);
  assert.ok(r.tailEntries > 0, "events after the checkpoint are scanned");
  assert.equal(r.restoredEntries + r.tailEntries, BIG);
  assertHealthy(store);
  store.close();
});

Deno.test("open paths: query results are identical through image, checkpoint and rebuild", () => {
  const fs = bigStore();
  const viaImage = reopen(cloneFs(fs));
  assert.equal(report(viaImage).path, "image");
  const expected = queries(viaImage);
  assert.equal(expected[0].length, BIG);
  // Appends after the open land the same way on every path.
  const extra = new Coordinate("big:7", "scope1");
  const receipt = viaImage.append(extra, KIND_B, "after");
  assert.equal(receipt.sequence, BIG / 50 + 1);
  viaImage.close();

  const noImage = cloneFs(fs);
  noImage.remove(IMAGE);
  const viaCheckpoint = reopen(noImage);
  assert.equal(report(viaCheckpoint).path, "checkpoint");
  const viaRebuild = reopen(cloneFs(fs), { enableMmapIndex: false, enableCheckpoint: false });
  assert.equal(report(viaRebuild).path, "rebuild");
  for (const store of [viaCheckpoint, viaRebuild]) {
    assert.deepEqual(queries(store), expected);
    // Idempotency keys and per-entity state came back too.
    assert.equal(
      // Key 69000n was event 69001: entity big:0 (69000 % 50), kind B (69000 % 3 === 0).
      store.append(new Coordinate("big:0", "scope0"), KIND_B, "dup", { idempotencyKey: 69_000n })
        .globalSequence,
      69_001,
    );
    assert.equal(store.append(extra, KIND_B, "after").sequence, BIG / 50 + 1);
    assert.equal(
      store.get(store.stream("big:7").at(-1)!.eventId).prevHash,
      store.get(store.stream("big:7").at(-2)!.eventId).eventHash,
    );
    store.close();
  }
});

Deno.test("open paths: small store queries are identical through image and rebuild", () => {
  const { fs, before } = smallStore();
  const a = reopen(fs);
  const expected = queries(a);
  a.close();
  const b = reopen(fs, { enableMmapIndex: false });
  assert.equal(report(b).path, "rebuild");
  assert.deepEqual(queries(b), expected);
  assert.deepEqual(dump(b), before);
  b.close();
});

// ------------------------------------------------------------------ config

Deno.test("config: enableMmapIndex false writes no image and ignores an existing one", () => {
  const { fs } = smallStore({ enableMmapIndex: false });
  assert.equal(fs.stat(IMAGE), undefined, "no image written on close");
  // An image from an earlier run is not used either.
  const withImage = reopen(fs);
  assert.equal(report(withImage).path, "rebuild");
  withImage.close();
  assert.ok(fs.stat(IMAGE), "a default close writes the image");
  const ignoring = reopen(fs, { enableMmapIndex: false });
  assert.equal(report(ignoring).path, "rebuild");
  assert.deepEqual(report(ignoring).rejectedSidecars, []);
  ignoring.close();
});

Deno.test("config: enableCheckpoint false writes no checkpoint and ignores an existing one", () => {
  const { fs, store } = memStore({ enableCheckpoint: false });
  const c = new Coordinate("e", "s");
  for (let i = 0; i < BIG; i++) store.append(c, KIND_A, i);
  store.sync();
  assert.equal(fs.stat(CHECKPOINT), undefined, "no checkpoint written");
  store.close();

  const withCheckpoint = bigStore();
  withCheckpoint.remove(IMAGE);
  const s = reopen(withCheckpoint, { enableCheckpoint: false });
  assert.equal(report(s).path, "rebuild");
  assert.equal(s.diagnostics().events, BIG);
  s.close();
});

Deno.test("checkpoint: a crash with no close reopens from the checkpoint plus the tail", () => {
  const { fs, store } = memStore();
  const cs = coords(10, "ck");
  for (let i = 0; i < BIG; i++) store.append(cs[i % 10], KIND_A, { i });
  store.sync();
  const expectedLast = store.query(Region.all()).at(-1)!.eventId;
  const crashed = fs.crash();
  assert.equal(crashed.stat(IMAGE), undefined);
  const again = reopen(crashed);
  const r = report(again);
  assert.equal(r.path, "checkpoint");
  assert.equal(r.restoredEntries + r.tailEntries, BIG);
  assert.equal(again.query(Region.all()).at(-1)!.eventId, expectedLast);
  assert.equal(again.append(cs[0], KIND_A, "x", { expectedSequence: BIG / 10 }).sequence, 7_001);
  again.close();
});

// --------------------------------------------------------- bad sidecars

Deno.test("corrupt image: any flipped byte is rejected at open or where it is read, never served", () => {
  const { fs, before, cs } = smallStore();
  const size = fs.readFile(IMAGE).length;
  const offsets = [0, 4, 8, 20, 24, 36, 44, 52, 56, 60, Math.floor(size / 2), size - 1];
  for (let at = 101; at < size; at += 997) offsets.push(at);
  const streams = (s: Store) => cs.map((c) => s.stream(c.entity).map((e) => e.globalSequence));
  const expected = streams(reopen(cloneFs(fs), { readOnly: true }));
  const lazily: number[] = [];
  for (const at of offsets) {
    const copy = cloneFs(fs);
    copy.flipByte(IMAGE, at);
    const store = reopen(copy);
    const r = report(store);
    if (r.path === "rebuild") {
      // The head, or the page the open reads (the last): refused at open, the next path taken.
      assert.equal(r.rejectedSidecars.length, 1, `byte ${at}`);
      assert.match(r.rejectedSidecars[0], /index\.img/);
    } else {
      // A part read when first used (the id table, a posting list): found there, and built from
      // the rows instead; the image is removed at once, and the close writes a sound one.
      assert.equal(r.path, "image", `byte ${at}`);
      lazily.push(at);
    }
    assert.deepEqual(dump(store), before, `byte ${at}`);
    assert.deepEqual(streams(store), expected, `byte ${at}`);
    if (r.path === "image") {
      assert.notEqual(storeInternals(store).index.damaged, undefined, `byte ${at}: found`);
      assert.equal(copy.stat(IMAGE), undefined, `byte ${at}: removed when found`);
    }
    assertHealthy(store);
    store.close();
    // The close wrote a fresh image, which is trusted again.
    const next = reopen(copy);
    assert.equal(report(next).path, "image");
    assert.deepEqual(dump(next), before, `byte ${at}`);
    assert.equal(storeInternals(next).index.damaged, undefined, `byte ${at}: the new image`);
    next.close();
  }
  for (const at of offsets.slice(0, 10)) assert.ok(!lazily.includes(at), `head byte ${at}`);
  assert.ok(lazily.includes(size - 1), "the last byte (a scope's list) is found where read");
  assert.ok(lazily.length >= 3 && lazily.length < offsets.length, `found lazily: ${lazily}`);
  // A truncated or empty image too.
  for (const bytes of [fs.readFile(IMAGE).subarray(0, size - 8), new Uint8Array(0)]) {
    const copy = cloneFs(fs);
    copy.writeFile(IMAGE, bytes);
    const store = reopen(copy);
    assert.equal(report(store).path, "rebuild");
    assert.equal(report(store).rejectedSidecars.length, 1);
    store.close();
  }
});

Deno.test("corrupt checkpoint: rejected, and the log is rebuilt", () => {
  const fs = bigStore();
  fs.remove(IMAGE);
  const size = fs.readFile(CHECKPOINT).length;
  fs.flipByte(CHECKPOINT, Math.floor(size / 3));
  const store = reopen(fs);
  const r = report(store);
  assert.equal(r.path, "rebuild");
  assert.equal(r.rejectedSidecars.length, 1);
  assert.match(r.rejectedSidecars[0], /index\.ckpt/);
  assert.equal(store.diagnostics().events, BIG);
  store.close();
});

Deno.test("stale image: a log cut shorter than the image fails closed, the image kept as evidence", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("cut", "s");
  for (let i = 0; i < 20; i++) store.append(c, KIND_A, { i });
  const last = storeInternals(store).index.location(20);
  const before = dump(store);
  store.close();
  // Cut into the last frame: the image still counts it, so the log lost a durable event.
  fs.writeFile(SEG1, fs.readFile(SEG1).subarray(0, last.offset + 10));
  const image = fs.readFile(IMAGE);
  const e = throwsType(() => reopen(fs), CorruptSegmentError, /index\.img covers/);
  assert.equal(e.file, "000001.fbat");
  assert.deepEqual(fs.readFile(IMAGE), image, "the evidence is untouched");
  // With the evidence removed by hand, the shorter log opens (cut back to whole frames).
  fs.remove(IMAGE);
  const again = reopen(fs);
  assert.deepEqual(dump(again), before.slice(0, 19));
  assertHealthy(again);
  again.close();
});

Deno.test("stale image: a log rewritten after the image was taken fails closed", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("rw", "s");
  for (let i = 0; i < 10; i++) store.append(c, KIND_A, { i, v: "first" });
  const sixth = storeInternals(store).index.location(6);
  store.close();
  const oldImage = fs.readFile(IMAGE);
  // Another history: the first 5 events, then 6 different (longer) ones.
  fs.writeFile(SEG1, fs.readFile(SEG1).subarray(0, sixth.offset));
  fs.remove(IMAGE);
  const rewrite = reopen(fs, { enableMmapIndex: false });
  for (let i = 5; i < 11; i++) rewrite.append(c, KIND_A, { i, v: "second history" });
  const expected = dump(rewrite);
  rewrite.close();
  fs.writeFile(IMAGE, oldImage);
  // The image names a last frame the log no longer has: fail closed, never mix histories.
  throwsType(() => reopen(fs), CorruptSegmentError, /not there any more/);
  fs.remove(IMAGE);
  const again = reopen(fs);
  assert.deepEqual(dump(again), expected);
  assertHealthy(again);
  again.close();
});

Deno.test("image open, more appends, crash: the reopen scans the tail past the image", () => {
  const { fs, before, cs } = smallStore();
  const store = reopen(fs);
  assert.equal(report(store).path, "image");
  const more = [];
  for (let i = 0; i < 25; i++) {
    more.push(store.append(cs[i % 9], KIND_A, { more: i }, { idempotencyKey: `more-${i}` }));
  }
  store.sync();
  const expected = dump(store);
  const crashed = fs.crash();
  const again = reopen(crashed);
  const r = report(again);
  assert.equal(r.path, "image");
  assert.equal(r.restoredEntries, before.length);
  assert.equal(r.tailEntries, 25);
  assert.deepEqual(dump(again), expected);
  // Keys and CAS from the tail are known.
  assert.equal(
    again.append(cs[3], KIND_A, "dup", { idempotencyKey: "more-3" }).eventId,
    more[3].eventId,
  );
  const last0 = again.stream(cs[0].entity).length;
  assert.equal(
    again.append(cs[0], KIND_A, "cas", { expectedSequence: last0 }).sequence,
    last0 + 1,
  );
  assertHealthy(again);
  again.close();
  const third = reopen(crashed);
  assert.equal(report(third).path, "image");
  assert.equal(report(third).tailEntries, 0);
  third.close();
});

Deno.test("leftover temporary sidecar files from a crash are ignored and removed", () => {
  const { fs, before } = smallStore();
  fs.writeFile(`${IMAGE}.tmp`, new Uint8Array([1, 2, 3]));
  const store = reopen(fs);
  assert.equal(report(store).path, "image");
  assert.deepEqual(dump(store), before);
  assert.equal(fs.stat(`${IMAGE}.tmp`), undefined);
  store.close();
});

Deno.test("a sidecar the disk refuses fails neither the append nor close (log is the truth)", () => {
  const { fs, store } = memStore();
  fs.setFaultInjector((op) => op.path.includes("/index.") ? { error: "ENOSPC" } : undefined);
  const c = new Coordinate("full-disk", "s");
  // Regression: the append that triggered a checkpoint threw a raw fault after writing its event,
  // and close() threw when the image could not be written.
  for (let i = 0; i < BIG; i++) store.append(c, KIND_A, i);
  assert.equal(store.diagnostics().events, BIG);
  store.close();
  fs.setFaultInjector();
  assert.equal(fs.stat(CHECKPOINT), undefined);
  assert.equal(fs.stat(IMAGE), undefined);
  const again = reopen(fs);
  assert.equal(report(again).path, "rebuild");
  assert.equal(again.diagnostics().events, BIG);
  assert.equal(fs.listFiles().filter((f) => f.endsWith(".tmp")).length, 0);
  again.close();
  // With the disk healthy again the next close writes the image.
  assert.ok(fs.stat(IMAGE));
});

Deno.test("stale image: a last frame whose CRC field survived but whose body did not fails closed (sim seed 910)", () => {
  // A torn write on a disk that dropped an fsync: the image vouches for the frame, the
  // frame's first 4 bytes (its CRC field) are intact, its body is not. Checking only the
  // CRC field let an open with the image switched off cut the frame silently, and left the
  // image to fail a later open of a log written past the cut.
  const { fs, store } = memStore();
  const c = new Coordinate("torn", "s");
  for (let i = 0; i < 20; i++) store.append(c, KIND_A, { i });
  const last = storeInternals(store).index.location(20);
  store.close();
  fs.flipByte(SEG1, last.offset + last.length - 3);
  const image = fs.readFile(IMAGE);
  for (const extra of [{}, { enableMmapIndex: false }]) {
    throwsType(() => reopen(fs, extra), CorruptSegmentError, /index\.img covers is not there/);
    assert.deepEqual(fs.readFile(IMAGE), image, "the evidence is untouched");
  }
});

Deno.test("a sidecar the open did not restore from is removed before the log is written", () => {
  const { fs, before } = smallStore();
  // Switched off: checked as evidence at this open, then removed.
  const off = reopen(fs, { enableMmapIndex: false });
  assert.equal(report(off).path, "rebuild");
  assert.equal(fs.stat(IMAGE), undefined);
  off.append(new Coordinate("after", "s"), KIND_A, "more");
  off.close();
  assert.equal(fs.stat(IMAGE), undefined, "no image written with the image off");
  // Damaged: rejected, reported, and removed.
  const on = reopen(fs);
  on.close();
  fs.flipByte(IMAGE, 40);
  const rejected = reopen(fs, { enableMmapIndex: false, enableCheckpoint: true });
  assert.equal(fs.stat(IMAGE), undefined);
  rejected.close();
  const next = reopen(fs);
  assert.deepEqual(dump(next).slice(0, before.length), before);
  assert.equal(next.diagnostics().events, before.length + 1);
  assertHealthy(next);
  next.close();
});

// ------------------------------------------------ derived columns (version 2)

const DAY_MS = 86_400_000;
const PAGE = 65_536;

Deno.test("timestamps: a clock that stalls, jumps back or forward by weeks comes back exact on every open path", () => {
  // The index keeps a timestamp as its lag behind the id's UUIDv7 time (an Int32); a jump of
  // more than 24.8 days does not fit and goes to the side table, which every sidecar carries.
  let now = 1_700_000_000_000;
  const { fs, store } = memStore({ clock: () => now });
  const cs = coords(7, "ts");
  const expected: number[] = [];
  for (let i = 0; i < BIG; i++) {
    if (i === 100) now -= 40 * DAY_MS; // back: ids keep the old time, the lag is 40 days
    else if (i >= 200 && i < 300) now += 0; // stalled
    else if (i === 300) now += 90 * DAY_MS; // forward past the ids
    else if (i === 400) now -= 3.5; // a little back, with a fraction (floored)
    else now += 1;
    store.append(cs[i % 7], KIND_A, { i });
    expected.push(Math.floor(now));
  }
  const index = storeInternals(store).index;
  assert.ok(index.timestamps.size >= 100, `${index.timestamps.size} timestamps did not fit`);
  const check = (s: Store, path: string) => {
    assert.equal(report(s).path, path);
    const entries = s.query(Region.all());
    assert.deepEqual(entries.map((e) => e.timestampMs), expected, `timestamps via ${path}`);
    for (const g of [1, 101, 150, 250, 301, 401, BIG]) {
      const e = entries[g - 1];
      assert.equal(s.get(e.eventId).timestampMs, e.timestampMs, `frame and index agree at ${g}`);
    }
    // Sequences are derived from the postings: 1.. per stream.
    for (const c of cs.slice(0, 3)) {
      assert.deepEqual(
        s.stream(c.entity).map((e) => e.sequence),
        s.stream(c.entity).map((_, k) => k + 1),
      );
    }
  };
  store.close();
  const noImage = cloneFs(fs);
  noImage.remove(IMAGE);
  const viaCheckpoint = reopen(noImage);
  check(viaCheckpoint, "checkpoint");
  viaCheckpoint.close();
  const viaImage = reopen(cloneFs(fs));
  check(viaImage, "image");
  viaImage.close();
  const viaRebuild = reopen(cloneFs(fs), { enableMmapIndex: false, enableCheckpoint: false });
  check(viaRebuild, "rebuild");
  viaRebuild.close();
});

Deno.test("timestamps: a clock set back by weeks fills the side table for the rest of one page only", () => {
  // After the jump, ids keep the later time until the clock catches up: every event lags by
  // 40 days. Counted from each page's first lag, those fit; only the page of the jump spills.
  let now = 1_700_000_000_000;
  const { fs, store } = memStore({ clock: () => now });
  const c = new Coordinate("jump", "s");
  const expected: number[] = [];
  for (let i = 0; i < 2 * PAGE + 10_000; i++) {
    now += i === 1000 ? -40 * DAY_MS : 1;
    store.append(c, KIND_A, i);
    expected.push(now);
  }
  const index = storeInternals(store).index;
  assert.equal(index.timestamps.size, PAGE - 1000, "rows 1001 .. 65536 of the first page");
  store.close();
  for (const extra of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const again = reopen(cloneFs(fs), extra);
    assert.deepEqual(again.query(Region.all()).map((e) => e.timestampMs), expected);
    assert.equal(storeInternals(again).index.timestamps.size, PAGE - 1000);
    again.close();
  }
  const noImage = cloneFs(fs);
  noImage.remove(IMAGE);
  const viaCheckpoint = reopen(noImage);
  assert.equal(report(viaCheckpoint).path, "checkpoint");
  assert.deepEqual(viaCheckpoint.query(Region.all()).map((e) => e.timestampMs), expected);
  viaCheckpoint.close();
});

Deno.test("timestamps: retention by age hides by the exact timestamp on every open path", () => {
  let now = 1_700_000_000_000;
  const { fs, store } = memStore({ clock: () => now });
  const c = new Coordinate("aged", "kept-a-day");
  store.append(c, KIND_A, "old"); // 40 days before the rest: its lag does not fit
  now += 40 * DAY_MS;
  store.append(c, KIND_A, "new");
  now -= 40 * DAY_MS - 5; // back again: this one's id is 40 days ahead of its timestamp
  store.append(c, KIND_A, "old again");
  now += 40 * DAY_MS;
  store.setRetention("kept-a-day", { maxAgeMs: DAY_MS });
  const visible = (s: Store) => s.readStream("aged").map((e) => e.payload);
  assert.deepEqual(visible(store), ["new"]);
  store.close();
  for (const extra of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const again = reopen(cloneFs(fs), { clock: () => now, ...extra });
    assert.deepEqual(visible(again), ["new"]);
    again.close();
  }
});

/** An index of three events, the second with a timestamp that does not fit the lag column. */
function indexWithFarTimestamp(): Index {
  const index = new Index();
  index.entities.intern("e");
  index.scopes.intern("s");
  const ms = 1_700_000_000_000;
  const id = (t: number, n: number): [number, number, number, number] => [
    Math.floor(t / 0x10000),
    ((t % 0x10000) * 0x10000 + 0x7000 + n) >>> 0,
    0x80000000 + n,
    n * 0x9e3779b1 >>> 0,
  ];
  index.add(1, 64, 100, 0, 0, 1, ms, id(ms, 1));
  index.add(1, 164, 100, 0, 0, 1, ms - 30 * DAY_MS, id(ms, 2));
  index.add(1, 264, 100, 0, 0, 1, ms + 1, id(ms + 1, 3));
  return index;
}

Deno.test("timestamps: a sidecar whose timestamp table disagrees with its lag column is refused", () => {
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  const coverage = {
    segment: 1,
    endOffset: 364,
    lastFrameSegment: 1,
    lastFrameOffset: 264,
    lastFrameCrc: 0,
  };
  const good = indexWithFarTimestamp();
  assert.equal(good.page(0).lag[1], LAG_ELSEWHERE);
  assert.deepEqual([...good.timestamps], [[2, 1_700_000_000_000 - 30 * DAY_MS]]);
  saveSidecar(fs, DIR, "image", good, coverage, {});
  const loaded = loadAll(fs, IMAGE, "image");
  assert.ok(typeof loaded !== "string", String(loaded));
  assert.deepEqual([1, 2, 3].map((g) => loaded.index.timestampOf(g)), [
    1_700_000_000_000,
    1_700_000_000_000 - 30 * DAY_MS,
    1_700_000_000_001,
  ]);
  assert.deepEqual([1, 2, 3].map((g) => loaded.index.sequenceOf(g)), [1, 2, 3]);
  const missing = indexWithFarTimestamp();
  missing.timestamps.clear();
  saveSidecar(fs, DIR, "image", missing, coverage, {});
  assert.equal(loadAll(fs, IMAGE, "image"), "a row's timestamp is missing");
  // Saved twice: the table an older build of this version could have written wrong.
  const twice = indexWithFarTimestamp();
  const row = [...twice.timestamps][0];
  (twice.timestamps as unknown as { [Symbol.iterator](): Iterator<[number, number]> })[
    Symbol.iterator
  ] = function* () {
    yield row;
    yield row;
  };
  saveSidecar(fs, DIR, "image", twice, coverage, {});
  assert.equal(loadAll(fs, IMAGE, "image"), "the timestamp table names a row twice");
  const extra = indexWithFarTimestamp();
  extra.timestamps.set(3, 5);
  saveSidecar(fs, DIR, "checkpoint", extra, coverage, {});
  assert.equal(
    loadSidecar(fs, CHECKPOINT, "checkpoint"),
    "the timestamp table names rows that have a lag",
  );
});

const FORMAT1 = new URL("../fixtures/format1_store/", import.meta.url);

Deno.test("version-1 sidecars: the format-1 fixture's image opens by the image path, entries as a rebuild gives them", () => {
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  for (const entry of Deno.readDirSync(FORMAT1)) {
    if (!entry.name.endsWith(".md")) {
      fs.writeFile(`${DIR}/${entry.name}`, Deno.readFileSync(new URL(entry.name, FORMAT1)));
    }
  }
  const image = fs.readFile(IMAGE);
  assert.equal(new DataView(image.buffer, image.byteOffset).getUint16(4, true), 1, "a v1 image");
  const rebuilt = reopen(cloneFs(fs), { readOnly: true, enableMmapIndex: false });
  assert.equal(report(rebuilt).path, "rebuild");
  const expected = plain(rebuilt.query(Region.all()));
  assert.equal(expected.length, 42);
  rebuilt.close();
  const viaV1 = reopen(fs, { readOnly: true });
  assert.equal(report(viaV1).path, "image");
  assert.deepEqual(plain(viaV1.query(Region.all())), expected);
  viaV1.close();
  // A writable open and close writes a version-3 image, which restores the same entries.
  reopen(fs).close();
  const v3 = fs.readFile(IMAGE);
  assert.equal(new DataView(v3.buffer, v3.byteOffset).getUint16(4, true), 3, "a v3 image");
  const viaV3 = reopen(fs, { readOnly: true });
  assert.equal(report(viaV3).path, "image");
  assert.deepEqual(plain(viaV3.query(Region.all())), expected);
  viaV3.close();
});

const FORMAT2 = new URL("../fixtures/format2_image/", import.meta.url);

Deno.test("version-2 sidecars: the fixture's image (read whole) opens by the image path, entries, streams and timestamps as a rebuild gives them", () => {
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  for (const entry of Deno.readDirSync(FORMAT2)) {
    if (!entry.name.endsWith(".md")) {
      fs.writeFile(`${DIR}/${entry.name}`, Deno.readFileSync(new URL(entry.name, FORMAT2)));
    }
  }
  const version = (bytes: Uint8Array) =>
    new DataView(bytes.buffer, bytes.byteOffset).getUint16(4, true);
  assert.equal(version(fs.readFile(IMAGE)), 2, "a v2 image");
  const all = (s: Store) => ({
    entries: plain(s.query(Region.all())),
    events: dump(s),
    streams: [0, 1, 2, 3].map((i) => s.stream(`v2:${i}`).map((e) => e.globalSequence)),
  });
  const rebuilt = reopen(cloneFs(fs), { readOnly: true, enableMmapIndex: false });
  assert.equal(report(rebuilt).path, "rebuild");
  const expected = all(rebuilt);
  assert.equal(expected.entries.length, 42);
  const far = rebuilt.query(Region.all()).filter((e) => e.globalSequence >= 30);
  assert.ok(far.length > 0 && far.every((e) => e.timestampMs < 1_700_000_000_000), "set back");
  const tenth = rebuilt.query(Region.all())[9].eventId;
  rebuilt.close();
  const viaV2 = reopen(cloneFs(fs), { readOnly: true });
  assert.equal(report(viaV2).path, "image");
  assert.deepEqual(all(viaV2), expected);
  assert.deepEqual(viaV2.get(tenth).payload, { i: 10, secret: "V2SECRET-10" });
  viaV2.close();
  // A writable open and close writes it again in version 3, read lazily, with the same entries.
  const writable = reopen(fs);
  assertHealthy(writable);
  writable.close();
  assert.equal(version(fs.readFile(IMAGE)), 3, "a v3 image");
  const viaV3 = reopen(fs, { readOnly: true });
  assert.equal(report(viaV3).path, "image");
  assert.deepEqual(all(viaV3), expected);
  viaV3.close();
});

/** An index of 6 events of two entities taking turns, its image saved after `tamper`, loaded. */
function imageOf(tamper: (index: Index) => void): string | undefined {
  const loaded = loadedImageOf(tamper);
  return typeof loaded === "string" ? loaded : undefined;
}

/** The id words `imageOf`'s index gives event `g`. */
function idOf(g: number): [number, number, number, number] {
  const t = 1_700_000_000_000 + g;
  return [
    Math.floor(t / 0x10000),
    ((t % 0x10000) * 0x10000 + 0x7000) >>> 0,
    0x80000000 + g,
    (g * 0x9e3779b1) >>> 0,
  ];
}

/** `imageOf`, returning the loaded index (or why it was refused). */
function loadedImageOf(tamper: (index: Index) => void): Index | string {
  const index = new Index();
  index.entities.intern("a");
  index.entities.intern("b");
  index.scopes.intern("s");
  for (let g = 1; g <= 6; g++) {
    index.add(1, 64 * g, 64, (g - 1) % 2, 0, 1, 1_700_000_000_000 + g, idOf(g));
  }
  tamper(index);
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  const coverage = {
    segment: 1,
    endOffset: 448,
    lastFrameSegment: 1,
    lastFrameOffset: 384,
    lastFrameCrc: 0,
  };
  saveSidecar(fs, DIR, "image", index, coverage, {});
  const loaded = loadAll(fs, IMAGE, "image");
  return typeof loaded === "string" ? loaded : loaded.index;
}

Deno.test("index image: postings or an id table that disagree with the columns are found where read and built from the rows", () => {
  assert.equal(imageOf(() => {}), undefined, "the untouched image loads");
  const cases: [string, (index: Index) => void, string][] = [
    [
      // Same lengths, each ascending, every event once: only the rows say they are swapped.
      "the two entities' lists swapped",
      (index) => {
        const [a, b] = index.entities.postings;
        const items = a.items.slice();
        a.items.set(b.items);
        b.items.set(items);
      },
      "a posting list holds another entity's or scope's event",
    ],
    [
      "a list out of order",
      (index) => index.entities.postings[0].items.reverse(),
      "postings out of order or out of range",
    ],
    [
      "an event listed twice",
      (index) => index.scopes.postings[0].items[1] = 1,
      "postings out of order or out of range",
    ],
  ];
  for (const [what, tamper, reason] of cases) {
    // Found where the list is read, and the list built from the rows instead.
    const loaded = loadedImageOf(tamper);
    assert.ok(loaded instanceof Index, `${what}: ${loaded}`);
    assert.equal(loaded.damaged, reason, what);
    const lists = (dim: typeof loaded.entities) =>
      dim.postings.map((p) => [...p.items.subarray(0, p.length)]);
    assert.deepEqual(lists(loaded.entities), [[1, 3, 5], [2, 4, 6]], what);
    assert.deepEqual(lists(loaded.scopes), [[1, 2, 3, 4, 5, 6]], what);
    assert.equal(loaded.checkDerived(), undefined, what);
  }
  // An id table that fails the same checks is not needed to serve reads: it is built from the
  // columns instead (and the image, holding the bad one, is written again at close).
  const tables: [string, (index: Index) => void][] = [
    [
      "an id-table slot past the last event",
      (index) => index.idTable[index.idTable.indexOf(0)] = 7,
    ],
    ["an id-table slot emptied", (index) => index.idTable[index.idTable.indexOf(3)] = 0],
  ];
  for (const [what, tamper] of tables) {
    const loaded = loadedImageOf(tamper);
    assert.ok(loaded instanceof Index, `${what}: ${loaded}`);
    assert.equal(loaded.idTableBuilds, 1, `${what}: built from the columns`);
    for (let g = 1; g <= 6; g++) assert.equal(loaded.findId(idOf(g)), g, `${what}: event ${g}`);
    assert.equal(loaded.findId(idOf(7)), 0);
    assert.equal(loaded.idTableBuilds, 1, `${what}: and trusted, once built here`);
  }
});

Deno.test("index image: an id table that passes the open's checks but misplaces an event never answers wrong", () => {
  // Both tables hold six events, none unknown (what the open checks, in O(slots)), and are
  // written with valid CRCs — a forged image. Lookups they answer are checked against the id
  // column; the first they miss rebuilds the table from the columns.
  const slotOf = (table: Uint32Array, g: number) => table.indexOf(g);
  const cases: [string, (index: Index) => void][] = [
    [
      "event 4 moved off its probe path (to an empty slot before its home)",
      (index) => {
        const t = index.idTable;
        const from = slotOf(t, 4);
        let to = (from + t.length - 1) % t.length;
        while (t[to] !== 0) to = (to + t.length - 1) % t.length;
        t[from] = 0;
        t[to] = 4;
      },
    ],
    [
      "event 2 in two slots, event 5 in none",
      (index) => index.idTable[slotOf(index.idTable, 5)] = 2,
    ],
  ];
  for (const [what, tamper] of cases) {
    const loaded = loadedImageOf(tamper);
    assert.ok(loaded instanceof Index, `${what}: the open's checks pass (${loaded})`);
    assert.equal(loaded.idTableBuilds, 0);
    for (let g = 1; g <= 6; g++) assert.equal(loaded.findId(idOf(g)), g, `${what}: event ${g}`);
    assert.equal(loaded.idTableBuilds, 1, `${what}: rebuilt once, at the first miss`);
    assert.equal(loaded.findId(idOf(7)), 0, "an unknown id is not found, without another build");
    assert.equal(loaded.idTableBuilds, 1);
  }
  // An intact table answers every lookup, and a miss, from itself.
  const intact = loadedImageOf(() => {});
  assert.ok(intact instanceof Index);
  for (let g = 1; g <= 6; g++) assert.equal(intact.findId(idOf(g)), g);
  assert.equal(intact.findId(idOf(9)), 0);
  assert.equal(intact.idTableBuilds, 1, "its first miss rebuilds it too (it cannot tell)");
});

Deno.test("index image: its short last page grows at the first append; every event is found after", () => {
  const { fs, before } = smallStore(); // 300 events: one short page
  const store = reopen(fs);
  assert.equal(report(store).path, "image");
  const index = storeInternals(store).index;
  assert.equal(index.page(0).seg.length, 300, "the open keeps the image's page as it is");
  const c = new Coordinate("grown", "s");
  const ids: string[] = [];
  // Past the first page's end and into a second.
  for (let i = 0; i < 70_000; i++) ids.push(store.append(c, KIND_A, { i }).eventId);
  assert.equal(index.pageCount, 2);
  const check = (s: Store) => {
    assert.deepEqual(dump(s).slice(0, before.length), before);
    for (const k of [0, 1, 65_235, 65_236, 69_999]) {
      assert.deepEqual(s.get(ids[k]).payload, { i: k });
    }
    assert.equal(s.stream("grown").length, 70_000);
  };
  check(store);
  store.close();
  for (const extra of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const again = reopen(cloneFs(fs), extra);
    check(again);
    assertHealthy(again);
    again.close();
  }
});

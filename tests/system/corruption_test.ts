/**
 * R3, corruption sweep: flip every byte of a small store (segment headers,
 * frame headers, event bodies, payloads, CRCs, batch markers, and both index
 * sidecars), one at a time, and open it, with the sidecars disabled (a full
 * scan) and enabled.
 *
 * - A sealed segment: `CorruptSegmentError` naming that file and an offset
 *   at or before the flipped byte; or, when a sidecar let the open skip the
 *   scan, `verify()` names the file, and a read of the damaged event throws.
 * - The tail segment: either cut back to the last whole frame or batch,
 *   reported in `openReport.truncatedBytes`, or, when valid frames follow
 *   the damage, `CorruptSegmentError`.
 * - A sidecar: rejected, reported in `openReport.rejectedSidecars`, and the
 *   fallback path returns exactly the original events; or, for the parts of
 *   an index image read when first used (its id table and posting lists),
 *   found there and built from the rows, with the same events returned.
 * - Never, in any case, an event that differs from what was written, and
 *   never a partial batch.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  CorruptSegmentError,
  EventKind,
  Region,
  Store,
  type StoreConfig,
  StoreError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { loadSidecar, saveSidecar } from "../../src/index/sidecar.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { type Rec, toRec } from "../crash/oracle.ts";

const DIR = "/db";
const KIND = EventKind.custom(0x1, 7);
const SEG1 = "000001.fbat";
const SEG2 = "000002.fbat";
const IMG = "index.img";
const CKPT = "index.ckpt";

/** Files of a closed store of ~2 KB of log in two segments, plus both sidecars. */
function buildFixture(): { files: Map<string, Uint8Array>; pristine: Rec[] } {
  const fs = new MemoryFileSystem();
  let now = 1_700_000_000_000;
  const store = Store.open({ dataDir: DIR, fs, segmentMaxBytes: 1100, clock: () => now++ });
  const a = new Coordinate("acct:1", "bank");
  const b = new Coordinate("acct:2", "bank");
  store.append(a, KIND, { i: 1, note: "opened" });
  store.append(b, KIND, { i: 2, note: "opened" }, { idempotencyKey: "open-b" });
  store.appendBatch([
    { coord: a, kind: KIND, payload: { b: "x", n: 3, i: 0 } },
    { coord: b, kind: KIND, payload: { b: "x", n: 3, i: 1 }, causation: { priorItem: 0 } },
    { coord: a, kind: KIND, payload: { b: "x", n: 3, i: 2 } },
  ]);
  const first = store.append(a, KIND, { i: 3, amount: 12.5 });
  store.append(b, KIND, { i: 4, tags: ["x", "y"] }, { correlationId: first.eventId });
  store.append(a, KIND, { i: 5, nested: { deep: [1, 2, { three: 3 }] } });
  store.append(b, KIND, { i: 6, big: 123456789012345678n });
  store.append(a, KIND, { i: 7, note: "é日本" }, { idempotencyKey: 42n });
  store.append(b, KIND, { i: 8 });
  store.appendBatch([
    { coord: b, kind: KIND, payload: { b: "y", n: 2, i: 0 } },
    { coord: a, kind: KIND, payload: { b: "y", n: 2, i: 1 } },
  ]);
  const pristine = store.query(Region.all()).map((e) => toRec(store.get(e.eventId)));
  assert.equal(store.diagnostics().segments, 2, "the fixture spans a sealed and a tail segment");
  store.close();
  const files = new Map<string, Uint8Array>();
  for (const path of fs.listFiles()) files.set(path.slice(DIR.length + 1), fs.readFile(path));
  // The checkpoint: the same index, coverage, system state and segment table in that kind.
  const image = loadSidecar(fs, `${DIR}/${IMG}`, "image");
  if (typeof image === "string") throw new Error(`the fixture's image: ${image}`);
  saveSidecar(fs, DIR, "checkpoint", image.index, image.coverage, image.system, image.sealed);
  files.set(CKPT, fs.readFile(`${DIR}/${CKPT}`));
  return { files, pristine };
}

const { files, pristine } = buildFixture();

function fsWith(flip?: { file: string; offset: number }, without: string[] = []): MemoryFileSystem {
  const fs = new MemoryFileSystem();
  for (const [name, bytes] of files) {
    if (!without.includes(name)) fs.writeFile(`${DIR}/${name}`, bytes);
  }
  if (flip) fs.flipByte(`${DIR}/${flip.file}`, flip.offset);
  return fs;
}

interface Seen {
  events: number;
  unreadable: number;
  wrong: string[];
}

/** Read every event back: each must be the original or fail with a typed error. */
function readBack(store: Store): Seen {
  const seen: Seen = { events: 0, unreadable: 0, wrong: [] };
  const entries = store.query(Region.all());
  seen.events = entries.length;
  if (entries.length > pristine.length) {
    seen.wrong.push(`${entries.length} events, more than written`);
  }
  const batches = new Map<string, number>();
  entries.forEach((entry, i) => {
    const want = pristine[i];
    if (!want || entry.eventId !== want.eventId || entry.globalSequence !== want.g) {
      seen.wrong.push(`g=${i + 1}: index entry differs from what was written`);
      return;
    }
    try {
      const rec = toRec(store.get(entry.eventId));
      if (JSON.stringify(rec) !== JSON.stringify(want)) seen.wrong.push(`g=${i + 1}: wrong event`);
      const p = JSON.parse(rec.payload);
      if (typeof p.b === "string") batches.set(p.b, (batches.get(p.b) ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof CorruptSegmentError)) {
        seen.wrong.push(`g=${i + 1}: get threw ${(e as Error).name}, not CorruptSegmentError`);
      }
      seen.unreadable++;
    }
  });
  for (const [b, n] of batches) {
    const size = b === "x" ? 3 : 2;
    if (n !== size && seen.unreadable === 0) seen.wrong.push(`partial batch ${b}: ${n} of ${size}`);
  }
  return seen;
}

interface Tally {
  failedClosed: number;
  cutBack: number;
  detectedLater: number;
}

/** Tallies per sweep, printed by `deno test` only on request (`CORRUPTION_TALLY=1`). */
const SHOW_TALLY = Deno.env.get("CORRUPTION_TALLY") === "1";

function sweepSegment(file: string, sealed: boolean, sidecars: boolean): Tally {
  const tally: Tally = { failedClosed: 0, cutBack: 0, detectedLater: 0 };
  const size = files.get(file)!.length;
  const config = (fs: MemoryFileSystem): StoreConfig => ({
    dataDir: DIR,
    fs,
    enableMmapIndex: sidecars,
    enableCheckpoint: sidecars,
  });
  for (let offset = 0; offset < size; offset++) {
    const where = `${file} byte ${offset} (sidecars ${sidecars ? "on" : "off"})`;
    let store: Store;
    try {
      store = Store.open(config(fsWith({ file, offset }, sidecars ? [] : [IMG, CKPT])));
    } catch (e) {
      assert.ok(e instanceof CorruptSegmentError, `${where}: open threw ${(e as Error).name}`);
      assert.equal(e.file, file, `${where}: the error names ${e.file}`);
      assert.ok(e.offset <= offset, `${where}: error offset ${e.offset} is past the flip`);
      assert.ok(e.message.includes(file) && e.message.includes(`offset ${e.offset}`), where);
      tally.failedClosed++;
      continue;
    }
    try {
      const seen = readBack(store);
      assert.deepEqual(seen.wrong, [], `${where}: wrong data returned`);
      const report = store.diagnostics().openReport;
      if (seen.events < pristine.length) {
        // Cut back: only the tail segment, reported, and nothing left half-readable.
        assert.ok(!sealed, `${where}: a sealed segment lost events silently`);
        assert.ok(report.truncatedBytes > 0, `${where}: the cut is not reported`);
        assert.equal(seen.unreadable, 0, `${where}: a cut-back store still holds damaged frames`);
        assert.ok(store.verify().ok, `${where}: verify() after the cut`);
        tally.cutBack++;
      } else {
        // All events restored from a sidecar without scanning the damage: verify() must see it.
        assert.ok(sidecars, `${where}: a full scan accepted a damaged segment`);
        const v = store.verify();
        assert.ok(!v.ok, `${where}: verify() missed the flipped byte`);
        assert.ok(v.problems.some((p) => p.file === file), `${where}: verify() names another file`);
        tally.detectedLater++;
      }
      // Still writable, and the write lands after what is readable (sampled: each append
      // preallocates a megabyte of the in-memory segment).
      if (offset % 16 === 0 || seen.events < pristine.length) {
        const r = store.append(new Coordinate("after", "bank"), KIND, { after: true });
        assert.equal(r.globalSequence, seen.events + 1, where);
      }
    } finally {
      store.close();
    }
  }
  if (SHOW_TALLY) {
    console.log(`${file} (${size} B), sidecars ${sidecars}: ${JSON.stringify(tally)}`);
  }
  return tally;
}

Deno.test("fixture: the pristine store reopens through each path with the same events", () => {
  for (
    const [config, path] of [
      [{ enableMmapIndex: true, enableCheckpoint: true }, "image"],
      [{ enableMmapIndex: false, enableCheckpoint: true }, "checkpoint"],
      [{ enableMmapIndex: false, enableCheckpoint: false }, "rebuild"],
    ] as const
  ) {
    const store = Store.open({ dataDir: DIR, fs: fsWith(), ...config });
    try {
      assert.equal(store.diagnostics().openReport.path, path);
      assert.deepEqual(readBack(store), { events: pristine.length, unreadable: 0, wrong: [] });
      assert.ok(store.verify().ok);
    } finally {
      store.close();
    }
  }
  const total = [...files].filter(([n]) => n.endsWith(".fbat")).reduce(
    (s, [, b]) => s + b.length,
    0,
  );
  assert.ok(total >= 1200 && total <= 2600, `the log is ${total} bytes`);
});

for (const sidecars of [false, true]) {
  Deno.test(`every byte of the sealed segment, sidecars ${sidecars ? "on" : "off"}: fails closed or verify() names it`, () => {
    const t = sweepSegment(SEG1, true, sidecars);
    assert.equal(t.cutBack, 0);
    if (!sidecars) assert.equal(t.failedClosed, files.get(SEG1)!.length);
    else assert.ok(t.failedClosed + t.detectedLater === files.get(SEG1)!.length);
  });

  Deno.test(
    `every byte of the tail segment, sidecars ${sidecars ? "on" : "off"}: ${
      sidecars ? "fails closed or verify() names it" : "cut back and reported, or fails closed"
    }`,
    () => {
      const t = sweepSegment(SEG2, false, sidecars);
      if (sidecars) {
        // The image covers every frame, so every frame is durable: damage is never "cut back"
        // as a torn write (that would lose acknowledged events); the open fails closed or
        // verify() and the damaged read name it.
        assert.equal(t.cutBack, 0);
        assert.equal(t.failedClosed + t.detectedLater, files.get(SEG2)!.length);
        assert.ok(t.failedClosed > 0 && t.detectedLater > 0);
      } else {
        assert.ok(t.cutBack > 0, "damage in the last frame or batch is a torn tail: cut back");
        assert.ok(t.failedClosed > 0, "damage followed by valid frames fails closed");
        assert.equal(t.detectedLater, 0);
      }
    },
  );
}

for (
  const [file, config] of [[IMG, { enableMmapIndex: true, enableCheckpoint: false }], [CKPT, {
    enableMmapIndex: false,
    enableCheckpoint: true,
  }]] as const
) {
  Deno.test(`every byte of ${file}: rejected at open or where read, and the same events returned`, () => {
    const size = files.get(file)!.length;
    let rejected = 0;
    let foundWhereRead = 0;
    for (let offset = 0; offset < size; offset++) {
      const where = `${file} byte ${offset}`;
      const fs = fsWith({ file, offset });
      const store = Store.open({ dataDir: DIR, fs, ...config });
      try {
        const report = store.diagnostics().openReport;
        const seen = readBack(store);
        assert.deepEqual(seen, { events: pristine.length, unreadable: 0, wrong: [] }, where);
        assert.ok(store.verify().ok, where);
        if (report.rejectedSidecars.some((r) => r.startsWith(file))) {
          assert.equal(report.path, "rebuild", where);
          rejected++;
        } else if (storeInternals(store).index.damaged !== undefined) {
          // An image's id table or a posting list (not read at open): built from the rows where
          // it was first read, and the image removed so no later open takes it.
          assert.equal(file, IMG, where);
          assert.equal(fs.stat(`${DIR}/${IMG}`), undefined, where);
          foundWhereRead++;
        }
      } finally {
        store.close();
      }
    }
    if (SHOW_TALLY) {
      console.log(
        `${file} (${size} B): ${rejected} flips rejected at open, ${foundWhereRead} later`,
      );
    }
    assert.equal(rejected + foundWhereRead, size, "every flipped byte of a sidecar is caught");
    if (file === IMG) assert.ok(foundWhereRead > 0 && rejected > 0);
  });
}

Deno.test("a flipped byte never escapes as an untyped error from any read", () => {
  // Spot check beyond get(): stream, cursor and project over a store opened from a damaged image path.
  const store = Store.open({ dataDir: DIR, fs: fsWith({ file: SEG1, offset: 200 }) });
  try {
    assert.equal(store.diagnostics().openReport.path, "image");
    for (const entity of ["acct:1", "acct:2"]) assert.ok(store.stream(entity).length > 0);
    const cursor = store.cursorGuaranteed(Region.all());
    assert.throws(() => {
      for (let i = 0; i < pristine.length; i++) cursor.poll();
    }, (e) => e instanceof StoreError);
  } finally {
    store.close();
  }
});

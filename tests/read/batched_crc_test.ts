/**
 * Frame CRCs are computed for a group of frames at once (`crc32Ranges`, up
 * to 256 per call) on reads, on the recovery scan and in verify: a flipped
 * byte in any frame of a long run — first or last of a group, across a group
 * boundary — must still fail that frame, named by its offset, on the
 * WebAssembly path and on the TypeScript one.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  CorruptSegmentError,
  EventKind,
  Region,
  Store,
  type StoredEvent,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { forceTypeScriptCrc32Ranges } from "../../src/core/crc32_ranges.ts";

const KIND = EventKind.custom(1, 1);
const EVENTS = 700;
/** Frames on both sides of the 256-frame group boundaries, and the ends. */
const VICTIMS = [0, 1, 254, 255, 256, 257, 511, 512, 698, 699];
const SEGMENT = "/db/000001.fbat";

const tag = (i: number) => `victim-${String(i).padStart(4, "0")}`;

/** A closed store of EVENTS events of one entity (payloads of varied length), and where each tag sits. */
function corpus(): { fs: MemoryFileSystem; tagAt: number[] } {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  const coord = new Coordinate("a", "s");
  for (let i = 0; i < EVENTS; i++) {
    store.append(coord, KIND, { tag: tag(i), pad: "x".repeat(i % 37) });
  }
  store.close();
  const text = new TextDecoder("latin1").decode(fs.readFile(SEGMENT));
  const tagAt = Array.from({ length: EVENTS }, (_, i) => text.indexOf(tag(i)));
  assert.ok(tagAt.every((at, i) => at > 0 && (i === 0 || at > tagAt[i - 1])));
  return { fs, tagAt };
}

/** Asserts `e` is a CRC failure of the frame holding event `victim`'s payload. */
function assertVictim(
  e: unknown,
  victim: number,
  tagAt: number[],
  what: string,
  reason = /bad_crc/,
): void {
  assert.ok(e instanceof CorruptSegmentError, `${what}: ${e}`);
  assert.match(e.message, reason, what);
  assert.ok(
    e.offset < tagAt[victim] && (victim === 0 || e.offset > tagAt[victim - 1]),
    `${what}: offset ${e.offset} is not event ${victim}'s frame`,
  );
}

for (const typescript of [false, true]) {
  const path = typescript ? "TypeScript" : "WebAssembly";

  Deno.test(`batched frame CRCs (${path}): a flipped byte in any frame of a run fails that frame on read`, () => {
    const before = forceTypeScriptCrc32Ranges(typescript);
    try {
      for (const victim of VICTIMS) {
        const { fs, tagAt } = corpus();
        fs.flipByte(SEGMENT, tagAt[victim] + 3);
        if (victim === 0 || victim === EVENTS - 1) {
          // The open reads the image's first and last frames (is it this log's?): it fails there.
          assert.throws(() => Store.open({ dataDir: "/db", fs }), (e) => {
            assertVictim(e, victim, tagAt, `open, victim ${victim}`, /bad_crc|not there any more/);
            return true;
          });
          continue;
        }
        // The image covers the whole log: the open scans nothing, so the reads must catch it.
        const store = Store.open({ dataDir: "/db", fs });
        assert.equal(store.diagnostics().openReport.path, "image");
        let e: unknown;
        try {
          store.readStream("a");
        } catch (err) {
          e = err;
        }
        assertVictim(e, victim, tagAt, `readStream, victim ${victim}`);
        // A cursor hands over every event before the damaged one, then fails at it.
        const cursor = store.cursorGuaranteed(Region.entity("a"));
        let delivered = 0;
        e = undefined;
        try {
          for (
            let batch = cursor.pollBatch(EVENTS);
            batch.length > 0;
            batch = cursor.pollBatch(EVENTS)
          ) {
            delivered += batch.length;
          }
        } catch (err) {
          e = err;
        }
        assertVictim(e, victim, tagAt, `cursor, victim ${victim}`);
        assert.ok(delivered <= victim, `cursor delivered ${delivered} events past a damaged one`);
        const report = store.verify();
        assert.equal(report.ok, false);
        // The first problem is that frame (what follows is the gap it leaves in the sequence).
        const first = report.problems[0];
        assert.match(first.message, /bad_crc/);
        assertVictim(
          new CorruptSegmentError(first.file, first.offset, first.message),
          victim,
          tagAt,
          "verify",
        );
        store.close();
      }
    } finally {
      forceTypeScriptCrc32Ranges(before);
    }
  });

  Deno.test(`batched frame CRCs (${path}): a flipped byte in any frame fails the rebuild scan at that frame`, () => {
    const before = forceTypeScriptCrc32Ranges(typescript);
    try {
      for (const victim of VICTIMS.filter((v) => v < EVENTS - 1)) {
        const { fs, tagAt } = corpus();
        for (const f of ["/db/index.img", "/db/index.ckpt"]) {
          if (fs.listFiles().includes(f)) fs.remove(f);
        }
        fs.flipByte(SEGMENT, tagAt[victim] + 3);
        let e: unknown;
        try {
          Store.open({ dataDir: "/db", fs }).close();
        } catch (err) {
          e = err;
        }
        // Whole frames follow the damaged one: corruption, not a torn tail.
        assertVictim(e, victim, tagAt, `open, victim ${victim}`);
      }
    } finally {
      forceTypeScriptCrc32Ranges(before);
    }
  });
}

/** Every event of the store, read by a cursor over everything and by each entity's stream. */
function readAll(
  store: Store,
  entities: string[],
): { all: StoredEvent[]; streams: StoredEvent[][] } {
  const cursor = store.cursorGuaranteed(Region.all().withSystem());
  const all = [];
  for (let b = cursor.pollBatch(300); b.length > 0; b = cursor.pollBatch(300)) all.push(...b);
  return { all, streams: entities.map((e) => store.readStream(e)) };
}

Deno.test("batched frame CRCs: reads on the WebAssembly and TypeScript paths are equal, and equal get's", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  const entities = ["a", "b", "c"];
  let last = "";
  for (let i = 0; i < 900; i++) {
    const coord = new Coordinate(entities[i % 3], i % 2 ? "s" : "t");
    const r = i % 5 === 0
      ? store.appendBatch([
        { coord, kind: KIND, payload: { i, batch: true } },
        { coord, kind: KIND, payload: { i, second: true }, causation: { priorItem: 0 } },
      ])[1]
      : store.append(
        coord,
        KIND,
        { i },
        i % 7 === 0 && last ? { correlationId: last, causationId: last } : {},
      );
    last = r.eventId;
  }
  store.redact(last, "test");
  const before = forceTypeScriptCrc32Ranges(false);
  try {
    const fromBuffer = readAll(store, entities); // the newest frames still in the write buffer
    store.close();
    const reopened = Store.open({ dataDir: "/db", fs });
    const wasm = readAll(reopened, entities);
    forceTypeScriptCrc32Ranges(true);
    const typescript = readAll(reopened, entities);
    assert.deepEqual(wasm, fromBuffer);
    assert.deepEqual(typescript, wasm);
    assert.ok(wasm.all.length >= 1_000 && wasm.all.some((e) => e.causationId !== undefined));
    // `get` reads one frame on its own path (no run, no batched CRC): the same event.
    for (const e of wasm.all) assert.deepEqual(reopened.get(e.eventId), e);
    reopened.close();
  } finally {
    forceTypeScriptCrc32Ranges(before);
  }
});

Deno.test("batched frame CRCs: the format-1 fixture reads the same on both paths", () => {
  const dir = Deno.makeTempDirSync();
  const fixture = new URL("../fixtures/format1_store/", import.meta.url);
  for (const f of Deno.readDirSync(fixture)) {
    if (f.name !== "README.md") Deno.copyFileSync(new URL(f.name, fixture), `${dir}/${f.name}`);
  }
  const before = forceTypeScriptCrc32Ranges(false);
  try {
    const store = Store.open(dir);
    const entities = [...new Set(store.query(Region.all()).map((e) => e.entity))];
    const wasm = readAll(store, entities);
    forceTypeScriptCrc32Ranges(true);
    assert.deepEqual(readAll(store, entities), wasm);
    assert.ok(wasm.all.length > 0);
    store.close();
  } finally {
    forceTypeScriptCrc32Ranges(before);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("batched frame CRCs: a visitor that reads the store mid-run does not disturb the run's CRCs", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  for (let i = 0; i < 1_500; i++) store.append(new Coordinate(i % 2 ? "a" : "b", "s"), KIND, { i });
  store.close();
  const reopened = Store.open({ dataDir: "/db", fs });
  try {
    // Each event of "a" makes the projection read all of "b" (its own runs and CRC groups)
    // while the read of "a" is between two CRC groups of its run.
    let inner = 0;
    const n = reopened.project("a", {
      kinds: [KIND],
      initial: () => 0,
      apply: (count: number) => {
        if (count % 100 === 0) inner += reopened.readStream("b").length;
        return count + 1;
      },
    });
    assert.equal(n, 750);
    assert.equal(inner, 8 * 750);
  } finally {
    reopened.close();
  }
});

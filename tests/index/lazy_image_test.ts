/**
 * An index image (sidecar version 3) read lazily: the open reads its head
 * and last page; every other page, posting list and the id table is read,
 * and checked, when first used. What is read that way must be what a full
 * read gives; damage found there fails closed (a page) or is built from the
 * rows (a list, the id table), and is never taken by the next open.
 */

import assert from "node:assert/strict";
import { Coordinate, CorruptSegmentError, IoError, Region, type Store } from "../../mod.ts";
import type { FsOp, MemoryFileSystem } from "../../testing.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { PAGE_ROWS } from "../../src/index/index.ts";
import { IMAGE_READ_WHOLE_BYTES, resealSidecar, sidecarListsAt } from "../../src/index/sidecar.ts";
import {
  assertHealthy,
  cloneFs,
  DIR,
  dump,
  KIND_A,
  memStore,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

const IMAGE = `${DIR}/index.img`;
/** Four entities in the first page only, four in the second only. */
const EARLY = [0, 1, 2, 3].map((k) => new Coordinate(`early:${k}`, `s${k % 2}`));
const LATE = [0, 1, 2, 3].map((k) => new Coordinate(`late:${k}`, `s${k % 2}`));
const EVENTS = PAGE_ROWS + 4_000;

let fixture: MemoryFileSystem | undefined;
/** A closed store of two pages (built once, copied per test), and its streams as a rebuild reads them. */
function twoPages(): MemoryFileSystem {
  if (!fixture) {
    const { fs, store } = memStore();
    for (let i = 0; i < EVENTS; i++) {
      const c = i < PAGE_ROWS ? EARLY[i % 4] : LATE[i % 4];
      store.append(c, KIND_A, { i }, { idempotencyKey: i % 5000 === 0 ? `k${i}` : undefined });
    }
    store.close();
    fixture = fs;
  }
  return cloneFs(fixture);
}

let truth: ReturnType<typeof everything> | undefined;
/** Every event, every stream and every scope as a rebuild from the log gives them. */
function expected(): ReturnType<typeof everything> {
  if (!truth) {
    const s = reopen(twoPages(), {
      readOnly: true,
      enableMmapIndex: false,
      enableCheckpoint: false,
    });
    assert.equal(s.diagnostics().openReport.path, "rebuild");
    truth = everything(s);
    s.close();
  }
  return truth;
}

function everything(s: Store) {
  return {
    streams: [...EARLY, ...LATE].map((c) => s.stream(c.entity).map((e) => e.globalSequence)),
    scopes: ["s0", "s1"].map((scope) => s.query(Region.scope(scope)).length),
    events: dump(s),
  };
}

/** Record the bytes each read of the image asks for. */
function recordImageReads(fs: MemoryFileSystem): { reads: FsOp[]; bytes: () => number } {
  const reads: FsOp[] = [];
  fs.setFaultInjector((op) => {
    if (op.kind === "read" && op.path === IMAGE) reads.push(op);
    return undefined;
  });
  return { reads, bytes: () => reads.reduce((n, op) => n + (op.length ?? 0), 0) };
}

Deno.test("lazy image: the open reads the head and last page; each page, list and the id table when first used", () => {
  const fs = twoPages();
  const size = fs.readFile(IMAGE).length;
  const { reads, bytes } = recordImageReads(fs);
  const store = reopen(fs);
  assert.equal(store.diagnostics().openReport.path, "image");
  const index = storeInternals(store).index;
  assert.deepEqual([index.pageRead(0), index.pageRead(1)], [false, true], "the last page only");
  const atOpen = bytes();
  // The second page holds 4,000 rows of 42 bytes; the first, 65,536.
  assert.ok(atOpen < size / 5, `${atOpen} of ${size} bytes read at open`);
  const late = store.stream(LATE[1].entity);
  assert.equal(late.length, 1_000);
  assert.equal(index.pageRead(0), false, "a stream of the last page does not need the first");
  const afterLate = bytes();
  assert.ok(afterLate - atOpen <= 2 * 4096, `its list: ${afterLate - atOpen} bytes`);
  assert.equal(store.stream(EARLY[2].entity).length, PAGE_ROWS / 4);
  assert.equal(index.pageRead(0), true);
  const afterEarly = bytes();
  assert.ok(afterEarly - afterLate >= PAGE_ROWS * 40, "the first page is read whole");
  // A get by id reads the id table (and nothing else the reads above have not).
  const before = reads.length;
  const g = late[10];
  assert.deepEqual(store.get(g.eventId).payload, { i: g.globalSequence - 1 });
  assert.ok(reads.length > before, "the id table is read at the first get by id");
  assert.ok(bytes() <= size + 16 * 4096, `every part read once: ${bytes()} of ${size}`);
  assert.deepEqual(everything(store), expected());
  assertHealthy(store);
  store.close();
});

Deno.test("lazy image: appends read their entity's list first; a scope's list not read yet keeps their place; the close writes every list whole", () => {
  const fs = twoPages();
  const store = reopen(fs);
  const index = storeInternals(store).index;
  const added = [EARLY[1], EARLY[1], LATE[3], new Coordinate("new", "s0")].map((c, i) =>
    store.append(c, KIND_A, { added: i }).globalSequence
  );
  // An entity's list is read at its first append (its length is what the append continues
  // from); a scope's is not: its appends wait after a gap for it.
  assert.equal(index.entities.postings[index.entities.lookup(EARLY[1].entity)].pending, false);
  assert.equal(index.scopes.postings[index.scopes.lookup("s1")].pending, true);
  assert.equal(store.stream(EARLY[1].entity).length, PAGE_ROWS / 4 + 2);
  const want = expected();
  const grown = want.streams.map((s) => [...s]);
  grown[1].push(added[0], added[1]);
  grown[7].push(added[2]);
  const streams = (s: Store) => [...EARLY, ...LATE].map((c) => s.stream(c.entity));
  const check = (s: Store) => {
    const got = streams(s);
    assert.deepEqual(got.map((e) => e.map((x) => x.globalSequence)), grown);
    for (const stream of got) stream.forEach((e, i) => assert.equal(e.sequence, i + 1));
    assert.deepEqual(
      ["s0", "s1"].map((scope) => s.query(Region.scope(scope)).length),
      [want.scopes[0] + 1, want.scopes[1] + 3],
    );
    assert.deepEqual(s.stream("new").map((e) => e.globalSequence), [added[3]]);
    assertHealthy(s);
  };
  check(store);
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image");
  check(again);
  again.close();
});

Deno.test("lazy image: a page damaged where the open did not read fails the reads that need it, closed; the next open rebuilds", () => {
  for (const readOnly of [false, true]) {
    const fs = twoPages();
    const { reads } = recordImageReads(fs);
    reopen(fs, { readOnly: true }).close();
    // The open's second read is the head, which ends where the body (the first page) starts.
    const bodyStart = reads[1].position! + reads[1].length!;
    fs.setFaultInjector();
    fs.flipByte(IMAGE, bodyStart + 1_000); // a lag in the first page
    const store = reopen(fs, { readOnly });
    assert.equal(store.diagnostics().openReport.path, "image", "the open does not read it");
    const want = expected();
    assert.deepEqual(store.stream(LATE[0].entity).map((e) => e.globalSequence), want.streams[4]);
    for (let i = 0; i < 2; i++) {
      const e = throwsType(() => store.stream(EARLY[0].entity), CorruptSegmentError);
      assert.equal(e.file, "index.img");
      assert.match(e.message, /block 0 of its body fails its CRC/);
    }
    const report = store.verify();
    assert.equal(report.ok, false);
    assert.equal(report.problems.length, 1);
    assert.equal(report.problems[0].file, "index.img");
    assert.equal(fs.stat(IMAGE) === undefined, !readOnly, "a writable store removes it at once");
    store.close();
    const next = reopen(fs, { readOnly });
    assert.equal(next.diagnostics().openReport.path === "image", readOnly, String(readOnly));
    if (!readOnly) {
      assert.deepEqual(everything(next), want);
      assertHealthy(next);
    } else {
      // A read-only store changes nothing: the damage is found again, where it is read.
      throwsType(() => next.stream(EARLY[0].entity), CorruptSegmentError);
    }
    next.close();
  }
});

Deno.test("lazy image: a read error while a page is read is the disk's, not damage: it fails that read only", () => {
  const fs = twoPages();
  const store = reopen(fs);
  let fail = true;
  fs.setFaultInjector((op) =>
    fail && op.kind === "read" && op.path === IMAGE ? { error: "EIO" } : undefined
  );
  throwsType(() => store.stream(EARLY[3].entity), IoError);
  assert.equal(storeInternals(store).index.damaged, undefined);
  assert.notEqual(fs.stat(IMAGE), undefined, "kept: nothing is known to be wrong with it");
  fail = false;
  assert.deepEqual(everything(store), expected());
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image");
  again.close();
});

Deno.test("lazy image: deletion and compaction after a lazy open move the pages they touch, every event where it is", () => {
  const fs = twoPages();
  const store = reopen(fs, { segmentMaxBytes: 1 << 20 });
  store.deleteStream(EARLY[2].entity);
  const gone = new Set(expected().streams[2]);
  return store.compact().then(() => {
    const want = expected().events.filter((e) => !gone.has(e.globalSequence as number));
    assert.deepEqual(
      dump(store).filter((e) => e.entity !== EARLY[2].entity && e.entity !== "$system"),
      want,
    );
    assert.deepEqual(store.verify().problems, []);
    store.close();
    const again = reopen(fs);
    assert.deepEqual(again.verify().problems, []);
    assert.deepEqual(again.stream(EARLY[1].entity).length, PAGE_ROWS / 4);
    again.close();
  });
});

Deno.test("lazy image: a damaged list appended to before it is read is built from the rows, the appends after it", () => {
  const fs = twoPages();
  const { reads } = recordImageReads(fs);
  const probe = reopen(fs, { readOnly: true });
  const atOpen = reads.length;
  probe.stream(EARLY[1].entity);
  probe.close();
  // The first read past the open's is the list's (its page is read after it, to check it).
  const list = reads[atOpen];
  fs.setFaultInjector();
  fs.flipByte(IMAGE, list.position! + 1);
  const store = reopen(fs);
  assert.equal(store.diagnostics().openReport.path, "image");
  const added = [0, 1].map((i) => store.append(EARLY[1], KIND_A, { added: i }).globalSequence);
  const stream = store.stream(EARLY[1].entity);
  assert.deepEqual(
    stream.map((e) => e.globalSequence),
    [...expected().streams[1], ...added],
  );
  stream.forEach((e, i) => assert.equal(e.sequence, i + 1));
  assert.match(storeInternals(store).index.damaged ?? "", /fails its CRC/);
  assert.equal(fs.stat(IMAGE), undefined, "removed when found");
  assertHealthy(store);
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().openReport.path, "image", "the close wrote a sound one");
  assert.equal(again.stream(EARLY[1].entity).length, PAGE_ROWS / 4 + 2);
  assertHealthy(again);
  again.close();
});

Deno.test("lazy image: a forged image whose entity lists miss an event is found before an append continues from one", async (t) => {
  // Six events, a and b taking turns: a's list [1, 3, 5], b's [2, 4, 6]. Each forgery keeps the
  // lengths adding up to six and b's list ascending and all b's, its CRCs recomputed: only the
  // log (its last event's frame: sequence and hash) tells that b's list is short.
  const forgeries: [string, number[]][] = [
    ["b's first event listed as a's", [1, 3, 5, 2, 4, 6]],
    ["b's last event listed as a's", [1, 3, 5, 6, 2, 4]],
  ];
  for (const [what, lists] of forgeries) {
    for (const whole of [false, true]) {
      await t.step(`${what}${whole ? ", the image read whole first" : ""}`, () => {
        const { fs, store } = memStore();
        const [a, b] = [new Coordinate("a", "s"), new Coordinate("b", "s")];
        for (let i = 0; i < 6; i++) store.append(i % 2 ? b : a, KIND_A, { i });
        // Past IMAGE_READ_WHOLE_BYTES, so the image is read as it is used.
        const pad = new Coordinate("pad", "p");
        for (let i = 0; i < 20_000; i++) store.append(pad, KIND_A, { i });
        store.close();
        assert.ok(fs.readFile(IMAGE).length > IMAGE_READ_WHOLE_BYTES);
        const image = fs.readFile(IMAGE);
        const dv = new DataView(image.buffer);
        const { lengthsAt, listsAt } = sidecarListsAt(image);
        assert.deepEqual([dv.getUint32(lengthsAt, true), dv.getUint32(lengthsAt + 4, true)], [
          3,
          3,
        ]);
        dv.setUint32(lengthsAt, 4, true);
        dv.setUint32(lengthsAt + 4, 2, true);
        lists.forEach((g, i) => dv.setUint32(listsAt[0] + i * 4, g, true));
        resealSidecar(image);
        fs.writeFile(IMAGE, image);
        const forged = reopen(fs);
        assert.equal(forged.diagnostics().openReport.path, "image", "the head checks pass");
        if (whole) {
          // Read whole (every list at once, checked against the rows together, as a verify, a
          // compaction or a close that writes the image reads it): the lists are built from the
          // rows, and the append continues from b's true length.
          assert.deepEqual(forged.verify().problems, []);
          assert.equal(forged.append(b, KIND_A, { i: 6 }).sequence, 4);
          assert.notEqual(storeInternals(forged).index.damaged, undefined);
        } else {
          const e = throwsType(() => forged.append(b, KIND_A, { i: 6 }), CorruptSegmentError);
          assert.equal(e.file, "index.img");
          assert.equal(forged.diagnostics().events, 20_006, "nothing was appended");
        }
        assert.equal(fs.stat(IMAGE), undefined, "the image is removed");
        forged.close();
        const again = reopen(fs);
        // The close read the rest whole, built the lists from the rows and wrote a sound image.
        assert.equal(again.diagnostics().openReport.path, "image", "written again");
        assert.equal(again.append(b, KIND_A, { i: 6 }).sequence, whole ? 5 : 4);
        assertHealthy(again);
        again.close();
      });
    }
  }
});

Deno.test("lazy image: a damaged last page (read at open) is refused there, with its reason, and the open rebuilds", () => {
  const fs = twoPages();
  const { reads } = recordImageReads(fs);
  reopen(fs, { readOnly: true }).close();
  // The open's third read is the last page.
  const last = reads[2];
  fs.setFaultInjector();
  fs.flipByte(IMAGE, last.position! + 100);
  const store = reopen(fs);
  const report = store.diagnostics().openReport;
  assert.notEqual(report.path, "image");
  assert.equal(report.rejectedSidecars.length, 1);
  assert.match(report.rejectedSidecars[0], /^index\.img: block \d+ of its body fails its CRC$/);
  assert.deepEqual(everything(store), expected());
  store.close();
});

Deno.test("lazy image: a reader reading it lazily beside a writer that replaces it reads what it opened, then refreshes", () => {
  const fs = twoPages();
  const reader = reopen(fs, { readOnly: true });
  assert.equal(storeInternals(reader).index.pageRead(0), false);
  const writer = reopen(fs);
  const added = writer.append(EARLY[1], KIND_A, { added: true }).globalSequence;
  // Every part read, a new image written and renamed over the one the reader holds open.
  writer.close();
  const image = fs.readFile(IMAGE);
  assert.equal(new DataView(image.buffer).getUint32(8, true), EVENTS + 1, "the new image");
  const want = expected();
  // The reader's unread pages and lists come from the image it opened (the file it holds).
  assert.deepEqual(reader.stream(EARLY[2].entity).map((e) => e.globalSequence), want.streams[2]);
  assert.deepEqual(reader.stream(EARLY[1].entity).map((e) => e.globalSequence), want.streams[1]);
  assert.equal(reader.refresh(), 1);
  assert.deepEqual(
    reader.stream(EARLY[1].entity).map((e) => e.globalSequence),
    [...want.streams[1], added],
  );
  assert.deepEqual(reader.verify().problems, []);
  reader.close();
});

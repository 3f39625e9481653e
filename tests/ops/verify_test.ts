/**
 * `Store.verify`: a clean store with progress, and every kind of damage it
 * must name — flipped bytes, removed and reordered frames with valid CRCs,
 * an undecodable payload under a valid hash, index parity problems — with
 * the reopen failing closed where the damage is in the log.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  CorruptSegmentError,
  InvalidArgumentError,
  Region,
  StoreClosedError,
} from "../../mod.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { FRAME_HEADER_BYTES, parseFrame, sealFrame } from "../../src/log/frame.ts";
import { EventHasher, expectedEventHash, readEventHeader } from "../../src/log/event_codec.ts";
import { segmentName } from "../../src/log/segment.ts";
import { VERIFY_PROGRESS_EVERY_EVENTS } from "../../src/ops/verify.ts";
import { DIR, K1, K2, memStore } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

/** A store of `n` events over two entities in several segments, synced; returns frame locations. */
function tamperable(n = 40) {
  const { store, fs, open } = memStore({ segmentMaxBytes: 1024 });
  for (let i = 0; i < n; i++) store.append(new Coordinate(i % 2 ? "odd" : "even", "s"), K1, { i });
  store.sync();
  const s = storeInternals(store);
  const loc = (g: number) => ({
    ...s.index.location(g),
    file: segmentName(s.index.location(g).segment),
  });
  assert.ok(store.diagnostics().segments >= 3);
  assert.ok(store.verify().ok);
  return { store, fs, open, loc };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}

Deno.test("verify: a clean store, with progress", () => {
  const { store } = memStore({ segmentMaxBytes: 64 * 1024 });
  const n = VERIFY_PROGRESS_EVERY_EVENTS * 2 + 17;
  const batch = Array.from({ length: 100 }, (_, i) => ({
    coord: new Coordinate(`e${i % 9}`, "s"),
    kind: K1,
    payload: i,
  }));
  for (let i = 0; i < n - 17; i += 100) store.appendBatch(batch);
  for (let i = 0; i < 17; i++) {
    store.append(new Coordinate("x", "s"), K2, i, { idempotencyKey: `k${i}` });
  }
  store.ownership("s").claim("w", 1000); // a system event is checked like any other
  const calls: [number, number][] = [];
  const report = store.verify({ onProgress: (checked, total) => calls.push([checked, total]) });
  assert.deepEqual(report, { ok: true, eventsChecked: n + 1, problems: [] });
  assert.deepEqual(calls, [[10_000, n + 1], [20_000, n + 1], [n + 1, n + 1]]);
  throwsType(() => store.verify({ onProgress: 5 as never }), InvalidArgumentError);
  throwsType(() => store.verify(7 as never), InvalidArgumentError);
  store.close();
  throwsType(() => store.verify(), StoreClosedError);
});

/** Without sidecars, the open's full scan must fail closed naming the damaged frame. */
function assertRebuildFailsAt(
  open: (config: { enableCheckpoint: boolean }) => unknown,
  victim: { file: string; offset: number },
): void {
  assert.throws(() => open({ enableCheckpoint: false }), (e: unknown) => {
    assert.ok(e instanceof CorruptSegmentError);
    assert.equal(e.file, victim.file);
    assert.equal(e.offset, victim.offset);
    return true;
  });
}

Deno.test("verify: catches a flipped byte (open store), and reopen fails closed", () => {
  const { store, fs, open, loc } = tamperable();
  const victim = loc(5);
  assert.notEqual(victim.segment, storeInternals(store).writer().segment, "a sealed segment");
  fs.flipByte(`${DIR}/${victim.file}`, victim.offset + FRAME_HEADER_BYTES + 50);
  const report = store.verify();
  assert.equal(report.ok, false);
  assert.equal(report.problems[0].file, victim.file);
  assert.equal(report.problems[0].offset, victim.offset);
  assert.match(report.problems[0].message, /bad_crc/);
  // Resynchronised: the following frames were still checked.
  assert.equal(report.eventsChecked, 39);
  throwsType(() => store.get(store.queryAfter(Region.all(), 4, 1)[0].eventId), CorruptSegmentError);
  store.close();
  // Flip the image away too: the rebuild scan must refuse the sealed segment.
  fs.remove(`${DIR}/index.img`);
  assertRebuildFailsAt(open, victim);
});

Deno.test("verify: catches a flipped byte in the active segment and in a frame header", () => {
  const { store, fs, loc } = tamperable();
  const last = loc(40);
  fs.flipByte(`${DIR}/${last.file}`, last.offset + FRAME_HEADER_BYTES + 20);
  const first = loc(1);
  fs.flipByte(`${DIR}/${first.file}`, first.offset + 4); // the length field
  const problems = store.verify().problems;
  assert.ok(problems.some((p) => p.file === last.file && p.offset === last.offset));
  assert.ok(problems.some((p) => p.file === first.file && p.offset === first.offset));
  store.close();
});

Deno.test("verify: catches a removed frame (valid CRCs), and reopen fails closed", () => {
  const { store, fs, open, loc } = tamperable();
  const victim = loc(6);
  const path = `${DIR}/${victim.file}`;
  const bytes = fs.readFile(path);
  fs.writeFile(
    path,
    concat(bytes.subarray(0, victim.offset), bytes.subarray(victim.offset + victim.length)),
  );
  const report = store.verify();
  assert.equal(report.ok, false);
  const gap = report.problems.find((p) => /global sequence 7, expected 6/.test(p.message));
  assert.deepEqual(gap && { file: gap.file, offset: gap.offset }, {
    file: victim.file,
    offset: victim.offset,
  });
  assert.ok(report.problems.some((p) => /sequence 4, expected 3/.test(p.message)), "chain gap");
  assert.ok(report.problems.some((p) => /index row/.test(p.message)), "index parity");
  store.close();
  fs.remove(`${DIR}/index.img`);
  assertRebuildFailsAt(open, victim);
});

Deno.test("verify: catches a reordered pair (valid CRCs); open fails closed or verify reports", () => {
  const { store, fs, open, loc } = tamperable();
  // Adjacent frames of different entities: per-entity order holds, global order breaks.
  const a = loc(2);
  const b = loc(3);
  assert.equal(a.segment, b.segment);
  assert.equal(a.offset + a.length, b.offset);
  const path = `${DIR}/${a.file}`;
  const swap = () => {
    const bytes = fs.readFile(path);
    fs.writeFile(
      path,
      concat(
        bytes.subarray(0, a.offset),
        bytes.subarray(b.offset, b.offset + b.length),
        bytes.subarray(a.offset, a.offset + a.length),
        bytes.subarray(b.offset + b.length),
      ),
    );
  };
  swap();
  const report = store.verify();
  assert.equal(report.ok, false);
  assert.deepEqual(report.problems[0].file, a.file);
  assert.deepEqual(report.problems[0].offset, a.offset);
  assert.match(report.problems[0].message, /global sequence 3, expected 2/);
  assert.ok(
    report.problems.some((p) => p.offset === a.offset + b.length && /expected 4/.test(p.message)),
  );
  throwsType(() => store.cursorGuaranteed(Region.all(), { after: 1 }).poll(), CorruptSegmentError);
  store.close();
  // The index image restores without reading old frames; verify() on the reopened store finds it.
  const imaged = open();
  assert.equal(imaged.diagnostics().openReport.path, "image");
  const again = imaged.verify();
  assert.equal(again.ok, false);
  assert.equal(again.problems[0].offset, a.offset);
  imaged.close();
  // A scan of the log (no sidecars) refuses to open.
  assert.throws(() => open({ enableMmapIndex: false, enableCheckpoint: false }), (e: unknown) => {
    assert.ok(e instanceof CorruptSegmentError);
    assert.equal(e.file, a.file);
    assert.equal(e.offset, a.offset);
    return true;
  });
});

Deno.test("verify: an undecodable payload under a valid hash and CRC (re-framed with the codec)", () => {
  const { store, fs } = memStore();
  store.append(new Coordinate("a", "s"), K1, { ok: 1 });
  const victim = store.append(new Coordinate("lonely", "s"), K1, { ok: 2 });
  store.append(new Coordinate("a", "s"), K1, { ok: 3 });
  store.sync();
  const loc = storeInternals(store).index.location(victim.globalSequence);
  const path = `${DIR}/${segmentName(loc.segment)}`;
  const bytes = fs.readFile(path);
  const frame = bytes.subarray(loc.offset, loc.offset + loc.length);
  const parsed = parseFrame(frame, 0);
  assert.ok(typeof parsed !== "string");
  const h = readEventHeader(frame, parsed.bodyAt, parsed.bodyLength, parsed.kind);
  assert.ok(typeof h !== "string");
  frame[h.payloadAt] = 0xc1; // "never used" in MessagePack
  // Re-hash as the writer would (the entity's first event: no previous hash), then re-seal.
  expectedEventHash(frame, h, null, new EventHasher(), frame, h.hashAt);
  sealFrame(frame, 0, parsed.bodyLength, parsed.kind, parsed.flags);
  fs.writeFile(path, bytes);
  const report = store.verify();
  // The payload, and the index's copy of the entity's last hash (the re-framed event has a new one).
  assert.deepEqual(report.problems.map((p) => [p.file, p.offset]), [
    [segmentName(loc.segment), loc.offset],
    [segmentName(loc.segment), loc.offset],
  ]);
  assert.match(report.problems[0].message, /payload does not decode/);
  assert.match(report.problems[1].message, /"lonely": last hash in the index differs/);
  throwsType(() => store.get(victim.eventId), CorruptSegmentError, /payload/);
  store.close();
});

Deno.test("verify: index parity problems in memory are reported", () => {
  const { store } = memStore();
  for (let i = 0; i < 5; i++) store.append(new Coordinate("a", "s"), K1, i);
  const s = storeInternals(store);
  s.index.page(0).kind[2] = K2;
  s.system.cursors.set("ghost", 3);
  const problems = store.verify().problems.map((p) => p.message);
  assert.ok(problems.some((m) => /global sequence 3 does not match the frame: kind/.test(m)));
  assert.ok(problems.some((m) => /system state/.test(m)));
  store.close();
});

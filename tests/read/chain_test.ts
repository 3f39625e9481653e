/**
 * Every read checks the hash chain: an event whose frame (CRC intact)
 * links to something other than its predecessor's hash fails closed with
 * `CorruptSegmentError`, on every read path, and the events before it are
 * still returned where the path returns a page.
 */

import assert from "node:assert/strict";
import { Coordinate, CorruptSegmentError, Region } from "../../mod.ts";
import { readEventFrame } from "../../src/log/frames.ts";
import { FRAME_HEADER_BYTES, sealFrame } from "../../src/log/frame.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { DIR, KIND_A, memStore, reopen, throwsType } from "../fixtures/store_helpers.ts";

const SEG1 = `${DIR}/000001.fbat`;

/** A store of one entity's 10 events whose 6th links to a wrong hash (CRC resealed). */
function brokenLink() {
  const { fs, store } = memStore();
  const c = new Coordinate("acct:1", "bank");
  for (let i = 1; i <= 10; i++) store.append(c, KIND_A, { i });
  const ids = store.readStream("acct:1").map((e) => e.eventId);
  const loc = storeInternals(store).index.location(6);
  store.close();
  const seg = fs.readFile(SEG1).slice();
  const h = readEventFrame(seg, loc.offset, loc.length);
  if (typeof h === "string") throw new Error(h);
  assert.ok(h.prevLinkAt >= 0);
  seg[h.prevLinkAt] ^= 0xff; // the link, not the payload or the hash
  sealFrame(
    seg,
    loc.offset,
    loc.length - FRAME_HEADER_BYTES,
    seg[loc.offset + 8],
    seg[loc.offset + 9],
  );
  fs.writeFile(SEG1, seg);
  // Through the index image: a rebuild would refuse the open (the scan checks the chain too).
  return { store: reopen(fs), ids };
}

Deno.test("hash chain: a frame linking to the wrong predecessor fails every read of it, closed", async () => {
  const { store, ids } = brokenLink();
  const chain = /hash chain broken/;
  throwsType(() => store.get(ids[5]), CorruptSegmentError, chain);
  throwsType(() => store.readStream("acct:1"), CorruptSegmentError, chain);
  throwsType(() => store.read(Region.all(), { after: 0, limit: 100 }), CorruptSegmentError, chain);
  // The events around it read fine one by one.
  for (const k of [0, 4, 6, 9]) assert.equal(store.get(ids[k]).sequence, k + 1);
  // A cursor delivers the five before it, then fails at it (and again: never skipped).
  const cursor = store.cursorGuaranteed(Region.all());
  const got: number[] = [];
  for (let k = 0; k < 5; k++) got.push(cursor.poll()!.sequence);
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
  throwsType(() => cursor.poll(), CorruptSegmentError, chain);
  throwsType(() => cursor.poll(), CorruptSegmentError, chain);
  assert.equal(cursor.position, 5);
  // So does a subscription.
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const e of store.subscribe(Region.all())) seen.push(e.sequence);
  }, CorruptSegmentError);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  const report = store.verify();
  assert.equal(report.ok, false);
  store.close();
});

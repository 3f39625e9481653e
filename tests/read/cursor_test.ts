/**
 * Guaranteed cursors: every event of a region once, in global order, while
 * appends continue; the same events as `Store.get`; `after`, `position` and
 * bad arguments; a failed read retried, not skipped.
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
import { FRAME_HEADER_BYTES } from "../../src/log/frame.ts";
import { segmentName } from "../../src/log/segment.ts";
import { DIR, drain, gsOf, K1, K2, K3, memStore, tick } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

Deno.test("cursor: the seed's completeness gate (5 events, 5 polls, then undefined)", () => {
  const { store } = memStore();
  const coord = new Coordinate("cursor:test", "correctness:scope");
  store.append(new Coordinate("noise", "correctness:scope"), K1, {});
  for (let i = 0; i < 5; i++) {
    store.append(coord, K1, { c: i });
    store.append(new Coordinate("noise", "correctness:scope"), K1, {});
  }
  const cursor = store.cursorGuaranteed(Region.entity("cursor:test"));
  let count = 0;
  for (let i = 0; i < 5; i++) {
    const event = cursor.poll();
    assert.ok(event, `poll ${i + 1} returned nothing`);
    assert.equal(event.entity, "cursor:test");
    assert.deepEqual(event.payload, { c: i });
    count++;
  }
  assert.equal(cursor.poll(), undefined);
  assert.equal(count, 5);
  assert.equal(cursor.position, 10);
  store.close();
});

Deno.test("cursor: sees events appended while it iterates, never skips or repeats", () => {
  const { store } = memStore({ segmentMaxBytes: 4096 });
  const region = Region.entity("e");
  const delivered: number[] = [];
  const cursor = store.cursorGuaranteed(region);
  let n = 0;
  const append = () => {
    const entity = n % 3 === 0 ? "x" : `e${n % 4}`;
    store.append(new Coordinate(entity, "s"), K1, { n: n++ });
  };
  for (let round = 0; round < 300; round++) {
    for (let i = round % 5; i > 0; i--) append();
    if (round % 7 === 0) {
      store.appendBatch([
        { coord: new Coordinate("e9", "s"), kind: K2, payload: round },
        { coord: new Coordinate("x", "s"), kind: K2, payload: round },
      ]);
    }
    if (round % 2 === 0) {
      const e = cursor.poll();
      if (e) delivered.push(e.globalSequence);
    } else {
      delivered.push(...gsOf(cursor.pollBatch(1 + (round % 4))));
    }
  }
  for (let e = cursor.poll(); e; e = cursor.poll()) delivered.push(e.globalSequence);
  assert.deepEqual(delivered, gsOf(store.query(region)));
  assert.ok(store.diagnostics().segments > 3, "the test should cross segments");
  assert.equal(cursor.position, delivered[delivered.length - 1]);
  store.close();
});

Deno.test("cursor: events equal Store.get, across flushed, buffered and batched frames", async () => {
  const { store } = memStore({ segmentMaxBytes: 2048 });
  const first = store.append(new Coordinate("a", "s"), K1, { big: "x".repeat(300) });
  await tick(); // the write buffer reaches the file
  store.append(new Coordinate("a", "s"), K2, [1, -2, 3.5, null, true, "é"], {
    correlationId: first.eventId,
    causationId: first.eventId,
    idempotencyKey: "k1",
  });
  store.appendBatch([
    { coord: new Coordinate("b", "s"), kind: K1, payload: { n: 1n << 60n } },
    { coord: new Coordinate("a", "s"), kind: K3, payload: new Uint8Array([1, 2]) },
  ]);
  store.append(new Coordinate("a", "s"), K1, { when: new Date(5) });
  const events = drain(store, Region.all());
  assert.equal(events.length, 5);
  for (const event of events) {
    assert.deepStrictEqual(event, store.get(event.eventId));
    assert.equal(Object.getPrototypeOf(event), Object.prototype);
  }
  assert.equal(events[1].correlationId, first.eventId);
  assert.equal(events[0].prevHash, "");
  assert.equal(events[1].prevHash, events[0].eventHash);
  store.close();
});

Deno.test("cursor: events equal Store.get with many entities and two stores read in turn", () => {
  // Over 1024 entities, so the read side's per-entity hash-text table has colliding slots.
  const a = memStore().store;
  const b = memStore().store;
  for (let i = 0; i < 3000; i++) {
    a.append(new Coordinate(`a${(i * 7) % 1500}`, "s"), K1, i);
    b.append(new Coordinate(`b${(i * 11) % 1100}`, "s"), K1, -i);
  }
  const ca = a.cursorGuaranteed(Region.all());
  const cb = b.cursorGuaranteed(Region.all());
  for (let round = 0; round < 3000 / 50; round++) {
    for (const [store, cursor] of [[a, ca], [b, cb]] as const) {
      for (const event of cursor.pollBatch(50)) {
        assert.deepStrictEqual(event, store.get(event.eventId));
      }
    }
  }
  assert.equal(ca.poll(), undefined);
  a.close();
  b.close();
});

Deno.test("cursor: after, position and bad arguments", () => {
  const { store } = memStore();
  for (let i = 0; i < 10; i++) store.append(new Coordinate("a", "s"), K1, i);
  const cursor = store.cursorGuaranteed(Region.all(), { after: 4 });
  assert.equal(cursor.position, 4);
  assert.equal(cursor.poll()?.globalSequence, 5);
  assert.deepEqual(gsOf(cursor.pollBatch(3)), [6, 7, 8]);
  assert.equal(cursor.position, 8);
  assert.deepEqual(gsOf(cursor.pollBatch(100)), [9, 10]);
  assert.deepEqual(cursor.pollBatch(100), []);
  assert.equal(cursor.poll(), undefined);
  assert.equal(store.cursorGuaranteed(Region.all(), { after: 10 }).poll(), undefined);
  throwsType(
    () => store.cursorGuaranteed(Region.all(), { after: 11 }),
    InvalidArgumentError,
    /past the end/,
  );
  throwsType(() => store.cursorGuaranteed(Region.all(), { after: -1 }), InvalidArgumentError);
  throwsType(() => store.cursorGuaranteed(Region.all(), { after: 1.5 }), InvalidArgumentError);
  throwsType(
    () => store.cursorGuaranteed(Region.all(), { after: "1" as unknown as number }),
    InvalidArgumentError,
  );
  throwsType(
    () => store.cursorGuaranteed(Region.all(), 5 as unknown as { after: number }),
    InvalidArgumentError,
  );
  throwsType(() => store.cursorGuaranteed("all" as unknown as Region), InvalidArgumentError);
  throwsType(() => cursor.pollBatch(0), InvalidArgumentError);
  throwsType(() => cursor.pollBatch(2.5), InvalidArgumentError);
  throwsType(() => cursor.pollBatch(NaN), InvalidArgumentError);
  store.close();
  throwsType(() => cursor.poll(), StoreClosedError);
  throwsType(() => cursor.pollBatch(1), StoreClosedError);
});

Deno.test("cursor: a failed read is retried, not skipped; good events before it still arrive", async () => {
  const { store, fs } = memStore();
  for (let i = 0; i < 4; i++) store.append(new Coordinate("a", "s"), K1, i);
  store.sync();
  const loc = storeInternals(store).index.location(2);
  const path = `${DIR}/${segmentName(loc.segment)}`;
  fs.flipByte(path, loc.offset + FRAME_HEADER_BYTES + 5);
  const cursor = store.cursorGuaranteed(Region.all());
  assert.equal(cursor.poll()?.globalSequence, 1);
  throwsType(() => cursor.poll(), CorruptSegmentError);
  throwsType(() => cursor.pollBatch(5), CorruptSegmentError);
  assert.equal(cursor.position, 1);
  const it = store.subscribe(Region.all())[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.globalSequence, 1);
  await assert.rejects(() => it.next(), CorruptSegmentError);
  fs.flipByte(path, loc.offset + FRAME_HEADER_BYTES + 5);
  assert.deepEqual(gsOf(cursor.pollBatch(5)), [2, 3, 4]);
  assert.equal((await it.next()).value?.globalSequence, 2);
  await it.return!();
  store.close();
});

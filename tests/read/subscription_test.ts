/**
 * Live subscriptions: catch-up then live with no gap or duplicate, waking on
 * append, ending on abort, close and break, concurrent subscribers, bounded
 * memory for a slow consumer, and bad options.
 */

import assert from "node:assert/strict";
import { Coordinate, InvalidArgumentError, Region, StoreClosedError } from "../../mod.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { SUBSCRIPTION_PAGE_BYTES, SUBSCRIPTION_PAGE_EVENTS } from "../../src/read/subscription.ts";
import { gsOf, K1, memStore, tick } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

Deno.test("subscribe: catch-up then live, no gap and no duplicate with appends during catch-up", async () => {
  const { store } = memStore({ segmentMaxBytes: 8192 });
  const region = Region.entity("e");
  const write = (i: number) =>
    store.append(new Coordinate(i % 4 === 0 ? "x" : `e${i % 3}`, "s"), K1, { i });
  let i = 0;
  while (i < 3 * SUBSCRIPTION_PAGE_EVENTS) write(i++);
  const target = store.query(region).length + 400;
  const timer = setInterval(() => {
    for (let k = 0; k < 5; k++) write(i++);
  }, 1);
  const seen: number[] = [];
  try {
    for await (const event of store.subscribe(region)) {
      seen.push(event.globalSequence);
      // Appends from inside the loop land while the subscriber is still catching up.
      if (seen.length % 40 === 0) {
        for (let k = 0; k < 8; k++) write(i++);
      }
      if (seen.length % 100 === 0) await tick();
      if (seen.length >= target) break;
    }
  } finally {
    clearInterval(timer);
  }
  const expected = gsOf(store.query(region)).slice(0, seen.length);
  assert.deepEqual(seen, expected);
  for (let k = 1; k < seen.length; k++) assert.ok(seen[k] > seen[k - 1]);
  store.close();
});

Deno.test("subscribe: a waiting subscriber wakes on append; `after` skips the past", async () => {
  const { store } = memStore();
  store.append(new Coordinate("a", "s"), K1, 1);
  store.append(new Coordinate("a", "s"), K1, 2);
  const it = store.subscribe(Region.all(), { after: 1 })[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.payload, 2);
  const pending = it.next();
  await tick();
  store.append(new Coordinate("a", "s"), K1, 3);
  assert.equal((await pending).value?.payload, 3);
  // Overlapping next() calls are served in order.
  const [a, b] = [it.next(), it.next()];
  store.append(new Coordinate("a", "s"), K1, 4);
  store.append(new Coordinate("a", "s"), K1, 5);
  assert.deepEqual([(await a).value?.payload, (await b).value?.payload], [4, 5]);
  // return() while a next() waits for an append ends both.
  const waiting = it.next();
  await tick();
  assert.deepEqual(await it.return!(), { done: true, value: undefined });
  assert.deepEqual(await waiting, { done: true, value: undefined });
  assert.equal((await it.next()).done, true);
  store.append(new Coordinate("a", "s"), K1, 6);
  store.close();
});

Deno.test("subscribe: ends cleanly on abort, on close and on break", async () => {
  const { store } = memStore();
  store.append(new Coordinate("a", "s"), K1, 1);
  const stop = new AbortController();
  const aborted = (async () => {
    const got: unknown[] = [];
    for await (const e of store.subscribe(Region.all(), { signal: stop.signal })) {
      got.push(e.payload);
    }
    return got;
  })();
  const closed = (async () => {
    const got: unknown[] = [];
    for await (const e of store.subscribe(Region.all())) got.push(e.payload);
    return got;
  })();
  const broken = (async () => {
    for await (const e of store.subscribe(Region.all())) return e.payload;
  })();
  await tick();
  store.append(new Coordinate("a", "s"), K1, 2);
  await tick();
  stop.abort();
  assert.deepEqual(await aborted, [1, 2]);
  assert.equal(await broken, 1);
  store.append(new Coordinate("a", "s"), K1, 3);
  await tick();
  store.close();
  assert.deepEqual(await closed, [1, 2, 3]);
  // Already aborted: ends at once, even with events waiting.
  const { store: other } = memStore();
  other.append(new Coordinate("a", "s"), K1, 1);
  const done = new AbortController();
  done.abort();
  for await (const _ of other.subscribe(Region.all(), { signal: done.signal })) {
    assert.fail("an aborted subscription delivered an event");
  }
  other.close();
  throwsType(() => other.subscribe(Region.all()), StoreClosedError);
});

Deno.test("subscribe: concurrent subscribers each receive every event in order", async () => {
  const { store } = memStore();
  const N = 600;
  const stop = new AbortController();
  const subscribers = [0, 1, 2].map((k) =>
    (async () => {
      const got: number[] = [];
      for await (const e of store.subscribe(Region.all(), { signal: stop.signal })) {
        got.push(e.payload as number);
        if (k === 2 && got.length % 50 === 0) await new Promise((r) => setTimeout(r, 2)); // slow one
        if (got.length === N) break;
      }
      return got;
    })()
  );
  for (let i = 0; i < N; i++) {
    store.append(new Coordinate(`e${i % 5}`, "s"), K1, i);
    if (i % 37 === 0) await tick();
  }
  const results = await Promise.all(subscribers);
  const expected = Array.from({ length: N }, (_, i) => i);
  for (const got of results) assert.deepEqual(got, expected);
  stop.abort();
  store.close();
});

Deno.test("subscribe: a slow consumer costs bounded memory (events wait in the log)", async () => {
  const { store } = memStore();
  const s = storeInternals(store);
  const reader = s.reader();
  let bytesRead = 0;
  const readRaw = reader.readRaw.bind(reader);
  reader.readRaw = (segment: number, offset: number, length: number) => {
    bytesRead += length;
    return readRaw(segment, offset, length);
  };
  store.append(new Coordinate("a", "s"), K1, "first");
  const it = store.subscribe(Region.all())[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.payload, "first");
  const afterFirst = bytesRead;
  const payload = "p".repeat(2000);
  for (let i = 0; i < 3000; i++) store.append(new Coordinate("a", "s"), K1, payload);
  await tick();
  assert.equal(bytesRead, afterFirst, "appends alone read nothing for an idle subscriber");
  assert.equal((await it.next()).value?.payload, payload);
  const page = bytesRead - afterFirst;
  assert.ok(page <= SUBSCRIPTION_PAGE_BYTES + 4096, `one step read ${page} bytes`);
  let n = 1;
  while (n < 3000) {
    const r = await it.next();
    assert.equal(r.done, false);
    n++;
  }
  await it.return!();
  store.close();
});

Deno.test("subscribe: bad options throw InvalidArgumentError", () => {
  const { store } = memStore();
  throwsType(() => store.subscribe(Region.all(), { after: 1 }), InvalidArgumentError);
  throwsType(() => store.subscribe(Region.all(), { after: -1 }), InvalidArgumentError);
  throwsType(
    () => store.subscribe(Region.all(), { signal: {} as AbortSignal }),
    InvalidArgumentError,
  );
  throwsType(
    () => store.subscribe(Region.all(), 3 as unknown as { after: number }),
    InvalidArgumentError,
  );
  throwsType(() => store.subscribe(null as unknown as Region), InvalidArgumentError);
  store.close();
});

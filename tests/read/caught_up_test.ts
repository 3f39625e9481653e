/**
 * The caught-up signal of `subscribe` (`onCaughtUp`): called exactly once
 * per iteration, after the last historical event and before the first live
 * one, with the position caught up to; at once when there is no history;
 * counting events appended during catch-up as history; not called when the
 * iteration ends first; a throwing callback ends the iteration with its
 * error; a bad option is an `InvalidArgumentError`.
 */

import assert from "node:assert/strict";
import { Coordinate, InvalidArgumentError, Region, type Store } from "../../mod.ts";
import { K1, K2, memStore, tick } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

const coord = new Coordinate("a", "s");

/** What an iteration saw, in order: payloads and `caught up @position` marks. */
async function record(
  store: Store,
  region: Region,
  until: (seen: string[]) => boolean,
  options: { after?: number; live?: () => void } = {},
): Promise<string[]> {
  const seen: string[] = [];
  const stop = new AbortController();
  const it = store.subscribe(region, {
    after: options.after,
    signal: stop.signal,
    onCaughtUp: (position) => {
      seen.push(`caught up @${position}`);
      options.live?.();
    },
  });
  for await (const e of it) {
    seen.push(String(e.payload));
    if (until(seen)) stop.abort();
  }
  return seen;
}

Deno.test("onCaughtUp: once, after the last historical event, before the first live one", async () => {
  const { store } = memStore();
  for (let i = 1; i <= 300; i++) store.append(coord, K1, `h${i}`); // more than one page
  // The live event is appended once the iteration waits for appends.
  const seen = await record(store, Region.all(), (s) => s.at(-1) === "live", {
    live: () => setTimeout(() => store.append(coord, K1, "live"), 0),
  });
  const history = Array.from({ length: 300 }, (_, i) => `h${i + 1}`);
  assert.deepEqual(seen, [...history, "caught up @300", "live"]);
  store.append(coord, K1, "unseen"); // after the iteration: nothing to do with it
  store.close();
});

Deno.test("onCaughtUp: later live events never call it again", async () => {
  const { store } = memStore();
  store.append(coord, K1, "h1");
  let calls = 0;
  const stop = new AbortController();
  const seen: unknown[] = [];
  const following = (async () => {
    for await (
      const e of store.subscribe(Region.all(), { signal: stop.signal, onCaughtUp: () => calls++ })
    ) {
      seen.push(e.payload);
      if (seen.length === 4) stop.abort();
    }
  })();
  for (const p of ["l1", "l2", "l3"]) {
    await tick();
    store.append(coord, K1, p);
  }
  await following;
  assert.deepEqual(seen, ["h1", "l1", "l2", "l3"]);
  assert.equal(calls, 1);
  store.close();
});

Deno.test("onCaughtUp: with no history it is called at once, with the start position", async () => {
  const { store } = memStore();
  const empty = await record(store, Region.all(), (s) => s.length === 2, {
    live: () => store.append(coord, K1, "first"),
  });
  assert.deepEqual(empty, ["caught up @0", "first"]);
  // History outside the region is no history of it; `after` past the history is caught up.
  store.append(coord, K2, "other kind");
  const region = await record(store, Region.all().withKinds(K1), (s) => s.length === 2, {
    after: 1,
    live: () => store.append(coord, K1, "second"),
  });
  assert.deepEqual(region, ["caught up @1", "second"]);
  store.close();
});

Deno.test("onCaughtUp: an event appended during catch-up is history (delivered before the signal)", async () => {
  const { store } = memStore();
  store.append(coord, K1, "h1");
  store.append(coord, K1, "h2");
  const seen: string[] = [];
  const stop = new AbortController();
  for await (
    const e of store.subscribe(Region.all(), {
      signal: stop.signal,
      onCaughtUp: (p) => {
        seen.push(`caught up @${p}`);
        stop.abort();
      },
    })
  ) {
    seen.push(String(e.payload));
    if (e.payload === "h1") store.append(coord, K1, "during catch-up");
  }
  assert.deepEqual(seen, ["h1", "h2", "during catch-up", "caught up @3"]);
  store.close();
});

Deno.test("onCaughtUp: each iteration of the iterable is its own subscriber", async () => {
  const { store } = memStore();
  store.append(coord, K1, "h1");
  const calls: number[] = [];
  const iterable = store.subscribe(Region.all(), { onCaughtUp: (p) => calls.push(p) });
  for (let round = 0; round < 2; round++) {
    const it = iterable[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.payload, "h1");
    const pending = it.next(); // catches up, then waits
    await tick();
    assert.equal(calls.length, round + 1);
    await it.return!();
    assert.equal((await pending).done, true);
  }
  assert.deepEqual(calls, [1, 1]);
  store.close();
});

Deno.test("onCaughtUp: not called when the iteration ends before catching up", async () => {
  const { store } = memStore();
  for (let i = 0; i < 5; i++) store.append(coord, K1, i);
  let called = false;
  for await (
    const e of store.subscribe(Region.all(), { onCaughtUp: () => called = true })
  ) {
    if (e.payload === 2) break;
  }
  assert.equal(called, false);
  const stop = new AbortController();
  stop.abort();
  for await (
    const _ of store.subscribe(Region.all(), {
      signal: stop.signal,
      onCaughtUp: () => called = true,
    })
  ) { /* aborted before the first event */ }
  assert.equal(called, false);
  store.close();
});

Deno.test("onCaughtUp: a throwing callback ends the iteration with its error; the store stays usable", async () => {
  const { store } = memStore();
  store.append(coord, K1, "h1");
  const boom = new Error("consumer not ready");
  const seen: unknown[] = [];
  await assert.rejects(async () => {
    for await (
      const e of store.subscribe(Region.all(), {
        onCaughtUp: () => {
          throw boom;
        },
      })
    ) seen.push(e.payload);
  }, (e) => e === boom);
  assert.deepEqual(seen, ["h1"]);
  store.append(coord, K1, "h2");
  assert.equal(store.lastSequence("a"), 2);
  store.close();
});

Deno.test("onCaughtUp: must be a function", () => {
  const { store } = memStore();
  for (const bad of [1, "x", {}, null]) {
    throwsType(
      () => store.subscribe(Region.all(), { onCaughtUp: bad as never }),
      InvalidArgumentError,
      /onCaughtUp/,
    );
  }
  store.close();
});

/**
 * `Store.snapshot`: a point-in-time copy while appends continue, on the real
 * file system and of an empty store, and the directories it refuses.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  InvalidArgumentError,
  Region,
  Store,
  StoreClosedError,
  type StoredEvent,
} from "../../mod.ts";
import { DIR, drain, K1, K2, K3, memStore, tick } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

function sameEvents(a: StoredEvent[], b: StoredEvent[]): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.deepStrictEqual(a[i], b[i]);
}

Deno.test("snapshot: a point-in-time copy while appends continue (timer and async loop)", async () => {
  const { store, fs } = memStore({ segmentMaxBytes: 4096 });
  let stop = false;
  let n = 0;
  const loop = (async () => {
    while (!stop) {
      store.append(new Coordinate(`loop:${n % 7}`, "s"), K1, { n: n++ });
      if (n % 10 === 0) {
        store.appendBatch([
          { coord: new Coordinate("batch", "s"), kind: K2, payload: n },
          { coord: new Coordinate("batch", "s"), kind: K2, payload: n + 1 },
        ]);
      }
      await tick();
    }
  })();
  const timer = setInterval(() => store.append(new Coordinate("timer", "t"), K3, Date.now()), 1);
  while (store.diagnostics().events < 300) await tick();
  store.saveCursor("consumer", 100);
  const visible = drain(store, Region.all());
  store.snapshot("/snap");
  const atCall = visible.length;
  while (store.diagnostics().events < atCall + 100) await tick();
  stop = true;
  clearInterval(timer);
  await loop;
  assert.ok(store.diagnostics().events > atCall, "appends continued after the snapshot");

  const copy = Store.open({ dataDir: "/snap", fs });
  assert.equal(copy.diagnostics().openReport.path, "image");
  sameEvents(drain(copy, Region.all()), visible);
  assert.equal(copy.loadCursor("consumer"), 100);
  const report = copy.verify();
  assert.deepEqual(report.problems, []);
  assert.equal(report.eventsChecked, atCall);
  // The copy is a store: it takes appends and reopens.
  copy.append(new Coordinate("after", "s"), K1, 1);
  copy.close();
  // The segment copies alone (no index image) rebuild to the same log.
  fs.remove("/snap/index.img");
  const rebuilt = Store.open({ dataDir: "/snap", fs, enableCheckpoint: false });
  assert.equal(rebuilt.diagnostics().openReport.path, "rebuild");
  sameEvents(drain(rebuilt, Region.all()).slice(0, atCall), visible);
  assert.ok(rebuilt.verify().ok);
  rebuilt.close();
  assert.ok(store.verify().ok);
  store.close();
});

Deno.test("snapshot: on the real file system, and of an empty store", () => {
  const src = Deno.makeTempDirSync();
  const dest = `${Deno.makeTempDirSync()}/snap`;
  const store = Store.open(src);
  for (let i = 0; i < 50; i++) store.append(new Coordinate(`e${i % 3}`, "s"), K1, { i });
  store.snapshot(dest);
  store.append(new Coordinate("late", "s"), K1, {});
  const copy = Store.open(dest);
  assert.equal(copy.diagnostics().events, 50);
  assert.ok(copy.verify().ok);
  copy.close();
  store.close();
  const { store: empty, fs } = memStore();
  empty.snapshot("/empty-snap");
  const emptyCopy = Store.open({ dataDir: "/empty-snap", fs });
  assert.equal(emptyCopy.diagnostics().events, 0);
  assert.ok(emptyCopy.verify().ok);
  emptyCopy.close();
  empty.close();
  Deno.removeSync(src, { recursive: true });
});

Deno.test("snapshot: refuses a non-empty or own directory", () => {
  const { store, fs } = memStore();
  store.append(new Coordinate("a", "s"), K1, 1);
  fs.writeFile("/full/file.txt", new Uint8Array([1]));
  throwsType(() => store.snapshot("/full"), InvalidArgumentError);
  throwsType(() => store.snapshot(DIR), InvalidArgumentError);
  throwsType(() => store.snapshot(""), InvalidArgumentError);
  throwsType(() => store.snapshot(5 as unknown as string), InvalidArgumentError);
  store.snapshot("/ok");
  throwsType(() => store.snapshot("/ok"), InvalidArgumentError, /empty/);
  store.close();
  throwsType(() => store.snapshot("/later"), StoreClosedError);
});

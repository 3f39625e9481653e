/**
 * Store configuration: `Store.open` rejects a bad config with
 * `InvalidArgumentError` before touching the disk and without taking the lock.
 */

import assert from "node:assert/strict";
import { Coordinate, InvalidArgumentError, Store, type StoreConfig } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { cloneFs, DIR, KIND_A, memStore, throwsType } from "../fixtures/store_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("bad input: Store.open rejects bad config with InvalidArgumentError and takes no lock", () => {
  const fs = cloneFs(memStore().fs); // a fresh in-memory disk with /db
  const cases: [string, unknown][] = [
    ["empty dataDir", { dataDir: "", fs }],
    ["no config", null],
    ["dataDir number", { dataDir: 5, fs }],
    ["segmentMaxBytes too small", { dataDir: DIR, fs, segmentMaxBytes: 10 }],
    ["segmentMaxBytes fractional", { dataDir: DIR, fs, segmentMaxBytes: 1000.5 }],
    ["fdBudget 0", { dataDir: DIR, fs, fdBudget: 0 }],
    ["everyNEvents NaN", { dataDir: DIR, fs, sync: { everyNEvents: NaN } }],
    ["sync mode", { dataDir: DIR, fs, sync: { mode: "sometimes" } }],
    ["enableCheckpoint string", { dataDir: DIR, fs, enableCheckpoint: "yes" }],
    ["clock not a function", { dataDir: DIR, fs, clock: 5 }],
    ["fs not a FileSystem", { dataDir: DIR, fs: {} }],
    // Regression: a dataDir that is a file threw a raw Deno AlreadyExists error.
    ["dataDir is a file", { dataDir: `${DIR}/LOCK`, fs }],
  ];
  fs.writeFile(`${DIR}/LOCK`, new Uint8Array(0));
  for (const [name, config] of cases) {
    const e = throwsType(() => Store.open(config as StoreConfig), InvalidArgumentError);
    assert.ok(e.message.length > 10, `${name}: a useful message`);
  }
  // None of them took the lock.
  const store = Store.open({ dataDir: DIR, fs });
  store.append(new Coordinate("a", "b"), KIND_A, 1);
  store.close();
});

Deno.test("Store.open rejects bad configs before touching the disk", () => {
  const fs = new MemoryFileSystem();
  const configs: unknown[] = [
    null,
    42,
    {},
    { dataDir: "" },
    { dataDir: 5 },
    ...[0, -1, 1.5, NaN, "1", 100].map((v) => ({ dataDir: "/x", fs, segmentMaxBytes: v })),
    { dataDir: "/x", fs, sync: null },
    { dataDir: "/x", fs, sync: "x" },
    ...[0, NaN, 1.5, "1"].map((v) => ({ dataDir: "/x", fs, sync: { everyNEvents: v } })),
    { dataDir: "/x", fs, sync: { mode: "fast" } },
    ...[0, -1, 1.5].map((v) => ({ dataDir: "/x", fs, fdBudget: v })),
    { dataDir: "/x", fs, enableCheckpoint: "yes" },
    { dataDir: "/x", fs, enableMmapIndex: 1 },
    { dataDir: "/x", fs, clock: 5 },
    { dataDir: "/x", fs: {} },
  ];
  for (const c of configs) {
    assert.throws(() => Store.open(c as Any), InvalidArgumentError, JSON.stringify(c));
  }
  assert.deepEqual(fs.listFiles(), [], "nothing was created");
});

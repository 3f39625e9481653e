// Worker entry of bench/browser/run.ts (P13): the store on OPFS against IndexedDB, in the same
// worker of the same page: appends, durable batches, reads with payloads.
import { Coordinate } from "../../src/core/coordinate.ts";
import { EventKind } from "../../src/core/kind.ts";
import { OpfsFileSystem } from "../../src/fs/opfs.ts";
import { Store } from "../../src/store/store.ts";
import { serve } from "../../tests/browser/_worker_runtime.ts";

// IndexedDB's types are not in Deno's libraries: the few used here, loosely.
// deno-lint-ignore no-explicit-any
type IDBDatabase = any;
// deno-lint-ignore no-explicit-any
type IDBTransaction = any;
// deno-lint-ignore no-explicit-any
const indexedDB = (globalThis as any).indexedDB;

const KIND = EventKind.custom(1, 1);
const payload = (i: number) => ({ i, note: "a 50-character payload string for the benchmark.." });

function idbOpen(name: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => req.result.createObjectStore("events", { autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

type Durability = "strict" | "relaxed" | "default";

async function idbAppends(db: IDBDatabase, n: number, perTx: number, durability: Durability) {
  const t0 = performance.now();
  for (let i = 0; i < n; i += perTx) {
    const tx = db.transaction("events", "readwrite", { durability });
    const os = tx.objectStore("events");
    for (let j = i; j < Math.min(n, i + perTx); j++) {
      os.add({ entity: "e", sequence: j + 1, payload: payload(j) });
    }
    await done(tx);
  }
  return n / ((performance.now() - t0) / 1000);
}

async function idbRead(db: IDBDatabase): Promise<{ perSecond: number; count: number }> {
  const t0 = performance.now();
  const tx = db.transaction("events", "readonly");
  const all = await new Promise<unknown[]>((resolve, reject) => {
    const req = tx.objectStore("events").getAll();
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return { perSecond: all.length / ((performance.now() - t0) / 1000), count: all.length };
}

async function dropIdb(name: string): Promise<void> {
  await new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve(undefined);
  });
}

serve({
  async run(options: { appends: number; idbSingle: number; batches: number; batchItems: number }) {
    const results: Record<string, number> = {};
    const tag = crypto.randomUUID();
    // --- the store on OPFS
    const fs = await OpfsFileSystem.open(`bench-${tag}`);
    const store = Store.open({ dataDir: "/", fs }) as Store;
    const coord = new Coordinate("e", "bench");
    let t0 = performance.now();
    for (let i = 0; i < options.appends; i++) store.append(coord, KIND, payload(i));
    await store.durable();
    results.opfsAppendsPerS = options.appends / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    for (let b = 0; b < options.batches; b++) {
      const items = [];
      for (let j = 0; j < options.batchItems; j++) {
        items.push({ coord: new Coordinate(`b${b}`, "bench"), kind: KIND, payload: payload(j) });
      }
      store.appendBatch(items); // fsynced before it returns
    }
    results.opfsDurableBatchEventsPerS = options.batches * options.batchItems /
      ((performance.now() - t0) / 1000);
    t0 = performance.now();
    let read = 0;
    for (let round = 0; round < 3; round++) read += store.readStream("e").length;
    results.opfsReadEventsPerS = read / ((performance.now() - t0) / 1000);
    results.events = store.diagnostics().events;
    store.close();
    fs.close();
    await fs.settled();
    // --- IndexedDB, same worker
    const single = await idbOpen(`single-${tag}`);
    results.idbOneTxPerEventPerS = await idbAppends(single, options.idbSingle, 1, "default");
    results.idbOneStrictTxPerEventPerS = await idbAppends(single, options.idbSingle, 1, "strict");
    single.close();
    const batched = await idbOpen(`batched-${tag}`);
    results.idbBatchedPerS = await idbAppends(batched, options.appends, 1000, "default");
    results.idbDurableBatchEventsPerS = await idbAppends(
      batched,
      options.batches * options.batchItems,
      options.batchItems,
      "strict",
    );
    let idbRead3 = 0;
    t0 = performance.now();
    for (let round = 0; round < 3; round++) idbRead3 += (await idbRead(batched)).count;
    results.idbReadEventsPerS = idbRead3 / ((performance.now() - t0) / 1000);
    batched.close();
    await dropIdb(`single-${tag}`);
    await dropIdb(`batched-${tag}`);
    const root = await (navigator as unknown as {
      storage: { getDirectory(): Promise<{ removeEntry(n: string, o: object): Promise<void> }> };
    }).storage.getDirectory();
    await root.removeEntry(`bench-${tag}`, { recursive: true });
    return results;
  },
});

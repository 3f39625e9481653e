// Worker entry of bench/browser/run.ts (P13): the store on OPFS against IndexedDB, in the same
// worker of the same page: appends, durable batches, reads with payloads (the first, cold read
// and warm reads), point reads in order and shuffled; the store's reads with the OPFS pool's
// read-ahead on and off, on the same files; the same reads by Store.replay.
import { Coordinate } from "../../src/core/coordinate.ts";
import { EventKind } from "../../src/core/kind.ts";
import { Region } from "../../src/core/region.ts";
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

/** The first `count` events, by one `getAll`. */
async function idbRead(db: IDBDatabase, count: number): Promise<{ count: number }> {
  const tx = db.transaction("events", "readonly");
  const all = await new Promise<unknown[]>((resolve, reject) => {
    const req = tx.objectStore("events").getAll(null, count);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  return { count: all.length };
}

async function dropIdb(name: string): Promise<void> {
  await new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve(undefined);
  });
}

/** Median of `xs`. */
function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
}

/** Events per second of `read` (which returns how many it read): the first call, then the median of `rounds`. */
async function coldAndWarm(
  rounds: number,
  read: () => number | Promise<number>,
): Promise<{ cold: number; warm: number }> {
  let t0 = performance.now();
  const cold = (await read()) / ((performance.now() - t0) / 1000);
  const warm: number[] = [];
  for (let r = 0; r < rounds; r++) {
    t0 = performance.now();
    warm.push((await read()) / ((performance.now() - t0) / 1000));
  }
  return { cold, warm: median(warm) };
}

/** Point reads: the store's `get` of each id, one at a time, per second (median of `rounds`). */
function getsPerS(store: Store, ids: readonly string[], rounds: number): number {
  const perS: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (const id of ids) store.get(id);
    perS.push(ids.length / ((performance.now() - t0) / 1000));
  }
  return median(perS);
}

/** IndexedDB's point reads: one `get` per key in one readonly transaction, per second. */
async function idbGetsPerS(db: IDBDatabase, keys: readonly number[], rounds: number) {
  const perS: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const tx = db.transaction("events", "readonly");
    const os = tx.objectStore("events");
    await Promise.all(keys.map((key) =>
      new Promise((resolve, reject) => {
        const req = os.get(key);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      })
    ));
    perS.push(keys.length / ((performance.now() - t0) / 1000));
  }
  return median(perS);
}

/** `xs` shuffled by a fixed linear congruential sequence (the same order every run). */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  let seed = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** What one run measures. */
export interface BenchOptions {
  appends: number;
  idbSingle: number;
  batches: number;
  batchItems: number;
  /** Timed rounds after the first (cold) read, and of point reads. */
  readRounds: number;
  /** Point reads (`get`), in order and shuffled. */
  gets: number;
}

const pool = (tag: string) => `bench-${tag}`;

// Each phase runs in a fresh worker (run.ts spawns one per call), so each starts with the
// same cold JIT: a phase that ran second in one worker would find the read path optimised.
serve({
  /** The store's writes: appends of one entity, then durable batches; leaves the pool. */
  async write(tag: string, options: BenchOptions) {
    const results: Record<string, number> = {};
    const fs = await OpfsFileSystem.open(pool(tag));
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
    results.events = store.diagnostics().events;
    store.close();
    fs.close();
    await fs.settled();
    return results;
  },

  /**
   * The store's reads on the pool `write` left (reopened: nothing in the writer's buffer),
   * with the pool's read-ahead at `readAheadBytes` (undefined: the default; 0: off).
   */
  async reads(tag: string, options: BenchOptions, readAheadBytes?: number) {
    const results: Record<string, number> = {};
    const suffix = readAheadBytes === 0 ? "NoReadAhead" : "";
    const fs = await OpfsFileSystem.open(pool(tag), { readAheadBytes, lockWaitMs: 5_000 });
    const store = Store.open({ dataDir: "/", fs }) as Store;
    const reads = await coldAndWarm(options.readRounds, () => store.readStream("e").length);
    results[`opfsReadColdEventsPerS${suffix}`] = reads.cold;
    results[`opfsReadEventsPerS${suffix}`] = reads.warm;
    const ids = store.readStream("e").slice(0, options.gets).map((e) => e.eventId);
    results[`opfsGetPerS${suffix}`] = getsPerS(store, ids, options.readRounds);
    results[`opfsGetShuffledPerS${suffix}`] = getsPerS(store, shuffled(ids), options.readRounds);
    if (suffix === "") {
      const { hits, fills, direct } = fs.stats().readAhead;
      Object.assign(results, { readAheadHits: hits, readAheadFills: fills, readDirect: direct });
    }
    store.close();
    fs.close();
    await fs.settled();
    return results;
  },

  /**
   * The same reads as `reads` (read-ahead on), by `Store.replay`: events without their id and
   * hash texts, each payload kept as `readStream`'s are.
   */
  async replays(tag: string, options: BenchOptions) {
    const fs = await OpfsFileSystem.open(pool(tag), { lockWaitMs: 5_000 });
    const store = Store.open({ dataDir: "/", fs }) as Store;
    const reads = await coldAndWarm(options.readRounds, () => {
      const payloads: unknown[] = [];
      store.replay(Region.stream("e"), (e) => void payloads.push(e.payload));
      return payloads.length;
    });
    store.close();
    fs.close();
    await fs.settled();
    return { opfsReplayColdEventsPerS: reads.cold, opfsReplayEventsPerS: reads.warm };
  },

  /** IndexedDB on the same workloads, in its own databases. */
  async idb(tag: string, options: BenchOptions) {
    const results: Record<string, number> = {};
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
    // The first options.appends keys are the single-entity events, as on the store's side.
    const reads = await coldAndWarm(
      options.readRounds,
      async () => (await idbRead(batched, options.appends)).count,
    );
    results.idbReadColdEventsPerS = reads.cold;
    results.idbReadEventsPerS = reads.warm;
    const keys = Array.from({ length: options.gets }, (_, i) => i + 1);
    results.idbGetPerS = await idbGetsPerS(batched, keys, options.readRounds);
    results.idbGetShuffledPerS = await idbGetsPerS(batched, shuffled(keys), options.readRounds);
    batched.close();
    await dropIdb(`single-${tag}`);
    await dropIdb(`batched-${tag}`);
    return results;
  },

  /** Remove the store's pool. */
  async drop(tag: string) {
    const root = await (navigator as unknown as {
      storage: { getDirectory(): Promise<{ removeEntry(n: string, o: object): Promise<void> }> };
    }).storage.getDirectory();
    await root.removeEntry(pool(tag), { recursive: true });
  },
});

/**
 * The seed's hardware-dependent perf gates as benches (batpak
 * `tests/perf_gates.rs`): each bench measures only the operation the seed
 * times, with setup outside `b.start()`/`b.end()`. Corpora are built once per
 * run, lazily, in a temp dir removed at exit.
 *
 * Run through the checker, which applies the seed's floors and the
 * TARGETS.md goals: `deno task perf-gates`. Run alone:
 * `deno bench -A --filter perf-gates bench/perf_gates_bench.ts`.
 *
 * When `BATPAK_BENCH_SAMPLES` names a file, every timed iteration (ms) is
 * written there as JSON at exit (bench/_deno_bench.ts), so the checker can
 * report medians (Deno's JSON has none).
 *
 * @module
 */

import { join } from "node:path";
import { sampledBench, type Timer } from "./_deno_bench.ts";
import { BATCH_COUNT, BATCH_PAYLOAD_CHARS, BATCH_SIZE, BENCH_KIND as KIND } from "./_workloads.ts";
import {
  BENCH,
  EVENTS_100K,
  EVENTS_1K,
  EVENTS_APPEND,
  QUERIES_PER_ITERATION,
} from "./perf_gates/benches.ts";
import {
  type BatchAppendItem,
  Coordinate,
  type EventSourced,
  Region,
  Store,
  type StoreConfig,
} from "../mod.ts";

/** The seed's `perf_store_config`: sync every 10K events for the 100K corpora. */
const CORPUS_SYNC_EVERY = 10_000;
const MIXED_ENTITIES = 1_000;
const MIXED_PER_ENTITY = 100;
const MIXED_SCOPES = 16;

const root = Deno.makeTempDirSync({ prefix: "batpak_perf_gates_" });
let scratchCounter = 0;

/** A perf-gate bench: `Deno.bench` with its timed iterations recorded for the checker. */
function bench(
  name: string,
  options: { n?: number; warmup?: number },
  fn: (t: Timer) => void | Promise<void>,
): void {
  sampledBench({ name, ...options }, fn);
}

// ------------------------------------------------------------------ corpora

const openStores = new Set<Store>();

function scratchDir(): string {
  return join(root, `scratch_${++scratchCounter}`);
}

function fresh(config: Omit<StoreConfig, "dataDir"> = {}): { store: Store; dir: string } {
  const dir = scratchDir();
  return { store: Store.open({ ...config, dataDir: dir }), dir };
}

function dispose(store: Store, dir: string): void {
  store.close();
  Deno.removeSync(dir, { recursive: true });
}

function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  let built = false;
  return () => {
    if (!built) {
      value = build();
      built = true;
    }
    return value as T;
  };
}

/** Build a corpus directory once: populate with `config`, close. */
function corpus(name: string, config: Omit<StoreConfig, "dataDir">, fill: (s: Store) => void) {
  return lazy(() => {
    const dir = join(root, name);
    const store = Store.open({ ...config, dataDir: dir });
    fill(store);
    store.close();
    return { dir, config: { ...config, dataDir: dir } as StoreConfig };
  });
}

function fillSingle(entity: string, count: number) {
  return (store: Store): void => {
    const coord = new Coordinate(entity, "perf:scope");
    for (let i = 0; i < count; i++) store.append(coord, KIND, { i });
  };
}

function fillMixed(store: Store): void {
  for (let e = 0; e < MIXED_ENTITIES; e++) {
    const coord = new Coordinate(
      `perf:mixed:${String(e).padStart(4, "0")}`,
      `perf:scope:${String(e % MIXED_SCOPES).padStart(2, "0")}`,
    );
    for (let seq = 0; seq < MIXED_PER_ENTITY; seq++) {
      store.append(coord, KIND, { entity: e, seq });
    }
  }
}

const corpusSync = { sync: { everyNEvents: CORPUS_SYNC_EVERY } };
const coldStart1K = corpus("cold_start_1k", {}, fillSingle("bench:entity", EVENTS_1K));
const projectionCold1K = corpus("projection_cold_1k", {}, fillSingle("gate:cold-proj", EVENTS_1K));
const single100K = corpus("single_100k", corpusSync, fillSingle("perf:single", EVENTS_100K));
const mixed100K = corpus("mixed_100k", corpusSync, fillMixed);
const image100K = corpus(
  "image_100k",
  { ...corpusSync, enableCheckpoint: false, enableMmapIndex: true },
  fillSingle("perf:single", EVENTS_100K),
);
/** Grows by one event per iteration of the close-after-append bench (its own copy). */
const closeAfterAppend100K = corpus(
  "close_after_append_100k",
  corpusSync,
  fillSingle("perf:single", EVENTS_100K),
);
const rebuild100K = corpus(
  "rebuild_100k",
  { ...corpusSync, enableCheckpoint: false, enableMmapIndex: false },
  fillSingle("perf:single", EVENTS_100K),
);

/** A store kept open across iterations (closed at exit). */
function kept(entity: string): () => Store {
  return lazy(() => {
    const store = Store.open(scratchDir());
    fillSingle(entity, EVENTS_1K)(store);
    openStores.add(store);
    return store;
  });
}
const multiGateStore = kept("perf:entity");
const projectionStore = kept("gate:proj");

/** The seed's `BenchCounter`. A fresh object per call has a cold projection cache. */
function counter(): EventSourced<number> {
  return { kinds: [KIND], initial: () => 0, apply: (n) => n + 1 };
}

function assertCount(got: number | undefined, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: expected ${want} events, projected ${got}`);
}

// ------------------------------------------------------------------ benches

const SLOW = { n: 15, warmup: 2 };
const MEDIUM = { n: 40, warmup: 3 };
const FAST = { n: 200, warmup: 10 };

function defineBenches(): void {
  bench(BENCH.coldStart, MEDIUM, (t) => {
    const { config } = coldStart1K();
    t.start();
    const store = Store.open(config);
    t.end();
    store.close();
  });

  bench(BENCH.multiWrite, MEDIUM, (t) => {
    const { store, dir } = fresh();
    const coord = new Coordinate("perf:entity", "perf:scope");
    t.start();
    for (let i = 0; i < EVENTS_1K; i++) store.append(coord, KIND, { i });
    t.end();
    dispose(store, dir);
  });

  bench(BENCH.multiQuery, FAST, (t) => {
    const store = multiGateStore();
    const region = Region.entity("perf:entity");
    let seen = 0;
    t.start();
    for (let q = 0; q < QUERIES_PER_ITERATION; q++) seen += store.query(region).length;
    t.end();
    if (seen !== EVENTS_1K * QUERIES_PER_ITERATION) throw new Error(`query saw ${seen} entries`);
  });

  bench(BENCH.multiProjection, MEDIUM, (t) => {
    const store = multiGateStore();
    const projection = counter();
    t.start();
    const n = store.project("perf:entity", projection);
    t.end();
    assertCount(n, EVENTS_1K, "multi-gate projection");
  });

  const template: BatchAppendItem[] = Array.from({ length: BATCH_SIZE }, (_, i) => ({
    coord: new Coordinate("perf:batch", "batch_scope"),
    kind: KIND,
    payload: { i, payload: "x".repeat(BATCH_PAYLOAD_CHARS) },
  }));
  bench(BENCH.batch, { n: 8, warmup: 1 }, (t) => {
    const { store, dir } = fresh({ sync: { everyNEvents: 1 } });
    t.start();
    for (let b = 0; b < BATCH_COUNT; b++) store.appendBatch(template);
    t.end();
    dispose(store, dir);
  });

  bench(BENCH.append, MEDIUM, (t) => {
    const { store, dir } = fresh();
    const coord = new Coordinate("gate:append", "gate:scope");
    t.start();
    for (let i = 0; i < EVENTS_APPEND; i++) store.append(coord, KIND, { i });
    t.end();
    dispose(store, dir);
  });

  bench(BENCH.projection, MEDIUM, (t) => {
    const store = projectionStore();
    const projection = counter();
    t.start();
    const n = store.project("gate:proj", projection);
    t.end();
    assertCount(n, EVENTS_1K, "projection latency");
  });

  bench(BENCH.projectionCold, MEDIUM, (t) => {
    const store = Store.open(projectionCold1K().config);
    const projection = counter();
    t.start();
    const n = store.project("gate:cold-proj", projection);
    t.end();
    store.close();
    assertCount(n, EVENTS_1K, "projection cold path");
  });

  const openOnly =
    (get: () => { config: StoreConfig }, path?: "image" | "rebuild") => (t: Timer) => {
      const { config } = get();
      t.start();
      const store = Store.open(config);
      t.end();
      const report = store.diagnostics().openReport;
      store.close();
      if (path !== undefined && report.path !== path) {
        throw new Error(`expected the ${path} open path, got ${report.path}`);
      }
      if (store.diagnostics().events !== EVENTS_100K) {
        throw new Error(`expected ${EVENTS_100K} events, opened ${store.diagnostics().events}`);
      }
    };
  const closeOnly = (get: () => { config: StoreConfig }) => (t: Timer) => {
    const store = Store.open(get().config);
    t.start();
    store.close();
    t.end();
  };

  // One append, then the close: the index image must be written again (and the log synced).
  const closeAfterAppend = (t: Timer) => {
    const store = Store.open(closeAfterAppend100K().config);
    store.append(new Coordinate("perf:single", "perf:scope"), KIND, { i: -1 });
    t.start();
    store.close();
    t.end();
  };

  bench(BENCH.openSingle, SLOW, openOnly(single100K));
  bench(BENCH.closeSingle, SLOW, closeOnly(single100K));
  bench(BENCH.openMixed, SLOW, openOnly(mixed100K));
  bench(BENCH.closeMixed, SLOW, closeOnly(mixed100K));
  bench(BENCH.closeAfterAppend, SLOW, closeAfterAppend);
  bench(BENCH.imageRestore, SLOW, openOnly(image100K, "image"));
  bench(BENCH.rebuildRestore, { n: 8, warmup: 1 }, openOnly(rebuild100K, "rebuild"));
}

defineBenches();
// Registered after the benches, so the samples file is written before cleanup runs.
globalThis.addEventListener("unload", () => {
  for (const s of openStores) s.close();
  Deno.removeSync(root, { recursive: true });
});

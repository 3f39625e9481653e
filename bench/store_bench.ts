/**
 * Write-path and cold-start goals of TARGETS.md (P1–P5, P9), each beside its
 * peer in the same run, so the ratio is the result:
 *
 *   deno bench -A bench/store_bench.ts
 *
 * P5 builds a 1M-event store once (about 10 s); set BATPAK_BENCH_EVENTS to
 * use a smaller one. P8 (memory) is `deno task bench:memory`.
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import {
  BATCH_PAYLOAD_CHARS,
  BATCH_SIZE,
  BENCH_KIND as kind,
  fillEntities,
  RAW_RECORD_BYTES,
} from "./_workloads.ts";
import { Coordinate, Store } from "../mod.ts";

const payload50 = "x".repeat(BATCH_PAYLOAD_CHARS);
const CONCURRENT_WRITERS = 64;
const OPEN_EVENTS = Number(Deno.env.get("BATPAK_BENCH_EVENTS") ?? 1_000_000);
const OPEN_ENTITIES = 1000;
const CLOSE_EVENTS = 100_000;

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "batpak-bench-" });
}

/** The raw limit of a durable append: one record written and fdatasynced per iteration. */
function rawLimitBench(name: string, group: string): void {
  const raw = Deno.openSync(join(tempDir(), "raw.log"), { create: true, write: true });
  const record = new Uint8Array(RAW_RECORD_BYTES).fill(7);
  Deno.bench({
    name,
    group,
    baseline: true,
    fn: () => {
      raw.writeSync(record);
      raw.syncDataSync();
    },
  });
}

function sqlite(synchronous: "NORMAL" | "FULL"): { db: DatabaseSync; seq: number } {
  const db = new DatabaseSync(join(tempDir(), "events.db"));
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${synchronous};
    CREATE TABLE events(stream TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL,
      UNIQUE(stream, seq))`);
  return { db, seq: 0 };
}

// ---------------------------------------------------------------- P1: single appends

{
  const store = Store.open({ dataDir: tempDir(), sync: { everyNEvents: 1000 } });
  const coord = new Coordinate("bench:entity", "bench:scope");
  let i = 0;
  Deno.bench({
    name: "P1 append {i}, sync every 1000",
    group: "P1 single append",
    fn: () => {
      store.append(coord, kind, { i: i++ });
    },
  });
  const peer = sqlite("NORMAL");
  const insert = peer.db.prepare("INSERT INTO events VALUES (?, ?, ?)");
  Deno.bench({
    name: "P1 peer: SQLite WAL NORMAL, one INSERT per event",
    group: "P1 single append",
    baseline: true,
    fn: () => {
      peer.seq++;
      insert.run("bench:entity", peer.seq, JSON.stringify({ i: peer.seq }));
    },
  });
}

// ---------------------------------------------------------------- P2: durable batches

{
  const store = Store.open({ dataDir: tempDir() });
  const coord = new Coordinate("perf:batch", "batch_scope");
  const items = Array.from({ length: BATCH_SIZE }, (_, i) => ({
    coord,
    kind,
    payload: { i, payload: payload50 },
  }));
  Deno.bench({
    name: "P2 appendBatch of 100 (fsync per batch)",
    group: "P2 durable batch of 100",
    fn: () => {
      store.appendBatch(items);
    },
  });
  const peer = sqlite("FULL");
  const insert = peer.db.prepare("INSERT INTO events VALUES (?, ?, ?)");
  Deno.bench({
    name: "P2 peer: SQLite WAL FULL, 100 INSERTs per transaction",
    group: "P2 durable batch of 100",
    baseline: true,
    fn: () => {
      peer.db.exec("BEGIN");
      for (let i = 0; i < BATCH_SIZE; i++) {
        peer.seq++;
        insert.run("perf:batch", peer.seq, JSON.stringify({ i, payload: payload50 }));
      }
      peer.db.exec("COMMIT");
    },
  });
}

// ---------------------------------------------------------------- P3: durable single appends

{
  const store = Store.open({ dataDir: tempDir() });
  const coord = new Coordinate("durable:entity", "bench");
  let i = 0;
  Deno.bench({
    name: "P3 append + await durable()",
    group: "P3 durable single append",
    fn: async () => {
      store.append(coord, kind, { i: i++ });
      await store.durable();
    },
  });
  rawLimitBench("P3 raw limit: write 128 B + fdatasync", "P3 durable single append");
}

// ---------------------------------------------------------------- P4: group commit

{
  const store = Store.open({ dataDir: tempDir() });
  const coords = Array.from(
    { length: CONCURRENT_WRITERS },
    (_, w) => new Coordinate(`writer:${w}`, "bench"),
  );
  let i = 0;
  Deno.bench({
    name: "P4 64 writers, each append + await durable() (64 events per iteration)",
    group: "P4 group commit",
    fn: async () => {
      await Promise.all(coords.map(async (coord) => {
        store.append(coord, kind, { i: i++ });
        await store.durable();
      }));
    },
  });
  rawLimitBench("P4 raw limit: write 128 B + fdatasync (1 event per iteration)", "P4 group commit");
}

// ---------------------------------------------------------------- P5: cold start

function buildStore(events: number, entities: number, dir: string): void {
  const store = Store.open({ dataDir: dir });
  fillEntities(store, events, entities, "open");
  store.close();
}

{
  const dir = tempDir();
  buildStore(OPEN_EVENTS, OPEN_ENTITIES, dir);
  // Only the open is timed: the close after it rewrites the image (tens of ms at 1M, P9's).
  const open = (
    b: Deno.BenchContext,
    config: { enableMmapIndex: boolean; enableCheckpoint: boolean },
    path: string,
  ) => {
    b.start();
    const store = Store.open({ dataDir: dir, ...config });
    b.end();
    const report = store.diagnostics().openReport;
    store.close();
    if (report.path !== path) throw new Error(`expected the ${path} path, got ${report.path}`);
  };
  // Closing rewrites the image, so every iteration opens the same state.
  Deno.bench({
    name: `P5 open ${OPEN_EVENTS} events from the index image`,
    group: "P5 cold start",
    n: 5,
    warmup: 1,
    fn: (b) => open(b, { enableMmapIndex: true, enableCheckpoint: true }, "image"),
  });
  Deno.bench({
    name: `P5 open ${OPEN_EVENTS} events from the checkpoint (+ tail scan)`,
    group: "P5 cold start",
    n: 5,
    warmup: 1,
    fn: (b) => open(b, { enableMmapIndex: false, enableCheckpoint: true }, "checkpoint"),
  });
  Deno.bench({
    name: `P5 open ${OPEN_EVENTS} events by full rebuild`,
    group: "P5 cold start",
    baseline: true,
    n: 3,
    warmup: 1,
    fn: (b) => open(b, { enableMmapIndex: false, enableCheckpoint: false }, "rebuild"),
  });
}

// ---------------------------------------------------------------- P9: close

{
  const dir = tempDir();
  buildStore(CLOSE_EVENTS, 1, dir);
  Deno.bench({
    name: "P9 close a 100K-event store (flush, fsync, index image)",
    group: "P9 close",
    n: 10,
    warmup: 2,
    fn: (b) => {
      const store = Store.open(dir);
      b.start();
      store.close();
      b.end();
    },
  });
}

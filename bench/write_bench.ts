/**
 * The write-path goals of TARGETS.md (P1–P4) against their peers and the
 * raw limit, interleaved: every round runs each variant once, in an order
 * that rotates from round to round, so a noisy minute hits all of them
 * alike. Prints, per workload, the median and the best (min) round of each
 * variant and the ratio of the medians, measured in this run.
 *
 *   deno run -A bench/write_bench.ts                 # all four, default rounds
 *   deno run -A bench/write_bench.ts --only p3,p4 --rounds 30
 *   deno run -A bench/write_bench.ts --json out.json # also write the samples
 *
 * - P1: 1000 single appends `{ i }` per round (one stream, and 1000 streams
 *   round-robin), the store's default sync every 1000; SQLite WAL NORMAL,
 *   one INSERT per event with `UNIQUE(stream, seq)`. The same appends on the
 *   in-memory file system show the CPU cost alone (no fsync, no disk).
 * - P2: 100 durable batches of 100 items (50-char payload) per round;
 *   SQLite WAL FULL, one transaction per batch.
 * - P3: 200 sequential `append` + `await durable()` per round; the limit is
 *   a 128-byte write + fdatasync loop on a preallocated file.
 * - P4: 64 concurrent writers, each `append` + `await durable()`, many
 *   iterations per round: events per fsync, and the latency of one
 *   iteration (median, mean, p99, max) — a stall shows in mean and p99.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  BATCH_COUNT,
  BATCH_PAYLOAD_CHARS,
  BATCH_SIZE,
  BENCH_KIND as KIND,
  openSqliteEvents,
  RAW_RECORD_BYTES,
} from "./_workloads.ts";
import { Coordinate, Store } from "../mod.ts";
import { storeInternals } from "../src/store/_internals.ts";
import { MemoryFileSystem } from "../testing.ts";
import { SEGMENT_HEADER_BYTES } from "../src/log/segment.ts";
import {
  median,
  quantile,
  runInterleaved,
  timed,
  timedAsync,
  type Variant,
} from "./_interleaved.ts";
import { US_PER_MS } from "./_deno_bench.ts";

const P1_EVENTS = 1_000;
const P1_ENTITIES = 1_000;
const DURABLE_EVENTS = 200;
const WRITERS = 64;
const P4_ITERATIONS = 200;
/** The raw loop's preallocated file (synced zeros), bytes. */
const RAW_PREALLOC_BYTES = 64 * 1024 * 1024;

const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string" },
    only: { type: "string", default: "p1,p2,p3,p4" },
    json: { type: "string" },
  },
});
const only = new Set(args.values.only.split(",").map((s) => s.trim().toLowerCase()));
const roundsArg = args.values.rounds === undefined ? undefined : Number(args.values.rounds);

const root = Deno.makeTempDirSync({ prefix: "batpak_write_bench_" });
let dirs = 0;
const dir = (label: string): string => join(root, `${label}_${++dirs}`);

function sqlite(
  path: string,
  sync: "NORMAL" | "FULL",
): { db: DatabaseSync; insert: StatementSync } {
  const db = openSqliteEvents(path, sync);
  const insert = db.prepare(
    "INSERT INTO events (stream, seq, kind, ts, payload) VALUES (?, ?, ?, ?, ?)",
  );
  return { db, insert };
}

function p1(): Variant[] {
  const one = Store.open(dir("p1_one"));
  const many = Store.open(dir("p1_many"));
  const cpu = Store.open({ dataDir: "/p1", fs: new MemoryFileSystem() });
  const manyCoords = Array.from(
    { length: P1_ENTITIES },
    (_, e) => new Coordinate(`entity:${e}`, "bench"),
  );
  const peer = sqlite(join(root, "p1.db"), "NORMAL");
  let stream = 0;
  let peerStream = 0;
  return [
    {
      name: "ours: append {i}, one stream",
      events: P1_EVENTS,
      run: () => {
        const c = new Coordinate(`one:${++stream}`, "bench");
        return timed(() => {
          for (let i = 0; i < P1_EVENTS; i++) one.append(c, KIND, { i });
        });
      },
    },
    {
      name: `ours: append {i}, ${P1_ENTITIES} streams`,
      events: P1_EVENTS,
      run: () =>
        timed(() => {
          for (let i = 0; i < P1_EVENTS; i++) many.append(manyCoords[i], KIND, { i });
        }),
    },
    {
      name: `ours: same, in-memory file system (CPU only, no fsync)`,
      events: P1_EVENTS,
      run: () =>
        timed(() => {
          for (let i = 0; i < P1_EVENTS; i++) cpu.append(manyCoords[i], KIND, { i });
        }),
    },
    {
      name: "sqlite NORMAL: INSERT per event",
      events: P1_EVENTS,
      run: () => {
        const s = `s:${++peerStream}`;
        return timed(() => {
          for (let i = 0; i < P1_EVENTS; i++) {
            peer.insert.run(s, i + 1, KIND, Date.now(), JSON.stringify({ i }));
          }
        });
      },
    },
  ];
}

function p2(): Variant[] {
  const store = Store.open(dir("p2"));
  const peer = sqlite(join(root, "p2.db"), "FULL");
  const payloads = Array.from({ length: BATCH_SIZE }, (_, i) => ({
    i,
    payload: "x".repeat(BATCH_PAYLOAD_CHARS),
  }));
  let stream = 0;
  // The disk's limit for this workload: one write of a batch's bytes + fdatasync per batch.
  const probeCoord = new Coordinate("batch:probe", "bench");
  const bytes = batchBytes(payloads.map((payload) => ({ coord: probeCoord, kind: KIND, payload })));
  const raw = rawPreallocatedLoop("raw_p2.log", 0x63, BATCH_COUNT, bytes);
  return [
    {
      name: "ours: appendBatch (fsync per batch)",
      events: BATCH_SIZE * BATCH_COUNT,
      run: () => {
        const coord = new Coordinate(`batch:${++stream}`, "bench");
        const items = payloads.map((payload) => ({ coord, kind: KIND, payload }));
        return timed(() => {
          for (let b = 0; b < BATCH_COUNT; b++) store.appendBatch(items);
        });
      },
    },
    {
      name: "sqlite FULL: BEGIN, 100 INSERT, COMMIT",
      events: BATCH_SIZE * BATCH_COUNT,
      run: () => {
        const s = `batch:${++stream}`;
        return timed(() => {
          let seq = 0;
          for (let b = 0; b < BATCH_COUNT; b++) {
            peer.db.exec("BEGIN");
            for (const p of payloads) {
              peer.insert.run(s, ++seq, KIND, Date.now(), JSON.stringify(p));
            }
            peer.db.exec("COMMIT");
          }
        });
      },
    },
    {
      name: `raw: ${bytes} B write + fdatasync per batch, preallocated (the limit)`,
      events: BATCH_SIZE * BATCH_COUNT,
      run: raw,
    },
  ];
}

/**
 * The limit for one sequential durable writer: `writes` writes of
 * `recordBytes` (default: `DURABLE_EVENTS` 128-byte records), each followed
 * by an fdatasync, into a file of synced zeros (the next run starts where
 * the last ended, from the start once it is full). Returns the run's
 * milliseconds.
 */
function rawPreallocatedLoop(
  name: string,
  fill: number,
  writes = DURABLE_EVENTS,
  recordBytes = RAW_RECORD_BYTES,
): () => number {
  const f = Deno.openSync(join(root, name), { create: true, read: true, write: true });
  f.writeSync(new Uint8Array(RAW_PREALLOC_BYTES));
  f.syncSync();
  const record = new Uint8Array(recordBytes).fill(fill);
  let at = 0;
  return () => {
    if (at + writes * recordBytes > RAW_PREALLOC_BYTES) at = 0;
    f.seekSync(at, Deno.SeekMode.Start);
    at += writes * recordBytes;
    return timed(() => {
      for (let i = 0; i < writes; i++) {
        f.writeSync(record);
        f.syncDataSync();
      }
    });
  };
}

/** Bytes one `appendBatch(items)` adds to the log (on the memory file system). */
function batchBytes(items: Parameters<Store["appendBatch"]>[0]): number {
  const fs = new MemoryFileSystem();
  const probe = Store.open({ dataDir: "/probe", fs });
  probe.appendBatch(items);
  probe.close();
  return fs.readFile("/probe/000001.fbat").length - SEGMENT_HEADER_BYTES;
}

function p3(): Variant[] {
  const store = Store.open(dir("p3"));
  const raw = rawPreallocatedLoop("raw_p3.log", 0x61);
  let stream = 0;
  return [
    {
      name: "ours: append + await durable()",
      events: DURABLE_EVENTS,
      run: () => {
        const c = new Coordinate(`durable:${++stream}`, "bench");
        return timedAsync(async () => {
          for (let i = 0; i < DURABLE_EVENTS; i++) {
            store.append(c, KIND, { i });
            await store.durable();
          }
        });
      },
    },
    {
      name: "raw: 128 B write + fdatasync, preallocated (the limit)",
      events: DURABLE_EVENTS,
      run: raw,
    },
  ];
}

/** P4's iteration latencies (ms) and fsyncs, over all rounds. */
const p4Stats = { latencies: [] as number[], events: 0, syncs: 0 };

function p4(): Variant[] {
  const store = Store.open(dir("p4"));
  const w = storeInternals(store).writer();
  const coords = Array.from({ length: WRITERS }, (_, k) => new Coordinate(`writer:${k}`, "bench"));
  const raw = rawPreallocatedLoop("raw_p4.log", 0x62);
  let i = 0;
  return [
    {
      name: `ours: ${WRITERS} writers, append + await durable() each`,
      events: WRITERS * P4_ITERATIONS,
      run: async () => {
        const syncs = w.syncCount;
        const t0 = performance.now();
        for (let it = 0; it < P4_ITERATIONS; it++) {
          const s = performance.now();
          await Promise.all(coords.map(async (c) => {
            store.append(c, KIND, { i: i++ });
            await store.durable();
          }));
          p4Stats.latencies.push(performance.now() - s);
        }
        const ms = performance.now() - t0;
        p4Stats.events += WRITERS * P4_ITERATIONS;
        p4Stats.syncs += w.syncCount - syncs;
        return ms;
      },
    },
    {
      name: "raw: 128 B write + fdatasync, preallocated (1 event per fsync)",
      events: DURABLE_EVENTS,
      run: raw,
    },
  ];
}

const WORKLOADS: Record<string, { title: string; rounds: number; build: () => Variant[] }> = {
  p1: { title: "P1 single appends (sync every 1000)", rounds: 40, build: p1 },
  p2: { title: "P2 durable batches 100×100", rounds: 10, build: p2 },
  p3: { title: "P3 append + await durable()", rounds: 20, build: p3 },
  p4: { title: `P4 ${WRITERS} concurrent durable writers`, rounds: 10, build: p4 },
};

const out: Record<string, Record<string, number[]>> = {};
console.log(`write bench, Deno ${Deno.version.deno}, ${new Date().toISOString()}`);
for (const [id, w] of Object.entries(WORKLOADS)) {
  if (!only.has(id)) continue;
  const variants = w.build();
  const ms = await runInterleaved(w.title, variants, roundsArg ?? w.rounds);
  out[id] = {};
  variants.forEach((v, k) => out[id][v.name] = ms[k]);
  if (id === "p4") {
    const l = p4Stats.latencies;
    const mean = l.reduce((a, b) => a + b, 0) / l.length;
    console.log(
      `  events per fsync ${(p4Stats.events / p4Stats.syncs).toFixed(1)}; one iteration ` +
        `(${WRITERS} events): median ${(median(l) * US_PER_MS).toFixed(0)} µs, mean ${
          (mean * US_PER_MS).toFixed(0)
        } µs, p99 ${(quantile(l, 0.99) * US_PER_MS).toFixed(0)} µs, max ${
          (Math.max(...l) * US_PER_MS).toFixed(0)
        } µs`,
    );
    out[id]["latencies"] = l;
  }
}
if (args.values.json) Deno.writeTextFileSync(args.values.json, JSON.stringify(out));
Deno.removeSync(root, { recursive: true });

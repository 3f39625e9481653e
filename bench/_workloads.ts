/**
 * What more than one bench file appends: the event kind, the P2 batch shape
 * (TARGETS.md: 100 batches × 100 items, 50-char payload), the raw
 * write+fdatasync record the durable workloads are compared with, and the
 * many-entity corpus of the open and memory benches. Defined once so that
 * the perf gates, the peers and the store benches measure the same workload.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { Coordinate, EventKind, type Region, type Store } from "../mod.ts";

/** The event kind every bench appends (custom category 0xf, type 1). */
export const BENCH_KIND: EventKind = EventKind.custom(0xf, 1);

/** Items per batch of the P2 workload. */
export const BATCH_SIZE = 100;
/** Batches per iteration of the P2 workload. */
export const BATCH_COUNT = 100;
/** Characters of the string payload of each P2 batch item. */
export const BATCH_PAYLOAD_CHARS = 50;

/** Bytes per record of the raw write+fdatasync loop (the TARGETS.md limit). */
export const RAW_RECORD_BYTES = 128;

/** Events per `appendBatch` while filling a many-entity corpus. */
const FILL_BATCH_EVENTS = 1_000;

/**
 * Append `events` events `{ i }` round-robin over `entities` entities
 * `entity:<e>` in `scope`, a thousand per batch (not timed: corpus setup).
 */
export function fillEntities(store: Store, events: number, entities: number, scope: string): void {
  const coords = Array.from({ length: entities }, (_, e) => new Coordinate(`entity:${e}`, scope));
  for (let done = 0; done < events; done += FILL_BATCH_EVENTS) {
    const n = Math.min(FILL_BATCH_EVENTS, events - done);
    store.appendBatch(Array.from({ length: n }, (_, k) => ({
      coord: coords[(done + k) % entities],
      kind: BENCH_KIND,
      payload: { i: done + k },
    })));
  }
}

/**
 * `Deno.memoryUsage()` once garbage collection has settled: V8 frees the
 * backing stores of dead ArrayBuffers lazily, so right after one `gc()` the
 * megabytes a rebuild read its segments into still count as `external`
 * (measured here: 102 B per event after one collection, 70 B once settled,
 * for the same store). Collects and yields to the event loop until
 * `heapUsed + external` stops falling (at most 20 rounds).
 */
export async function settledMemoryUsage(gc: () => void): Promise<Deno.MemoryUsage> {
  gc();
  let usage = Deno.memoryUsage();
  for (let round = 0; round < 20; round++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    gc();
    const next = Deno.memoryUsage();
    const settled = next.heapUsed + next.external >= usage.heapUsed + usage.external;
    usage = next;
    if (settled) break;
  }
  return usage;
}

/** Events per `pollBatch` in the read workloads. */
export const READ_POLL_BATCH = 4_096;

/** Every payload of `region` in `store`, through a guaranteed cursor (the peers' read workload). */
export function readPayloads(store: Store, region: Region): unknown[] {
  const out: unknown[] = [];
  const cursor = store.cursorGuaranteed(region);
  for (let batch = cursor.pollBatch(READ_POLL_BATCH); batch.length > 0;) {
    for (const ev of batch) out.push(ev.payload);
    batch = cursor.pollBatch(READ_POLL_BATCH);
  }
  return out;
}

/** Every payload of `region` by `Store.replay` (events without their id and hash texts). */
export function replayPayloads(store: Store, region: Region): unknown[] {
  const out: unknown[] = [];
  store.replay(region, (ev) => {
    out.push(ev.payload);
  });
  return out;
}

/**
 * A SQLite database (WAL, `synchronous` as given) with the peers' event
 * table: one row per event, `UNIQUE(stream, seq)`, the payload as JSON text.
 */
export function openSqliteEvents(path: string, sync: "NORMAL" | "FULL"): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync};`);
  db.exec(
    "CREATE TABLE IF NOT EXISTS events (" +
      "id INTEGER PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL, " +
      "kind INTEGER NOT NULL, ts INTEGER NOT NULL, payload TEXT NOT NULL, " +
      "UNIQUE(stream, seq))",
  );
  return db;
}

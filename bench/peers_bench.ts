/// <reference lib="deno.unstable" />
/**
 * The same workloads on our store and on two peers measured in the same run:
 * SQLite (`node:sqlite`, WAL, `synchronous` NORMAL and FULL, one table with
 * `UNIQUE(stream, seq)`) and Deno KV (local, atomic check+set per append).
 *
 * Workloads (each a `group:`, ours the baseline, so Deno prints the ratios):
 * single appends with CAS, durable batches (100 × 100, 50-char payload),
 * durable single appends (ours: `append` + `await durable()`; a raw
 * write+fdatasync loop as the limit), read one stream (1K and 100K events),
 * full scan, cold open.
 *
 * Run with the summary (medians, events/s, ratio ours/peer):
 *   deno task bench:peers
 * which is `deno run -A --unstable-kv bench/peers_bench.ts`: it runs
 * `deno bench -A --unstable-kv --json bench/peers_bench.ts`, prints a
 * markdown table and writes bench/results/peers.md and peers.json. Extra
 * arguments go to `deno bench` (`deno task bench:peers --filter read1k`).
 * Deno's own output: `deno bench -A --unstable-kv bench/peers_bench.ts`.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  benchMedian,
  type DenoBenchRun,
  MS_PER_S,
  runDenoBench,
  sampledBench,
  type Timer,
  US_PER_MS,
} from "./_deno_bench.ts";
import { fmt, reportHeading, writeResults } from "./_results.ts";
import {
  BATCH_COUNT,
  BATCH_PAYLOAD_CHARS,
  BATCH_SIZE,
  BENCH_KIND as KIND,
  openSqliteEvents,
  RAW_RECORD_BYTES,
  readPayloads,
  replayPayloads,
} from "./_workloads.ts";
import { PEER_TARGETS, type Target, targetRatio, TARGETS } from "./perf_gates/targets.ts";
import { Coordinate, Region, Store } from "../mod.ts";

/** Events per iteration of the CAS append group. */
const CAS_EVENTS = 1_000;
/** Durable single appends per iteration. */
const DURABLE_EVENTS = 200;
/** Size of the preallocated file of the raw loop, bytes (8 MiB). */
const RAW_PREALLOC_BYTES = 8 * 1024 * 1024;
/** The read corpus: one 100K-event stream and ten 1K-event streams. */
const BIG_STREAM_EVENTS = 100_000;
const SMALL_STREAMS = 10;
const SMALL_STREAM_EVENTS = 1_000;
const CORPUS_EVENTS = BIG_STREAM_EVENTS + SMALL_STREAMS * SMALL_STREAM_EVENTS;
/** KV sets per atomic commit while building the read corpus. */
const KV_FILL_CHUNK = 500;
/** Events per cursor batch when reading payloads back from our store. */

const BIG = "big";
const small = (k: number): string => `small:${String(k).padStart(2, "0")}`;

/** Groups, in print order. Each lists how many events one iteration handles. */
const GROUPS = {
  cas: { title: "single appends with CAS", events: CAS_EVENTS },
  batch: { title: "durable batches 100×100 (50-char payload)", events: BATCH_SIZE * BATCH_COUNT },
  durable: { title: "durable single appends (each awaited)", events: DURABLE_EVENTS },
  read1k: { title: "read one 1K-event stream", events: SMALL_STREAM_EVENTS },
  read100k: { title: "read one 100K-event stream", events: BIG_STREAM_EVENTS },
  scan: { title: `full scan (${CORPUS_EVENTS / 1000}K events)`, events: CORPUS_EVENTS },
  open: { title: `cold open (${CORPUS_EVENTS / 1000}K events) + read a 1K stream`, events: 0 },
} as const;
type GroupId = keyof typeof GROUPS;

/** Bench name: `peers/<group>/<who>`. */
const name = (group: GroupId, who: string): string => `peers/${group}/${who}`;

// ------------------------------------------------------------------ benches

/** A peers bench: `Deno.bench` in its group, with its timed iterations recorded. */
function bench(
  group: GroupId,
  who: string,
  options: { n?: number; warmup?: number; baseline?: boolean },
  fn: (t: Timer) => void | Promise<void>,
): void {
  sampledBench({
    name: name(group, who),
    group: GROUPS[group].title,
    // Plain `deno bench` (no --unstable-kv) skips the KV peer instead of failing.
    ignore: who.startsWith("deno kv") && typeof Deno.openKv !== "function",
    ...options,
  }, fn);
}

// ------------------------------------------------------------------- peers

type Sync = "NORMAL" | "FULL";

/** A SQLite event log used like ours: the client keeps each stream's last seq. */
class SqliteLog {
  readonly db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #stream: StatementSync;
  readonly #scan: StatementSync;
  readonly #last = new Map<string, number>();
  constructor(path: string, sync: Sync) {
    this.db = openSqliteEvents(path, sync);
    this.#insert = this.db.prepare(
      "INSERT INTO events (stream, seq, kind, ts, payload) VALUES (?, ?, ?, ?, ?)",
    );
    this.#stream = this.db.prepare("SELECT seq, payload FROM events WHERE stream = ? ORDER BY seq");
    this.#scan = this.db.prepare("SELECT stream, seq, payload FROM events ORDER BY id");
  }
  /** Insert at `expected + 1`; UNIQUE(stream, seq) rejects a stale writer. */
  append(stream: string, payload: unknown, expected = this.#last.get(stream) ?? 0): void {
    this.#insert.run(stream, expected + 1, KIND, Date.now(), JSON.stringify(payload));
    this.#last.set(stream, expected + 1);
  }
  batch(stream: string, payloads: readonly unknown[]): void {
    this.db.exec("BEGIN");
    try {
      for (const p of payloads) this.append(stream, p);
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }
  last(stream: string): number {
    return this.#last.get(stream) ?? 0;
  }
  readStream(stream: string): unknown[] {
    return (this.#stream.all(stream) as { payload: string }[]).map((r) => JSON.parse(r.payload));
  }
  scan(): unknown[] {
    return (this.#scan.all() as { payload: string }[]).map((r) => JSON.parse(r.payload));
  }
  close(): void {
    this.db.close();
  }
}

/** A Deno KV event log: `["e", stream, seq]` per event, `["head", stream]` for CAS. */
class KvLog {
  readonly #heads = new Map<string, { seq: number; versionstamp: string | null }>();
  constructor(readonly kv: Deno.Kv) {}
  static async open(path: string): Promise<KvLog> {
    return new KvLog(await Deno.openKv(path));
  }
  #head(stream: string): { seq: number; versionstamp: string | null } {
    let h = this.#heads.get(stream);
    if (!h) this.#heads.set(stream, h = { seq: 0, versionstamp: null });
    return h;
  }
  /** One atomic commit: check the head's versionstamp, set the head and the event. */
  async append(stream: string, payload: unknown): Promise<void> {
    await this.batch(stream, [payload]);
  }
  async batch(stream: string, payloads: readonly unknown[]): Promise<void> {
    const h = this.#head(stream);
    const op = this.kv.atomic().check({ key: ["head", stream], versionstamp: h.versionstamp });
    let seq = h.seq;
    for (const p of payloads) op.set(["e", stream, ++seq], p);
    op.set(["head", stream], seq);
    const res = await op.commit();
    if (!res.ok) throw new Error(`kv: CAS failed on ${stream}`);
    h.seq = seq;
    h.versionstamp = res.versionstamp;
  }
  async readStream(stream: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const e of this.kv.list({ prefix: ["e", stream] })) out.push(e.value);
    return out;
  }
  async scan(): Promise<unknown[]> {
    const out: unknown[] = [];
    for await (const e of this.kv.list({ prefix: ["e"] })) out.push(e.value);
    return out;
  }
  close(): void {
    this.kv.close();
  }
}

function expectCount(got: number, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: expected ${want} events, read ${got}`);
}

function defineBenches(): void {
  const root = Deno.makeTempDirSync({ prefix: "batpak_peers_" });
  const cleanups: (() => void)[] = [];
  let dirs = 0;
  const dir = (label: string): string => join(root, `${label}_${++dirs}`);
  const keep = <T extends { close(): void }>(x: T): T => {
    cleanups.push(() => x.close());
    return x;
  };
  const lazy = <T>(build: () => T): () => T => {
    let v: T | undefined;
    return () => (v ??= build());
  };
  const lazyAsync = <T>(build: () => Promise<T>): () => Promise<T> => {
    let v: Promise<T> | undefined;
    return () => (v ??= build());
  };

  // --- single appends with CAS: 1K events per iteration, one stream each
  {
    const ours = lazy(() => keep(Store.open(dir("ours_cas"))));
    let stream = 0;
    bench("cas", "ours: append + expectedSequence (sync every 1000)", {
      baseline: true,
      n: 40,
      warmup: 2,
    }, (t) => {
      const store = ours();
      const coord = new Coordinate(`cas:${++stream}`, "peers");
      t.start();
      for (let i = 0; i < CAS_EVENTS; i++) {
        store.append(coord, KIND, { i }, { expectedSequence: i });
      }
      t.end();
    });
    bench("cas", "ours: append, no CAS (P1 workload)", { n: 40, warmup: 2 }, (t) => {
      const store = ours();
      const coord = new Coordinate(`plain:${++stream}`, "peers");
      t.start();
      for (let i = 0; i < CAS_EVENTS; i++) store.append(coord, KIND, { i });
      t.end();
    });
    for (const sync of ["NORMAL", "FULL"] as const) {
      const log = lazy(() => keep(new SqliteLog(join(root, `cas_${sync}.db`), sync)));
      bench("cas", `sqlite ${sync}: INSERT per event, UNIQUE(stream, seq)`, {
        n: sync === "FULL" ? 15 : 40,
        warmup: 2,
      }, (t) => {
        const db = log();
        const s = `cas:${++stream}`;
        t.start();
        for (let i = 0; i < CAS_EVENTS; i++) db.append(s, { i }, i);
        t.end();
      });
    }
    const kv = lazyAsync(async () => keep(await KvLog.open(join(root, "cas.kv"))));
    bench("cas", "deno kv: atomic check+set per append", { n: 10, warmup: 1 }, async (t) => {
      const log = await kv();
      const s = `cas:${++stream}`;
      t.start();
      for (let i = 0; i < CAS_EVENTS; i++) await log.append(s, { i });
      t.end();
    });
  }

  // --- durable batches: 100 batches of 100, each durable before the next
  {
    const payloads = Array.from({ length: BATCH_SIZE }, (_, i) => ({
      i,
      payload: "x".repeat(BATCH_PAYLOAD_CHARS),
    }));
    let stream = 0;
    const ours = lazy(() => keep(Store.open(dir("ours_batch"))));
    bench("batch", "ours: appendBatch (fsync per batch)", {
      baseline: true,
      n: 10,
      warmup: 1,
    }, (t) => {
      const store = ours();
      const coord = new Coordinate(`batch:${++stream}`, "peers");
      const items = payloads.map((payload) => ({ coord, kind: KIND, payload }));
      t.start();
      for (let b = 0; b < BATCH_COUNT; b++) store.appendBatch(items);
      t.end();
    });
    for (const sync of ["FULL", "NORMAL"] as const) {
      const log = lazy(() => keep(new SqliteLog(join(root, `batch_${sync}.db`), sync)));
      const label = sync === "FULL"
        ? "sqlite FULL: BEGIN, 100 INSERT, COMMIT"
        : "sqlite NORMAL: same (WAL NORMAL does not fsync commits)";
      bench("batch", label, { n: 10, warmup: 1 }, (t) => {
        const db = log();
        const s = `batch:${++stream}`;
        t.start();
        for (let b = 0; b < BATCH_COUNT; b++) db.batch(s, payloads);
        t.end();
      });
    }
    const kv = lazyAsync(async () => keep(await KvLog.open(join(root, "batch.kv"))));
    bench("batch", "deno kv: one atomic commit per batch", { n: 6, warmup: 1 }, async (t) => {
      const log = await kv();
      const s = `batch:${++stream}`;
      t.start();
      for (let b = 0; b < BATCH_COUNT; b++) await log.batch(s, payloads);
      t.end();
    });
  }

  // --- durable single appends: each one on disk before the next
  {
    let stream = 0;
    const ours = lazy(() => keep(Store.open(dir("ours_durable"))));
    bench("durable", "ours: append + await durable()", {
      baseline: true,
      n: 20,
      warmup: 2,
    }, async (t) => {
      const store = ours();
      const coord = new Coordinate(`durable:${++stream}`, "peers");
      t.start();
      for (let i = 0; i < DURABLE_EVENTS; i++) {
        store.append(coord, KIND, { i });
        await store.durable();
      }
      t.end();
    });
    const record = new Uint8Array(RAW_RECORD_BYTES).fill(0x61);
    // The limit for one sequential writer: positional writes into a preallocated,
    // synced file, so fdatasync carries data only (our writer preallocates too).
    const preallocated = lazy(() => {
      const f = keep(Deno.openSync(join(root, "raw_prealloc.log"), {
        create: true,
        read: true,
        write: true,
      }));
      f.writeSync(new Uint8Array(RAW_PREALLOC_BYTES));
      f.syncSync();
      return { f, at: 0 };
    });
    bench("durable", "raw: 128 B write + fdatasync, preallocated (the limit)", {
      n: 20,
      warmup: 2,
    }, (t) => {
      const p = preallocated();
      if (p.at + DURABLE_EVENTS * RAW_RECORD_BYTES > RAW_PREALLOC_BYTES) p.at = 0;
      p.f.seekSync(p.at, Deno.SeekMode.Start);
      t.start();
      for (let i = 0; i < DURABLE_EVENTS; i++) {
        p.f.writeSync(record);
        p.f.syncDataSync();
      }
      t.end();
      p.at += DURABLE_EVENTS * RAW_RECORD_BYTES;
    });
    const growing = lazy(() =>
      keep(Deno.openSync(join(root, "raw_growing.log"), { create: true, append: true }))
    );
    bench("durable", "raw: 128 B append + fdatasync, growing file", {
      n: 20,
      warmup: 2,
    }, (t) => {
      const f = growing();
      t.start();
      for (let i = 0; i < DURABLE_EVENTS; i++) {
        f.writeSync(record);
        f.syncDataSync();
      }
      t.end();
    });
    const log = lazy(() => keep(new SqliteLog(join(root, "durable_FULL.db"), "FULL")));
    bench("durable", "sqlite FULL: INSERT per event (autocommit)", {
      n: 20,
      warmup: 2,
    }, (t) => {
      const db = log();
      const s = `durable:${++stream}`;
      t.start();
      for (let i = 0; i < DURABLE_EVENTS; i++) db.append(s, { i });
      t.end();
    });
    const kv = lazyAsync(async () => keep(await KvLog.open(join(root, "durable.kv"))));
    bench("durable", "deno kv: atomic commit per event", { n: 10, warmup: 1 }, async (t) => {
      const log = await kv();
      const s = `durable:${++stream}`;
      t.start();
      for (let i = 0; i < DURABLE_EVENTS; i++) await log.append(s, { i });
      t.end();
    });
  }

  // --- the read corpus: 100K events in one stream, 10 streams of 1K, same in all three
  const oursDir = join(root, "read_ours");
  const sqlitePath = join(root, "read.db");
  const kvPath = join(root, "read.kv");
  const oursCorpus = lazy(() => {
    const store = Store.open({ dataDir: oursDir, sync: { everyNEvents: 10_000 } });
    const big = new Coordinate(BIG, "peers");
    for (let i = 0; i < BIG_STREAM_EVENTS; i++) store.append(big, KIND, { i });
    for (let k = 0; k < SMALL_STREAMS; k++) {
      const c = new Coordinate(small(k), "peers");
      for (let i = 0; i < SMALL_STREAM_EVENTS; i++) store.append(c, KIND, { i });
    }
    store.close(); // writes the index image
    return keep(Store.open(oursDir));
  });
  const sqliteCorpus = lazy(() => {
    const log = new SqliteLog(sqlitePath, "NORMAL");
    log.batch(BIG, Array.from({ length: BIG_STREAM_EVENTS }, (_, i) => ({ i })));
    for (let k = 0; k < SMALL_STREAMS; k++) {
      log.batch(small(k), Array.from({ length: SMALL_STREAM_EVENTS }, (_, i) => ({ i })));
    }
    log.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return keep(log);
  });
  const kvCorpus = lazyAsync(async () => {
    const log = keep(await KvLog.open(kvPath));
    const fill = async (stream: string, count: number) => {
      for (let at = 0; at < count; at += KV_FILL_CHUNK) {
        const n = Math.min(KV_FILL_CHUNK, count - at);
        await log.batch(stream, Array.from({ length: n }, (_, j) => ({ i: at + j })));
      }
    };
    await fill(BIG, BIG_STREAM_EVENTS);
    for (let k = 0; k < SMALL_STREAMS; k++) await fill(small(k), SMALL_STREAM_EVENTS);
    return log;
  });

  const readGroup = (group: "read1k" | "read100k", stream: string, events: number, n: number) => {
    bench(group, "ours: stream() index entries (no payloads)", { n: n * 4, warmup: 3 }, (t) => {
      const store = oursCorpus();
      t.start();
      const got = store.stream(stream).length;
      t.end();
      expectCount(got, events, group);
    });
    bench(group, "ours: events with payloads (cursor)", {
      baseline: true,
      n,
      warmup: 2,
    }, (t) => {
      const store = oursCorpus();
      const region = Region.entity(stream);
      t.start();
      const got = readPayloads(store, region).length;
      t.end();
      expectCount(got, events, group);
    });
    bench(group, "ours: events with payloads (replay, no id or hash texts)", {
      n,
      warmup: 2,
    }, (t) => {
      const store = oursCorpus();
      const region = Region.entity(stream);
      t.start();
      const got = replayPayloads(store, region).length;
      t.end();
      expectCount(got, events, group);
    });
    bench(group, "sqlite: SELECT ... WHERE stream = ? ORDER BY seq", { n, warmup: 2 }, (t) => {
      const db = sqliteCorpus();
      t.start();
      const got = db.readStream(stream).length;
      t.end();
      expectCount(got, events, group);
    });
    bench(group, "deno kv: list({ prefix: [stream] })", { n, warmup: 2 }, async (t) => {
      const log = await kvCorpus();
      t.start();
      const got = (await log.readStream(stream)).length;
      t.end();
      expectCount(got, events, group);
    });
  };
  readGroup("read1k", small(0), SMALL_STREAM_EVENTS, 50);
  readGroup("read100k", BIG, BIG_STREAM_EVENTS, 10);

  bench("scan", "ours: query(Region.all()) index entries", { n: 10, warmup: 2 }, (t) => {
    const store = oursCorpus();
    t.start();
    const got = store.query(Region.all()).length;
    t.end();
    expectCount(got, CORPUS_EVENTS, "scan");
  });
  bench("scan", "ours: every event with payload (cursor)", {
    baseline: true,
    n: 10,
    warmup: 2,
  }, (t) => {
    const store = oursCorpus();
    t.start();
    const got = readPayloads(store, Region.all()).length;
    t.end();
    expectCount(got, CORPUS_EVENTS, "scan");
  });
  bench("scan", "ours: every event with payload (replay, no id or hash texts)", {
    n: 10,
    warmup: 2,
  }, (t) => {
    const store = oursCorpus();
    t.start();
    const got = replayPayloads(store, Region.all()).length;
    t.end();
    expectCount(got, CORPUS_EVENTS, "scan");
  });
  bench("scan", "sqlite: SELECT * ORDER BY id", { n: 10, warmup: 2 }, (t) => {
    const db = sqliteCorpus();
    t.start();
    const got = db.scan().length;
    t.end();
    expectCount(got, CORPUS_EVENTS, "scan");
  });
  bench("scan", "deno kv: list all", { n: 6, warmup: 1 }, async (t) => {
    const log = await kvCorpus();
    t.start();
    const got = (await log.scan()).length;
    t.end();
    expectCount(got, CORPUS_EVENTS, "scan");
  });

  // --- cold open: the corpora are closed first; each iteration opens, reads one 1K stream
  const closedCorpora = lazyAsync(async () => {
    oursCorpus().close();
    sqliteCorpus().close();
    (await kvCorpus()).close();
  });
  bench("open", "ours: Store.open (index image) + 1K stream", {
    baseline: true,
    n: 20,
    warmup: 2,
  }, async (t) => {
    await closedCorpora();
    t.start();
    const store = Store.open(oursDir);
    const got = readPayloads(store, Region.entity(small(1))).length;
    t.end();
    store.close();
    expectCount(got, SMALL_STREAM_EVENTS, "open");
  });
  bench("open", "sqlite: open + SELECT a 1K stream", { n: 20, warmup: 2 }, async (t) => {
    await closedCorpora();
    t.start();
    const db = new DatabaseSync(sqlitePath);
    const rows = db.prepare("SELECT seq, payload FROM events WHERE stream = ? ORDER BY seq")
      .all(small(1)) as { payload: string }[];
    const got = rows.map((r) => JSON.parse(r.payload)).length;
    t.end();
    db.close();
    expectCount(got, SMALL_STREAM_EVENTS, "open");
  });
  bench("open", "deno kv: openKv + list a 1K stream", { n: 20, warmup: 2 }, async (t) => {
    await closedCorpora();
    t.start();
    const log = new KvLog(await Deno.openKv(kvPath));
    const got = (await log.readStream(small(1))).length;
    t.end();
    log.close();
    expectCount(got, SMALL_STREAM_EVENTS, "open");
  });

  // Registered after the benches, so the samples file is written before cleanup runs.
  globalThis.addEventListener("unload", () => {
    for (const c of cleanups.reverse()) {
      try {
        c();
      } catch {
        // Best effort: a bench that failed may have closed it already.
      }
    }
    Deno.removeSync(root, { recursive: true });
  });
}

// ------------------------------------------------------------------- report

interface Row {
  group: GroupId;
  who: string;
  baseline: boolean;
  medianMs: number;
  /** ours median / this median, in "ours is N× faster" orientation: peer time / our time. */
  ratio: number;
  eventsPerSec: number;
  failure?: string;
}

async function report(): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  let run: DenoBenchRun;
  try {
    // Extra arguments (e.g. `--filter read1k`) go to deno bench.
    run = await runDenoBench(["bench", "-A", "--unstable-kv", "--json", ...Deno.args, self]);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
  const { report: json, samples: raw, code } = run;

  const rows: Row[] = [];
  let failures = 0;
  for (const b of json.benches) {
    const [, group, ...rest] = b.name.split("/");
    const who = rest.join("/");
    const r = b.results[0];
    if (!r || "failed" in r) {
      failures++;
      rows.push({
        group: group as GroupId,
        who,
        baseline: b.baseline === true,
        medianMs: NaN,
        ratio: NaN,
        eventsPerSec: NaN,
        failure: r && "failed" in r ? r.failed.message ?? "failed" : "no result",
      });
      continue;
    }
    const medianMs = benchMedian(r.ok, raw[b.name]).ms;
    const events = GROUPS[group as GroupId].events;
    rows.push({
      group: group as GroupId,
      who,
      baseline: b.baseline === true,
      medianMs,
      ratio: NaN,
      eventsPerSec: events ? events / (medianMs / MS_PER_S) : NaN,
    });
  }
  for (const g of Object.keys(GROUPS) as GroupId[]) {
    const inGroup = rows.filter((r) => r.group === g);
    const ours = inGroup.find((r) => r.baseline);
    for (const r of inGroup) r.ratio = ours ? r.medianMs / ours.medianMs : NaN;
  }

  const lines = [
    ...reportHeading("Peers", json),
    "Medians per iteration, one run. **ours ×** = the peer's median / our baseline's median",
    "(> 1: ours is faster). Command: `deno task bench:peers`.",
    "",
    "| workload | system | median / iter | events/s | ours × |",
    "| --- | --- | ---: | ---: | ---: |",
  ];
  for (const g of Object.keys(GROUPS) as GroupId[]) {
    for (const r of rows.filter((x) => x.group === g)) {
      const base = r.baseline;
      lines.push(
        `| ${GROUPS[g].title} | ${r.who}${base ? " (baseline)" : ""} | ${
          r.failure ? `failed: ${r.failure}` : `${fmt(r.medianMs, 3)} ms`
        } | ${fmt(r.eventsPerSec, 0)} | ${base ? "1" : fmt(r.ratio, 2)} |`,
      );
    }
  }
  lines.push("", ...targetLines(rows));
  const md = lines.join("\n") + "\n";
  console.log(md);
  const written = writeResults("peers", md, {
    runtime: json.runtime,
    cpu: json.cpu,
    rows,
    samples: raw,
  });
  console.log(`Wrote ${written} and peers.json`);
  return failures === 0 && code === 0 ? 0 : 1;
}

/** The TARGETS.md goals that compare against a peer or the raw limit, from this run. */
function targetLines(rows: Row[]): string[] {
  const find = (g: GroupId, prefix: string): Row | undefined =>
    rows.find((r) => r.group === g && r.who.startsWith(prefix) && r.failure === undefined);
  const out = [
    "| goal | measured in this run | goal | ratio to goal |",
    "| --- | --- | --- | ---: |",
  ];
  /** A higher-is-better goal; its unit is "" for a rate and "×" for a ratio to a peer. */
  const add = (what: string, value: number, target: Target): void => {
    const ratio = targetRatio(target, value);
    const unit = target.unit === "×" ? "×" : "";
    out.push(
      `| ${target.id} | ${what}: ${fmt(value, 2)}${unit} | ≥ ${fmt(target.goal)}${unit} | ${
        fmt(ratio, 2)
      }${Number.isFinite(ratio) && ratio < 1 ? " (missed)" : ""} |`,
    );
  };
  const perSec = (r?: Row): number => r?.eventsPerSec ?? NaN;
  const times = (a?: Row, b?: Row): number => (a && b ? b.medianMs / a.medianMs : NaN);
  const p1 = find("cas", "ours: append, no CAS");
  add("ours single append, events/s", perSec(p1), TARGETS.p1Append);
  add(
    "ours / SQLite NORMAL autocommit",
    times(p1, find("cas", "sqlite NORMAL")),
    PEER_TARGETS.p1VsSqliteNormal,
  );
  const p2 = find("batch", "ours:");
  add("ours 100×100 durable batches, events/s", perSec(p2), TARGETS.p2Batch);
  add(
    "ours / SQLite FULL batches",
    times(p2, find("batch", "sqlite FULL")),
    PEER_TARGETS.p2VsSqliteFull,
  );
  add(
    "ours durable appends / raw preallocated write+fdatasync",
    times(find("durable", "ours:"), find("durable", "raw: 128 B write")),
    PEER_TARGETS.p3VsRawPreallocated,
  );
  const stream1k = find("read1k", "ours: stream()");
  const stream1kUs = (stream1k?.medianMs ?? NaN) * US_PER_MS;
  const p7 = TARGETS.p7Stream;
  out.push(
    `| ${p7.id} | ours stream() of a 1K-event entity: ${fmt(stream1kUs, 1)} ${p7.unit} | ` +
      `≤ ${fmt(p7.goal)} ${p7.unit} | ${fmt(targetRatio(p7, stream1kUs), 2)} |`,
  );
  // P7 both ways: a cursor's StoredEvents, and a replay's ReplayedEvents (no id or hash texts).
  for (const [how, tag] of [["cursor", "(cursor)"], ["replay", "(replay"]] as const) {
    add(
      `ours 1K stream with payloads (${how}) / SQLite`,
      times(find("read1k", `ours: events with payloads ${tag}`), find("read1k", "sqlite")),
      PEER_TARGETS.p7Read1kVsSqlite,
    );
    add(
      `ours 100K stream with payloads (${how}) / SQLite`,
      times(find("read100k", `ours: events with payloads ${tag}`), find("read100k", "sqlite")),
      PEER_TARGETS.p7Read100kVsSqlite,
    );
    add(
      `ours full scan with payloads (${how}) / SQLite SELECT *`,
      times(find("scan", `ours: every event with payload ${tag}`), find("scan", "sqlite")),
      PEER_TARGETS.p7ScanVsSqlite,
    );
  }
  add(
    "ours cold open + 1K read / SQLite's",
    times(find("open", "ours:"), find("open", "sqlite")),
    PEER_TARGETS.p10OpenVsSqlite,
  );
  return out;
}

if (import.meta.main) {
  Deno.exit(await report());
} else {
  defineBenches();
}

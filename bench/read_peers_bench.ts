/**
 * P7 and P10 of TARGETS.md against SQLite, interleaved (see
 * `_interleaved.ts`): the peers bench's read corpus (100K events in one
 * stream, then 10 streams of 1K, `{ i }` payloads) in our store and in
 * SQLite (WAL, `UNIQUE(stream, seq)`, payload as JSON text), and per round
 * each variant once, in a rotating order. `deno task bench:peers` runs the
 * same workloads one after another (so a noisy minute can land on one side
 * only); this gives the ratio to quote.
 *
 *   deno task bench:reads                  # default rounds
 *   deno task bench:reads --rounds 30
 *
 * - read 1K / 100K: every event of one stream with its payload (ours, two
 *   ways: a guaranteed cursor, `pollBatch(4096)` as in the peers bench, whose
 *   `StoredEvent`s carry their id and hash texts; and `Store.replay`, whose
 *   events do not — both check every CRC and the hash chain; SQLite: `SELECT
 *   seq, payload ... WHERE stream = ? ORDER BY seq` + `JSON.parse` per row).
 * - full scan: every event of the store with its payload (SQLite: `SELECT`
 *   of every row `ORDER BY id` + `JSON.parse`).
 * - cold open + 1K read: open the closed store (ours: by its index image)
 *   and read a 1K stream, then close (the close is not timed).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  BENCH_KIND as KIND,
  openSqliteEvents,
  readPayloads,
  replayPayloads,
} from "./_workloads.ts";
import { Coordinate, Region, Store } from "../mod.ts";
import { median, runInterleaved, type Variant } from "./_interleaved.ts";

const BIG_EVENTS = 100_000;
const SMALL_STREAMS = 10;
const SMALL_EVENTS = 1_000;
const ALL_EVENTS = BIG_EVENTS + SMALL_STREAMS * SMALL_EVENTS;

const args = parseArgs({ args: Deno.args, options: { rounds: { type: "string" } } });
const rounds = Number(args.values.rounds ?? 15);
/** Untimed warm-up per variant and workload (see `runInterleaved`). */
const WARMUP_MS = 1_000;

const root = Deno.makeTempDirSync({ prefix: "batpak_read_peers_" });
const oursDir = join(root, "ours");
const sqlitePath = join(root, "read.db");

// The corpus, written once to both.
{
  const store = Store.open({ dataDir: oursDir, sync: { everyNEvents: 10_000 } });
  const db = openSqliteEvents(sqlitePath, "NORMAL");
  const insert = db.prepare(
    "INSERT INTO events (stream, seq, kind, ts, payload) VALUES (?, ?, ?, ?, ?)",
  );
  const write = (stream: string, n: number) => {
    const coord = new Coordinate(stream, "peers");
    db.exec("BEGIN");
    for (let i = 0; i < n; i++) {
      store.append(coord, KIND, { i });
      insert.run(stream, i + 1, KIND, Date.now(), JSON.stringify({ i }));
    }
    db.exec("COMMIT");
  };
  write("big", BIG_EVENTS);
  for (let k = 0; k < SMALL_STREAMS; k++) write(`small:${k}`, SMALL_EVENTS);
  store.close(); // writes the index image
  db.close();
}

const ours = Store.open(oursDir);
const db = new DatabaseSync(sqlitePath);
const byStream = db.prepare("SELECT seq, payload FROM events WHERE stream = ? ORDER BY seq");
const everything = db.prepare("SELECT stream, seq, payload FROM events ORDER BY id");

function expect(got: number, want: number, what: string): void {
  if (got !== want) throw new Error(`${what}: read ${got} events, expected ${want}`);
}

const sqliteRows = (rows: unknown[]) =>
  (rows as { payload: string }[]).map((r) => JSON.parse(r.payload));

/** Our two ways to read `region`'s payloads: a cursor's full events, and a replay's. */
function oursBoth(label: string, region: () => Region, events: number): Variant[] {
  const variant = (how: string, read: (s: Store, r: Region) => unknown[]): Variant => ({
    name: `ours: ${label} with payloads (${how})`,
    events,
    run: () => {
      const t0 = performance.now();
      const got = read(ours, region()).length;
      const t = performance.now() - t0;
      expect(got, events, label);
      return t;
    },
  });
  return [variant("cursor", readPayloads), variant("replay", replayPayloads)];
}

function readTrio(label: string, stream: string, events: number): Variant[] {
  return [
    ...oursBoth(label, () => Region.entity(stream), events),
    {
      name: "sqlite: SELECT ... WHERE stream = ? + JSON.parse",
      events,
      run: () => {
        const t0 = performance.now();
        const got = sqliteRows(byStream.all(stream)).length;
        const t = performance.now() - t0;
        expect(got, events, label);
        return t;
      },
    },
  ];
}

console.log(`read peers bench, Deno ${Deno.version.deno}, ${new Date().toISOString()}`);
const results: Record<string, number> = {};
const replays: Record<string, number> = {};
// The same median as the per-variant lines print (the two middle rounds' mean for an even
// count); variants are ours by cursor, ours by replay, then SQLite.
const ratio = (ms: number[][], ours: number) => median(ms[ms.length - 1]) / median(ms[ours]);
const p7 = async (key: string, title: string, variants: Variant[], n: number) => {
  const ms = await runInterleaved(title, variants, n, WARMUP_MS);
  results[key] = ratio(ms, 0);
  replays[key] = ratio(ms, 1);
};
await p7(
  "read1k",
  "P7 read a 1K-event stream",
  readTrio("1K stream", "small:1", SMALL_EVENTS),
  rounds * 4,
);
await p7(
  "read100k",
  "P7 read a 100K-event stream",
  readTrio("100K stream", "big", BIG_EVENTS),
  rounds,
);
await p7(
  "scan",
  "P7 full scan (110K events)",
  [
    ...oursBoth("every event", () => Region.all(), ALL_EVENTS),
    {
      name: "sqlite: SELECT every row ORDER BY id + JSON.parse",
      events: ALL_EVENTS,
      run: () => {
        const t0 = performance.now();
        const got = sqliteRows(everything.all()).length;
        const t = performance.now() - t0;
        expect(got, ALL_EVENTS, "scan");
        return t;
      },
    },
  ],
  rounds,
);
ours.close();
db.close();
results.open = ratio(
  await runInterleaved(
    "P10 cold open (110K events) + read a 1K stream",
    [
      {
        name: "ours: Store.open (index image) + 1K stream",
        events: 0,
        run: () => {
          const t0 = performance.now();
          const store = Store.open(oursDir);
          const got = readPayloads(store, Region.entity("small:1")).length;
          const t = performance.now() - t0;
          store.close();
          expect(got, SMALL_EVENTS, "open");
          return t;
        },
      },
      {
        name: "sqlite: open + SELECT a 1K stream + JSON.parse",
        events: 0,
        run: () => {
          const t0 = performance.now();
          const peer = new DatabaseSync(sqlitePath);
          const got = sqliteRows(
            peer.prepare("SELECT seq, payload FROM events WHERE stream = ? ORDER BY seq").all(
              "small:1",
            ),
          ).length;
          const t = performance.now() - t0;
          peer.close();
          expect(got, SMALL_EVENTS, "open");
          return t;
        },
      },
    ],
    rounds * 2,
    WARMUP_MS,
  ),
  0,
);
console.log(
  `\nP7 (goal ≥ 2× SQLite each), by cursor (StoredEvent): 1K stream ${
    results.read1k.toFixed(2)
  }×, 100K stream ${results.read100k.toFixed(2)}×, full scan ${results.scan.toFixed(2)}×` +
    `; by replay (ReplayedEvent): 1K stream ${replays.read1k.toFixed(2)}×, 100K stream ${
      replays.read100k.toFixed(2)
    }×, full scan ${replays.scan.toFixed(2)}×`,
);
console.log(
  `P10 (goal ≥ 0.33×, i.e. ≤ 3× SQLite's time): ${results.open.toFixed(2)}×`,
);
Deno.removeSync(root, { recursive: true });

/**
 * `deno task bench:browser` (P13): the store on OPFS against IndexedDB in one
 * worker of one headless Chromium page — appends (IndexedDB: one readwrite
 * transaction per event, and 1000 per transaction), durable batches (100 x
 * 100; IndexedDB with `durability: "strict"`), reads with payloads (the
 * first read of a 20K-event stream, cold, and the median of warm rounds;
 * IndexedDB: `getAll` of the same events), and point reads by id (the
 * store's `get`; IndexedDB's `get` by key, all in one transaction), in
 * order and shuffled. The store's reads run twice on the same files: with
 * the OPFS pool's read-ahead (the default) and without (`readAheadBytes: 0`),
 * and once more by `Store.replay` (events without id and hash texts).
 * Prints the medians of a few runs and their ratios, writes
 * bench/results/browser.json. `BENCH_RUNS` (default 5) sets the runs.
 * Each phase runs in a fresh worker, so each starts with a cold JIT.
 *
 * @module
 */

import { chromiumOrSkip, startBrowser } from "../../tests/browser/_harness.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 5);
const chromium = chromiumOrSkip("bench/browser/run.ts");
if (chromium === undefined) Deno.exit(0);
const session = await startBrowser({
  chromium,
  entries: { bench: new URL("./_bench_worker.ts", import.meta.url).pathname },
});
const OPTIONS = {
  appends: 20_000,
  idbSingle: 1_000,
  batches: 100,
  batchItems: 100,
  readRounds: 5,
  gets: 5_000,
};
const runs: Record<string, number>[] = [];
try {
  const page = await session.page();
  /** Call `name` in a fresh worker (every phase starts equally cold). */
  const inFreshWorker = async (name: string, ...args: unknown[]) => {
    const worker = await page.spawn("bench");
    try {
      return await worker.call<Record<string, number>>(name, ...args);
    } finally {
      await worker.terminate();
    }
  };
  for (let r = 0; r < RUNS; r++) {
    const tag = crypto.randomUUID();
    const results = await inFreshWorker("write", tag, OPTIONS);
    // Read-ahead on and off alternate which goes first, run by run.
    for (const readAheadBytes of r % 2 === 0 ? [undefined, 0] : [0, undefined]) {
      Object.assign(results, await inFreshWorker("reads", tag, OPTIONS, readAheadBytes));
    }
    Object.assign(results, await inFreshWorker("replays", tag, OPTIONS));
    await inFreshWorker("drop", tag);
    Object.assign(results, await inFreshWorker("idb", tag, OPTIONS));
    runs.push(results);
  }
  await page.assertClean();
} finally {
  await session.close();
}
const median = (key: string) => {
  const v = runs.map((r) => r[key]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const keys = Object.keys(runs[0]).filter((k) => k !== "events");
const medians = Object.fromEntries(keys.map((k) => [k, median(k)]));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const counters = new Set(["readAheadHits", "readAheadFills", "readDirect"]);
for (const k of keys) {
  console.log(`${k.padEnd(36)} ${fmt(medians[k]).padStart(12)}${counters.has(k) ? "" : " /s"}`);
}
const ratios = {
  appendsVsIdbOneTxPerEvent: medians.opfsAppendsPerS / medians.idbOneTxPerEventPerS,
  appendsVsIdbBatched: medians.opfsAppendsPerS / medians.idbBatchedPerS,
  durableBatchesVsIdbStrict: medians.opfsDurableBatchEventsPerS / medians.idbDurableBatchEventsPerS,
  readsVsIdbGetAll: medians.opfsReadEventsPerS / medians.idbReadEventsPerS,
  coldReadsVsIdbGetAll: medians.opfsReadColdEventsPerS / medians.idbReadColdEventsPerS,
  replaysVsIdbGetAll: medians.opfsReplayEventsPerS / medians.idbReadEventsPerS,
  coldReplaysVsIdbGetAll: medians.opfsReplayColdEventsPerS / medians.idbReadColdEventsPerS,
  getsVsIdbGet: medians.opfsGetPerS / medians.idbGetPerS,
  shuffledGetsVsIdbGet: medians.opfsGetShuffledPerS / medians.idbGetShuffledPerS,
  readAheadGets: medians.opfsGetPerS / medians.opfsGetPerSNoReadAhead,
  readAheadShuffledGets: medians.opfsGetShuffledPerS / medians.opfsGetShuffledPerSNoReadAhead,
  readAheadReads: medians.opfsReadEventsPerS / medians.opfsReadEventsPerSNoReadAhead,
};
console.log("ratios (P13: appends >= 10x IndexedDB one tx/event, reads >= 3x):");
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(30)} ${v.toFixed(2)}x`);
const dir = new URL("../results/", import.meta.url).pathname;
Deno.mkdirSync(dir, { recursive: true });
Deno.writeTextFileSync(
  `${dir}browser.json`,
  JSON.stringify({ runs: RUNS, medians, ratios, at: new Date().toISOString() }, null, 2),
);

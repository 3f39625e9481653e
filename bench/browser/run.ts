/**
 * `deno task bench:browser` (P13): the store on OPFS against IndexedDB in one
 * worker of one headless Chromium page — appends (IndexedDB: one readwrite
 * transaction per event, and 1000 per transaction), durable batches (100 x
 * 100; IndexedDB with `durability: "strict"`), reads with payloads. Prints
 * the medians of a few runs and their ratios, writes bench/results/browser.json.
 *
 * @module
 */

import { chromiumOrSkip, startBrowser } from "../../tests/browser/_harness.ts";

const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 3);
const chromium = chromiumOrSkip("bench/browser/run.ts");
if (chromium === undefined) Deno.exit(0);
const session = await startBrowser({
  chromium,
  entries: { bench: new URL("./_bench_worker.ts", import.meta.url).pathname },
});
const runs: Record<string, number>[] = [];
try {
  const page = await session.page();
  for (let r = 0; r < RUNS; r++) {
    const worker = await page.spawn("bench");
    runs.push(
      await worker.call("run", {
        appends: 20_000,
        idbSingle: 1_000,
        batches: 100,
        batchItems: 100,
      }),
    );
    await worker.terminate();
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
for (const k of keys) console.log(`${k.padEnd(32)} ${fmt(medians[k]).padStart(12)} /s`);
const ratios = {
  appendsVsIdbOneTxPerEvent: medians.opfsAppendsPerS / medians.idbOneTxPerEventPerS,
  appendsVsIdbBatched: medians.opfsAppendsPerS / medians.idbBatchedPerS,
  durableBatchesVsIdbStrict: medians.opfsDurableBatchEventsPerS / medians.idbDurableBatchEventsPerS,
  readsVsIdbGetAll: medians.opfsReadEventsPerS / medians.idbReadEventsPerS,
};
console.log("ratios (P13: appends >= 10x IndexedDB one tx/event, reads >= 3x):");
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(30)} ${v.toFixed(1)}x`);
const dir = new URL("../results/", import.meta.url).pathname;
Deno.mkdirSync(dir, { recursive: true });
Deno.writeTextFileSync(
  `${dir}browser.json`,
  JSON.stringify({ runs: RUNS, medians, ratios, at: new Date().toISOString() }, null, 2),
);

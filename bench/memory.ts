/**
 * P8: bytes of heap (JS heap + ArrayBuffers) per indexed event, at 1M events
 * across 1000 entities, for each open path.
 *
 *   deno task bench:memory            (BATPAK_BENCH_EVENTS changes the size)
 *
 * Each measurement runs in a fresh child process: garbage collection is
 * forced (until it settles) before and after `Store.open`, and again after
 * one `get` by id (which builds the id table an open by rebuild leaves for
 * its first use), and again once every part of the index is in memory (an
 * index image is read as it is used: its open reads the head and last page
 * only); the difference in `heapUsed + external` is divided by the event
 * count. The goal is checked against the last.
 */

import { fillEntities, settledMemoryUsage } from "./_workloads.ts";
import { Region, Store } from "../mod.ts";
import { storeInternals } from "../src/store/_internals.ts";

const EVENTS = Number(Deno.env.get("BATPAK_BENCH_EVENTS") ?? 1_000_000);
const ENTITIES = 1000;
/** TARGETS.md P8. */
const GOAL_BYTES_PER_EVENT = 64;

if (Deno.args[0] === "--measure") {
  const [, dir, path] = Deno.args;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("the child needs --v8-flags=--expose-gc");
  const before = await settledMemoryUsage(gc);
  const store = Store.open({
    dataDir: dir,
    enableSidecarImage: path === "image",
    enableCheckpoint: path === "checkpoint",
  });
  const after = await settledMemoryUsage(gc);
  const events = store.diagnostics().events;
  const bytes = (after.heapUsed + after.external) - (before.heapUsed + before.external);
  // After a scan the id table is built at the first lookup by id: the index as a store serving
  // `get` holds it.
  store.get(store.queryAfter(Region.all(), 0, 1)[0].eventId);
  const served = await settledMemoryUsage(gc);
  const bytesServed = (served.heapUsed + served.external) - (before.heapUsed + before.external);
  // Every page and posting list of an image read lazily: the index as a store serving every
  // stream holds it.
  storeInternals(store).index.readAll();
  const whole = await settledMemoryUsage(gc);
  const bytesWhole = (whole.heapUsed + whole.external) - (before.heapUsed + before.external);
  const opened = store.diagnostics().openReport.path;
  console.log(JSON.stringify({ path: opened, events, bytes, bytesServed, bytesWhole }));
  Deno.exit(0);
}

const dir = Deno.makeTempDirSync({ prefix: "batpak-mem-" });
const store = Store.open({ dataDir: dir });
fillEntities(store, EVENTS, ENTITIES, "mem");
store.close();

for (const path of ["image", "rebuild"]) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, "--measure", dir, path],
    stderr: "inherit",
  }).outputSync();
  if (!out.success) throw new Error(`measuring the ${path} path failed`);
  const r = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    path: string;
    events: number;
    bytes: number;
    bytesServed: number;
    bytesWhole: number;
  };
  // The goal is checked against the whole index in memory, id table included.
  const perEvent = r.bytesWhole / r.events;
  console.log(
    `P8 ${r.events} events, open path ${r.path}: ${perEvent.toFixed(1)} bytes/event with every ` +
      `part in memory (${(r.bytes / r.events).toFixed(1)} right after the open, ${
        (r.bytesServed / r.events).toFixed(1)
      } after a get by id; goal ≤ ${GOAL_BYTES_PER_EVENT}; ${
        (perEvent / GOAL_BYTES_PER_EVENT).toFixed(2)
      } of the budget)`,
  );
}
Deno.removeSync(dir, { recursive: true });

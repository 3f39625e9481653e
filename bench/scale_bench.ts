/**
 * The cost curve: one store grown 100K → 1M → 5M events (1000 entities,
 * 12-byte payloads) and, at each size, the append rate, the open time per
 * path (index image, checkpoint, full rebuild), heap and RSS per event after
 * an image open with every part of the index read, the full-scan rate with payloads, the cold open + first
 * read of a 1K-event stream, and bytes on disk per event.
 *
 *   deno task bench:scale                  (sizes: 100K, 1M, 5M)
 *   deno task bench:scale --sizes 100000,1000000
 *
 * Every measurement runs in a fresh child process (heap figures need a
 * forced GC; open times need a cold process). Writes bench/results/scale.md
 * and scale.json. Timings on a shared 2-core machine are noisy: read the
 * shape of the curve, and the ratio between sizes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Coordinate, EventKind, Region, Store } from "../mod.ts";
import { storeInternals } from "../src/store/_internals.ts";
import { fmt, writeResults } from "./_results.ts";
import { settledMemoryUsage } from "./_workloads.ts";

const ENTITIES = 1000;
const KIND = EventKind.custom(0xf, 2);
/** `{ v: "abcdefgh" }`: 12 bytes of MessagePack (fixmap, fixstr key, fixstr value). */
const PAYLOAD = { v: "abcdefgh" };
const SCAN_BATCH = 1000;

interface Measure {
  appendEventsPerS?: number;
  openMs?: number;
  path?: string;
  heapBytesPerEvent?: number;
  rssBytesPerEvent?: number;
  scanEventsPerS?: number;
  coldOpenRead1kMs?: number;
}

const coords = Array.from({ length: ENTITIES }, (_, e) => new Coordinate(`entity:${e}`, "scale"));

/** Child: append events `from+1 .. to` (single appends, default sync), report the rate. */
function childFill(dir: string, from: number, to: number): Measure {
  const store = Store.open(dir);
  if (store.diagnostics().events !== from) throw new Error(`expected ${from} events in ${dir}`);
  const t0 = performance.now();
  for (let i = from; i < to; i++) store.append(coords[i % ENTITIES], KIND, PAYLOAD);
  store.sync();
  const ms = performance.now() - t0;
  store.close(); // writes the index image (and the checkpoint when one is due)
  return { appendEventsPerS: ((to - from) / ms) * 1000 };
}

/** Child: open by `path`, and for the image path measure memory, a full scan and a 1K read. */
async function childOpen(dir: string, path: string): Promise<Measure> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("the child needs --v8-flags=--expose-gc");
  const before = await settledMemoryUsage(gc);
  const t0 = performance.now();
  const store = Store.open({
    dataDir: dir,
    enableSidecarImage: path === "image",
    enableCheckpoint: path === "checkpoint",
    readOnly: true,
  });
  const openMs = performance.now() - t0;
  const m: Measure = { openMs, path: store.diagnostics().openReport.path };
  if (path === "image") {
    const read = store.readStream(`entity:${ENTITIES >> 1}`).length;
    m.coldOpenRead1kMs = performance.now() - t0;
    if (read === 0) throw new Error("nothing read");
    // An image is read as it is used: the heap figure is the index's with every part in memory.
    storeInternals(store).index.readAll();
    const after = await settledMemoryUsage(gc);
    const events = store.diagnostics().events;
    m.heapBytesPerEvent = (after.heapUsed + after.external - before.heapUsed - before.external) /
      events;
    m.rssBytesPerEvent = (after.rss - before.rss) / events;
    const s0 = performance.now();
    const cursor = store.cursorGuaranteed(Region.all());
    let n = 0;
    for (let b = cursor.pollBatch(SCAN_BATCH); b.length > 0; b = cursor.pollBatch(SCAN_BATCH)) {
      n += b.length;
    }
    m.scanEventsPerS = (n / (performance.now() - s0)) * 1000;
  }
  store.close();
  return m;
}

function child(args: string[]): Measure {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", import.meta.filename!, "--child", ...args],
    stderr: "inherit",
  }).outputSync();
  if (!out.success) throw new Error(`child ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function dirBytes(dir: string): { segments: number; sidecars: number } {
  let segments = 0;
  let sidecars = 0;
  for (const f of Deno.readDirSync(dir)) {
    const size = Deno.statSync(`${dir}/${f.name}`).size;
    if (f.name.endsWith(".fbat")) segments += size;
    else sidecars += size;
  }
  return { segments, sidecars };
}

if (Deno.args[0] === "--child") {
  const [, what, dir, a, b] = Deno.args;
  const m = what === "fill" ? childFill(dir, Number(a), Number(b)) : await childOpen(dir, a);
  console.log(JSON.stringify(m));
  Deno.exit(0);
}

const { values } = parseArgs({
  args: Deno.args,
  options: { sizes: { type: "string", default: "100000,1000000,5000000" } },
});
const sizes = values.sizes!.split(",").map(Number).sort((x, y) => x - y);
const dir = Deno.makeTempDirSync({ prefix: "batpak-scale-" });
const rows: Record<string, number | string | undefined>[] = [];
try {
  let have = 0;
  for (const size of sizes) {
    const fill = child(["fill", dir, String(have), String(size)]);
    have = size;
    const image = child(["open", dir, "image"]);
    const checkpoint = child(["open", dir, "checkpoint"]);
    const rebuild = child(["open", dir, "rebuild"]);
    const bytes = dirBytes(dir);
    const row = {
      events: size,
      appendEventsPerS: fill.appendEventsPerS,
      imageOpenMs: image.openMs,
      checkpointOpenMs: checkpoint.path === "checkpoint" ? checkpoint.openMs : undefined,
      rebuildOpenMs: rebuild.openMs,
      rebuildEventsPerS: size / rebuild.openMs! * 1000,
      coldOpenRead1kMs: image.coldOpenRead1kMs,
      heapBytesPerEvent: image.heapBytesPerEvent,
      rssBytesPerEvent: image.rssBytesPerEvent,
      scanEventsPerS: image.scanEventsPerS,
      diskBytesPerEvent: bytes.segments / size,
      sidecarBytesPerEvent: bytes.sidecars / size,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  Deno.removeSync(dir, { recursive: true });
}

const header = [
  "events",
  "append/s",
  "open: image",
  "checkpoint",
  "rebuild (events/s)",
  "cold open + 1K read",
  "heap B/event",
  "RSS B/event",
  "full scan/s",
  "log B/event",
  "sidecars B/event",
];
const ms = (v: unknown) => (typeof v === "number" ? `${fmt(v, 1)} ms` : "—");
const md = [
  "# Scale",
  "",
  `Deno ${Deno.version.deno}, ${new Date().toISOString()}, one store grown through the sizes ` +
  `(1000 entities, 12-byte payloads). Command: \`deno task bench:scale\`.`,
  "",
  `| ${header.join(" | ")} |`,
  `| ${header.map(() => "---:").join(" | ")} |`,
  ...rows.map((r) =>
    `| ${
      [
        fmt(r.events as number, 0),
        fmt(r.appendEventsPerS as number, 0),
        ms(r.imageOpenMs),
        ms(r.checkpointOpenMs),
        `${ms(r.rebuildOpenMs)} (${fmt(r.rebuildEventsPerS as number, 0)})`,
        ms(r.coldOpenRead1kMs),
        fmt(r.heapBytesPerEvent as number, 1),
        fmt(r.rssBytesPerEvent as number, 1),
        fmt(r.scanEventsPerS as number, 0),
        fmt(r.diskBytesPerEvent as number, 1),
        fmt(r.sidecarBytesPerEvent as number, 1),
      ].join(" | ")
    } |`
  ),
  "",
];
console.log(md.join("\n"));
writeResults("scale", md.join("\n"), rows);

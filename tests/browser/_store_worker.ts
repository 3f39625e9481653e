// Worker entry of tests/browser/store_test.ts: the conformance suite against the embedded Store
// on OPFS, and a store driven step by step (writes that report what is durable, torn tails,
// open paths), called by name from the Deno side.
import { Coordinate } from "../../src/core/coordinate.ts";
import { EventKind } from "../../src/core/kind.ts";
import type { EventStore } from "../../src/core/types.ts";
import { OpfsFileSystem } from "../../src/fs/opfs.ts";
import { Store } from "../../src/store/store.ts";
import { CONFORMANCE_CASES, newContext } from "../conformance/cases.ts";
import { report, serve } from "./_worker_runtime.ts";

const FEATURES = { gaplessGlobalSequence: true, concurrentHandles: false };
const KIND = EventKind.custom(1, 1);
let fs: OpfsFileSystem | undefined;
let store: Store | undefined;

async function dropPool(name: string): Promise<void> {
  const root = await (navigator as unknown as {
    storage: {
      getDirectory(): Promise<{ removeEntry(n: string, o: { recursive: boolean }): Promise<void> }>;
    };
  }).storage.getDirectory();
  await root.removeEntry(name, { recursive: true });
}

function open(): Store {
  if (store === undefined) throw new Error("no store open in this worker");
  return store;
}

serve({
  conformanceNames: () => CONFORMANCE_CASES.map((c) => c.name),

  async conformance(name: string) {
    const c = CONFORMANCE_CASES.find((c) => c.name === name)!;
    const ctx = newContext(FEATURES);
    const pool = `conf-${crypto.randomUUID()}`;
    const fs = await OpfsFileSystem.open(pool);
    try {
      await c.run(
        () =>
          Promise.resolve(Store.open({ dataDir: "/db", fs, clock: ctx.clock.now }) as EventStore),
        ctx,
      );
    } finally {
      fs.close();
      await fs.settled();
      await dropPool(pool);
    }
  },

  async openStore(pool: string, config: Record<string, unknown> = {}, lockWaitMs = 5_000) {
    fs = await OpfsFileSystem.open(pool, { lockWaitMs });
    store = Store.open({ dataDir: "/", ...config, fs }) as Store;
    return store.diagnostics();
  },

  /** Append `count` events of `size`-byte payloads, `durable()` every `every`; reports each. */
  async write(entity: string, count: number, every: number, size = 32) {
    const s = open();
    const coord = new Coordinate(entity, "s");
    const fill = "x".repeat(size);
    let last = 0;
    for (let i = 1; i <= count; i++) {
      last = s.append(coord, KIND, { i, fill }).globalSequence;
      if (i % every === 0) {
        await s.durable();
        report({ durable: last });
      }
    }
    await s.durable();
    report({ durable: last });
    return last;
  },

  /** Write forever (until the page dies), `durable()` after each batch of `every`. */
  async writeForever(entity: string, every: number) {
    const s = open();
    const coord = new Coordinate(entity, "s");
    for (let i = 1;; i++) {
      const last = s.append(coord, KIND, { i, fill: "y".repeat(100) }).globalSequence;
      if (i % every === 0) {
        await s.durable();
        report({ durable: last });
      }
    }
  },

  /** Append garbage after the last frame of the active segment: a torn write. */
  tearTail(bytes: number) {
    const s = open();
    const segments = fs!.readDir("/").filter((n) => n.endsWith(".fbat")).sort();
    const path = `/${segments[segments.length - 1]}`;
    s.sync();
    const h = fs!.open(path, { read: true, write: true });
    const end = s.diagnostics().events > 0 ? h.size() : h.size();
    h.write(new Uint8Array(bytes).fill(0xab), end);
    h.syncData();
    h.close();
    return { path, end };
  },

  check() {
    const s = open();
    const d = s.diagnostics();
    const v = s.verify();
    return {
      diagnostics: d,
      verify: { ok: v.ok, eventsChecked: v.eventsChecked, problems: v.problems },
    };
  },

  lastSequence: (entity: string) => open().lastSequence(entity),

  readStream: (entity: string) =>
    open().readStream(entity).map((e) => (e.payload as { i: number }).i),

  append(entity: string, size: number) {
    return open().append(new Coordinate(entity, "s"), KIND, { fill: "z".repeat(size) })
      .globalSequence;
  },

  async snapshot(dest: string) {
    await fs!.reserve(open().diagnostics().segments + 4);
    open().snapshot(dest);
    const copy = Store.open({ dataDir: dest, fs: fs!, readOnly: true } as never) as Store;
    try {
      const v = copy.verify();
      return { events: copy.diagnostics().events, ok: v.ok };
    } finally {
      copy.close();
    }
  },

  close() {
    store?.close();
    fs?.close();
    store = undefined;
  },

  drop: (pool: string) => dropPool(pool),
});

/**
 * The conformance suite against the embedded `Store`: on a temporary
 * directory with the real file system, and on the in-memory file system.
 * A reopen within a case opens the same directory (or the same memory file
 * system, as it is: a clean close leaves everything in it).
 */

import { DenoFileSystem, Store } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import type { EventStore } from "../../src/core/types.ts";
import { CONFORMANCE_CASES, newContext } from "./cases.ts";

const FEATURES = { gaplessGlobalSequence: true, concurrentHandles: false };

for (const c of CONFORMANCE_CASES) {
  Deno.test(`conformance (embedded, files): ${c.name}`, async () => {
    const ctx = newContext(FEATURES);
    const dir = await Deno.makeTempDir({ prefix: "batpak-conformance-" });
    const fs = new DenoFileSystem();
    try {
      await c.run(
        () => Promise.resolve(Store.open({ dataDir: dir, fs, clock: ctx.clock.now }) as EventStore),
        ctx,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test(`conformance (embedded, memory): ${c.name}`, async () => {
    const ctx = newContext(FEATURES);
    const fs = new MemoryFileSystem();
    await c.run(
      () => Promise.resolve(Store.open({ dataDir: "/db", fs, clock: ctx.clock.now }) as EventStore),
      ctx,
    );
  });
}

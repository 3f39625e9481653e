/**
 * The id table: built event by event, grown by doubling, built in bulk
 * at its size after a replay, or brought up to date after a deferred tail —
 * every way must hold each event exactly once, where `findId` finds it.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Index } from "../../src/index/index.ts";
import type { IdWords } from "../../src/core/ids.ts";

/** An index of `n` events with ids from `seed` (low words random: the table hashes the last). */
function indexOf(
  n: number,
  seed: number,
  defer?: { at: number },
): { index: Index; ids: IdWords[] } {
  const index = new Index();
  index.entities.intern("e");
  index.scopes.intern("s");
  let x = seed >>> 0 || 1;
  const next = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0);
  const ids: IdWords[] = [];
  for (let g = 1; g <= n; g++) {
    if (defer && g === defer.at) index.deferIds();
    const id: IdWords = [0x01900000, 0x70000000 + g, next(), next()];
    ids.push(id);
    index.add(1, 16 + 64 * g, 64, 0, 0, 1, 0x01900000 * 0x10000, id);
  }
  return { index, ids };
}

function assertTable(index: Index, ids: IdWords[]): void {
  const table = index.idTable;
  const seen = new Set<number>();
  for (const g of table) {
    if (g === 0) continue;
    assert.ok(g >= 1 && g <= ids.length, `slot names ${g}`);
    assert.ok(!seen.has(g), `${g} twice`);
    seen.add(g);
  }
  assert.equal(seen.size, ids.length, "every event once");
  assert.ok(table.length >= ids.length * 2, "at most half full");
  ids.forEach((id, k) => assert.equal(index.findId(id), k + 1));
  assert.equal(index.findId([1, 2, 3, 4]), 0);
}

Deno.test("id table: grown by doubling, every event is found", () => {
  const { index, ids } = indexOf(20_000, 7);
  assertTable(index, ids);
});

Deno.test("id table: deferred from any point, then built on first use, every event is found", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 12_000 }),
      fc.integer({ min: 1, max: 12_001 }),
      fc.integer(),
      (n, at, seed) => {
        const { index, ids } = indexOf(n, seed, { at });
        assertTable(index, ids); // findId/idTable bring it up to date
        // Appends after the deferral ended insert as usual.
        index.add(1, 0, 64, 0, 0, 1, 0, [0x01900000, 0x7fff0000, 5, 9]);
        assert.equal(index.findId([0x01900000, 0x7fff0000, 5, 9]), n + 1);
      },
    ),
    { numRuns: 40 },
  );
});

Deno.test("id table: rebuildDerived leaves it to be built in bulk, with the postings at once", () => {
  const { index, ids } = indexOf(70_000, 11);
  index.rebuildDerived();
  assert.equal(index.entities.postings[0].length, 70_000);
  assertTable(index, ids);
});

Deno.test("id table after a checkpoint or rebuild open: built at the first lookup, appends before it found too", async () => {
  const { Coordinate, EventKind, Store } = await import("../../mod.ts");
  const { MemoryFileSystem } = await import("../../testing.ts");
  const kind = EventKind.custom(1, 1);
  for (const path of ["rebuild", "checkpoint"] as const) {
    const fs = new MemoryFileSystem();
    const config = {
      dataDir: "/db",
      fs,
      segmentMaxBytes: 1024 * 1024, // rotations: checkpoints get written
      enableMmapIndex: false,
      enableCheckpoint: path === "checkpoint",
    };
    const ids: string[] = [];
    let store = Store.open(config);
    // Past CHECKPOINT_EVERY_EVENTS_MIN (65,536), so a checkpoint is written at a rotation.
    for (let b = 0; b < 70; b++) {
      const items = Array.from({ length: 1_000 }, (_, i) => ({
        coord: new Coordinate(`e${i % 7}`, "s"),
        kind,
        payload: { b, i },
      }));
      for (const r of store.appendBatch(items)) ids.push(r.eventId);
    }
    store.close(); // no image (switched off): the next open scans
    store = Store.open({ ...config, enableMmapIndex: true });
    assert.equal(store.diagnostics().openReport.path, path);
    // Appends before the table exists, then lookups of old and new events alike.
    for (let i = 0; i < 500; i++) {
      ids.push(store.append(new Coordinate("late", "s"), kind, { i }).eventId);
    }
    for (let k = 0; k < ids.length; k += 997) assert.equal(store.get(ids[k]).eventId, ids[k]);
    assert.equal(store.get(ids[ids.length - 1]).eventId, ids[ids.length - 1]);
    // Appends after it was built are inserted as they come.
    const after = store.append(new Coordinate("late", "s"), kind, {}).eventId;
    assert.equal(store.get(after).eventId, after);
    store.close();
    // The image written at close holds the table: it opens by the image and finds every event.
    const reopened = Store.open({ ...config, enableMmapIndex: true });
    assert.equal(reopened.diagnostics().openReport.path, "image");
    for (let k = 0; k < ids.length; k += 1_009) assert.equal(reopened.get(ids[k]).eventId, ids[k]);
    assert.equal(reopened.get(after).eventId, after);
    reopened.close();
  }
});

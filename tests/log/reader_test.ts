import assert from "node:assert/strict";
import { Coordinate, EventKind, Store, StoreError } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";

const KIND = EventKind.custom(1, 1);

Deno.test("a failed read is a typed IO_ERROR; the next read succeeds and the writer stays healthy", () => {
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: "/db", fs });
  const coord = new Coordinate("a", "s");
  const { eventId } = store.append(coord, KIND, { n: 1 });
  store.sync(); // flushed: the next get reads the file, not the write buffer
  let failNext = true;
  fs.setFaultInjector((op) => {
    if (op.kind === "read" && op.path.endsWith(".fbat") && failNext) {
      failNext = false;
      return { error: "EIO" };
    }
    return undefined;
  });
  let e: unknown;
  try {
    store.get(eventId);
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof StoreError, `a StoreError, got ${e}`);
  assert.equal(e.code, "IO_ERROR");
  assert.match(e.message, /000001\.fbat/);
  assert.deepEqual(store.get(eventId).payload, { n: 1 });
  assert.equal(store.append(coord, KIND, { n: 2 }).sequence, 2);
  store.close();
});

/**
 * Named cursor positions (`saveCursor` / `loadCursor`, kept in `cursors.dat`):
 * they survive reopen on every open path and a crash after a durable save;
 * bad names and positions are refused.
 */

import assert from "node:assert/strict";
import { Coordinate, InvalidArgumentError, Region, Store, StoreClosedError } from "../../mod.ts";
import { DIR, K1, memStore } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

Deno.test("named cursors: save, load, survive reopen on every open path", async () => {
  for (const config of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const { store, open } = memStore(config);
    assert.equal(store.loadCursor("mailer"), undefined);
    for (let i = 0; i < 6; i++) store.append(new Coordinate("job", "jobs"), K1, i);
    store.saveCursor("mailer", 3);
    store.saveCursor("audit", 0);
    store.saveCursor("mailer", 4);
    assert.equal(store.loadCursor("mailer"), 4);
    assert.equal(store.loadCursor("audit"), 0);
    const events = store.diagnostics().events;
    store.saveCursor("mailer", 4); // unchanged: writes nothing
    assert.equal(store.diagnostics().events, events);
    await store.durable();
    store.close();
    const again = open();
    assert.equal(again.loadCursor("mailer"), 4);
    assert.equal(again.loadCursor("audit"), 0);
    assert.equal(again.loadCursor("other"), undefined);
    const resumed = again.cursorGuaranteed(Region.entity("job"), {
      after: again.loadCursor("mailer"),
    });
    assert.deepEqual(resumed.pollBatch(10).map((e) => e.payload), [4, 5]);
    assert.ok(again.verify().ok);
    again.close();
  }
});

Deno.test("named cursors: a durable checkpoint survives a crash", async () => {
  const { store, fs } = memStore();
  for (let i = 0; i < 5; i++) store.append(new Coordinate("job", "jobs"), K1, i);
  store.saveCursor("w", 5);
  await store.durable();
  store.saveCursor("w", 2); // not durable: lost in the crash
  const crashed = fs.crash();
  const again = Store.open({ dataDir: DIR, fs: crashed });
  assert.equal(again.loadCursor("w"), 5);
  again.close();
});

Deno.test("named cursors: bad names and positions throw InvalidArgumentError", () => {
  const { store } = memStore();
  store.append(new Coordinate("a", "s"), K1, 0);
  for (const name of ["", "bad\u0000name", "tab\tname", "x".repeat(1100), 7, null, undefined]) {
    throwsType(() => store.saveCursor(name as string, 0), InvalidArgumentError);
    throwsType(() => store.loadCursor(name as string), InvalidArgumentError);
  }
  for (const position of [-1, 1.5, NaN, Infinity, 2, "1", null]) {
    throwsType(() => store.saveCursor("ok", position as number), InvalidArgumentError);
  }
  assert.equal(store.diagnostics().events, 1, "a rejected save writes nothing");
  store.saveCursor("ok", 1);
  assert.equal(store.loadCursor("ok"), 1);
  // Names are at most 1024 UTF-8 bytes.
  store.saveCursor("n".repeat(1024), 1);
  assert.equal(store.loadCursor("n".repeat(1024)), 1);
  throwsType(() => store.saveCursor("n".repeat(1025), 1), InvalidArgumentError, /1024/);
  store.close();
  throwsType(() => store.saveCursor("ok", 1), StoreClosedError);
  throwsType(() => store.loadCursor("ok"), StoreClosedError);
});

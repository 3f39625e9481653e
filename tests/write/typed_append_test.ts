/**
 * Appending typed kinds: the schema version written into the frame, kind
 * names recorded in `kinds.dat` (durable before the first event of the
 * kind, across reopen, crash and snapshot, refreshed by a reader), and the
 * typed errors: two names for one number, one name for two numbers, a
 * versioned kind the store did not register, a definition that disagrees
 * with the registered one — each writing nothing.
 */

import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  EventKind,
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  KindConflictError,
  StorageFullError,
  Store,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { readEventFrame } from "../../src/log/frames.ts";
import { KINDS_FILE } from "../../src/engine/kind_names.ts";
import { DIR, memStore } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

const Deposited = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
const Withdrawn = EventKind.define<{ amount: number }>(0x1, 0x005, "Withdrawn");
const DepositedV2 = EventKind.define<{ cents: number }>(0x1, 0x004, "Deposited", {
  version: 2,
  upcast: { 1: (v1: { amount: number }) => ({ cents: v1.amount * 100 }) },
});
const acct = new Coordinate("acct:1", "bank");
const KINDS_PATH = `${DIR}/${KINDS_FILE}`;

/** The schema version field of event `g`'s frame (0: none). */
function frameVersion(store: Store, g: number): number {
  const frame = storeInternals(store).readRawFrame(g);
  const h = readEventFrame(frame, 0, frame.length);
  assert.ok(typeof h !== "string", String(h));
  return h.schemaVersion;
}

Deno.test("typed append: names recorded in kinds.dat, returned by kindName, kept across reopen", () => {
  const { store, fs, open } = memStore();
  assert.equal(fs.stat(KINDS_PATH), undefined, "no names yet: no file");
  store.append(acct, EventKind.custom(0x1, 0x009), "plain");
  assert.equal(fs.stat(KINDS_PATH), undefined, "a plain kind has no name");
  store.append(acct, Deposited, { amount: 1 });
  const size = fs.stat(KINDS_PATH)?.size;
  store.append(acct, Deposited, { amount: 2 });
  assert.equal(fs.stat(KINDS_PATH)?.size, size, "a known name is written once");
  store.appendBatch([{ coord: acct, kind: Withdrawn, payload: { amount: 1 } }]);
  assert.equal(store.kindName(Deposited), "Deposited");
  assert.equal(store.kindName(Deposited.code), "Deposited");
  assert.equal(store.kindName(Withdrawn), "Withdrawn");
  assert.equal(store.kindName(EventKind.custom(0x1, 0x009)), undefined);
  assert.equal(frameVersion(store, 2), 0, "an unversioned kind writes no version");
  store.close();
  const again = open();
  assert.equal(again.kindName(Deposited), "Deposited");
  assert.equal(again.kindName(Withdrawn), "Withdrawn");
  // A plain append of a named kind's number is fine: it is the same kind.
  again.append(acct, Deposited.code, { amount: 3 });
  assert.ok(again.verify().ok);
  again.close();
});

Deno.test("typed append: a second name for one number, or one name for two numbers, is a KindConflictError and writes nothing", () => {
  const { store, fs, open } = memStore();
  store.append(acct, Deposited, { amount: 1 });
  const Paid = EventKind.define<{ amount: number }>(0x1, 0x004, "Paid");
  const Imposter = EventKind.define<{ amount: number }>(0x1, 0x0ff, "Deposited");
  const before = fs.readFile(KINDS_PATH);
  const conflicts: (() => unknown)[] = [
    () => store.append(acct, Paid, { amount: 1 }),
    () => store.append(acct, Imposter, { amount: 1 }),
    () => store.appendBatch([{ coord: acct, kind: Paid, payload: { amount: 1 } }]),
    () => store.appendBatch([{ coord: acct, kind: Imposter, payload: { amount: 1 } }]),
  ];
  for (const attempt of conflicts) {
    const e = throwsType(attempt, KindConflictError, /nothing was written/);
    assert.equal(e.code, "KIND_CONFLICT");
  }
  const e = throwsType(() => store.append(acct, Paid, { amount: 1 }), KindConflictError);
  assert.deepEqual([e.kind, e.recorded, e.attempted], [0x1004, "Deposited", "Paid"]);
  assert.equal(store.lastSequence("acct:1"), 1);
  assert.deepEqual(fs.readFile(KINDS_PATH), before);
  store.close();
  const again = open();
  throwsType(() => again.append(acct, Paid, { amount: 1 }), KindConflictError);
  assert.equal(again.lastSequence("acct:1"), 1);
  again.close();
});

Deno.test("typed append: two items of one batch that name one number twice conflict; nothing is written", () => {
  const { store, fs } = memStore();
  const Paid = EventKind.define<{ amount: number }>(0x1, 0x004, "Paid");
  const Twin = EventKind.define<{ amount: number }>(0x1, 0x006, "Deposited");
  for (const second of [Paid, Twin]) {
    throwsType(
      () =>
        store.appendBatch([
          { coord: acct, kind: Deposited, payload: { amount: 1 } },
          { coord: acct, kind: second, payload: { amount: 2 } },
        ]),
      KindConflictError,
      /two items/,
    );
  }
  assert.equal(store.lastSequence("acct:1"), 0);
  assert.equal(fs.stat(KINDS_PATH), undefined);
  // The same kind on several items (or two equal definitions) is one name.
  const again = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
  store.appendBatch([
    { coord: acct, kind: Deposited, payload: { amount: 1 } },
    { coord: acct, kind: again, payload: { amount: 2 } },
    { coord: acct, kind: Withdrawn, payload: { amount: 3 } },
  ]);
  assert.equal(store.kindName(Deposited), "Deposited");
  assert.equal(store.kindName(Withdrawn), "Withdrawn");
  store.close();
});

Deno.test("typed append: a rejected append records no name (CAS, payload, reserved entity)", () => {
  const { store, fs } = memStore();
  throwsType(
    () => store.append(acct, Deposited, { amount: 1 }, { expectedSequence: 3 }),
    ConcurrencyError,
  );
  throwsType(
    () => store.append(acct, Deposited, (() => {}) as unknown as { amount: number }),
    InvalidPayloadError,
  );
  throwsType(
    () => store.append(new Coordinate("$mine", "bank"), Deposited, { amount: 1 }),
    InvalidCoordinateError,
  );
  throwsType(
    () =>
      store.appendBatch([
        { coord: acct, kind: Deposited, payload: { amount: 1 } },
        { coord: acct, kind: Withdrawn, payload: { amount: 1 }, options: { expectedSequence: 9 } },
      ]),
    ConcurrencyError,
  );
  assert.equal(fs.stat(KINDS_PATH), undefined);
  assert.equal(store.kindName(Deposited), undefined);
  assert.equal(store.lastSequence("acct:1"), 0);
  store.close();
});

Deno.test("typed append: a versioned kind writes its version, and must be registered", () => {
  const { store, open } = memStore();
  const e = throwsType(
    () => store.append(acct, DepositedV2, { cents: 100 }),
    InvalidArgumentError,
    /StoreConfig\.kinds/,
  );
  assert.match(e.message, /Deposited v2 \(0x1004\)/);
  throwsType(
    () => store.appendBatch([{ coord: acct, kind: DepositedV2, payload: { cents: 1 } }]),
    InvalidArgumentError,
  );
  assert.equal(store.lastSequence("acct:1"), 0);
  store.close();
  const registered = open({ kinds: [DepositedV2] });
  registered.append(acct, DepositedV2, { cents: 100 });
  registered.appendBatch([{ coord: acct, kind: DepositedV2, payload: { cents: 5 } }]);
  assert.equal(frameVersion(registered, 1), 2);
  assert.equal(frameVersion(registered, 2), 2);
  // The stale (version-1) definition of a registered kind disagrees with it.
  const stale = throwsType(
    () => registered.append(acct, Deposited, { amount: 1 }),
    KindConflictError,
    /registered/,
  );
  assert.deepEqual([stale.recorded, stale.attempted], ["Deposited v2", "Deposited v1"]);
  assert.equal(registered.lastSequence("acct:1"), 2);
  assert.ok(registered.verify().ok);
  registered.close();
});

Deno.test("typed append: registered kinds are recorded at a writable open; a recorded name disagreeing with config.kinds fails the open", () => {
  const { store, fs, open } = memStore({ kinds: [DepositedV2, Withdrawn] });
  assert.equal(store.kindName(Withdrawn), "Withdrawn", "registered, before any append");
  store.close();
  const plain = open();
  assert.equal(plain.kindName(Withdrawn.code), "Withdrawn", "recorded by the open");
  plain.close();
  Store.open({ dataDir: DIR, fs }).close();
  const Paid = EventKind.define<{ amount: number }>(0x1, 0x005, "Paid");
  throwsType(() => open({ kinds: [Paid] }), KindConflictError, /recorded it as "Withdrawn"/);
  const Moved = EventKind.define<{ amount: number }>(0x1, 0x0aa, "Withdrawn");
  throwsType(() => open({ kinds: [Moved] }), KindConflictError, /for kind 0x1005/);
  // The failed opens released the directory: it opens again.
  const again = open();
  assert.equal(again.kindName(Deposited), "Deposited");
  again.close();
});

Deno.test("typed append: the name is durable before the event; a crash keeps both or the name alone", () => {
  const { store, fs } = memStore({ sync: { everyNEvents: 1_000_000 } });
  store.append(acct, Deposited, { amount: 1 }); // not synced
  const crashed = Store.open({ dataDir: DIR, fs: fs.crash() });
  assert.equal(crashed.lastSequence("acct:1"), 0, "the event was not durable");
  assert.equal(crashed.kindName(Deposited), "Deposited", "its name was");
  crashed.append(acct, Deposited, { amount: 2 });
  crashed.close();
});

Deno.test("typed append: a torn kinds.dat record is cut at a writable open; leftovers are cleaned", () => {
  const { store, fs, open } = memStore();
  store.append(acct, Deposited, { amount: 1 });
  store.append(acct, Withdrawn, { amount: 1 });
  store.close();
  const whole = fs.readFile(KINDS_PATH);
  fs.writeFile(KINDS_PATH, whole.subarray(0, whole.length - 3)); // the last record torn
  fs.writeFile(KINDS_PATH + ".tmp", new Uint8Array([1, 2, 3]));
  const reader = Store.open({ dataDir: DIR, fs, readOnly: true });
  assert.equal(reader.kindName(Deposited), "Deposited");
  assert.equal(reader.kindName(Withdrawn), undefined);
  reader.close();
  assert.equal(fs.readFile(KINDS_PATH).length, whole.length - 3, "a reader changes nothing");
  const again = open();
  assert.equal(fs.stat(KINDS_PATH + ".tmp"), undefined);
  assert.ok(fs.readFile(KINDS_PATH).length < whole.length - 3, "cut back to the whole records");
  again.append(acct, Withdrawn, { amount: 2 }); // recorded again
  again.close();
  const last = open();
  assert.equal(last.kindName(Withdrawn), "Withdrawn");
  last.close();
});

Deno.test("typed append: a full disk while recording a name is a StorageFullError; nothing is written", () => {
  const { store, fs } = memStore();
  store.append(acct, Deposited, { amount: 1 });
  fs.setFaultInjector((op) =>
    op.path.includes(KINDS_FILE) && op.kind === "write" ? { error: "ENOSPC" } : undefined
  );
  throwsType(() => store.append(acct, Withdrawn, { amount: 1 }), StorageFullError);
  throwsType(
    () => store.appendBatch([{ coord: acct, kind: Withdrawn, payload: { amount: 1 } }]),
    StorageFullError,
  );
  assert.equal(store.lastSequence("acct:1"), 1);
  assert.equal(store.kindName(Withdrawn), undefined);
  fs.setFaultInjector(undefined);
  store.append(acct, Withdrawn, { amount: 1 }); // the store stayed usable
  assert.equal(store.kindName(Withdrawn), "Withdrawn");
  assert.ok(store.verify().ok);
  store.close();
});

Deno.test("typed append: snapshot copies the names; a read-only store picks up new ones on refresh", () => {
  const { store, fs } = memStore();
  store.append(acct, Deposited, { amount: 1 });
  store.sync();
  const reader = Store.open({ dataDir: DIR, fs, readOnly: true });
  assert.equal(reader.kindName(Withdrawn), undefined);
  store.append(acct, Withdrawn, { amount: 1 });
  store.sync();
  assert.equal(reader.refresh(), 1);
  assert.equal(reader.kindName(Withdrawn), "Withdrawn");
  reader.close();
  store.snapshot("/copy");
  const copy = Store.open({ dataDir: "/copy", fs });
  assert.equal(copy.kindName(Deposited), "Deposited");
  assert.equal(copy.kindName(Withdrawn), "Withdrawn");
  copy.close();
  store.close();
});

Deno.test("typed append: two stores in one process record their own names", () => {
  const a = Store.open({ dataDir: "/a", fs: new MemoryFileSystem() });
  const b = Store.open({ dataDir: "/b", fs: new MemoryFileSystem() });
  a.append(acct, Deposited, { amount: 1 });
  const Paid = EventKind.define<{ amount: number }>(0x1, 0x004, "Paid");
  b.append(acct, Paid, { amount: 1 }); // the same number, another name: another store
  assert.equal(a.kindName(0x1004 as EventKind), "Deposited");
  assert.equal(b.kindName(0x1004 as EventKind), "Paid");
  a.close();
  b.close();
});

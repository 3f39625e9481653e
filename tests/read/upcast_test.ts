/**
 * Upcasters: three versions of one event, written by three generations of
 * code, come back in the current shape from every read path (`get`,
 * `readStream`, `read`, cursors, subscriptions, projections), across
 * reopen and on every open path; the stored bytes and the hash chain are
 * untouched; a store that did not register the kind returns the stored
 * shape; a newer version than the code knows and a throwing upcaster are
 * an `UpcastError` naming kind and version, and the store stays usable.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  defineProjection,
  EventKind,
  Region,
  Store,
  type StoredEvent,
  UpcastError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { upcastEvent } from "../../src/read/upcast.ts";
import { KindRegistry } from "../../src/core/kind_registry.ts";
import { DIR, drain, memStore } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

interface V1 {
  amount: number;
}
interface V2 {
  cents: number;
}
interface V3 {
  cents: number;
  currency: string;
}

let upcasts = 0;
const toV2 = (v1: V1): V2 => (upcasts++, { cents: v1.amount * 100 });
const toV3 = (v2: V2): V3 => (upcasts++, { ...v2, currency: "EUR" });
const DepositedV1 = EventKind.define<V1>(0x1, 0x004, "Deposited");
const DepositedV2 = EventKind.define<V2>(0x1, 0x004, "Deposited", {
  version: 2,
  upcast: { 1: toV2 },
});
const Deposited = EventKind.define<V3>(0x1, 0x004, "Deposited", {
  version: 3,
  upcast: { 1: toV2, 2: toV3 },
});
const Noted = EventKind.define<{ text: string }>(0x1, 0x007, "Noted");
const acct = new Coordinate("acct:1", "bank");

const CURRENT: V3[] = [
  { cents: 100, currency: "EUR" }, // written as v1 { amount: 1 }
  { cents: 250, currency: "EUR" }, // written as v2 { cents: 250 }
  { cents: 7, currency: "USD" }, // written as v3
];

/** Three generations of code: v1 (no registration needed), then v2, then v3. */
function threeGenerations(fs = new MemoryFileSystem()): MemoryFileSystem {
  const v1 = Store.open({ dataDir: DIR, fs });
  v1.append(acct, DepositedV1, { amount: 1 });
  v1.append(acct, Noted, { text: "opened" });
  v1.close();
  const v2 = Store.open({ dataDir: DIR, fs, kinds: [DepositedV2] });
  v2.append(acct, DepositedV2, { cents: 250 });
  v2.close();
  const v3 = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  v3.append(acct, Deposited, { cents: 7, currency: "USD" });
  v3.close();
  return fs;
}

function payloadsOf(events: StoredEvent[]): unknown[] {
  return events.filter((e) => e.kind === Deposited.code).map((e) => e.payload);
}

Deno.test("upcast: three versions read back in the current shape on every read path, on every open path", async () => {
  const fs = threeGenerations();
  for (
    const config of [{}, { enableSidecarImage: false }, {
      enableSidecarImage: false,
      enableCheckpoint: false,
    }]
  ) {
    const store = Store.open({ dataDir: DIR, fs, kinds: [Deposited], ...config });
    const stream = store.readStream("acct:1");
    assert.deepEqual(payloadsOf(stream), CURRENT, "readStream");
    assert.deepEqual(stream.map((e) => e.schemaVersion), [3, undefined, 3, 3]);
    assert.ok(stream.filter((e) => e.kind === Deposited.code).every((e) => Deposited.is(e)));
    assert.deepEqual(
      payloadsOf(store.readStream("acct:1", { direction: "backwards" })),
      [
        ...CURRENT,
      ].reverse(),
    );
    assert.deepEqual(stream.map((e) => store.get(e.eventId).payload), stream.map((e) => e.payload));
    assert.deepEqual(payloadsOf(store.read(Region.all(), { after: 0, limit: 10 })), CURRENT);
    assert.deepEqual(payloadsOf(drain(store, Region.all().withKinds(Deposited))), CURRENT);
    assert.deepEqual(payloadsOf([store.cursorGuaranteed(Region.all(), { after: 3 }).poll()!]), [
      CURRENT[2],
    ]);
    const stop = new AbortController();
    const live: StoredEvent[] = [];
    for await (const e of store.subscribe(Region.stream("acct:1"), { signal: stop.signal })) {
      live.push(e);
      if (live.length === 4) stop.abort();
    }
    assert.deepEqual(payloadsOf(live), CURRENT, "subscribe");
    const total = store.project(
      "acct:1",
      defineProjection("cents", {
        kinds: [Deposited],
        initial: () => ({ cents: 0, currencies: [] as string[] }),
        apply: (s, e) =>
          Deposited.is(e)
            ? {
              cents: s.cents + e.payload.cents,
              currencies: [...s.currencies, e.payload.currency],
            }
            : s,
      }),
    );
    assert.deepEqual(total, { cents: 357, currencies: ["EUR", "EUR", "USD"] }, "project");
    assert.ok(store.verify().ok, "stored bytes and hash chain untouched");
    store.close();
  }
});

Deno.test("upcast: the stored bytes never change; a store without the kind returns the stored shapes", () => {
  const fs = threeGenerations();
  const plain = Store.open({ dataDir: DIR, fs });
  const frames = [1, 2, 3, 4].map((g) => storeInternals(plain).readRawFrame(g).slice());
  const raw = plain.readStream("acct:1");
  assert.deepEqual(raw.map((e) => e.payload), [
    { amount: 1 },
    { text: "opened" },
    { cents: 250 },
    { cents: 7, currency: "USD" },
  ]);
  assert.deepEqual(raw.map((e) => e.schemaVersion), [undefined, undefined, 2, 3]);
  assert.deepEqual(raw.map((e) => Deposited.is(e)), [false, false, false, true]);
  assert.deepEqual(raw.map((e) => DepositedV1.is(e)), [true, false, false, false]);
  plain.close();
  const upcasting = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  const read = upcasting.readStream("acct:1");
  assert.deepEqual(
    read.map((e) => [e.eventHash, e.prevHash]),
    raw.map((e) => [e.eventHash, e.prevHash]),
  );
  assert.deepEqual([1, 2, 3, 4].map((g) => storeInternals(upcasting).readRawFrame(g)), frames);
  assert.ok(upcasting.verify().ok);
  upcasting.close();
});

Deno.test("upcast: each read upcasts afresh, one step per older version; current events cost nothing", () => {
  const fs = threeGenerations();
  const store = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  upcasts = 0;
  store.readStream("acct:1");
  assert.equal(upcasts, 3, "v1 → v2 → v3 (2 steps), v2 → v3 (1), v3 (0)");
  const first = store.readStream("acct:1")[0];
  (first.payload as V3).cents = -1; // mutating what was read does not change the next read
  assert.deepEqual(store.readStream("acct:1")[0].payload, CURRENT[0]);
  store.close();
});

Deno.test("upcast: an event newer than the code knows is an UpcastError naming kind and version", () => {
  const fs = threeGenerations();
  const old = Store.open({ dataDir: DIR, fs, kinds: [DepositedV2] });
  const e = throwsType(() => old.readStream("acct:1"), UpcastError, /schema version 3/);
  assert.deepEqual([e.code, e.kind, e.kindName, e.version, e.reason], [
    "UPCAST_FAILED",
    0x1004,
    "Deposited",
    3,
    "newer_version",
  ]);
  assert.match(e.message, /Deposited \(0x1004\) event [0-9a-f-]{36}/);
  // The store stays usable: the older events read, the other kinds read, appends work.
  assert.deepEqual(old.readStream("acct:1", { maxCount: 3 }).map((x) => x.payload), [
    { cents: 100 },
    { text: "opened" },
    { cents: 250 },
  ]);
  old.append(acct, DepositedV2, { cents: 1 });
  assert.ok(old.verify().ok);
  old.close();
});

Deno.test("upcast: a throwing upcaster is an UpcastError (cause kept); the store stays usable", async () => {
  const fs = threeGenerations();
  const broken = new Error("cents unknown");
  const Bad = EventKind.define<V3>(0x1, 0x004, "Deposited", {
    version: 3,
    upcast: {
      1: toV2,
      2: () => {
        throw broken;
      },
    },
  });
  const store = Store.open({ dataDir: DIR, fs, kinds: [Bad] });
  const [first] = store.stream("acct:1");
  const e = throwsType(() => store.get(first.eventId), UpcastError, /from schema version 2 to 3/);
  assert.deepEqual([e.kindName, e.version, e.reason, e.cause], [
    "Deposited",
    2,
    "upcaster_threw",
    broken,
  ]);
  throwsType(() => store.readStream("acct:1"), UpcastError);
  throwsType(() => drain(store, Region.all()), UpcastError);
  const count = defineProjection("count", { initial: () => 0, apply: (n: number) => n + 1 });
  throwsType(() => store.project("acct:1", count), UpcastError);
  await assert.rejects(async () => {
    for await (const _ of store.subscribe(Region.all())) { /* the first event throws */ }
  }, UpcastError);
  // Usable: the current event reads, a region without the kind reads, appends and verify work.
  assert.deepEqual(store.readStream("acct:1", { from: 4 }).map((x) => x.payload), [CURRENT[2]]);
  assert.deepEqual(store.read(Region.all().withKinds(Noted), { after: 0, limit: 9 }).length, 1);
  store.append(acct, Bad, { cents: 1, currency: "EUR" });
  assert.equal(store.lastSequence("acct:1"), 5);
  assert.ok(store.verify().ok);
  store.close();
  // Fixed code reads everything again.
  const fixed = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  assert.equal(fixed.project("acct:1", count), 5);
  fixed.close();
});

Deno.test("upcast: events written by EventKind.custom are version 1 of the kind", () => {
  const { store, open } = memStore();
  store.append(acct, EventKind.custom(0x1, 0x004), { amount: 2 });
  store.close();
  const typed = open({ kinds: [Deposited] });
  assert.deepEqual(typed.readStream("acct:1")[0].payload, { cents: 200, currency: "EUR" });
  typed.close();
});

Deno.test("upcast: two stores in one process upcast only their own kinds", () => {
  const fs = threeGenerations();
  const copy = new MemoryFileSystem();
  const src = Store.open({ dataDir: DIR, fs });
  src.snapshot("/copy");
  src.close();
  const a = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  const Other = EventKind.define<{ c: number }>(0x1, 0x004, "Deposited", {
    version: 3,
    upcast: { 1: () => ({ c: 1 }), 2: () => ({ c: 2 }) },
  });
  const b = Store.open({ dataDir: "/copy", fs, kinds: [Other] });
  const c = Store.open({ dataDir: "/c", fs: copy });
  assert.deepEqual(payloadsOf(a.readStream("acct:1")), CURRENT);
  assert.deepEqual(payloadsOf(b.readStream("acct:1")), [{ c: 2 }, { c: 2 }, CURRENT[2]]);
  assert.deepEqual(a.readStream("acct:1")[0].payload, CURRENT[0], "a unchanged by b's open");
  assert.equal(c.kindName(Deposited), undefined);
  a.close();
  b.close();
  c.close();
});

Deno.test("upcast: a redacted event (no payload) is never upcast", () => {
  const registry = KindRegistry.from([
    EventKind.define<V2>(0x1, 0x004, "Deposited", {
      version: 2,
      upcast: {
        1: () => {
          throw new Error("must not run");
        },
      },
    }),
  ]);
  const redacted = {
    kind: Deposited.code,
    payload: undefined,
    redacted: true as const,
  } as unknown as StoredEvent;
  upcastEvent(registry, redacted, 0);
  assert.equal(redacted.payload, undefined);
  assert.equal(redacted.schemaVersion, undefined);
  const live = { kind: Deposited.code, payload: { amount: 1 } } as unknown as StoredEvent;
  assert.throws(() => upcastEvent(registry, live, 0), UpcastError);
});

Deno.test("upcast: a redacted event of a registered kind is returned without a payload, never upcast", () => {
  const fs = threeGenerations();
  const Throwing = EventKind.define<V3>(0x1, 0x004, "Deposited", {
    version: 3,
    upcast: {
      1: () => {
        throw new Error("must not run on a redacted event");
      },
      2: toV3,
    },
  });
  const writer = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  writer.redact(writer.stream("acct:1")[0].eventId, "erasure request");
  writer.close();
  const store = Store.open({ dataDir: DIR, fs, kinds: [Throwing] });
  const [first, , second, third] = store.readStream("acct:1");
  assert.deepEqual([first.payload, first.redacted, first.schemaVersion], [
    undefined,
    true,
    undefined,
  ]);
  assert.equal(Throwing.is(first), false, "no payload to narrow to");
  assert.deepEqual([second.payload, third.payload], [CURRENT[1], CURRENT[2]]);
  assert.ok(store.verify().ok);
  store.close();
});

Deno.test("upcast: a compaction keeps each event's schema version", async () => {
  const fs = threeGenerations();
  const store = Store.open({ dataDir: DIR, fs, kinds: [Deposited] });
  store.append(new Coordinate("acct:2", "bank"), Deposited, { cents: 1, currency: "EUR" });
  store.deleteStream("acct:2");
  store.redact(store.stream("acct:1")[1].eventId); // the Noted event
  const report = await store.compact();
  assert.ok(report.eventsDropped >= 1);
  store.close();
  for (const kinds of [[Deposited], []]) {
    const again = Store.open({ dataDir: DIR, fs, kinds });
    const events = again.readStream("acct:1");
    if (kinds.length > 0) assert.deepEqual(payloadsOf(events), CURRENT);
    else assert.deepEqual(events.map((e) => e.schemaVersion), [undefined, undefined, 2, 3]);
    assert.ok(again.verify().ok);
    again.close();
  }
});

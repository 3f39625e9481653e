/**
 * `Store.replay`: the events of a region without their id and hash texts.
 * Against the cursor's full events (a model-based property over appends,
 * batches, redactions, deletions, truncations, retention and reopens): the
 * same events in the same order with the same fields, less exactly the five
 * texts; resumable by its return value; a snapshot of the region at the
 * call; lifecycle changes take effect at once; every check a read makes
 * (CRC, the event the index places there, the hash chain — also for a
 * predecessor read back from the log) fails it closed after the events
 * before; bad arguments are typed errors. Its text-less cache never hands a
 * full read an empty text.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Coordinate,
  CorruptSegmentError,
  EventKind,
  InvalidArgumentError,
  Region,
  type ReplayedEvent,
  Store,
  StoreClosedError,
  type StoredEvent,
  UpcastError,
} from "../../mod.ts";
import { readEventFrame } from "../../src/log/frames.ts";
import type { EventHeader } from "../../src/log/event_codec.ts";
import { FRAME_HEADER_BYTES, sealFrame } from "../../src/log/frame.ts";
import { storeInternals } from "../../src/store/_internals.ts";
import { REPLAY_PAGE_EVENTS } from "../../src/read/replay.ts";
import { DIR, KIND_A, KIND_B, memStore, reopen, throwsType } from "../fixtures/store_helpers.ts";
import type { MemoryFileSystem } from "../../testing.ts";

const SEG1 = `${DIR}/000001.fbat`;
const TEXTS = ["eventId", "prevHash", "eventHash", "correlationId", "causationId"] as const;

/** A cursor's event less its five texts: what the replay must deliver. */
function lean(e: StoredEvent): ReplayedEvent {
  const copy: Record<string, unknown> = { ...e };
  for (const k of TEXTS) delete copy[k];
  return copy as ReplayedEvent;
}

function byCursor(store: Store, region: Region, after = 0, limit = Infinity): StoredEvent[] {
  const out: StoredEvent[] = [];
  const cursor = store.cursorGuaranteed(region, { after });
  for (let e = cursor.poll(); e !== undefined && out.length < limit; e = cursor.poll()) out.push(e);
  return out;
}

function byReplay(
  store: Store,
  region: Region,
  options?: { after?: number; limit?: number },
): { events: ReplayedEvent[]; last: number } {
  const events: ReplayedEvent[] = [];
  const last = store.replay(region, (e) => void events.push(e), options);
  return { events, last };
}

const ENTITIES = ["acct:1", "acct:2", "acct:10", "user:1"];
const SCOPES = ["bank", "crm"];

type Op =
  | { op: "append"; e: number; s: number; linked: boolean; big: boolean }
  | { op: "batch"; es: number[] }
  | { op: "redact"; nth: number }
  | { op: "truncate"; e: number; before: number }
  | { op: "delete"; e: number }
  | { op: "retain"; s: number; maxCount: number }
  | { op: "reopen" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant("append" as const),
      e: fc.nat(3),
      s: fc.nat(1),
      linked: fc.boolean(),
      big: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("batch" as const),
      es: fc.array(fc.nat(3), { minLength: 1, maxLength: 5 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("redact" as const), nth: fc.nat(200) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("truncate" as const),
      e: fc.nat(3),
      before: fc.integer({ min: 1, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), e: fc.nat(3) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("retain" as const),
      s: fc.nat(1),
      maxCount: fc.integer({ min: 1, max: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reopen" as const) }) },
);

function run(ops: Op[]): { fs: MemoryFileSystem; store: Store } {
  // Small segments and read chunks of many frames: runs, CRC groups and segment ends all occur.
  const cfg = { segmentMaxBytes: 4096 };
  const opened = memStore(cfg);
  const fs = opened.fs;
  let store = opened.store;
  let n = 0;
  const deleted = new Set<number>(); // a deletion is final: appends to it are refused
  for (const o of ops) {
    if (o.op === "append") {
      if (deleted.has(o.e)) continue;
      const last = store.query(Region.all()).at(-1)?.eventId;
      const payload = o.big ? { n: n++, pad: "x".repeat(600) } : { n: n++ };
      store.append(new Coordinate(ENTITIES[o.e], SCOPES[o.s]), n % 2 ? KIND_A : KIND_B, payload, {
        correlationId: o.linked ? last : undefined,
        causationId: o.linked ? last : undefined,
      });
    } else if (o.op === "batch") {
      const es = o.es.filter((e) => !deleted.has(e));
      if (es.length === 0) continue;
      store.appendBatch(es.map((e) => ({
        coord: new Coordinate(ENTITIES[e], SCOPES[0]),
        kind: KIND_A,
        payload: [n++, null, "b"],
      })));
    } else if (o.op === "redact") {
      const all = store.query(Region.all());
      if (all.length > 0) store.redact(all[o.nth % all.length].eventId);
    } else if (o.op === "truncate") {
      if (!deleted.has(o.e) && store.lastSequence(ENTITIES[o.e]) >= o.before) {
        store.truncateBefore(ENTITIES[o.e], o.before);
      }
    } else if (o.op === "delete") {
      if (store.lastSequence(ENTITIES[o.e]) > 0) store.deleteStream(ENTITIES[o.e]);
      deleted.add(o.e);
    } else if (o.op === "retain") {
      store.setRetention(SCOPES[o.s], { maxCount: o.maxCount });
    } else {
      store.close();
      store = reopen(fs, cfg);
    }
  }
  return { fs, store };
}

const REGIONS: [string, () => Region][] = [
  ["all", () => Region.all()],
  ["entity prefix acct:1", () => Region.entity("acct:1")],
  ["stream acct:2", () => Region.stream("acct:2")],
  ["scope crm", () => Region.scope("crm")],
  ["kind B", () => Region.all().withKinds(KIND_B)],
];

Deno.test("replay: the cursor's events less their five texts, on every region, after and limit (model)", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 1, maxLength: 60 }),
      fc.nat(80),
      fc.integer({ min: 1, max: 30 }),
      (ops, afterPick, limit) => {
        const { store } = run(ops);
        try {
          const count = store.diagnostics().events;
          const after = count === 0 ? 0 : afterPick % (count + 1);
          for (const [name, region] of REGIONS) {
            const want = byCursor(store, region()).map(lean);
            const got = byReplay(store, region());
            assert.deepEqual(got.events, want, name);
            assert.equal(got.last, want.at(-1)?.globalSequence ?? 0, `${name}: returns the last`);
            for (const e of got.events) {
              for (const k of TEXTS) assert.ok(!(k in e), `${name}: no ${k}`);
              assert.deepEqual(structuredClone(e), e);
            }
            // A page, and the rest resumed from what the page returned.
            const page = byReplay(store, region(), { after, limit });
            const wantPage = byCursor(store, region(), after, limit).map(lean);
            assert.deepEqual(page.events, wantPage, `${name}: after ${after} limit ${limit}`);
            assert.equal(page.last, wantPage.at(-1)?.globalSequence ?? after);
            const rest = byReplay(store, region(), { after: page.last });
            assert.deepEqual(
              [...page.events, ...rest.events],
              byCursor(store, region(), after).map(lean),
            );
          }
          // The full reads after all those replays still have every text, chained.
          const full = store.query(Region.all()).map((e) => store.get(e.eventId));
          const byEntity = new Map<string, StoredEvent[]>();
          for (const e of byCursor(store, Region.all())) {
            const list = byEntity.get(e.entity) ?? [];
            list.push(e);
            byEntity.set(e.entity, list);
          }
          for (const list of byEntity.values()) {
            for (let k = 1; k < list.length; k++) {
              if (list[k].sequence === list[k - 1].sequence + 1) {
                assert.equal(list[k].prevHash, list[k - 1].eventHash);
              }
            }
          }
          for (const e of full) assert.match(e.eventHash, /^[0-9a-f]{64}$/);
        } finally {
          store.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("replay: a full read right after a replay gets every prevHash from the chain, never an empty text", () => {
  const { store } = memStore();
  const a = new Coordinate("a", "s");
  const b = new Coordinate("b", "s");
  for (let i = 0; i < 300; i++) store.append(i % 3 ? a : b, KIND_A, { i });
  // Replays of every suffix warm the text-less cache with each entity's latest hashes...
  for (const after of [0, 150, 299]) store.replay(Region.all(), () => {}, { after });
  // ...then full reads that start just after an event the replay cached.
  for (const after of [0, 1, 150, 298, 299]) {
    for (const e of byCursor(store, Region.all(), after)) {
      if (e.sequence > 1) assert.match(e.prevHash, /^[0-9a-f]{64}$/);
    }
  }
  const stream = store.readStream("a");
  for (let k = 1; k < stream.length; k++) assert.equal(stream[k].prevHash, stream[k - 1].eventHash);
  store.close();
});

Deno.test("replay: visits the events that exist when it starts; an event the visitor appends is not visited", () => {
  const { store } = memStore();
  const c = new Coordinate("a", "s");
  // More than one page of the region: the second is asked after the visitor's appends.
  const n = REPLAY_PAGE_EVENTS + 100;
  for (let i = 0; i < n; i++) store.append(c, KIND_A, i);
  const seen: unknown[] = [];
  const last = store.replay(Region.all(), (e) => {
    seen.push(e.payload);
    if (e.sequence <= 10) store.append(c, KIND_A, -e.sequence);
  });
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
  assert.equal(last, n);
  assert.equal(store.lastSequence("a"), n + 10);
  // The appended ones are the next replay's, from where this one ended.
  const next = byReplay(store, Region.all(), { after: last }).events.map((e) => e.payload);
  assert.deepEqual(next, Array.from({ length: 10 }, (_, i) => -(i + 1)));
  store.close();
});

Deno.test("replay: a deletion the visitor makes takes effect at once, within the page", () => {
  const { store } = memStore();
  for (let i = 0; i < 40; i++) store.append(new Coordinate(i % 2 ? "odd" : "even", "s"), KIND_A, i);
  const seen: number[] = [];
  const last = store.replay(Region.all(), (e) => {
    seen.push(e.payload as number);
    if (e.payload === 5) store.deleteStream("even");
    if (e.payload === 11) store.redact(store.query(Region.stream("odd"))[6].eventId);
  });
  const want: number[] = [];
  for (let i = 0; i <= 5; i++) want.push(i);
  for (let i = 7; i < 40; i += 2) want.push(i);
  assert.deepEqual(seen.filter((p) => p !== undefined), want.filter((p) => p !== 13));
  assert.equal(seen.filter((p) => p === undefined).length, 1, "the redacted one, payload gone");
  assert.equal(last, 40);
  store.close();
});

Deno.test("replay: the visitor's error ends it; the store reads on, the next replay is whole", () => {
  const { store } = memStore();
  for (let i = 0; i < 700; i++) store.append(new Coordinate(`e${i % 7}`, "s"), KIND_A, i);
  const seen: number[] = [];
  assert.throws(
    () =>
      store.replay(Region.all(), (e) => {
        if (e.globalSequence === 300) throw new RangeError("visitor");
        seen.push(e.globalSequence);
      }),
    RangeError,
  );
  assert.deepEqual(seen, Array.from({ length: 299 }, (_, k) => k + 1));
  assert.equal(byReplay(store, Region.all()).events.length, 700);
  assert.equal(byCursor(store, Region.all()).length, 700);
  store.close();
});

Deno.test("replay: an async visitor is refused at its first event, not run unawaited", () => {
  const { store } = memStore();
  for (let i = 0; i < 5; i++) store.append(new Coordinate("a", "s"), KIND_A, i);
  let calls = 0;
  throwsType(
    () =>
      store.replay(Region.all(), async () => {
        calls++;
        await Promise.resolve();
      }),
    InvalidArgumentError,
    /visit returned a promise/,
  );
  assert.equal(calls, 1);
  // Any thenable; any other return value is ignored.
  throwsType(() => store.replay(Region.all(), () => ({ then() {} })), InvalidArgumentError);
  assert.equal(store.replay(Region.all(), () => ({ then: 1 })), 5);
  assert.equal(store.replay(Region.all(), () => 7), 5);
  store.close();
});

Deno.test("replay: a visitor that replays, reads or closes the store mid-run", () => {
  const { store } = memStore();
  for (let i = 0; i < 600; i++) store.append(new Coordinate(i % 2 ? "a" : "b", "s"), KIND_A, i);
  const inner: number[] = [];
  let outer = 0;
  store.replay(Region.stream("a"), (e) => {
    outer++;
    if (e.sequence % 100 === 1) {
      inner.push(byReplay(store, Region.stream("b")).events.length);
      inner.push(store.readStream("b").length);
    }
  });
  assert.equal(outer, 300);
  assert.deepEqual(inner, [300, 300, 300, 300, 300, 300]);
  let visits = 0;
  throwsType(
    () =>
      store.replay(Region.all(), () => {
        if (++visits === 10) store.close();
      }),
    StoreClosedError,
  );
  assert.equal(visits, 10);
  throwsType(() => store.replay(Region.all(), () => {}), StoreClosedError);
});

/** One entity's 10 events on disk with the `damage` done to event 6's frame (CRC resealed when asked). */
function damaged(damage: (seg: Uint8Array, at: number, h: EventHeader) => boolean) {
  const { fs, store } = memStore();
  const c = new Coordinate("acct:1", "bank");
  for (let i = 1; i <= 10; i++) store.append(c, KIND_A, { i });
  const loc = storeInternals(store).index.location(6);
  store.close();
  const seg = fs.readFile(SEG1).slice();
  const h = readEventFrame(seg, loc.offset, loc.length);
  if (typeof h === "string") throw new Error(h);
  const reseal = damage(seg, loc.offset, h);
  if (reseal) {
    sealFrame(
      seg,
      loc.offset,
      loc.length - FRAME_HEADER_BYTES,
      seg[loc.offset + 8],
      seg[loc.offset + 9],
    );
  }
  fs.writeFile(SEG1, seg);
  return reopen(fs); // by the index image: the damage is found by the read, not the open
}

Deno.test("replay: a broken hash chain fails it closed at the event, after the five before", () => {
  const store = damaged((seg, _at, h) => {
    seg[h.prevLinkAt] ^= 0xff;
    return true;
  });
  const seen: number[] = [];
  throwsType(
    () => store.replay(Region.all(), (e) => void seen.push(e.sequence)),
    CorruptSegmentError,
    /hash chain broken/,
  );
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  // Starting at the broken event, its predecessor is not in the cache: read back, and refused.
  store.close();
  const again = damaged((seg, _at, h) => {
    seg[h.prevLinkAt] ^= 0xff;
    return true;
  });
  throwsType(
    () => again.replay(Region.all(), () => {}, { after: 5 }),
    CorruptSegmentError,
    /hash chain broken/,
  );
  // From event 7 on, the chain of what is read is whole (7 links to 6, whose hash is intact).
  assert.deepEqual(byReplay(again, Region.all(), { after: 6 }).events.map((e) => e.sequence), [
    7,
    8,
    9,
    10,
  ]);
  again.close();
});

Deno.test("replay: a flipped byte fails the frame's CRC, after the five before", () => {
  const store = damaged((seg, at) => {
    seg[at + FRAME_HEADER_BYTES + 20] ^= 0x01;
    return false;
  });
  const seen: number[] = [];
  throwsType(
    () => store.replay(Region.all(), (e) => void seen.push(e.sequence)),
    CorruptSegmentError,
    /bad_crc/,
  );
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  store.close();
});

Deno.test("replay: a frame that is not the event the index places there fails closed", () => {
  // Event 6's frame carries another global sequence (resealed, so its CRC holds).
  const store = damaged((seg, _at, h) => {
    // Format 2: after the 19 fixed bytes, the sequence (6: one byte) and the global sequence.
    assert.equal(h.format, 2);
    assert.equal(seg[h.bodyAt + 19], 6);
    assert.equal(seg[h.bodyAt + 20], 6);
    seg[h.bodyAt + 20] = 9;
    return true;
  });
  const seen: number[] = [];
  throwsType(
    () => store.replay(Region.all(), (e) => void seen.push(e.globalSequence)),
    CorruptSegmentError,
    /frame holds global sequence 9, index says 6/,
  );
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  store.close();
});

Deno.test("replay: the format-1 fixture replays as its cursor reads", () => {
  const dir = Deno.makeTempDirSync();
  const fixture = new URL("../fixtures/format1_store/", import.meta.url);
  for (const f of Deno.readDirSync(fixture)) {
    if (f.name !== "README.md") Deno.copyFileSync(new URL(f.name, fixture), `${dir}/${f.name}`);
  }
  try {
    const store = Store.open(dir);
    const want = byCursor(store, Region.all()).map(lean);
    assert.ok(want.length >= 40);
    assert.deepEqual(byReplay(store, Region.all()).events, want);
    for (const after of [1, 7, 20]) {
      assert.deepEqual(
        byReplay(store, Region.entity("v1:"), { after }).events,
        want.filter((e) => e.globalSequence > after && e.entity.startsWith("v1:")),
      );
    }
    store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("replay: upcasts as every read does; an upcast failure names the event by global sequence", () => {
  const V1 = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
  const V2 = EventKind.define<{ cents: number }>(0x1, 0x004, "Deposited", {
    version: 2,
    upcast: { 1: (v: { amount: number }) => ({ cents: v.amount * 100 }) },
  });
  const { fs, store } = memStore();
  store.append(new Coordinate("a", "s"), V1, { amount: 2 });
  store.close();
  const v2 = reopen(fs, { kinds: [V2] });
  const got = byReplay(v2, Region.all()).events;
  assert.deepEqual(got.map((e) => [e.payload, e.schemaVersion]), [[{ cents: 200 }, 2]]);
  assert.deepEqual(got, byCursor(v2, Region.all()).map(lean));
  v2.close();
  const Broken = EventKind.define<{ cents: number }>(0x1, 0x004, "Deposited", {
    version: 2,
    upcast: {
      1: () => {
        throw new Error("no");
      },
    },
  });
  const broken = reopen(fs, { kinds: [Broken] });
  throwsType(() => broken.replay(Region.all(), () => {}), UpcastError, /at global sequence 1/);
  broken.close();
});

Deno.test("replay: a read-only store replays, and follows the writer after refresh", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const writer = Store.open(dir);
    writer.append(new Coordinate("a", "s"), KIND_A, 1);
    writer.sync();
    const reader = Store.open({ dataDir: dir, readOnly: true });
    writer.append(new Coordinate("a", "s"), KIND_A, 2);
    writer.sync();
    const payloads = () => {
      const out: unknown[] = [];
      reader.replay(Region.all(), (e) => void out.push(e.payload));
      return out;
    };
    assert.deepEqual(payloads(), [1]);
    reader.refresh();
    assert.deepEqual(payloads(), [1, 2]);
    reader.close();
    writer.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("replay: bad arguments are InvalidArgumentError, read once", () => {
  const { store } = memStore();
  store.append(new Coordinate("a", "s"), KIND_A, 1);
  const bad: [unknown, unknown, unknown][] = [
    ["all", () => {}, undefined],
    [Region.all(), "visit", undefined],
    [Region.all(), undefined, undefined],
    [Region.all(), () => {}, null],
    [Region.all(), () => {}, 5],
    [Region.all(), () => {}, { after: -1 }],
    [Region.all(), () => {}, { after: 1.5 }],
    [Region.all(), () => {}, { after: 2 }], // past the end of the log
    [Region.all(), () => {}, { after: "0" }],
    [Region.all(), () => {}, { limit: -1 }],
    [Region.all(), () => {}, { limit: 0.5 }],
    [Region.all(), () => {}, { limit: Infinity }],
    [Region.all(), () => {}, { limit: 1n }],
  ];
  for (const [region, visit, options] of bad) {
    throwsType(
      // deno-lint-ignore no-explicit-any
      () => store.replay(region as any, visit as any, options as any),
      InvalidArgumentError,
    );
  }
  // A getter is read once: it cannot pass the check with one value and be used with another.
  let reads = 0;
  const tricky = {
    get after() {
      return reads++ === 0 ? 0 : 99;
    },
  };
  assert.equal(store.replay(Region.all(), () => {}, tricky), 1);
  assert.equal(reads, 1);
  assert.equal(store.replay(Region.all(), () => {}, { limit: 0 }), 0);
  store.close();
  throwsType(() => store.replay(Region.all(), () => {}), StoreClosedError);
});

/**
 * Two stores in one process never see each other's data: the proof that no
 * module-level scratch buffer or cache (id and hash text, payload decoding,
 * chunked frame reads) mixes one store's events into another's.
 *
 * The stores are built to collide: the same data directory path on two
 * in-memory file systems, the same segment size, and events of the same
 * encoded size at the same global sequences, so both logs hold frames at
 * the same segment and offset. Entities, scopes, kinds, payload bytes,
 * clocks and ids differ. Then, in a seeded order, reads of every kind —
 * `get`, `readStream`, `read`, `stream`, cursor polls, subscription pages,
 * projections — alternate between the two stores with appends in between,
 * and every event read must equal the event appended to THAT store (id,
 * hashes, payload, every field). Events read earlier are checked again at
 * the end, after thousands of reads of the other store.
 */

import assert from "node:assert/strict";
import {
  type AppendReceipt,
  Coordinate,
  type Cursor,
  EventKind,
  type EventSourced,
  Region,
  Store,
  type StoredEvent,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { SUBSCRIPTION_PAGE_EVENTS } from "../../src/read/subscription.ts";
import { plainEvent } from "../fixtures/store_helpers.ts";

/** The same path on both file systems, so path-keyed state would collide too. */
const DIR = "/store";
const SEGMENT_MAX_BYTES = 64 * 1024;
const ENTITIES_PER_STORE = 7;
const EVENTS_FIRST = 700;
const STEPS = 3_000;
const SEED = 0x2b7e1516;

/** Seeded mulberry32: the same interleaving on every run. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n);
  };
}

/** How one store writes: names and payloads of the same lengths, different bytes. */
interface Flavour {
  name: string;
  entityPrefix: string; // same length for both stores
  scope: string; // same length for both stores
  category: number;
  clockMs: number;
  payload(i: number): unknown;
}

/** Sizes depend only on `i`, so both stores' frames line up offset for offset. */
const stringChars = (i: number) => (i * 37) % 300;
const byteCount = (i: number) => (i % 97 === 0 ? 70_000 : (i * 11) % 2_000);

const ALPHA: Flavour = {
  name: "alpha",
  entityPrefix: "alpha:",
  scope: "scope-a",
  category: 0x1,
  clockMs: 1_700_000_000_000,
  payload: (i) => ({
    s: "a".repeat(stringChars(i)),
    n: i % 100,
    b: new Uint8Array(byteCount(i)).fill(0xaa),
  }),
};

const OMEGA: Flavour = {
  name: "omega",
  entityPrefix: "omega/",
  scope: "scope-b",
  category: 0x2,
  clockMs: 1_800_000_000_000,
  payload: (i) => ({
    t: "b".repeat(stringChars(i)),
    m: 99 - (i % 100),
    c: new Uint8Array(byteCount(i)).fill(0x55),
  }),
};

type Expected = Record<string, unknown>;

/** One store, what was appended to it, and its open readers. */
class Side {
  readonly fs = new MemoryFileSystem();
  store: Store;
  /** Every appended event as `plainEvent` shows it, by global sequence (index 0 unused). */
  readonly expected: Expected[] = [{}];
  readonly byId = new Map<string, Expected>();
  readonly lastHash = new Map<string, string>();
  readonly entities: string[];
  readonly cursors: { region: Region; cursor: Cursor; matches: (e: Expected) => boolean }[] = [];
  readonly subscriptions: {
    region: Region;
    it: AsyncIterator<StoredEvent>;
    delivered: number;
    matches: (e: Expected) => boolean;
  }[] = [];
  readonly stop = new AbortController();
  /** Events returned by reads, held to be checked again at the end. */
  readonly held: [StoredEvent, string][] = [];
  appended = 0;

  constructor(readonly flavour: Flavour) {
    this.store = this.open();
    this.entities = Array.from(
      { length: ENTITIES_PER_STORE },
      (_, k) => `${flavour.entityPrefix}${k}`,
    );
  }

  open(): Store {
    return Store.open({
      dataDir: DIR,
      fs: this.fs,
      segmentMaxBytes: SEGMENT_MAX_BYTES,
      clock: () => this.flavour.clockMs,
    });
  }

  kind(i: number): EventKind {
    return EventKind.custom(this.flavour.category, 1 + (i % 3));
  }

  #record(
    r: AppendReceipt,
    coord: Coordinate,
    kind: EventKind,
    payload: unknown,
    correlationId?: string,
    causationId?: string,
  ): void {
    const e = {
      eventId: r.eventId,
      entity: coord.entity,
      scope: coord.scope,
      kind,
      sequence: r.sequence,
      globalSequence: r.globalSequence,
      timestampMs: this.flavour.clockMs,
      payload,
      correlationId,
      causationId,
      prevHash: this.lastHash.get(coord.entity) ?? "",
      eventHash: r.eventHash,
    };
    assert.equal(r.globalSequence, this.expected.length, `${this.flavour.name}: gapless`);
    this.expected.push(e);
    this.byId.set(r.eventId, e);
    this.lastHash.set(coord.entity, r.eventHash);
  }

  /** One append, or every tenth a batch of three with causation by prior item. */
  write(): void {
    const i = this.appended;
    const coord = new Coordinate(this.entities[i % ENTITIES_PER_STORE], this.flavour.scope);
    if (i % 10 === 9) {
      const items = [0, 1, 2].map((k) => ({
        coord: new Coordinate(this.entities[(i + k) % ENTITIES_PER_STORE], this.flavour.scope),
        kind: this.kind(i + k),
        payload: this.flavour.payload(i + k),
        ...(k > 0 ? { causation: { priorItem: k - 1 } } : {}),
      }));
      const receipts = this.store.appendBatch(items);
      items.forEach((item, k) =>
        this.#record(
          receipts[k],
          item.coord,
          item.kind,
          item.payload,
          undefined,
          k > 0 ? receipts[k - 1].eventId : undefined,
        )
      );
      this.appended += 3;
      return;
    }
    const payload = this.flavour.payload(i);
    // Every fifth event correlates with an earlier event of this store.
    const correlationId = i % 5 === 4
      ? (this.expected[1 + (i % (this.expected.length - 1))].eventId as string)
      : undefined;
    const r = this.store.append(
      coord,
      this.kind(i),
      payload,
      correlationId ? { correlationId } : {},
    );
    this.#record(r, coord, this.kind(i), payload, correlationId);
    this.appended++;
  }

  get count(): number {
    return this.expected.length - 1;
  }

  /** Assert `event` is exactly the event appended at its global sequence, and hold it. */
  check(event: StoredEvent, where: string): void {
    const want = this.expected[event.globalSequence];
    assert.ok(want, `${this.flavour.name} ${where}: no event ${event.globalSequence} was appended`);
    assert.deepStrictEqual(plainEvent(event), want, `${this.flavour.name} ${where}`);
    if (this.held.length < 5_000) this.held.push([event, where]);
  }

  /** Assert the events read are exactly `wanted`, in order. */
  checkAll(events: StoredEvent[], wanted: Expected[], where: string): void {
    assert.deepStrictEqual(
      events.map((e) => e.globalSequence),
      wanted.map((e) => e.globalSequence),
      `${this.flavour.name} ${where}: which events`,
    );
    events.forEach((e) => this.check(e, where));
  }

  regions(): { region: Region; matches: (e: Expected) => boolean }[] {
    const entity = this.entities[2];
    const kind = this.kind(1);
    return [
      { region: Region.all(), matches: () => true },
      { region: Region.entity(entity), matches: (e) => e.entity === entity },
      { region: Region.entity(this.flavour.entityPrefix), matches: () => true },
      { region: Region.scope(this.flavour.scope).withKinds(kind), matches: (e) => e.kind === kind },
    ];
  }

  openReaders(): void {
    for (const { region, matches } of this.regions()) {
      this.cursors.push({ region, cursor: this.store.cursorGuaranteed(region), matches });
      const it = this.store.subscribe(region, { signal: this.stop.signal })[Symbol.asyncIterator]();
      this.subscriptions.push({ region, it, delivered: 0, matches });
    }
  }
}

Deno.test("two stores: interleaved get, readStream, read, cursor polls, subscription pages and projections never mix their events", async () => {
  const rnd = prng(SEED);
  const sides = [new Side(ALPHA), new Side(OMEGA)];
  try {
    // The same shapes at the same global sequences: frames at the same offsets in both logs.
    for (let i = 0; i < EVENTS_FIRST; i++) for (const side of sides) side.write();
    assert.equal(sides[0].count, sides[1].count);
    for (let g = 1; g <= sides[0].count; g++) {
      assert.notEqual(sides[0].expected[g].eventId, sides[1].expected[g].eventId);
    }
    // One store reopened (every frame on disk, index from the image), one live (a write buffer).
    sides[1].store.close();
    sides[1].store = sides[1].open();
    for (const side of sides) side.openReaders();

    const projection: EventSourced<StoredEvent[]> = {
      initial: () => [],
      apply: (events, e) => [...events, e],
    };
    const counts = new Map<string, number>();
    for (let step = 0; step < STEPS; step++) {
      const side = sides[rnd(2)];
      const { store } = side;
      const op = rnd(9);
      const where = `step ${step} (seed ${SEED})`;
      const entity = side.entities[rnd(ENTITIES_PER_STORE)];
      const ofEntity = () => side.expected.filter((e) => e.entity === entity);
      counts.set(String(op), (counts.get(String(op)) ?? 0) + 1);
      switch (op) {
        case 0: { // get by id
          const g = 1 + rnd(side.count);
          side.check(store.get(side.expected[g].eventId as string), `${where} get`);
          break;
        }
        case 1: { // readStream, both directions, from and maxCount
          const backwards = rnd(2) === 1;
          const all = ofEntity();
          const from = rnd(2) === 0 ? undefined : 1 + rnd(all.length);
          const maxCount = rnd(2) === 0 ? undefined : 1 + rnd(40);
          let wanted = backwards ? [...all].reverse() : all;
          if (from !== undefined) {
            wanted = wanted.filter((e) =>
              backwards ? (e.sequence as number) <= from : (e.sequence as number) >= from
            );
          }
          if (maxCount !== undefined) wanted = wanted.slice(0, maxCount);
          const got = store.readStream(entity, {
            from,
            maxCount,
            direction: backwards ? "backwards" : "forwards",
          });
          side.checkAll(got, wanted, `${where} readStream`);
          break;
        }
        case 2: { // read a region page
          const { region, matches } = side.regions()[rnd(4)];
          const after = rnd(side.count);
          const limit = 1 + rnd(300);
          const wanted = side.expected.slice(1).filter((e) =>
            matches(e) && (e.globalSequence as number) > after
          ).slice(0, limit);
          side.checkAll(store.read(region, { after, limit }), wanted, `${where} read`);
          break;
        }
        case 3: { // stream: index entries only
          const wanted = ofEntity().map((
            { eventId, entity, scope, kind, sequence, globalSequence, timestampMs },
          ) => ({ eventId, entity, scope, kind, sequence, globalSequence, timestampMs }));
          assert.deepStrictEqual(
            store.stream(entity).map((
              { eventId, entity, scope, kind, sequence, globalSequence, timestampMs },
            ) => ({ eventId, entity, scope, kind, sequence, globalSequence, timestampMs })),
            wanted,
            `${side.flavour.name} ${where} stream`,
          );
          break;
        }
        case 4:
        case 5: { // a page of a guaranteed cursor
          const c = side.cursors[rnd(side.cursors.length)];
          const before = c.cursor.position;
          const got = c.cursor.pollBatch(1 + rnd(50));
          const wanted = side.expected.slice(1).filter((e) =>
            c.matches(e) && (e.globalSequence as number) > before
          ).slice(0, got.length);
          side.checkAll(got, wanted, `${where} cursor`);
          if (got.length === 0) {
            assert.equal(wanted.length, 0);
            assert.equal(
              side.expected.slice(1).filter((e) =>
                c.matches(e) && (e.globalSequence as number) > before
              ).length,
              0,
              `${side.flavour.name} ${where}: the cursor stopped early`,
            );
          }
          break;
        }
        case 6: { // the next events of a subscription, when it has some to give
          const s = side.subscriptions[rnd(side.subscriptions.length)];
          const available = side.expected.slice(1).filter(s.matches);
          const n = Math.min(1 + rnd(SUBSCRIPTION_PAGE_EVENTS), available.length - s.delivered);
          for (let k = 0; k < n; k++) {
            const next = await s.it.next();
            assert.equal(next.done, false);
            assert.equal(next.value.globalSequence, available[s.delivered].globalSequence);
            side.check(next.value, `${where} subscription`);
            s.delivered++;
          }
          break;
        }
        case 7: { // a projection folding the whole entity (cached and incremental across calls)
          const state = store.project(entity, projection) ?? [];
          side.checkAll(state, ofEntity(), `${where} project`);
          break;
        }
        case 8: { // appends between reads (each store keeps its own sequence)
          for (let k = 1 + rnd(5); k > 0; k--) side.write();
          break;
        }
      }
    }
    for (const op of ["0", "1", "2", "3", "4", "6", "7", "8"]) {
      assert.ok((counts.get(op) ?? 0) > 100, `operation ${op} ran ${counts.get(op) ?? 0} times`);
    }
    // Every event handed out earlier still equals its own store's event, after all the reads
    // of the other store that came after it.
    for (const side of sides) {
      assert.ok(side.held.length > 1_000);
      for (const [event, where] of side.held) {
        assert.deepStrictEqual(
          plainEvent(event),
          side.expected[event.globalSequence],
          `${side.flavour.name}: held from ${where}`,
        );
      }
      assert.deepEqual(side.store.verify().problems, []);
    }
  } finally {
    for (const side of sides) {
      side.stop.abort();
      for (const s of side.subscriptions) await s.it.return?.();
      side.store.close();
    }
  }
});

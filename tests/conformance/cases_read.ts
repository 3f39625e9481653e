/**
 * Conformance cases for the read side: readStream, lastSequence, read,
 * subscriptions, saved cursors and projections.
 *
 * @module
 */

import { Coordinate } from "../../src/core/coordinate.ts";
import { EventKind } from "../../src/core/kind.ts";
import { Region } from "../../src/core/region.ts";
import type { EventSourced, EventStore, StoredEvent } from "../../src/core/types.ts";
import { InvalidArgumentError } from "../../src/core/errors.ts";
import { defineProjection } from "../../src/read/projection.ts";
import { assert, assertEquals, assertFails } from "./assert.ts";
import {
  assertGlobalOrder,
  type ConformanceCase,
  essence,
  follow,
  readAll,
  sleep,
  withStore,
} from "./_support.ts";

const K1 = EventKind.custom(0x1, 1);
const K2 = EventKind.custom(0x1, 2);
const K3 = EventKind.custom(0x2, 1);

/** Five events on `e`, and neighbours sharing its prefix. */
async function seedStreams(store: EventStore): Promise<void> {
  const e = new Coordinate("acct:1", "bank");
  for (let i = 1; i <= 3; i++) await store.append(e, K1, i);
  await store.append(new Coordinate("acct:10", "bank"), K1, 10);
  await store.appendBatch([
    { coord: e, kind: K2, payload: 4 },
    { coord: new Coordinate("acct:2", "shop"), kind: K3, payload: 20 },
    { coord: e, kind: K3, payload: 5 },
  ]);
}

const seqs = (events: StoredEvent[]) => events.map((e) => e.sequence);

/** Mixed events for the region tests: entity, scope, kind. */
const MIX: [string, string, EventKind][] = [
  ["order:1", "shop", K1],
  ["order:2", "shop", K2],
  ["user:1", "crm", K1],
  ["order:1", "shop", K3],
  ["order:10", "shop", K1],
  ["user:2", "crm", K3],
  ["orders", "ops", K2],
];

export const readCases: ConformanceCase[] = [
  {
    name: "readStream: exactly one entity, from / maxCount / direction",
    run: (open) =>
      withStore(open, async (store) => {
        await seedStreams(store);
        const all = await store.readStream("acct:1");
        assertEquals(seqs(all), [1, 2, 3, 4, 5]);
        assertEquals(all.map((e) => e.payload), [1, 2, 3, 4, 5]);
        assert(all.every((e) => e.entity === "acct:1"), "no prefix neighbours");
        assertEquals(seqs(await store.readStream("acct:1", { from: 2, maxCount: 2 })), [2, 3]);
        assertEquals(seqs(await store.readStream("acct:1", { from: 4 })), [4, 5]);
        assertEquals(seqs(await store.readStream("acct:1", { from: 6 })), []);
        assertEquals(seqs(await store.readStream("acct:1", { maxCount: 0 })), []);
        const back = { direction: "backwards" } as const;
        assertEquals(seqs(await store.readStream("acct:1", back)), [5, 4, 3, 2, 1]);
        assertEquals(seqs(await store.readStream("acct:1", { ...back, maxCount: 2 })), [5, 4]);
        assertEquals(seqs(await store.readStream("acct:1", { ...back, from: 3 })), [3, 2, 1]);
        assertEquals(
          seqs(await store.readStream("acct:1", { ...back, from: 9, maxCount: 1 })),
          [5],
        );
        assertEquals(seqs(await store.readStream("acct:1", { direction: "forwards" })), [
          1,
          2,
          3,
          4,
          5,
        ]);
        assertEquals(await store.readStream("nobody"), []);
        assertEquals(await store.readStream("acct:"), [], "a prefix is not an entity");
        for (const e of all) assertEquals(essence(e), essence(await store.get(e.eventId)));
      }),
  },
  {
    name: "lastSequence: 0 for an unknown entity, the count after appends",
    run: (open) =>
      withStore(open, async (store) => {
        assertEquals(await store.lastSequence("acct:1"), 0);
        await seedStreams(store);
        assertEquals(await store.lastSequence("acct:1"), 5);
        assertEquals(await store.lastSequence("acct:10"), 1);
        assertEquals(await store.lastSequence("acct:"), 0);
      }),
  },
  {
    name: "read: global order, pages that add up to the whole, region filters",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const receipts = [];
        for (const [entity, scope, kind] of MIX) {
          receipts.push(await store.append(new Coordinate(entity, scope), kind, entity));
        }
        const all = await store.read(Region.all(), { after: 0, limit: 1000 });
        assertEquals(all.map((e) => e.eventId), receipts.map((r) => r.eventId));
        assertGlobalOrder(all, ctx.features.gaplessGlobalSequence, "read(all)");
        // Pages of every size reproduce the whole.
        for (const size of [1, 2, 3, 7]) {
          const paged: StoredEvent[] = [];
          let after = 0;
          for (;;) {
            const page = await store.read(Region.all(), { after, limit: size });
            assert(page.length <= size, "limit respected");
            paged.push(...page);
            if (page.length < size) break;
            after = page[page.length - 1].globalSequence;
          }
          assertEquals(paged.map(essence), all.map(essence), `pages of ${size}`);
        }
        assertEquals(await store.read(Region.all(), { after: 0, limit: 0 }), []);
        const last = all[all.length - 1].globalSequence;
        assertEquals(await store.read(Region.all(), { after: last, limit: 10 }), []);
        const mid = all[2].globalSequence;
        assertEquals(
          (await store.read(Region.all(), { after: mid, limit: 2 })).map((e) => e.eventId),
          all.slice(3, 5).map((e) => e.eventId),
        );
        const pick = async (region: Region) =>
          (await store.read(region, { after: 0, limit: 100 })).map((e) =>
            `${e.entity}/${EventKind.category(e.kind)}.${EventKind.type(e.kind)}`
          );
        assertEquals(await pick(Region.entity("order:1")), [
          "order:1/1.1",
          "order:1/2.1",
          "order:10/1.1",
        ]);
        assertEquals(await pick(Region.stream("order:1")), ["order:1/1.1", "order:1/2.1"]);
        assertEquals(await pick(Region.entity("order")), [
          "order:1/1.1",
          "order:2/1.2",
          "order:1/2.1",
          "order:10/1.1",
          "orders/1.2",
        ]);
        assertEquals(await pick(Region.scope("crm")), ["user:1/1.1", "user:2/2.1"]);
        assertEquals(await pick(Region.all().withKinds(K2)), ["order:2/1.2", "orders/1.2"]);
        assertEquals(await pick(Region.all().withCategory(0x2)), ["order:1/2.1", "user:2/2.1"]);
        assertEquals(await pick(Region.scope("shop").withKinds(K1, K3)), [
          "order:1/1.1",
          "order:1/2.1",
          "order:10/1.1",
        ]);
        assertEquals(await pick(Region.entity("user:").withCategory(0x1)), ["user:1/1.1"]);
        assertEquals(await pick(Region.entity("nobody")), []);
        assertEquals(await pick(Region.entity("")), await pick(Region.all()));
        // A page of a filtered region starts after `after`, whatever lies between.
        const shop = await store.read(Region.scope("shop"), {
          after: all[1].globalSequence,
          limit: 1,
        });
        assertEquals(shop.map((e) => e.payload), ["order:1"]);
        assertEquals(shop[0].globalSequence, all[3].globalSequence);
      }),
  },
  {
    name: "read: entity prefixes are literal (no wildcards)",
    run: (open) =>
      withStore(open, async (store) => {
        for (const entity of ["a%b", "axb", "a_c", "abc", "a\\d", "a\\\\d"]) {
          await store.append(new Coordinate(entity, "s"), K1, entity);
        }
        const of = async (prefix: string) =>
          (await readAll(store, Region.entity(prefix))).map((e) => e.entity);
        assertEquals(await of("a%"), ["a%b"]);
        assertEquals(await of("a_"), ["a_c"]);
        assertEquals(await of("a\\"), ["a\\d", "a\\\\d"]);
        assertEquals(await of("a"), ["a%b", "axb", "a_c", "abc", "a\\d", "a\\\\d"]);
      }),
  },
  {
    name: "subscribe: catches up, then follows live appends, in global order, until aborted",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("chat:1", "chat");
        for (let i = 0; i < 3; i++) await store.append(coord, K1, i);
        let appended = 3;
        const seen = await follow(
          (signal) => store.subscribe(Region.scope("chat"), { signal }),
          (events) => events.length === 7,
          async (events) => {
            // Once caught up, append the rest one at a time (each must arrive live).
            if (events.length >= 3 && appended < 7 && events.length === appended) {
              await store.append(coord, K1, appended++);
            }
          },
        );
        assertEquals(seen.map((e) => e.payload), [0, 1, 2, 3, 4, 5, 6]);
        assertGlobalOrder(seen, ctx.features.gaplessGlobalSequence, "subscription");
        assertEquals(seen.map(essence), (await readAll(store)).map(essence));
      }),
  },
  {
    name:
      "subscribe: after, region filters, a batch arrives whole, events from other writes skipped",
    run: (open) =>
      withStore(open, async (store) => {
        const a = new Coordinate("sub:a", "s");
        const b = new Coordinate("sub:b", "s");
        const first = await store.append(a, K1, "a1");
        await store.append(b, K1, "b1");
        await store.append(a, K2, "a2");
        const seen = await follow(
          (signal) =>
            store.subscribe(Region.entity("sub:a"), { after: first.globalSequence, signal }),
          (events) => events.length === 4,
          async (events) => {
            if (events.length === 1) {
              await store.appendBatch([
                { coord: b, kind: K1, payload: "b2" },
                { coord: a, kind: K1, payload: "a3" },
                { coord: a, kind: K1, payload: "a4" },
              ]);
              await store.append(a, K1, "a5");
            }
          },
        );
        assertEquals(seen.map((e) => e.payload), ["a2", "a3", "a4", "a5"]);
      }),
  },
  {
    name: "subscribe: abort while waiting, and break, end the iteration cleanly",
    run: (open) =>
      withStore(open, async (store) => {
        const stop = new AbortController();
        setTimeout(() => stop.abort(), 30);
        let n = 0;
        for await (const _ of store.subscribe(Region.all(), { signal: stop.signal })) n++;
        assertEquals(n, 0);
        await store.append(new Coordinate("x", "s"), K1, 1);
        await store.append(new Coordinate("x", "s"), K1, 2);
        for await (const e of store.subscribe(Region.all())) {
          assertEquals(e.payload, 1);
          break;
        }
        const aborted = new AbortController();
        aborted.abort();
        let m = 0;
        for await (const _ of store.subscribe(Region.all(), { signal: aborted.signal })) m++;
        assertEquals(m, 0, "an aborted signal delivers nothing");
        // Two subscriptions side by side each see everything.
        const [one, two] = await Promise.all([0, 1].map(() =>
          follow(
            (signal) => store.subscribe(Region.all(), { signal }),
            (events) => events.length === 2,
          )
        ));
        assertEquals(one.map(essence), two.map(essence));
      }),
  },
  {
    name: "cursors: saveCursor / loadCursor, durable, no events in user regions",
    run: async (open) => {
      await withStore(open, async (store) => {
        assertEquals(await store.loadCursor("mailer"), undefined);
        const coord = new Coordinate("job:1", "jobs");
        const r = [];
        for (let i = 0; i < 3; i++) r.push(await store.append(coord, K1, i));
        const before = await readAll(store);
        await store.saveCursor("mailer", r[1].globalSequence);
        await store.saveCursor("mailer", r[1].globalSequence); // the same position again
        await store.saveCursor("other", 0);
        assertEquals(await store.loadCursor("mailer"), r[1].globalSequence);
        assertEquals(await store.loadCursor("other"), 0);
        for (let i = 0; i < 20; i++) await store.saveCursor("busy", r[i % 3].globalSequence);
        assertEquals(await store.loadCursor("busy"), r[1].globalSequence);
        assertEquals((await readAll(store)).map(essence), before.map(essence), "user events");
        assertEquals((await readAll(store, Region.scope("jobs"))).length, 3);
        await store.durable();
      });
      await withStore(open, async (store) => {
        const saved = await store.loadCursor("mailer");
        assert(saved !== undefined, "survives reopen");
        const rest = await store.read(Region.scope("jobs"), { after: saved, limit: 10 });
        assertEquals(rest.map((e) => e.payload), [2]);
        await store.saveCursor("mailer", rest[0].globalSequence);
        assertEquals(await store.loadCursor("mailer"), rest[0].globalSequence);
      });
    },
  },
  {
    name: "project: folds the entity's relevant events, cached and incremental",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("account:1", "bank");
        let applied = 0;
        const balance: EventSourced<number> = {
          kinds: [K1],
          initial: () => 0,
          apply: (sum, e) => {
            applied++;
            return sum + (e.payload as { amount: number }).amount;
          },
        };
        const every: EventSourced<string[]> = {
          initial: () => [],
          apply: (s, e) => [...s, `${e.sequence}:${e.kind}`],
        };
        assertEquals(await store.project("account:1", balance), undefined);
        await store.append(coord, K2, { amount: 1000 }); // not relevant to balance
        assertEquals(await store.project("account:1", balance), undefined, "no relevant events");
        await store.append(coord, K1, { amount: 10 });
        await store.append(coord, K1, { amount: 5 });
        await store.append(new Coordinate("account:10", "bank"), K1, { amount: 99 });
        assertEquals(await store.project("account:1", balance), 15);
        const after = applied;
        assertEquals(await store.project("account:1", balance), 15, "cached");
        assertEquals(applied, after, "nothing re-applied");
        await store.append(coord, K1, { amount: 1 });
        assertEquals(await store.project("account:1", balance, "consistent"), 16);
        assertEquals(applied, after + 1, "only the new event applied");
        assertEquals(await store.project("account:1", every), [
          `1:${K2}`,
          `2:${K1}`,
          `3:${K1}`,
          `4:${K1}`,
        ]);
        assertEquals(await store.project("nobody", every), undefined);
        await store.append(coord, K1, { amount: 100 });
        const maybe = await store.project("account:1", balance, { maybeStaleMs: 60_000 });
        assert(maybe === 16 || maybe === 116, `maybeStaleMs gives a recent state, found ${maybe}`);
        assertEquals(await store.project("account:1", balance), 116);
        await sleep(0);
      }),
  },
  {
    name:
      "project: a defineProjection is cached by its name, even written inline; its name is one fold",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("account:2", "bank");
        let applied = 0;
        // A new object on every call, as when it is written at the call site.
        const balance = (kinds = [K1]) =>
          defineProjection("conformance-balance", {
            kinds,
            initial: () => 0,
            apply: (sum: number, e: StoredEvent) => {
              applied++;
              return sum + (e.payload as { amount: number }).amount;
            },
          });
        await store.append(coord, K1, { amount: 10 });
        await store.append(coord, K1, { amount: 5 });
        assertEquals(await store.project("account:2", balance()), 15);
        assertEquals(applied, 2);
        assertEquals(await store.project("account:2", balance()), 15, "cached by name");
        assertEquals(applied, 2, "nothing re-applied for a new object of the same name");
        await store.append(coord, K1, { amount: 1 });
        assertEquals(await store.project("account:2", balance()), 16);
        assertEquals(applied, 3, "only the new event applied");
        await assertFails(
          () => store.project("account:2", balance([K1, K2])),
          InvalidArgumentError,
          "one name, other kinds",
        );
      }),
  },
];

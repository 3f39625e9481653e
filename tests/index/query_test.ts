/**
 * Region queries over the index: entity prefixes, scopes, kinds and
 * categories, system events only on request, agreement with a naive filter
 * (property), and prefixes over many entities merged in global order.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Coordinate,
  EventKind,
  InvalidArgumentError,
  Region,
  type Store,
  StoreClosedError,
} from "../../mod.ts";
import { drain, gsOf, K1, K2, K3, KINDS, memStore } from "../fixtures/read_helpers.ts";
import {
  KIND_A,
  KIND_B,
  memStore as memDb,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

Deno.test("query: entity prefix, scope, kinds and category filters", () => {
  const { store } = memStore();
  store.append(new Coordinate("order:1", "shop"), K1, 1); // 1
  store.append(new Coordinate("order:2", "shop"), K2, 2); // 2
  store.append(new Coordinate("order:10", "shop"), K1, 3); // 3
  store.append(new Coordinate("user:1", "crm"), K3, 4); // 4
  store.append(new Coordinate("order:1", "shop"), K3, 5); // 5
  store.append(new Coordinate("orders", "crm"), K1, 6); // 6
  assert.deepEqual(gsOf(store.query(Region.all())), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(gsOf(store.query(Region.entity("order:"))), [1, 2, 3, 5]);
  assert.deepEqual(gsOf(store.query(Region.entity("order:1"))), [1, 3, 5]);
  assert.deepEqual(gsOf(store.query(Region.entity("order"))), [1, 2, 3, 5, 6]);
  assert.deepEqual(gsOf(store.query(Region.entity("nope"))), []);
  assert.deepEqual(gsOf(store.query(Region.scope("crm"))), [4, 6]);
  assert.deepEqual(gsOf(store.query(Region.scope("none"))), []);
  assert.deepEqual(gsOf(store.query(Region.all().withKinds(K1))), [1, 3, 6]);
  assert.deepEqual(gsOf(store.query(Region.all().withCategory(2))), [4, 5]);
  assert.deepEqual(gsOf(store.query(Region.entity("order").withKinds(K1, K3))), [1, 3, 5, 6]);
  assert.deepEqual(gsOf(store.query(Region.scope("shop").withCategory(1))), [1, 2, 3]);
  assert.deepEqual(gsOf(store.queryAfter(Region.entity("order"), 2, 2)), [3, 5]);
  assert.deepEqual(gsOf(store.queryAfter(Region.all(), 6, 10)), []);
  assert.deepEqual(gsOf(store.queryAfter(Region.all(), 99, 10)), []);
  assert.deepEqual(gsOf(store.queryAfter(Region.all(), 0, 0)), []);
  const [entry] = store.queryAfter(Region.scope("crm"), 0, 1);
  assert.equal(entry.entity, "user:1");
  assert.equal(entry.scope, "crm");
  assert.equal(entry.kind, K3);
  assert.equal(entry.sequence, 1);
  store.close();
});

Deno.test("query: bad arguments throw InvalidArgumentError", () => {
  const { store } = memStore();
  const all = Region.all();
  throwsType(() => store.query({} as Region), InvalidArgumentError);
  throwsType(() => store.queryAfter(all, -1, 1), InvalidArgumentError);
  throwsType(() => store.queryAfter(all, 0.5, 1), InvalidArgumentError);
  throwsType(() => store.queryAfter(all, NaN, 1), InvalidArgumentError);
  throwsType(() => store.queryAfter(all, 0, -1), InvalidArgumentError);
  throwsType(() => store.queryAfter(all, 0, "3" as unknown as number), InvalidArgumentError);
  store.close();
  throwsType(() => store.query(all), StoreClosedError);
});

Deno.test("query: system events only with withSystem() (or a category-0 filter); cursor saves are no events", () => {
  const { store } = memStore();
  store.append(new Coordinate("job:1", "jobs"), K1, {});
  store.saveCursor("worker", 1); // not an event at all
  store.ownership("jobs").claim("w", 1000); // g = 2, entity $fence:jobs, a system event
  store.append(new Coordinate("job:2", "jobs"), K1, {});
  assert.deepEqual(gsOf(store.query(Region.all())), [1, 3]);
  assert.deepEqual(gsOf(drain(store, Region.all())), [1, 3]);
  assert.deepEqual(gsOf(store.query(Region.all().withSystem())), [1, 2, 3]);
  assert.deepEqual(gsOf(drain(store, Region.all().withSystem())), [1, 2, 3]);
  assert.deepEqual(gsOf(store.query(Region.entity(""))), [1, 3]);
  assert.deepEqual(gsOf(store.query(Region.entity("$fence:"))), []);
  assert.deepEqual(gsOf(store.query(Region.scope("jobs"))), [1, 3]);
  assert.deepEqual(gsOf(store.query(Region.entity("$fence:").withCategory(0))), [2]);
  assert.deepEqual(gsOf(store.query(Region.scope("jobs").withSystem())), [1, 2, 3]);
  assert.deepEqual(gsOf(store.query(Region.all().withCategory(1))), [1, 3]);
  assert.equal(store.loadCursor("worker"), 1);
  store.close();
});

/** One step of the query model test. */
type QueryOp =
  | { t: "append"; e: number; s: number; k: number }
  | { t: "batch"; items: { e: number; s: number; k: number }[] }
  | { t: "checkpoint" }
  | {
    t: "query";
    prefix: number;
    scope: number;
    kinds: number[] | null;
    category: number | null;
    after: number;
    limit: number;
  };

const ENTITIES = ["a", "ab", "abc", "a:1", "a:2", "b", "ba", "c"];
const PREFIXES: (string | undefined)[] = [undefined, "", "a", "ab", "a:", "b", "z", "abc", "$"];
const SCOPES: (string | undefined)[] = [undefined, "s1", "s2", "$system"];

Deno.test("query: agrees with a naive filter over random logs and regions (property)", () => {
  const pos = fc.record({ e: fc.nat(ENTITIES.length - 1), s: fc.nat(1), k: fc.nat(2) });
  const op: fc.Arbitrary<QueryOp> = fc.oneof(
    { weight: 6, arbitrary: pos.map((p) => ({ t: "append" as const, ...p })) },
    {
      weight: 1,
      arbitrary: fc.array(pos, { minLength: 1, maxLength: 5 }).map((items) => ({
        t: "batch" as const,
        items,
      })),
    },
    { weight: 1, arbitrary: fc.constant({ t: "checkpoint" as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant("query" as const),
        prefix: fc.nat(PREFIXES.length - 1),
        scope: fc.nat(SCOPES.length - 1),
        kinds: fc.option(fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 3 })),
        category: fc.option(fc.nat(2)),
        after: fc.nat(60),
        limit: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(1000)),
      }),
    },
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const { store } = memStore();
      const model: { entity: string; scope: string; kind: number }[] = [];
      const systemKind = EventKind.custom(0, 2);
      const kindOf = (k: number) => (k === 3 ? systemKind : KINDS[k]);
      try {
        for (const o of ops) {
          if (o.t === "append") {
            const c = new Coordinate(ENTITIES[o.e], `s${o.s + 1}`);
            store.append(c, KINDS[o.k], null);
            model.push({ entity: c.entity, scope: c.scope, kind: KINDS[o.k] });
          } else if (o.t === "batch") {
            store.appendBatch(o.items.map((i) => ({
              coord: new Coordinate(ENTITIES[i.e], `s${i.s + 1}`),
              kind: KINDS[i.k],
              payload: null,
            })));
            for (const i of o.items) {
              model.push({ entity: ENTITIES[i.e], scope: `s${i.s + 1}`, kind: KINDS[i.k] });
            }
          } else if (o.t === "checkpoint") {
            const before = store.diagnostics().events;
            store.saveCursor("c", before);
            if (store.diagnostics().events > before) {
              model.push({ entity: "$cursor:c", scope: "$system", kind: systemKind });
            }
          } else {
            let region = PREFIXES[o.prefix] === undefined
              ? (SCOPES[o.scope] === undefined ? Region.all() : Region.scope(SCOPES[o.scope]!))
              : Region.entity(PREFIXES[o.prefix]!);
            if (PREFIXES[o.prefix] !== undefined && SCOPES[o.scope] !== undefined) {
              // Region has no public "entity and scope" constructor: build one through its fields.
              region = Object.assign(Object.create(Region.prototype), region, {
                scope: SCOPES[o.scope],
              });
            }
            if (o.kinds) region = region.withKinds(...o.kinds.map(kindOf));
            if (o.category !== null) region = region.withCategory(o.category);
            const narrowed = region.entityPrefix !== undefined || region.scope !== undefined;
            const asks = region.category === 0 ||
              (region.kinds ?? []).some((k) => EventKind.category(k) === 0);
            const expected: number[] = [];
            for (let i = o.after; i < model.length && expected.length < o.limit; i++) {
              const m = model[i];
              const system = EventKind.category(m.kind as EventKind) === 0;
              if (narrowed && system && !asks) continue;
              if (region.matches(m.entity, m.scope, m.kind)) expected.push(i + 1);
            }
            assert.deepEqual(gsOf(store.queryAfter(region, o.after, o.limit)), expected);
          }
        }
        assert.equal(store.diagnostics().events, model.length);
      } finally {
        store.close();
      }
    }),
    { numRuns: 150 },
  );
});

Deno.test("query: a prefix over many entities merges postings in global order", () => {
  const { store } = memStore();
  for (let i = 0; i < 2000; i++) {
    store.append(new Coordinate(`user:${i % 300}`, "s"), K1, i);
    if (i % 3 === 0) store.append(new Coordinate(`other:${i}`, "s"), K1, i);
  }
  const all = gsOf(store.query(Region.all()).filter((e) => e.entity.startsWith("user:")));
  assert.deepEqual(gsOf(store.query(Region.entity("user:"))), all);
  const from = all.findIndex((g) => g > 100);
  assert.deepEqual(
    gsOf(store.queryAfter(Region.entity("user:"), 100, 3)),
    all.slice(from, from + 3),
  );
  // user:29 and user:290..299: 7 + 10 × 6 events.
  assert.equal(store.query(Region.entity("user:29")).length, 67);
  // New entities keep the sorted entity table current.
  store.append(new Coordinate("user:2999", "s"), K1, 0);
  store.append(new Coordinate("user:28", "s"), K1, 0);
  assert.equal(store.query(Region.entity("user:29")).length, 68);
  assert.equal(store.query(Region.entity("user:")).length, all.length + 2);
  store.close();
});

Deno.test("query/queryAfter agree with a naive filter for every region, after and limit", () => {
  const { fs, store } = memDb({ segmentMaxBytes: 4096 });
  const names = ["user:1", "user:10", "user:2", "user", "admin:1", "u", "userX", "user:1:a"];
  const scopes = ["a", "b", "c"];
  const kinds = [KIND_A, KIND_B, EventKind.custom(0x3, 5)];
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const model: { entity: string; scope: string; kind: number; g: number }[] = [];
  const scopeOf = new Map<string, string>();
  const push = (entity: string, kind: EventKind, g: number) =>
    model.push({ entity, scope: scopeOf.get(entity)!, kind, g });
  for (const n of names) scopeOf.set(n, scopes[rnd(3)]);
  for (let i = 0; i < 400; i++) {
    if (i % 25 === 0) {
      const items = Array.from({ length: 4 }, () => {
        const e = names[rnd(names.length)];
        return { coord: new Coordinate(e, scopeOf.get(e)!), kind: kinds[rnd(3)], payload: i };
      });
      const rs = store.appendBatch(items);
      items.forEach((it, k) => push(it.coord.entity, it.kind, rs[k].globalSequence));
    } else {
      const e = names[rnd(names.length)];
      const kind = kinds[rnd(3)];
      push(e, kind, store.append(new Coordinate(e, scopeOf.get(e)!), kind, i).globalSequence);
    }
  }
  const regions: [string, Region, (m: typeof model[0]) => boolean][] = [
    ["all", Region.all(), () => true],
    ["kinds", Region.all().withKinds(KIND_B, kinds[2]), (m) => m.kind !== KIND_A],
    ["category 1", Region.all().withCategory(1), (m) => m.kind === KIND_A],
    ["empty prefix", Region.entity(""), () => true],
    ...names.map((n): [string, Region, (m: typeof model[0]) => boolean] => [
      `prefix ${n}`,
      Region.entity(n),
      (m) => m.entity.startsWith(n),
    ]),
    [
      "prefix user:1 kind B",
      Region.entity("user:1").withKinds(KIND_B),
      (m) => m.entity.startsWith("user:1") && m.kind === KIND_B,
    ],
    ["prefix none", Region.entity("zzz"), () => false],
    ...scopes.map((sc): [string, Region, (m: typeof model[0]) => boolean] => [
      `scope ${sc}`,
      Region.scope(sc),
      (m) => m.scope === sc,
    ]),
    [
      "scope a category 2",
      Region.scope("a").withCategory(2),
      (m) => m.scope === "a" && m.kind === KIND_B,
    ],
  ];
  const check = (s: Store) => {
    for (const [name, region, keep] of regions) {
      const all = model.filter(keep).map((m) => m.g);
      assert.deepEqual(s.query(region).map((e) => e.globalSequence), all, name);
      for (const after of [0, 1, 17, 200, model.length - 1, model.length, model.length + 5]) {
        for (const limit of [0, 1, 3, 1_000]) {
          const expected = all.filter((g) => g > after).slice(0, limit);
          const got = s.queryAfter(region, after, limit).map((e) => e.globalSequence);
          assert.deepEqual(got, expected, `${name} after ${after} limit ${limit}`);
        }
      }
    }
    for (const n of [...names, "user:"]) {
      assert.deepEqual(
        s.stream(n).map((e) => e.globalSequence),
        model.filter((m) => m.entity === n).map((m) => m.g),
        `stream ${n}`,
      );
    }
  };
  check(store);
  store.close();
  for (const cfg of [{}, { enableMmapIndex: false }]) {
    const again = reopen(fs, cfg);
    check(again);
    again.close();
  }
});

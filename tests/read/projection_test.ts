/**
 * Cached projections: kinds filters, incremental apply, `maybeStaleMs`, a
 * throwing apply, the bounded per-projection cache, and cached-incremental
 * equal to a fresh fold (property).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Coordinate,
  type EventKind,
  type EventSourced,
  InvalidArgumentError,
  StoreClosedError,
  type StoredEvent,
} from "../../mod.ts";
import { PROJECTION_CACHE_ENTITIES_MAX } from "../../src/read/projection.ts";
import { K1, K2, K3, KINDS, memStore, tick } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

interface Tally {
  n: number;
  sum: number;
}

Deno.test("project: kinds filter, undefined when nothing relevant, incremental apply", () => {
  const { store } = memStore();
  let applied = 0;
  const sums: EventSourced<Tally> = {
    kinds: [K1],
    initial: () => ({ n: 0, sum: 0 }),
    apply: (s, e) => {
      applied++;
      return { n: s.n + 1, sum: s.sum + (e.payload as number) };
    },
  };
  assert.equal(store.project("acct", sums), undefined);
  store.append(new Coordinate("acct", "s"), K2, 100);
  assert.equal(store.project("acct", sums), undefined, "only irrelevant kinds");
  store.append(new Coordinate("acct", "s"), K1, 5);
  store.append(new Coordinate("other", "s"), K1, 1000);
  store.append(new Coordinate("acct", "s"), K1, 7);
  assert.deepEqual(store.project("acct", sums), { n: 2, sum: 12 });
  assert.equal(applied, 2);
  assert.deepEqual(store.project("acct", sums), { n: 2, sum: 12 });
  assert.equal(applied, 2, "nothing new: nothing applied");
  store.append(new Coordinate("acct", "s"), K1, 1);
  store.append(new Coordinate("acct", "s"), K3, 1);
  assert.deepEqual(store.project("acct", sums), { n: 3, sum: 13 });
  assert.equal(applied, 3, "only the new relevant event applied");
  const all: EventSourced<number> = { initial: () => 0, apply: (n) => n + 1 };
  assert.equal(store.project("acct", all), 5);
  store.close();
});

Deno.test("project: maybeStaleMs serves a cached state that young (config.clock)", () => {
  let now = 1_000_000;
  const { store } = memStore({ clock: () => now });
  const count: EventSourced<number> = { initial: () => 0, apply: (n) => n + 1 };
  const coord = new Coordinate("a", "s");
  store.append(coord, K1, 0);
  assert.equal(store.project("a", count, { maybeStaleMs: 50 }), 1);
  store.append(coord, K1, 0);
  now += 50;
  assert.equal(store.project("a", count, { maybeStaleMs: 50 }), 1, "cached, 50 ms old");
  assert.equal(store.project("a", count), 2, "consistent sees everything");
  store.append(coord, K1, 0);
  now += 10;
  assert.equal(store.project("a", count, { maybeStaleMs: 9 }), 3, "too old: caught up");
  store.append(coord, K1, 0);
  assert.equal(store.project("a", count, { maybeStaleMs: 0 }), 3, "same instant");
  assert.equal(store.project("a", count, { maybeStaleMs: Infinity }), 3);
  assert.equal(store.project("b", count, { maybeStaleMs: 1000 }), undefined);
  for (const bad of [{ maybeStaleMs: -1 }, { maybeStaleMs: NaN }, {}, "fresh", null, 5]) {
    throwsType(
      () => store.project("a", count, bad as { maybeStaleMs: number }),
      InvalidArgumentError,
    );
  }
  store.close();
});

Deno.test("project: a throwing apply drops the cached state; bad projections are rejected", () => {
  const { store } = memStore();
  const coord = new Coordinate("a", "s");
  let failAt = -1;
  const list: EventSourced<number[]> = {
    initial: () => [],
    apply: (s, e) => {
      if (e.payload === failAt) throw new Error("boom");
      s.push(e.payload as number); // mutates the cached state in place
      return s;
    },
  };
  store.append(coord, K1, 1);
  assert.deepEqual(store.project("a", list), [1]);
  store.append(coord, K1, 2);
  store.append(coord, K1, 3);
  failAt = 3;
  assert.throws(() => store.project("a", list), /boom/);
  failAt = -1;
  assert.deepEqual(store.project("a", list), [1, 2, 3]);
  throwsType(() => store.project("a", {} as EventSourced<number>), InvalidArgumentError);
  throwsType(
    () =>
      store.project(
        "a",
        { kinds: [K1, 70000], initial: () => 0, apply: (n: number) => n } as never,
      ),
    InvalidArgumentError,
  );
  throwsType(() => store.project(5 as unknown as string, list), InvalidArgumentError);
  store.close();
  throwsType(() => store.project("a", list), StoreClosedError);
});

Deno.test("project: the per-projection cache is bounded and eviction only costs a re-fold", () => {
  const { store } = memStore();
  let applied = 0;
  const sum: EventSourced<number> = {
    initial: () => 0,
    apply: (n, e) => (applied++, n + (e.payload as number)),
  };
  const entities = PROJECTION_CACHE_ENTITIES_MAX + 10;
  for (let i = 0; i < entities; i++) store.append(new Coordinate(`e${i}`, "s"), K1, i);
  store.append(new Coordinate("e0", "s"), K1, 100);
  for (let i = 0; i < entities; i++) assert.equal(store.project(`e${i}`, sum), i === 0 ? 100 : i);
  assert.equal(applied, entities + 1);
  assert.equal(store.project(`e${entities - 1}`, sum), entities - 1);
  assert.equal(applied, entities + 1, "recently used: still cached");
  assert.equal(store.project("e0", sum), 100);
  assert.equal(applied, entities + 3, "evicted (least recently used): folded again");
  store.close();
});

type ProjOp =
  | { t: "append"; e: number; k: number; v: number }
  | { t: "batch"; items: { e: number; k: number; v: number }[] }
  | { t: "project"; e: number; p: number }
  | { t: "flush" };

Deno.test("project: cached-incremental always equals a fresh fold (property)", async () => {
  const item = fc.record({ e: fc.nat(2), k: fc.nat(2), v: fc.integer({ min: -50, max: 50 }) });
  const op: fc.Arbitrary<ProjOp> = fc.oneof(
    { weight: 5, arbitrary: item.map((i) => ({ t: "append" as const, ...i })) },
    {
      weight: 1,
      arbitrary: fc.array(item, { minLength: 1, maxLength: 4 }).map((items) => ({
        t: "batch" as const,
        items,
      })),
    },
    {
      weight: 4,
      arbitrary: fc.record({ t: fc.constant("project" as const), e: fc.nat(2), p: fc.nat(2) }),
    },
    { weight: 1, arbitrary: fc.constant({ t: "flush" as const }) },
  );
  // Three shapes of projection: immutable with all kinds, mutating with a kinds filter, and
  // one whose kinds never occur for some entities (undefined).
  const history: EventSourced<[number, number][]> = {
    initial: () => [],
    apply: (s, e) => [...s, [e.kind, e.payload as number]],
  };
  const tally: EventSourced<Tally> = {
    kinds: [K1, K3],
    initial: () => ({ n: 0, sum: 0 }),
    apply: (s, e) => {
      s.n++;
      s.sum += e.payload as number;
      return s;
    },
  };
  const rare: EventSourced<number> = {
    kinds: [K2],
    initial: () => 0,
    apply: (s, e) => s * 31 + (e.payload as number) + e.sequence,
  };
  const projections = [history, tally, rare] as EventSourced<unknown>[];
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const { store } = memStore({ segmentMaxBytes: 1024 });
      const model: { entity: string; kind: EventKind; v: number; seq: number }[] = [];
      const seqs = new Map<string, number>();
      const push = (e: number, k: number, v: number) => {
        const entity = `ent${e}`;
        const seq = (seqs.get(entity) ?? 0) + 1;
        seqs.set(entity, seq);
        model.push({ entity, kind: KINDS[k], v, seq });
      };
      const fold = (entity: string, p: EventSourced<unknown>) => {
        let state = p.initial();
        let relevant = false;
        for (const m of model) {
          if (m.entity !== entity || (p.kinds && !p.kinds.includes(m.kind))) continue;
          relevant = true;
          state = p.apply(state, { kind: m.kind, payload: m.v, sequence: m.seq } as StoredEvent);
        }
        return relevant ? state : undefined;
      };
      try {
        for (const o of ops) {
          if (o.t === "append") {
            store.append(new Coordinate(`ent${o.e}`, "s"), KINDS[o.k], o.v);
            push(o.e, o.k, o.v);
          } else if (o.t === "batch") {
            store.appendBatch(o.items.map((i) => ({
              coord: new Coordinate(`ent${i.e}`, "s"),
              kind: KINDS[i.k],
              payload: i.v,
            })));
            for (const i of o.items) push(i.e, i.k, i.v);
          } else if (o.t === "flush") {
            await tick();
          } else {
            const p = projections[o.p];
            const entity = `ent${o.e}`;
            const cached = store.project(entity, p);
            assert.deepStrictEqual(cached, fold(entity, p));
            // A fresh projection object has no cache: a cold fold through the store.
            assert.deepStrictEqual(store.project(entity, { ...p }), cached);
          }
        }
      } finally {
        store.close();
      }
    }),
    { numRuns: 120 },
  );
});

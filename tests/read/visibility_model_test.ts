/**
 * Visibility against a naive model: random appends over a few entities and
 * scopes, truncations, deletions and count retention, then every read of
 * each stream (from, maxCount, both directions) and a full query must be the
 * model's filter. The predicate compares global sequences with the n-th
 * posting instead of reading a sequence column, so this pins it down.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Coordinate, Region } from "../../mod.ts";
import { KIND_A, memStore, reopen } from "../fixtures/store_helpers.ts";

const ENTITIES = ["a", "b", "c"];
const SCOPES = ["s1", "s2"];

type Op =
  | { op: "append"; e: number; s: number }
  | { op: "truncate"; e: number; before: number }
  | { op: "delete"; e: number }
  | { op: "retain"; s: number; maxCount: number | undefined };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant("append" as const), e: fc.nat(2), s: fc.nat(1) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("truncate" as const),
      e: fc.nat(2),
      before: fc.integer({ min: 1, max: 12 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), e: fc.nat(2) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("retain" as const),
      s: fc.nat(1),
      maxCount: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    }),
  },
);

interface ModelEvent {
  entity: string;
  scope: string;
  sequence: number;
  g: number;
}

Deno.test("visibility: reads after truncations, deletions and count retention match a naive model", () => {
  fc.assert(
    fc.property(
      fc.array(opArb, { maxLength: 60 }),
      fc.boolean(),
      (ops, reopenFirst) => {
        const { fs, store: first } = memStore();
        let store = first;
        const events: ModelEvent[] = [];
        const truncated = new Map<string, number>();
        const deleted = new Set<string>();
        const retention = new Map<string, number>();
        const last = (entity: string) => events.filter((e) => e.entity === entity).length;
        for (const o of ops) {
          const entity = ENTITIES[o.op === "retain" ? 0 : o.e];
          if (o.op === "append") {
            if (deleted.has(entity)) continue; // refused: tested elsewhere
            const scope = SCOPES[o.s];
            const r = store.append(new Coordinate(entity, scope), KIND_A, events.length);
            events.push({ entity, scope, sequence: r.sequence, g: r.globalSequence });
          } else if (o.op === "truncate") {
            if (deleted.has(entity) || o.before > last(entity) + 1) continue;
            store.truncateBefore(entity, o.before);
            truncated.set(entity, Math.max(truncated.get(entity) ?? 1, o.before));
          } else if (o.op === "delete") {
            if (deleted.has(entity)) continue;
            store.deleteStream(entity);
            deleted.add(entity);
          } else {
            store.setRetention(
              SCOPES[o.s],
              o.maxCount === undefined ? {} : { maxCount: o.maxCount },
            );
            if (o.maxCount === undefined) retention.delete(SCOPES[o.s]);
            else retention.set(SCOPES[o.s], o.maxCount);
          }
        }
        if (reopenFirst) {
          store.close();
          store = reopen(fs);
        }
        const visible = (e: ModelEvent) => {
          if (deleted.has(e.entity)) return false;
          if (e.sequence < (truncated.get(e.entity) ?? 1)) return false;
          const keep = retention.get(e.scope);
          return keep === undefined || e.sequence > last(e.entity) - keep;
        };
        assert.deepEqual(
          store.query(Region.all()).map((e) => e.globalSequence),
          events.filter(visible).map((e) => e.g),
        );
        for (const entity of ENTITIES) {
          const mine = events.filter((e) => e.entity === entity && visible(e));
          assert.deepEqual(
            store.stream(entity).map((e) => e.sequence),
            mine.map((e) => e.sequence),
          );
          for (const from of [undefined, 1, 2, 4, 7, 13]) {
            for (const maxCount of [undefined, 0, 1, 3]) {
              const limit = maxCount ?? Infinity;
              const fwd = mine.filter((e) => e.sequence >= (from ?? 1)).slice(0, limit);
              assert.deepEqual(
                store.readStream(entity, { from, maxCount }).map((e) => e.sequence),
                fwd.map((e) => e.sequence),
                `${entity} forwards from ${from} max ${maxCount}`,
              );
              const back = mine.filter((e) => from === undefined || e.sequence <= from);
              const bwd = back.slice(Math.max(0, back.length - limit)).reverse();
              assert.deepEqual(
                store.readStream(entity, { from, maxCount, direction: "backwards" }).map((e) =>
                  e.sequence
                ),
                bwd.map((e) => e.sequence),
                `${entity} backwards from ${from} max ${maxCount}`,
              );
            }
          }
        }
        store.close();
      },
    ),
    { numRuns: 150 },
  );
});

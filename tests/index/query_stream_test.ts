/**
 * A query of one entity (the stream query: no scope, no kind filter) takes
 * its own loop over the entity's postings; it must return exactly what the
 * general region filter returns from a walk of the whole log: system events
 * dropped unless asked for, deleted and truncated events hidden.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { Coordinate, EventKind, Region, Store } from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";

const KIND = EventKind.custom(1, 1);
const ENTITIES = ["a", "b", "c"];

type Op =
  | { op: "append"; entity: number }
  | { op: "claim"; scope: number }
  | { op: "truncate"; entity: number; before: number }
  | { op: "delete"; entity: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant("append" as const), entity: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("claim" as const), scope: fc.nat(1) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("truncate" as const),
      entity: fc.nat(2),
      before: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), entity: fc.nat(2) }) },
);

Deno.test("stream query: equals the region filter over the whole log, system events and lifecycle included", () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
      const store = Store.open({ dataDir: "/db", fs: new MemoryFileSystem() });
      try {
        const deleted = new Set<string>();
        for (const o of ops) {
          if (o.op === "append") {
            const entity = ENTITIES[o.entity];
            if (!deleted.has(entity)) store.append(new Coordinate(entity, "s"), KIND, {});
          } else if (o.op === "claim") {
            // A claim and a release: two system events in the scope's fence entity.
            const own = store.ownership(`s${o.scope}`);
            own.release(own.claim("me", 60_000));
          } else if (o.op === "truncate") {
            const entity = ENTITIES[o.entity];
            const last = store.readStream(entity).at(-1)?.sequence ?? 0;
            if (!deleted.has(entity) && o.before <= last + 1) {
              store.truncateBefore(entity, o.before);
            }
          } else if (!deleted.has(ENTITIES[o.entity])) {
            store.deleteStream(ENTITIES[o.entity]);
            deleted.add(ENTITIES[o.entity]);
          }
        }
        const everything = store.query(Region.all().withSystem());
        const entities = new Set([...ENTITIES, ...everything.map((e) => e.entity)]);
        for (const entity of entities) {
          for (const system of [false, true]) {
            const region = system ? Region.entity(entity).withSystem() : Region.entity(entity);
            const want = store.query(system ? Region.all().withSystem() : Region.all())
              .filter((e) => e.entity === entity).map((e) => e.globalSequence);
            assert.deepEqual(
              store.query(region).map((e) => e.globalSequence),
              want,
              `${entity}, system ${system}`,
            );
            for (const after of [0, 1, 3]) {
              assert.deepEqual(
                store.queryAfter(region, after, 2).map((e) => e.globalSequence),
                want.filter((g) => g > after).slice(0, 2),
                `${entity} after ${after} limit 2`,
              );
            }
          }
        }
      } finally {
        store.close();
      }
    }),
    { numRuns: 150 },
  );
});

/**
 * Conformance cases for ownership: leases, takeovers, the four rejection
 * reasons, and fenced appends.
 *
 * @module
 */

import { Coordinate } from "../../src/core/coordinate.ts";
import {
  InvalidArgumentError,
  InvalidCoordinateError,
  OwnershipError,
  type OwnershipRejection,
} from "../../src/core/errors.ts";
import { EventKind } from "../../src/core/kind.ts";
import type { Fence } from "../../src/core/types.ts";
import { assert, assertEquals, assertFails } from "./assert.ts";
import { assertUnchanged, type ConformanceCase, stateOf, withStore } from "./_support.ts";

const K1 = EventKind.custom(0x1, 1);
const LEASE_MS = 1_000;

async function rejected(fn: () => unknown, reason: OwnershipRejection, what: string) {
  const e = await assertFails(fn, OwnershipError, what);
  assertEquals(e.reason, reason, `${what}: reason`);
  return e;
}

export const ownershipCases: ConformanceCase[] = [
  {
    name: "ownership: claim, renew, takeover after expiry, release, and all four rejections",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const own = store.ownership("orders");
        assertEquals(own.scope, "orders");
        assertEquals(await own.current(), undefined);
        const a = await own.claim("worker-a", LEASE_MS);
        assertEquals([a.owner, a.epoch], ["worker-a", 1]);
        assert(typeof a.token === "string" && a.token.length >= 16, "an unguessable token");
        assertEquals(await own.current(), { owner: "worker-a", epoch: 1, token: "" });

        const held = await rejected(() => own.claim("worker-b", LEASE_MS), "lease_held", "claim");
        assertEquals([held.scope, held.currentEpoch], ["orders", 1]);
        await rejected(() => own.takeover("worker-b", a, LEASE_MS), "lease_held", "early takeover");
        await rejected(
          () => own.renew({ ...a, token: "forged" }, LEASE_MS),
          "invalid_token",
          "forged renew",
        );
        ctx.clock.advance(LEASE_MS / 2);
        const renewed = await own.renew(a, LEASE_MS);
        assertEquals(renewed, a, "renew keeps owner, epoch and token");
        ctx.clock.advance(LEASE_MS * 3 / 4); // past the first lease, within the renewed one
        await rejected(() => own.claim("worker-b", LEASE_MS), "lease_held", "renewed lease");

        ctx.clock.advance(LEASE_MS); // now expired
        const observed = await own.current();
        assert(observed !== undefined, "current() after expiry");
        await rejected(
          () => own.takeover("worker-b", { ...observed, owner: "someone-else" }, LEASE_MS),
          "split_brain",
          "takeover observing a wrong owner",
        );
        const b = await own.takeover("worker-b", observed, LEASE_MS);
        assertEquals([b.owner, b.epoch], ["worker-b", 2]);
        assert(b.token !== a.token, "a new token");
        await rejected(
          () => own.takeover("worker-c", a, LEASE_MS),
          "stale_owner",
          "stale takeover",
        );
        await rejected(() => own.renew(a, LEASE_MS), "stale_owner", "renew by the old owner");
        await rejected(() => own.release(a), "stale_owner", "release by the old owner");
        await rejected(
          () => own.renew({ owner: "worker-a", epoch: 2, token: b.token }, LEASE_MS),
          "split_brain",
          "same epoch, other owner",
        );
        await rejected(
          () => own.renew({ ...b, epoch: 3 }, LEASE_MS),
          "invalid_token",
          "an epoch never issued",
        );
        await own.release(b);
        const c = await own.claim("worker-c", LEASE_MS);
        assertEquals(c.epoch, 3, "a claim after release moves the epoch on");
        assertEquals(await own.current(), { owner: "worker-c", epoch: 3, token: "" });
        await rejected(
          () => store.ownership("never-claimed").takeover("x", { ...c }, LEASE_MS),
          "invalid_token",
          "takeover of a scope never claimed",
        );
      }),
  },
  {
    name: "ownership: fenced appends are checked against the scope's current fence",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const own = store.ownership("orders");
        const coord = new Coordinate("order:1", "orders");
        const elsewhere = new Coordinate("order:1", "billing");
        const a = await own.claim("worker-a", LEASE_MS);
        await store.append(coord, K1, "by a", { fence: a });
        await store.appendBatch([{
          coord,
          kind: K1,
          payload: "batch by a",
          options: { fence: a },
        }]);
        const entities = ["order:1"];
        let before = await stateOf(store, entities);
        await rejected(
          () => store.append(coord, K1, "forged", { fence: { ...a, token: "forged" } }),
          "invalid_token",
          "forged token",
        );
        await rejected(
          () => store.append(elsewhere, K1, "x", { fence: a }),
          "invalid_token",
          "a fence of another scope",
        );
        await rejected(
          () => store.append(coord, K1, "x", { fence: { ...a, owner: "worker-z" } }),
          "split_brain",
          "rival owner at the same epoch",
        );
        await assertUnchanged(store, entities, before, "a rejected fenced append");

        ctx.clock.advance(LEASE_MS + 1);
        await rejected(
          () => store.append(coord, K1, "late", { fence: a }),
          "stale_owner",
          "an expired lease",
        );
        const b = await own.takeover("worker-b", (await own.current())!, LEASE_MS);
        before = await stateOf(store, entities);
        await rejected(
          () => store.append(coord, K1, "stale", { fence: a }),
          "stale_owner",
          "the owner before the takeover",
        );
        await rejected(
          () =>
            store.appendBatch([
              { coord, kind: K1, payload: "ok", options: { fence: b } },
              { coord, kind: K1, payload: "stale", options: { fence: a } },
            ]),
          "stale_owner",
          "a batch with one stale item",
        );
        await assertUnchanged(store, entities, before, "a stale fenced append");
        await store.append(coord, K1, "by b", { fence: b });
        // Unfenced appends are not guarded.
        await store.append(coord, K1, "unfenced");
        assertEquals((await store.readStream("order:1")).map((e) => e.payload), [
          "by a",
          "batch by a",
          "by b",
          "unfenced",
        ]);
      }),
  },
  {
    name: "ownership: fences survive reopen",
    run: async (open) => {
      let fence: Fence | undefined;
      await withStore(open, async (store) => {
        fence = await store.ownership("jobs").claim("worker-a", 60_000);
      });
      await withStore(open, async (store) => {
        const own = store.ownership("jobs");
        assertEquals(await own.current(), { owner: "worker-a", epoch: 1, token: "" });
        await rejected(() => own.claim("worker-b", 60_000), "lease_held", "claim after reopen");
        await store.append(new Coordinate("job:1", "jobs"), K1, 1, { fence });
        assertEquals(await store.lastSequence("job:1"), 1);
      });
    },
  },
  {
    name: "ownership: bad owners, leases, fences and scopes are typed errors",
    run: (open) =>
      withStore(open, async (store) => {
        await assertFails(() => store.ownership(""), InvalidCoordinateError, "empty scope");
        await assertFails(() => store.ownership("a\u0000b"), InvalidCoordinateError, "NUL scope");
        const own = store.ownership("s");
        // NUL and a lone surrogate: PostgreSQL text cannot hold the one, UTF-8 not the other, so
        // every backend refuses both (the embedded store once took a NUL owner).
        for (const owner of ["", 5, null, "x".repeat(257), "a\u0000b", "w\uD800"]) {
          await assertFails(
            () => own.claim(owner as string, LEASE_MS),
            InvalidArgumentError,
            `owner ${String(owner).slice(0, 10)}`,
          );
        }
        for (const lease of [0, -1, 1.5, NaN, Infinity, "10", 86_400_001]) {
          await assertFails(
            () => own.claim("w", lease as number),
            InvalidArgumentError,
            `lease ${lease}`,
          );
        }
        const f = await own.claim("w", LEASE_MS);
        for (const bad of [null, "x", { owner: "w", epoch: 0, token: "t" }, { ...f, epoch: 1.5 }]) {
          await assertFails(
            () => own.renew(bad as Fence, LEASE_MS),
            InvalidArgumentError,
            `fence ${JSON.stringify(bad)}`,
          );
        }
        await assertFails(() => own.release("x" as unknown as Fence), InvalidArgumentError);
        await assertFails(
          () => own.takeover("v", null as unknown as Fence, 5),
          InvalidArgumentError,
        );
        assertEquals(await own.current(), { owner: "w", epoch: 1, token: "" });
      }),
  },
];

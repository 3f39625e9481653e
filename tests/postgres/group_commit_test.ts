/**
 * Group commit: concurrent appends of one client share transactions, yet
 * each is decided and answered on its own, exactly as if they had run one
 * after the other in submission order.
 */

import {
  ConcurrencyError,
  Coordinate,
  EventKind,
  IdempotencyConflictError,
  Region,
} from "../../mod.ts";
import { PostgresStore } from "../../src/postgres/mod.ts";
import { assert, assertEquals } from "../conformance/assert.ts";
import { adminClient, dropSchemas, freshSchema, serverOrSkip } from "../fixtures/pg/suite.ts";

const server = await serverOrSkip("tests/postgres/group_commit_test.ts");
const K1 = EventKind.custom(0x1, 1);
const K2 = EventKind.custom(0x1, 2);

if (server) {
  Deno.test("postgres group commit: concurrent appends share transactions, each keeps its own outcome", async () => {
    const schema = freshSchema("group");
    const store = await PostgresStore.connect({ url: server.url, schema, committers: 1 });
    const admin = adminClient(server.url);
    try {
      const a = new Coordinate("acct:a", "bank");
      const b = new Coordinate("acct:b", "bank");
      await store.append(a, K1, "seed"); // acct:a is at 1
      // All submitted in one tick: the single committer takes them as one or two groups.
      const results = await Promise.allSettled([
        store.append(a, K1, "cas ok", { expectedSequence: 1 }), // 0: acct:a → 2
        store.append(a, K1, "cas stale", { expectedSequence: 1 }), // 1: ConcurrencyError
        store.append(b, K1, "keyed", { idempotencyKey: "k" }), // 2: acct:b → 1
        store.append(b, K1, "retry", { idempotencyKey: "k" }), // 3: duplicate of 2
        store.append(a, K1, "conflict", { idempotencyKey: "k" }), // 4: IdempotencyConflictError
        store.append(b, K2, "conflict kind", { idempotencyKey: "k" }), // 5: conflict (kind)
        store.appendBatch([ // 6: fails as a whole (its second item's CAS), nothing of it written
          { coord: b, kind: K1, payload: "batch 1" },
          { coord: b, kind: K1, payload: "batch 2", options: { expectedSequence: 0 } },
        ]),
        store.append(a, K1, "cas after", { expectedSequence: 2 }), // 7: acct:a → 3
        store.appendBatch([ // 8: acct:b → 2, 3
          { coord: b, kind: K1, payload: "batch ok 1", options: { expectedSequence: 1 } },
          { coord: b, kind: K1, payload: "batch ok 2", causation: { priorItem: 0 } },
        ]),
      ]);
      const status = results.map((r) =>
        r.status === "fulfilled"
          ? "ok"
          : r.reason instanceof ConcurrencyError
          ? "cas"
          : r.reason instanceof IdempotencyConflictError
          ? "conflict"
          : `other: ${r.reason}`
      );
      assertEquals(status, ["ok", "cas", "ok", "ok", "conflict", "conflict", "cas", "ok", "ok"]);
      const value = <T>(i: number) => (results[i] as PromiseFulfilledResult<T>).value;
      const keyed = value<{ eventId: string; duplicate: boolean }>(2);
      const retry = value<{ eventId: string; duplicate: boolean }>(3);
      assertEquals([retry.eventId, retry.duplicate, keyed.duplicate], [keyed.eventId, true, false]);
      assertEquals((await store.readStream("acct:a")).map((e) => e.payload), [
        "seed",
        "cas ok",
        "cas after",
      ]);
      const bEvents = await store.readStream("acct:b");
      assertEquals(bEvents.map((e) => e.payload), ["keyed", "batch ok 1", "batch ok 2"]);
      assertEquals(bEvents[2].causationId, bEvents[1].eventId);
      const all = await store.read(Region.all(), { after: 0, limit: 100 });
      assertEquals(all.length, 6);
      // Fewer transactions than appends: they were grouped.
      const [tx] = await admin.unsafe(
        `SELECT count(DISTINCT tx_id)::int AS n FROM "${schema}".events`,
      );
      assert(tx.n < 6, `6 events in ${tx.n} transactions`);
      assert((await store.verify()).ok, "verify");
    } finally {
      await admin.end({ timeout: 5 });
      await store.close();
      await dropSchemas(server.url, [schema]);
    }
  });
}

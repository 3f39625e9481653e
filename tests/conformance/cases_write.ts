/**
 * Conformance cases for the write side: appends, CAS, idempotency, atomic
 * batches and the hash chain.
 *
 * @module
 */

import { Coordinate } from "../../src/core/coordinate.ts";
import {
  ConcurrencyError,
  IdempotencyConflictError,
  InvalidPayloadError,
  ReservedKindError,
} from "../../src/core/errors.ts";
import { EventKind } from "../../src/core/kind.ts";
import { Region } from "../../src/core/region.ts";
import type { AppendReceipt, EventStore } from "../../src/core/types.ts";
import { assert, assertEquals, assertFails } from "./assert.ts";
import {
  assertGlobalOrder,
  assertUnchanged,
  type ConformanceCase,
  essence,
  readAll,
  stateOf,
  withStore,
} from "./_support.ts";

const K1 = EventKind.custom(0x1, 1);
const K2 = EventKind.custom(0x1, 2);
const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX64 = /^[0-9a-f]{64}$/;

function receiptEssence(r: AppendReceipt): Record<string, unknown> {
  return {
    eventId: r.eventId,
    sequence: r.sequence,
    globalSequence: r.globalSequence,
    eventHash: r.eventHash,
  };
}

/** The store's `verify()`, where the backend has one. */
async function verifyIfAny(store: EventStore): Promise<void> {
  const v = (store as { verify?: () => unknown }).verify;
  if (typeof v !== "function") return;
  const report = await v.call(store) as { ok: boolean; problems: unknown[] };
  assertEquals(report.problems, [], "verify() problems");
  assert(report.ok, "verify() ok");
}

export const writeCases: ConformanceCase[] = [
  {
    name: "append: receipt, get and every payload type round-trip",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("acct:1", "bank");
        const payloads: unknown[] = [
          { amount: 100, note: "first" },
          "plain string ✓ 𝄞",
          42,
          -1.5,
          null,
          true,
          [1, "two", { three: [3] }],
          { big: 2n ** 63n - 1n, small: -(2n ** 63n), unsigned: 2n ** 64n - 1n },
          { bytes: new Uint8Array([0, 1, 254, 255]) },
          { when: new Date(1_700_000_000_123) },
          { nested: { deeper: { deepest: [null, false, ""] } } },
        ];
        const receipts: AppendReceipt[] = [];
        for (const p of payloads) receipts.push(await store.append(coord, K1, p));
        receipts.forEach((r, i) => {
          assert(UUID7.test(r.eventId), `eventId ${r.eventId} is a UUIDv7`);
          assert(HEX64.test(r.eventHash), `eventHash ${r.eventHash} is 64 hex digits`);
          assertEquals(r.sequence, i + 1, "sequence");
          assertEquals(r.duplicate, false, "duplicate");
        });
        assertGlobalOrder(
          receipts.map((r) => ({ globalSequence: r.globalSequence })) as never,
          ctx.features.gaplessGlobalSequence,
          "receipts",
        );
        for (let i = 0; i < payloads.length; i++) {
          const e = await store.get(receipts[i].eventId);
          assertEquals(e.payload, payloads[i], `payload ${i}`);
          assertEquals(e.entity, "acct:1");
          assertEquals(e.scope, "bank");
          assertEquals(e.kind, K1);
          assertEquals(receiptEssence({ ...e, duplicate: false }), receiptEssence(receipts[i]));
          assertEquals(typeof e.timestampMs, "number");
        }
        assertEquals(await store.lastSequence("acct:1"), payloads.length);
        await store.durable();
      }),
  },
  {
    name: "append: undefined object members are dropped, ids of correlation and causation kept",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("order:1", "shop");
        const first = await store.append(coord, K1, { a: 1, gone: undefined });
        const second = await store.append(coord, K2, {}, {
          correlationId: first.eventId,
          causationId: first.eventId,
        });
        const a = await store.get(first.eventId);
        assertEquals(a.payload, { a: 1 });
        assertEquals(a.correlationId, undefined);
        assertEquals(a.causationId, undefined);
        const b = await store.get(second.eventId);
        assertEquals(b.correlationId, first.eventId);
        assertEquals(b.causationId, first.eventId);
      }),
  },
  {
    name: "cas: expectedSequence succeeds only on the entity's last sequence",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("acct:cas", "bank");
        const r1 = await store.append(coord, K1, 1, { expectedSequence: 0 });
        assertEquals(r1.sequence, 1);
        const before = await stateOf(store, ["acct:cas"]);
        const e = await assertFails(
          () => store.append(coord, K1, 2, { expectedSequence: 0 }),
          ConcurrencyError,
        );
        assertEquals([e.entity, e.expected, e.actual], ["acct:cas", 0, 1]);
        await assertFails(
          () => store.append(coord, K1, 2, { expectedSequence: 2 }),
          ConcurrencyError,
        );
        await assertUnchanged(store, ["acct:cas"], before, "a failed CAS");
        assertEquals((await store.append(coord, K1, 2, { expectedSequence: 1 })).sequence, 2);
        // Another entity's CAS is independent.
        const other = await store.append(new Coordinate("acct:cas2", "bank"), K1, 1, {
          expectedSequence: 0,
        });
        assertEquals(other.sequence, 1);
      }),
  },
  {
    name: "cas: of concurrent appends expecting the same sequence exactly one wins",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("race:1", "s");
        await store.append(coord, K1, "seed");
        const CONTENDERS = 8;
        const results = await Promise.allSettled(
          Array.from(
            { length: CONTENDERS },
            (_, i) =>
              Promise.resolve().then(() => store.append(coord, K1, i, { expectedSequence: 1 })),
          ),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
        assertEquals(won.length, 1, "winners");
        for (const l of lost) assert(l.reason instanceof ConcurrencyError, String(l.reason));
        assertEquals(await store.lastSequence("race:1"), 2);
      }),
  },
  {
    name: "cas: concurrent writers with CAS and retry leave a gapless stream",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("counter:1", "s");
        const WRITERS = 4;
        const EACH = 6;
        const writer = async (w: number) => {
          for (let i = 0; i < EACH; i++) {
            for (;;) {
              const last = await store.lastSequence("counter:1");
              try {
                await store.append(coord, K1, { w, i }, { expectedSequence: last });
                break;
              } catch (e) {
                if (!(e instanceof ConcurrencyError)) throw e;
              }
            }
          }
        };
        await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
        const events = await store.readStream("counter:1");
        assertEquals(
          events.map((e) => e.sequence),
          Array.from({ length: WRITERS * EACH }, (_, i) => i + 1),
        );
        for (let w = 0; w < WRITERS; w++) {
          const mine = events.filter((e) => (e.payload as { w: number }).w === w);
          assertEquals(mine.map((e) => (e.payload as { i: number }).i), [0, 1, 2, 3, 4, 5]);
        }
      }),
  },
  {
    name:
      "idempotency: a retry returns the first receipt with duplicate: true, whatever its payload",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("acct:idem", "bank");
        const first = await store.append(coord, K1, { amount: 5 }, { idempotencyKey: "tx-1" });
        assertEquals(first.duplicate, false);
        const before = await stateOf(store, ["acct:idem"]);
        const again = await store.append(coord, K1, { amount: 999 }, { idempotencyKey: "tx-1" });
        assertEquals(again.duplicate, true);
        assertEquals(receiptEssence(again), receiptEssence(first));
        await assertUnchanged(store, ["acct:idem"], before, "a retry");
        assertEquals((await store.get(first.eventId)).payload, { amount: 5 });
        // Bigint keys, up to 128 bits.
        const big = await store.append(coord, K1, 1, { idempotencyKey: 2n ** 128n - 1n });
        const bigAgain = await store.append(coord, K1, 2, { idempotencyKey: 2n ** 128n - 1n });
        assertEquals([bigAgain.duplicate, bigAgain.eventId], [true, big.eventId]);
      }),
  },
  {
    name: "idempotency: a retry with its original expectedSequence still gets the first receipt",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("acct:retry", "bank");
        const first = await store.append(coord, K1, 1, {
          expectedSequence: 0,
          idempotencyKey: "open-account",
        });
        const retry = await store.append(coord, K1, 1, {
          expectedSequence: 0,
          idempotencyKey: "open-account",
        });
        assertEquals([retry.duplicate, retry.eventId], [true, first.eventId]);
        assertEquals(await store.lastSequence("acct:retry"), 1);
      }),
  },
  {
    name: "idempotency: a retry after reopen still gets the first receipt",
    run: async (open) => {
      const coord = new Coordinate("acct:reopen", "bank");
      const first = await withStore(
        open,
        (store) => Promise.resolve(store.append(coord, K1, 1, { idempotencyKey: "k-reopen" })),
      );
      await withStore(open, async (store) => {
        const again = await store.append(coord, K1, 2, { idempotencyKey: "k-reopen" });
        assertEquals([again.duplicate, again.eventId, again.sequence], [true, first.eventId, 1]);
        assertEquals(await store.lastSequence("acct:reopen"), 1);
      });
    },
  },
  {
    name: "idempotency: the same key on another entity or kind is IdempotencyConflictError",
    run: (open) =>
      withStore(open, async (store) => {
        const a = new Coordinate("acct:a", "bank");
        const b = new Coordinate("acct:b", "bank");
        await store.append(a, K1, 1, { idempotencyKey: "shared" });
        await store.append(a, K1, 1, { idempotencyKey: 7n });
        const before = await stateOf(store, ["acct:a", "acct:b"]);
        const e = await assertFails(
          () => store.append(b, K1, 1, { idempotencyKey: "shared" }),
          IdempotencyConflictError,
          "other entity",
        );
        assertEquals([e.existingEntity, e.entity], ["acct:a", "acct:b"]);
        await assertFails(
          () => store.append(a, K2, 1, { idempotencyKey: "shared" }),
          IdempotencyConflictError,
          "other kind",
        );
        await assertFails(
          () => store.append(b, K1, 1, { idempotencyKey: 7n }),
          IdempotencyConflictError,
          "bigint key, other entity",
        );
        await assertUnchanged(store, ["acct:a", "acct:b"], before, "a conflicting key");
      }),
  },
  {
    name: "idempotency: keys compare exactly (string vs bigint, NFC vs NFD, BOM)",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("keys:1", "s");
        const keys: (string | bigint)[] = ["1", 1n, "\u00e9", "e\u0301", "\ufeffkey", "key", "Key"];
        const ids = new Set<string>();
        for (const k of keys) {
          const r = await store.append(coord, K1, String(k), { idempotencyKey: k });
          assertEquals(r.duplicate, false, `key ${JSON.stringify(String(k))} is new`);
          ids.add(r.eventId);
        }
        assertEquals(ids.size, keys.length);
        assertEquals(await store.lastSequence("keys:1"), keys.length);
      }),
  },
  {
    name: "batch: sequences count earlier items, receipts in item order, one global run",
    run: (open, ctx) =>
      withStore(open, async (store) => {
        const cart = new Coordinate("cart:1", "shop");
        const user = new Coordinate("user:1", "crm");
        await store.append(cart, K1, "before");
        const receipts = await store.appendBatch([
          { coord: cart, kind: K1, payload: 1, options: { expectedSequence: 1 } },
          { coord: user, kind: K2, payload: 2, options: { expectedSequence: 0 } },
          { coord: cart, kind: K1, payload: 3, options: { expectedSequence: 2 } },
          { coord: cart, kind: K2, payload: 4, causation: { priorItem: 0 } },
        ]);
        assertEquals(receipts.map((r) => r.sequence), [2, 1, 3, 4]);
        assertGlobalOrder(receipts as never, ctx.features.gaplessGlobalSequence, "batch receipts");
        const all = await readAll(store);
        assertEquals(all.map((e) => e.payload), ["before", 1, 2, 3, 4]);
        assertEquals(all.slice(1).map((e) => e.eventId), receipts.map((r) => r.eventId));
        assertEquals(all[4].causationId, receipts[0].eventId);
        assertEquals(await store.appendBatch([]), []);
        const byId = await store.appendBatch([
          { coord: user, kind: K1, payload: 5, causation: { eventId: receipts[1].eventId } },
        ]);
        assertEquals((await store.get(byId[0].eventId)).causationId, receipts[1].eventId);
      }),
  },
  {
    name: "batch: atomic — a failing last item (CAS, payload, reserved kind) writes nothing",
    run: (open) =>
      withStore(open, async (store) => {
        const cart = new Coordinate("cart:atomic", "shop");
        const other = new Coordinate("cart:other", "shop");
        await store.append(cart, K1, "seed");
        const entities = ["cart:atomic", "cart:other"];
        const before = await stateOf(store, entities);
        const good = [
          { coord: other, kind: K1, payload: "a" },
          { coord: cart, kind: K1, payload: "b" },
        ];
        await assertFails(
          () =>
            store.appendBatch([...good, {
              coord: cart,
              kind: K1,
              payload: "c",
              options: { expectedSequence: 1 }, // the batch's own item 1 made it 2
            }]),
          ConcurrencyError,
        );
        await assertFails(
          () => store.appendBatch([...good, { coord: cart, kind: K1, payload: () => 1 }]),
          InvalidPayloadError,
        );
        await assertFails(
          () =>
            store.appendBatch([...good, {
              coord: cart,
              kind: EventKind.custom(0x0, 1),
              payload: 1,
            }]),
          ReservedKindError,
        );
        await assertUnchanged(store, entities, before, "a failed batch");
        assertEquals((await store.appendBatch(good)).map((r) => r.sequence), [1, 2]);
      }),
  },
  {
    name: "batch: an item whose key was used (same entity and kind) gets that receipt",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("batch:idem", "s");
        const first = await store.append(coord, K1, "first", { idempotencyKey: "once" });
        const receipts = await store.appendBatch([
          { coord, kind: K1, payload: "x" },
          { coord, kind: K1, payload: "retry", options: { idempotencyKey: "once" } },
          { coord, kind: K1, payload: "y" },
        ]);
        assertEquals(receipts.map((r) => r.duplicate), [false, true, false]);
        assertEquals(receipts[1].eventId, first.eventId);
        assertEquals(receipts.map((r) => r.sequence), [2, 1, 3]);
        assertEquals((await store.readStream("batch:idem")).map((e) => e.payload), [
          "first",
          "x",
          "y",
        ]);
      }),
  },
  {
    name: "batch: the same key twice in one batch is IdempotencyConflictError, nothing written",
    run: (open) =>
      withStore(open, async (store) => {
        const coord = new Coordinate("batch:twice", "s");
        const entities = ["batch:twice"];
        const before = await stateOf(store, entities);
        await assertFails(
          () =>
            store.appendBatch([
              { coord, kind: K1, payload: 1, options: { idempotencyKey: "dup" } },
              { coord, kind: K1, payload: 2, options: { idempotencyKey: "dup" } },
            ]),
          IdempotencyConflictError,
        );
        await assertUnchanged(store, entities, before, "a batch repeating a key");
        await store.append(coord, K1, "used");
        await assertFails(
          () =>
            store.appendBatch([
              { coord, kind: K1, payload: 1 },
              {
                coord: new Coordinate("batch:elsewhere", "s"),
                kind: K1,
                payload: 2,
                options: { idempotencyKey: "dup-2" },
              },
              { coord, kind: K1, payload: 3, options: { idempotencyKey: "dup-2" } },
            ]),
          IdempotencyConflictError,
        );
        assertEquals(await store.lastSequence("batch:twice"), 1);
        assertEquals(await store.lastSequence("batch:elsewhere"), 0);
      }),
  },
  {
    name: "batch: a key used by another entity makes the whole batch fail",
    run: (open) =>
      withStore(open, async (store) => {
        await store.append(new Coordinate("owner:1", "s"), K1, 1, { idempotencyKey: "taken" });
        const coord = new Coordinate("batch:conflict", "s");
        const before = await stateOf(store, ["batch:conflict"]);
        await assertFails(
          () =>
            store.appendBatch([
              { coord, kind: K1, payload: 1 },
              { coord, kind: K1, payload: 2, options: { idempotencyKey: "taken" } },
            ]),
          IdempotencyConflictError,
        );
        await assertUnchanged(store, ["batch:conflict"], before, "a conflicting batch");
      }),
  },
  {
    name: "hash chain: prevHash links each entity's events; verify() is clean",
    run: (open) =>
      withStore(open, async (store) => {
        const a = new Coordinate("chain:a", "s");
        const b = new Coordinate("chain:b", "s");
        const receipts = [await store.append(a, K1, 1), await store.append(b, K1, 1)];
        receipts.push(
          ...await store.appendBatch([
            { coord: a, kind: K1, payload: 2 },
            { coord: a, kind: K2, payload: 3 },
            { coord: b, kind: K1, payload: 2 },
          ]),
        );
        receipts.push(await store.append(a, K1, 4));
        for (const entity of ["chain:a", "chain:b"]) {
          const events = await store.readStream(entity);
          events.forEach((e, i) => {
            assert(HEX64.test(e.eventHash), "eventHash is hex");
            assertEquals(e.prevHash, i === 0 ? "" : events[i - 1].eventHash, `${entity} link ${i}`);
          });
        }
        for (const r of receipts) {
          assertEquals((await store.get(r.eventId)).eventHash, r.eventHash, "receipt hash");
        }
        const hashes = new Set(receipts.map((r) => r.eventHash));
        assertEquals(hashes.size, receipts.length, "hashes are distinct");
        // Every read path returns the same event.
        const viaRead = await readAll(store);
        for (const e of viaRead) assertEquals(essence(e), essence(await store.get(e.eventId)));
        await verifyIfAny(store);
      }),
  },
  {
    name: "durable: resolves once the appends are durable; survives reopen",
    run: async (open) => {
      const coord = new Coordinate("durable:1", "s");
      const ids = await withStore(open, async (store) => {
        const r = [
          await store.append(coord, K1, 1),
          ...await store.appendBatch([
            { coord, kind: K1, payload: 2 },
          ]),
        ];
        await store.durable();
        return r.map((x) => x.eventId);
      });
      await withStore(open, async (store) => {
        assertEquals((await store.readStream("durable:1")).map((e) => e.eventId), ids);
        assertEquals((await readAll(store, Region.stream("durable:1"))).length, 2);
      });
    },
  },
];

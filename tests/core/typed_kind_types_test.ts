/**
 * Typed kinds at the type level: `deno check` (and `deno test`, which type
 * checks first) fails if any `@ts-expect-error` line below stops being an
 * error, or any other line becomes one. The code also runs, so the lines
 * that compile are shown to work.
 */

import assert from "node:assert/strict";
import {
  type BatchAppendItem,
  Coordinate,
  defineProjection,
  EventKind,
  type EventStore,
  Region,
  Store,
  type StoredEvent,
  type TypedBatchAppendItem,
  TypedKind,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";

interface Deposit {
  amount: number;
}
interface Rename {
  name: string;
}

const Deposited = EventKind.define<Deposit>(0x1, 0x004, "Deposited");
const Renamed = EventKind.define<Rename>(0x1, 0x005, "Renamed");
const plain = EventKind.custom(0x1, 0x006);
const acct = new Coordinate("acct:1", "bank");

function open(): Store {
  return Store.open({ dataDir: "/t", fs: new MemoryFileSystem() });
}

Deno.test("types: append checks the payload against the kind's type", () => {
  const store = open();
  store.append(acct, Deposited, { amount: 10 });
  store.append(acct, plain, { anything: ["goes"] }); // a plain kind takes any payload
  // @ts-expect-error a field the type does not have
  store.append(acct, Deposited, { amt: 10 });
  // @ts-expect-error the wrong type for a field
  store.append(acct, Deposited, { amount: "10" });
  // @ts-expect-error a missing payload field
  store.append(acct, Deposited, {});
  // @ts-expect-error another kind's payload
  store.append(acct, Renamed, { amount: 1 });
  // The rejected lines still ran: they are only compile-time errors. A wrong shape is not
  // checked at run time (the store takes any MessagePack value).
  assert.equal(store.lastSequence("acct:1"), 6);
  store.close();
});

Deno.test("types: appendBatch checks each item against its own kind", () => {
  const store = open();
  const receipts = store.appendBatch([
    { coord: acct, kind: Deposited, payload: { amount: 1 } },
    { coord: acct, kind: Renamed, payload: { name: "savings" } },
    { coord: acct, kind: plain, payload: 42 },
  ]);
  assert.equal(receipts.length, 3);
  store.appendBatch([
    { coord: acct, kind: Deposited, payload: { amount: 1 } },
    // @ts-expect-error the second item carries the first item's payload type
    { coord: acct, kind: Renamed, payload: { amount: 1 } },
  ]);
  const plainItems: BatchAppendItem[] = [{ coord: acct, kind: plain, payload: "x" }];
  store.appendBatch(plainItems); // the existing item type still works
  const typedItems: TypedBatchAppendItem<Deposit>[] = [
    { coord: acct, kind: Deposited, payload: { amount: 3 } },
  ];
  store.appendBatch(typedItems);
  const bad: TypedBatchAppendItem<Deposit> = {
    coord: acct,
    kind: Deposited,
    // @ts-expect-error a typed item's payload has the kind's type
    payload: { name: "x" },
  };
  assert.equal(bad.kind, Deposited);
  store.close();
});

Deno.test("types: is() narrows the payload; comparing a number kind with a typed kind does not compile", () => {
  const store = open();
  store.append(acct, Deposited, { amount: 10 });
  store.append(acct, Renamed, { name: "savings" });
  const seen: string[] = [];
  for (const e of store.readStream("acct:1")) {
    // @ts-expect-error without narrowing the payload is unknown
    seen.push(String(e.payload.amount));
    if (Deposited.is(e)) {
      const amount: number = e.payload.amount;
      const entity: string = e.entity; // the rest of the event keeps its type
      seen.push(`${entity} +${amount}`);
    } else if (Renamed.is(e)) {
      const name: string = e.payload.name;
      seen.push(`renamed ${name}`);
      // @ts-expect-error narrowed to Renamed: no amount
      seen.push(String(e.payload.amount));
    }
    // @ts-expect-error a typed kind is an object: compare its code
    if (e.kind === Deposited) seen.push("never");
    if (e.kind === Deposited.code) seen.push("code matches");
  }
  assert.deepEqual(seen, [
    "10",
    "acct:1 +10",
    "code matches",
    "undefined",
    "renamed savings",
    "undefined",
  ]);
  store.close();
});

Deno.test("types: typed kinds go where kinds go; they are not interchangeable", () => {
  const region = Region.all().withKinds(Deposited, plain);
  assert.deepEqual(region.kinds, [Deposited.code, plain]);
  const balance = defineProjection("balance", {
    kinds: [Deposited],
    initial: () => 0,
    apply: (sum: number, e: StoredEvent) => Deposited.is(e) ? sum + e.payload.amount : sum,
  });
  assert.deepEqual(balance.kinds, [Deposited.code]);
  const anyKind: TypedKind<unknown> = Deposited; // every typed kind is a TypedKind<unknown>
  assert.ok(anyKind instanceof TypedKind);
  // @ts-expect-error a kind of another payload type
  const wrong: TypedKind<Deposit> = Renamed;
  assert.equal(wrong.name, "Renamed");
  // @ts-expect-error a plain number is not a typed kind
  const notTyped: TypedKind<Deposit> = plain;
  assert.equal(notTyped, plain);
});

Deno.test("types: the Store still satisfies EventStore, whose append takes plain kinds", async () => {
  const store = open();
  const backend: EventStore = store;
  await backend.append(acct, plain, { any: 1 });
  // @ts-expect-error EventStore (every backend) takes plain kinds; typed kinds are the embedded Store's
  const receipt = await backend.append(acct, Deposited, { amount: 1 });
  assert.equal(receipt.sequence, 2); // (the embedded store takes one at run time all the same)
  store.close();
});

/**
 * Projections by name (`defineProjection`): written inline (a new object
 * per call), the second call applies only the new events, proven with a
 * counting `apply`; an inline `{ initial, apply }` literal (keyed by
 * identity) folds the whole stream on every call; a name identifies one
 * set of kinds; names are bounded; bad definitions are typed errors.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  defineProjection,
  EventKind,
  type EventSourced,
  InvalidArgumentError,
  type StoredEvent,
} from "../../mod.ts";
import { PROJECTION_NAMES_MAX } from "../../src/read/projection.ts";
import { K1, K2, memStore } from "../fixtures/read_helpers.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const Deposited = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
const Withdrawn = EventKind.define<{ amount: number }>(0x1, 0x005, "Withdrawn");
const acct = new Coordinate("acct:1", "bank");

let applied = 0;
const sum = (total: number, e: StoredEvent) => {
  applied++;
  if (Deposited.is(e)) return total + e.payload.amount;
  if (Withdrawn.is(e)) return total - e.payload.amount;
  return total;
};

Deno.test("defineProjection: an inline definition is cached by name; the second call applies only new events", () => {
  const { store } = memStore();
  for (let i = 0; i < 100; i++) store.append(acct, Deposited, { amount: 1 });
  store.append(acct, Withdrawn, { amount: 30 });
  store.append(acct, K1, "not a money event");
  // The shape of the report: the definition written at the call site.
  const balance = () =>
    store.project(
      "acct:1",
      defineProjection("balance", { kinds: [Deposited, Withdrawn], initial: () => 0, apply: sum }),
    );
  applied = 0;
  assert.equal(balance(), 70);
  assert.equal(applied, 101, "the first call folds the relevant events");
  for (let i = 0; i < 19; i++) assert.equal(balance(), 70);
  assert.equal(applied, 101, "19 more calls with nothing new apply nothing");
  store.append(acct, Deposited, { amount: 5 });
  store.append(acct, K2, "irrelevant");
  assert.equal(balance(), 75);
  assert.equal(applied, 102, "only the one new relevant event");
  store.close();
});

Deno.test("project: an inline { initial, apply } literal is keyed by identity and folds afresh on every call", () => {
  const { store } = memStore();
  for (let i = 0; i < 50; i++) store.append(acct, Deposited, { amount: 1 });
  applied = 0;
  const inline = () => store.project("acct:1", { initial: () => 0, apply: sum });
  assert.equal(inline(), 50);
  assert.equal(inline(), 50);
  assert.equal(applied, 100, "two calls, two full folds");
  // Held in a constant, the same object is cached (the identity key).
  const shared: EventSourced<number> = { initial: () => 0, apply: sum };
  applied = 0;
  store.project("acct:1", shared);
  store.project("acct:1", shared);
  assert.equal(applied, 50);
  store.close();
});

Deno.test("defineProjection: states are per name and entity; another name folds on its own", () => {
  const { store } = memStore();
  store.append(acct, Deposited, { amount: 10 });
  store.append(new Coordinate("acct:2", "bank"), Deposited, { amount: 20 });
  const def = (name: string) =>
    defineProjection(name, { kinds: [Deposited], initial: () => 0, apply: sum });
  applied = 0;
  assert.equal(store.project("acct:1", def("a")), 10);
  assert.equal(store.project("acct:2", def("a")), 20);
  assert.equal(store.project("acct:1", def("b")), 10);
  assert.equal(applied, 3);
  assert.equal(store.project("acct:1", def("a")), 10);
  assert.equal(store.project("acct:3", def("a")), undefined, "no events");
  assert.equal(applied, 3);
  store.close();
});

Deno.test("defineProjection: one name used with other kinds is an InvalidArgumentError", () => {
  const { store } = memStore();
  store.append(acct, Deposited, { amount: 10 });
  store.project(
    "acct:1",
    defineProjection("x", { kinds: [Deposited], initial: () => 0, apply: sum }),
  );
  // The same kinds as a number, or listed in another order, are the same projection.
  store.project(
    "acct:1",
    defineProjection("x", { kinds: [Deposited.code], initial: () => 0, apply: sum }),
  );
  const both = (kinds: (EventKind | typeof Deposited)[]) =>
    defineProjection("both", { kinds, initial: () => 0, apply: sum });
  store.project("acct:1", both([Deposited, Withdrawn]));
  store.project("acct:1", both([Withdrawn.code, Deposited]));
  const e = throwsType(
    () =>
      store.project(
        "acct:1",
        defineProjection("x", { kinds: [Withdrawn], initial: () => 0, apply: sum }),
      ),
    InvalidArgumentError,
    /"x" was used with kinds \[0x1004\] and now \[0x1005\]/,
  );
  assert.match(e.message, /another name/);
  throwsType(
    () => store.project("acct:1", defineProjection("x", { initial: () => 0, apply: sum })),
    InvalidArgumentError,
    /now \[all\]/,
  );
  store.close();
});

Deno.test("defineProjection: at most PROJECTION_NAMES_MAX names are kept (least recently used dropped)", () => {
  const { store } = memStore();
  store.append(acct, Deposited, { amount: 1 });
  const def = (name: string) => defineProjection(name, { initial: () => 0, apply: sum });
  applied = 0;
  store.project("acct:1", def("first"));
  for (let i = 0; i < PROJECTION_NAMES_MAX; i++) store.project("acct:1", def(`n${i}`));
  assert.equal(applied, PROJECTION_NAMES_MAX + 1);
  store.project("acct:1", def(`n${PROJECTION_NAMES_MAX - 1}`)); // recent: still cached
  assert.equal(applied, PROJECTION_NAMES_MAX + 1);
  store.project("acct:1", def("first")); // dropped: folded again
  assert.equal(applied, PROJECTION_NAMES_MAX + 2);
  store.close();
});

Deno.test("defineProjection: bad input is an InvalidArgumentError; the definition is frozen and read once", () => {
  const ok = { initial: () => 0, apply: (n: number) => n };
  const bad: [unknown, unknown][] = [
    ["", ok],
    [7, ok],
    ["p", null],
    ["p", 42],
    ["p", { apply: ok.apply }],
    ["p", { initial: ok.initial }],
    ["p", { ...ok, kinds: K1 }],
    ["p", { ...ok, kinds: [K1, "0x1001"] }],
    ["p", { ...ok, kinds: [0x10000] }],
  ];
  for (const [name, definition] of bad) {
    throwsType(() => defineProjection(name as Any, definition as Any), InvalidArgumentError);
  }
  let reads = 0;
  const p = defineProjection("p", {
    get kinds() {
      reads++;
      return [Deposited, K2];
    },
    ...ok,
  });
  assert.equal(reads, 1);
  assert.deepEqual(p.kinds, [Deposited.code, K2]);
  assert.ok(Object.isFrozen(p) && Object.isFrozen(p.kinds));
  assert.equal(p.name, "p");
});

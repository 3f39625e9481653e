/**
 * `EventKind.define`: validation (typed errors for every bad input), the
 * frozen definition, `is()` (kind, schema version, redaction), and
 * `StoreConfig.kinds` validation.
 */

import assert from "node:assert/strict";
import {
  EventKind,
  InvalidArgumentError,
  KIND_NAME_BYTES_MAX,
  KindConflictError,
  ReservedKindError,
  SCHEMA_VERSION_MAX,
  Store,
  TypedKind,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { throwsType } from "../fixtures/store_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const up = (p: unknown) => p;

Deno.test("define: a frozen definition with code, name, version, category and type", () => {
  const k = EventKind.define<{ amount: number }>(0x1, 0x004, "Deposited");
  assert.equal(k.code, EventKind.custom(0x1, 0x004));
  assert.equal(k.name, "Deposited");
  assert.equal(k.version, 1);
  assert.equal(k.category, 1);
  assert.equal(k.type, 4);
  assert.deepEqual(k.upcast, {});
  assert.ok(Object.isFrozen(k) && Object.isFrozen(k.upcast));
  assert.equal(String(k), "Deposited (0x1004)");
  const v3 = EventKind.define<unknown>(0xf, 0xfff, "Last", {
    version: 3,
    upcast: { 1: up, 2: up },
  });
  assert.equal(String(v3), "Last v3 (0xffff)");
  assert.deepEqual(Object.keys(v3.upcast), ["1", "2"]);
  assert.ok(v3 instanceof TypedKind);
});

Deno.test("define: bad category, type or name is an InvalidArgumentError; reserved categories a ReservedKindError", () => {
  for (const [c, t] of [[16, 0], [-1, 0], [1, 0x1000], [1.5, 1], ["1", 1], [1, null], [NaN, 1]]) {
    throwsType(() => EventKind.define(c as Any, t as Any, "K"), InvalidArgumentError);
  }
  for (const c of [0x0, 0xd]) {
    const e = throwsType(() => EventKind.define(c, 1, "K"), ReservedKindError);
    assert.equal(e.category, c);
  }
  const names: unknown[] = [
    "",
    42,
    undefined,
    " Deposited",
    "Deposited ",
    "Dep\nosited",
    "Dep\u0000",
    "\u0085x",
    "\ud800x",
    "x".repeat(KIND_NAME_BYTES_MAX + 1),
    "é".repeat(KIND_NAME_BYTES_MAX / 2 + 1),
  ];
  for (const name of names) {
    throwsType(() => EventKind.define(1, 1, name as Any), InvalidArgumentError, /name/);
  }
  assert.equal(EventKind.define(1, 1, "x".repeat(KIND_NAME_BYTES_MAX)).name.length, 128);
  assert.equal(EventKind.define(1, 1, "bank.Deposited:v2 ü").name, "bank.Deposited:v2 ü");
});

Deno.test("define: version and upcast keys must match exactly (1 .. version - 1, functions)", () => {
  const bad: unknown[] = [
    null,
    7,
    { version: 0 },
    { version: 1.5 },
    { version: "2", upcast: { 1: up } },
    { version: SCHEMA_VERSION_MAX + 1 },
    { version: 2 }, // no upcasters
    { version: 2, upcast: {} }, // missing 1
    { version: 2, upcast: { 1: "not a function" } },
    { version: 2, upcast: { 1: up, 2: up } }, // 2 is the current version
    { version: 3, upcast: { 1: up, 3: up } },
    { version: 2, upcast: { 0: up, 1: up } },
    { version: 2, upcast: { 1: up, x: up } },
    { version: 2, upcast: { "01": up } },
    { version: 2, upcast: [up, up] },
    { upcast: { 1: up } }, // version 1 has no older versions
  ];
  for (const options of bad) {
    throwsType(() => EventKind.define(1, 1, "K", options as Any), InvalidArgumentError);
  }
  assert.equal(EventKind.define(1, 1, "K", { version: 1, upcast: {} }).version, 1);
  assert.equal(
    EventKind.define(1, 1, "K", {
      version: SCHEMA_VERSION_MAX,
      upcast: Object.fromEntries(
        Array.from({ length: SCHEMA_VERSION_MAX - 1 }, (_, i) => [i + 1, up]),
      ),
    }).version,
    SCHEMA_VERSION_MAX,
  );
});

Deno.test("define: options are read once (a getter cannot validate one value and hand over another)", () => {
  let reads = 0;
  const options = {
    get version() {
      reads++;
      return reads === 1 ? 2 : 9;
    },
    upcast: { 1: up },
  };
  const k = EventKind.define(1, 1, "K", options);
  assert.equal(k.version, 2);
  assert.equal(reads, 1);
});

Deno.test("is(): the kind, not redacted, and the payload in the kind's current version", () => {
  const v1 = EventKind.define<{ amount: number }>(1, 4, "Deposited");
  const v2 = EventKind.define<{ cents: number }>(1, 4, "Deposited", {
    version: 2,
    upcast: { 1: up },
  });
  const e = { kind: v1.code, payload: { amount: 1 } };
  assert.equal(v1.is(e), true);
  assert.equal(v2.is(e), false, "a version-1 payload is not a version-2 one");
  assert.equal(v2.is({ ...e, schemaVersion: 2 }), true);
  assert.equal(v1.is({ ...e, schemaVersion: 2 }), false);
  assert.equal(v1.is({ ...e, kind: v1.code + 1 }), false);
  assert.equal(v1.is({ kind: v1.code, payload: undefined, redacted: true }), false);
  assert.equal(v1.is(null as Any), false);
  assert.equal(v1.is(42 as Any), false);
});

Deno.test("StoreConfig.kinds: typed kinds only; two definitions of one number or name conflict", () => {
  const fs = new MemoryFileSystem();
  const open = (kinds: unknown) => Store.open({ dataDir: "/k", fs, kinds: kinds as Any });
  for (const kinds of [42, "Deposited", [EventKind.custom(1, 4)], [{ code: 0x1004, name: "x" }]]) {
    throwsType(() => open(kinds), InvalidArgumentError, /config\.kinds/);
  }
  const a = EventKind.define(1, 4, "Deposited");
  const twin = EventKind.define(1, 4, "Deposited");
  const renamed = EventKind.define(1, 4, "Paid");
  const newer = EventKind.define(1, 4, "Deposited", { version: 2, upcast: { 1: up } });
  const sameName = EventKind.define(1, 5, "Deposited");
  for (const kinds of [[a, renamed], [a, newer], [a, sameName]]) {
    const e = throwsType(() => open(kinds), KindConflictError);
    assert.equal(e.code, "KIND_CONFLICT");
  }
  assert.equal(fs.stat("/k"), undefined, "a bad config opens nothing");
  const store = open([a, twin, a]); // the same definition twice is fine
  assert.equal(store.kindName(a), "Deposited");
  store.close();
});

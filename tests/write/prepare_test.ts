/**
 * Preparing an append: bad arguments throw a typed error, write nothing and
 * leave the store usable; one byte over the frame limit leaves no trace,
 * not even an interned name.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  EventKind,
  InvalidArgumentError,
  InvalidCoordinateError,
  InvalidPayloadError,
  PayloadTooLargeError,
  ReservedKindError,
  StoreError,
} from "../../mod.ts";
import { FRAME_BODY_BYTES_MAX } from "../../src/log/frame.ts";
import { assertHealthy, KIND_A, memStore, reopen, throwsType } from "../fixtures/store_helpers.ts";

Deno.test("bad input: append rejects with a typed error, writes nothing, stays usable", () => {
  const { store } = memStore();
  const c = new Coordinate("ok", "s");
  store.append(c, KIND_A, "first");
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const cases: [string, () => unknown, new (...a: never[]) => StoreError, RegExp][] = [
    [
      "plain-object coord",
      () => store.append({ entity: "a", scope: "b" } as never, KIND_A, 1),
      InvalidCoordinateError,
      /Coordinate/,
    ],
    [
      "system kind",
      () => store.append(c, EventKind.custom(0, 1), 1),
      ReservedKindError,
      /reserved/,
    ],
    ["effect kind", () => store.append(c, EventKind.custom(0xd, 5), 1), ReservedKindError, /0xd/],
    ["kind NaN", () => store.append(c, NaN as EventKind, 1), InvalidArgumentError, /kind/],
    ["kind too big", () => store.append(c, 0x10000 as EventKind, 1), InvalidArgumentError, /kind/],
    ["cyclic payload", () => store.append(c, KIND_A, cyclic), InvalidPayloadError, /cyclic/],
    [
      "symbol payload",
      () => store.append(c, KIND_A, { s: Symbol("x") }),
      InvalidPayloadError,
      /symbol/,
    ],
    ["Map payload", () => store.append(c, KIND_A, new Map()), InvalidPayloadError, /Map/],
    ["bigint > 64 bits", () => store.append(c, KIND_A, 2n ** 64n), InvalidPayloadError, /64-bit/],
    [
      "expectedSequence -1",
      () => store.append(c, KIND_A, 1, { expectedSequence: -1 }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence 1.5",
      () => store.append(c, KIND_A, 1, { expectedSequence: 1.5 }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence NaN",
      () => store.append(c, KIND_A, 1, { expectedSequence: NaN }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "expectedSequence string",
      () => store.append(c, KIND_A, 1, { expectedSequence: "1" as never }),
      InvalidArgumentError,
      /expectedSequence/,
    ],
    [
      "key 2^128",
      () => store.append(c, KIND_A, 1, { idempotencyKey: 2n ** 128n }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key -1n",
      () => store.append(c, KIND_A, 1, { idempotencyKey: -1n }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key number",
      () => store.append(c, KIND_A, 1, { idempotencyKey: 5 as never }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "key empty",
      () => store.append(c, KIND_A, 1, { idempotencyKey: "" }),
      InvalidArgumentError,
      /idempotencyKey/,
    ],
    [
      "correlationId not a uuid",
      () => store.append(c, KIND_A, 1, { correlationId: "nope" }),
      InvalidArgumentError,
      /correlationId/,
    ],
    [
      "causationId number",
      () => store.append(c, KIND_A, 1, { causationId: 3 as never }),
      InvalidArgumentError,
      /causationId/,
    ],
    [
      "options not an object",
      () => store.append(c, KIND_A, 1, 7 as never),
      InvalidArgumentError,
      /options/,
    ],
    [
      "payload too large",
      () => store.append(c, KIND_A, "x".repeat(17 * 1024 * 1024)),
      PayloadTooLargeError,
      /maximum/,
    ],
  ];
  for (const [name, fn, type, message] of cases) {
    const e = throwsType(fn, type as never, message);
    assert.ok(e instanceof StoreError, name);
    assert.equal(typeof e.code, "string");
    assert.equal(store.diagnostics().events, 1, `${name}: nothing written`);
  }
  const r = store.append(c, KIND_A, "second", { expectedSequence: 1 });
  assert.equal(r.globalSequence, 2);
  assertHealthy(store);
  store.close();
});

Deno.test("bad input: an event one byte over the frame limit leaves no trace, not even a name", () => {
  const { fs, store } = memStore();
  store.append(new Coordinate("a", "s"), KIND_A, 1);
  const edge = new Coordinate("edge", "edge-scope");
  // Format-2 body: 19 fixed (id, flags, kind) + 3 one-byte varints (sequence, global
  // sequence, timestamp) + 1+4 entity + 1+10 scope + (5 + n) msgpack bin32 payload + 32 hash.
  const fits = FRAME_BODY_BYTES_MAX - 75;
  const e = throwsType(
    () => store.append(edge, KIND_A, new Uint8Array(fits + 1)),
    PayloadTooLargeError,
  );
  assert.equal(e.bytes, FRAME_BODY_BYTES_MAX + 1);
  assert.equal(store.diagnostics().events, 1);
  // Regression: the rejected append used to intern the entity (and persist it in the image).
  assert.equal(store.diagnostics().entities, 1);
  store.close();
  const again = reopen(fs);
  assert.equal(again.diagnostics().entities, 1);
  // Exactly at the limit is accepted and reads back.
  const r = again.append(edge, KIND_A, new Uint8Array(fits).fill(9));
  assert.equal((again.get(r.eventId).payload as Uint8Array).length, fits);
  assert.equal(again.diagnostics().entities, 2);
  again.close();
});

import assert from "node:assert/strict";
import {
  Coordinate,
  EventKind,
  type Fence,
  InvalidArgumentError,
  InvalidCoordinateError,
  OwnershipError,
  type OwnershipRejection,
  Region,
  Store,
  StoreClosedError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { LEASE_MS_MAX } from "../../src/ownership/ownership.ts";

const T0 = 1_700_000_000_000;
const LEASE_MS = 100;
const SCOPE = "orders";
const KIND = EventKind.custom(0x1, 1);
const ORDER = new Coordinate("order:1", SCOPE);

/** A store on an in-memory file system with a clock the test moves by hand. */
function world(fs = new MemoryFileSystem()) {
  const w = {
    now: T0,
    fs,
    store: undefined as unknown as Store,
    open(): Store {
      w.store = Store.open({ dataDir: "/db", fs: w.fs, clock: () => w.now });
      return w.store;
    },
    events(): number {
      return w.store.diagnostics().events;
    },
    own() {
      return w.store.ownership(SCOPE);
    },
  };
  w.open();
  return w;
}

/** Assert `fn` throws an OwnershipError with `reason` and writes nothing. */
function rejects(
  w: ReturnType<typeof world>,
  reason: OwnershipRejection,
  fn: () => unknown,
): OwnershipError {
  const before = w.events();
  const current = w.own().current();
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof OwnershipError, `expected OwnershipError, got ${caught}`);
  assert.equal(caught.reason, reason, caught.message);
  assert.equal(caught.code, "OWNERSHIP");
  assert.equal(caught.scope, SCOPE);
  assert.equal(w.events(), before, "a rejected call must write nothing");
  assert.deepEqual(w.own().current(), current, "a rejected call must not move the fence");
  return caught;
}

/** Assert `fn` throws `type` and writes nothing. */
function invalid(
  w: ReturnType<typeof world>,
  type: new (...args: never[]) => Error,
  fn: () => unknown,
): void {
  const before = w.events();
  assert.throws(fn, type);
  assert.equal(w.events(), before);
}

function write(w: ReturnType<typeof world>, fence: Fence, n = 0): void {
  w.store.append(ORDER, KIND, { n }, { fence });
}

// --- claim / renew / takeover / release / current ----------------------------

Deno.test("claim takes a free scope at epoch 1 with a secret token; current hides it", () => {
  const w = world();
  const own = w.own();
  assert.equal(own.scope, SCOPE);
  assert.equal(own.current(), undefined);
  const fence = own.claim("a", LEASE_MS);
  assert.equal(fence.owner, "a");
  assert.equal(fence.epoch, 1);
  assert.match(fence.token, /^[0-9a-f]{32}$/);
  assert.deepEqual(own.current(), { owner: "a", epoch: 1, token: "" });
  // A fresh handle sees the same state: it lives in the store, not in the handle.
  assert.deepEqual(w.store.ownership(SCOPE).current(), { owner: "a", epoch: 1, token: "" });
  write(w, fence);
  assert.equal(w.store.stream(ORDER.entity).length, 1);
});

Deno.test("claim while a lease is held is rejected as lease_held, even for the holder", () => {
  const w = world();
  const fence = w.own().claim("a", LEASE_MS);
  const e = rejects(w, "lease_held", () => w.own().claim("b", LEASE_MS));
  assert.equal(e.currentEpoch, 1);
  rejects(w, "lease_held", () => w.own().claim("a", LEASE_MS));
  w.now += LEASE_MS - 1;
  rejects(w, "lease_held", () => w.own().claim("b", LEASE_MS));
  write(w, fence); // still valid one ms before expiry
});

Deno.test("the lease ends exactly at claim time + leaseMs (injected clock)", () => {
  const w = world();
  const fence = w.own().claim("a", LEASE_MS);
  w.now = T0 + LEASE_MS - 1;
  write(w, fence);
  w.now = T0 + LEASE_MS;
  rejects(w, "stale_owner", () => write(w, fence));
  // An expired scope can be claimed again: the epoch still moves up.
  const next = w.own().claim("b", LEASE_MS);
  assert.equal(next.epoch, 2);
  assert.notEqual(next.token, fence.token);
});

Deno.test("renew extends the lease from now and keeps epoch and token", () => {
  const w = world();
  const fence = w.own().claim("a", LEASE_MS);
  w.now += 90;
  const renewed = w.own().renew(fence, LEASE_MS);
  assert.deepEqual(renewed, fence);
  w.now += 90; // 180 ms after the claim, 90 after the renewal
  write(w, renewed);
  rejects(w, "lease_held", () => w.own().claim("b", LEASE_MS));
  w.now += 10;
  rejects(w, "stale_owner", () => write(w, renewed));
});

Deno.test("renewal after expiry is rejected, even when nobody took over", () => {
  const w = world();
  const fence = w.own().claim("a", LEASE_MS);
  w.now += LEASE_MS;
  const e = rejects(w, "stale_owner", () => w.own().renew(fence, LEASE_MS));
  assert.match(e.message, /expired/);
  w.now += 1_000;
  rejects(w, "stale_owner", () => w.own().renew(fence, LEASE_MS));
});

Deno.test("renew rejects stale, rival and forged fences", () => {
  const w = world();
  const old = w.own().claim("a", LEASE_MS);
  w.now += LEASE_MS;
  const cur = w.own().takeover("b", w.own().current()!, LEASE_MS);
  rejects(w, "stale_owner", () => w.own().renew(old, LEASE_MS));
  rejects(w, "split_brain", () => w.own().renew({ ...cur, owner: "a" }, LEASE_MS));
  rejects(w, "invalid_token", () => w.own().renew({ ...cur, token: old.token }, LEASE_MS));
  rejects(w, "invalid_token", () => w.own().renew({ ...cur, epoch: 3 }, LEASE_MS));
  w.own().renew(cur, LEASE_MS);
});

Deno.test("takeover needs an expired lease and the current owner and epoch; it moves the epoch by one", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  const observed = w.own().current()!;
  rejects(w, "lease_held", () => w.own().takeover("b", observed, LEASE_MS));
  w.now += LEASE_MS;
  rejects(w, "split_brain", () => w.own().takeover("b", { ...observed, owner: "z" }, LEASE_MS));
  rejects(w, "invalid_token", () => w.own().takeover("b", { ...observed, epoch: 2 }, LEASE_MS));
  const b = w.own().takeover("b", observed, LEASE_MS);
  assert.deepEqual({ owner: b.owner, epoch: b.epoch }, { owner: "b", epoch: 2 });
  assert.deepEqual(w.own().current(), { owner: "b", epoch: 2, token: "" });
  // A second contender that observed the same expiry loses: exactly one takeover per expiry.
  const e = rejects(w, "stale_owner", () => w.own().takeover("c", observed, LEASE_MS));
  assert.equal(e.currentEpoch, 2);
  assert.equal(e.requestedEpoch, 1);
  rejects(w, "lease_held", () => w.own().takeover("c", w.own().current()!, LEASE_MS));
  rejects(w, "stale_owner", () => write(w, a));
  write(w, b);
});

Deno.test("takeover of a never-claimed scope is rejected: claim it instead", () => {
  const w = world();
  rejects(w, "invalid_token", () => w.own().takeover("b", { owner: "a", epoch: 1, token: "" }, 1));
  assert.equal(w.events(), 0);
});

Deno.test("release frees the scope at once; the released fence is dead", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  w.own().release(a);
  assert.deepEqual(w.own().current(), { owner: "a", epoch: 1, token: "" });
  rejects(w, "stale_owner", () => write(w, a));
  rejects(w, "stale_owner", () => w.own().renew(a, LEASE_MS));
  rejects(w, "stale_owner", () => w.own().release(a));
  const b = w.own().claim("b", LEASE_MS);
  assert.equal(b.epoch, 2);
  rejects(w, "stale_owner", () => w.own().release(a));
  rejects(w, "invalid_token", () => w.own().release({ ...b, token: a.token }));
  rejects(w, "split_brain", () => w.own().release({ ...b, owner: "a" }));
  write(w, b);
});

Deno.test("a released scope can also be taken over, at epoch + 1", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  w.own().release(a);
  const b = w.own().takeover("b", w.own().current()!, LEASE_MS);
  assert.equal(b.epoch, 2);
});

// --- fenced appends ----------------------------------------------------------

Deno.test("fenced appends reject stale, rival, forged, unknown and expired fences, writing nothing", () => {
  const w = world();
  const coordOther = new Coordinate("order:2", SCOPE);
  // Never claimed.
  rejects(w, "invalid_token", () => write(w, { owner: "a", epoch: 1, token: "00" }));
  const a = w.own().claim("a", LEASE_MS);
  write(w, a, 1);
  w.now += LEASE_MS;
  const b = w.own().takeover("b", w.own().current()!, LEASE_MS);
  const stale = rejects(w, "stale_owner", () => write(w, a, 2));
  assert.equal(stale.currentEpoch, 2);
  assert.equal(stale.requestedEpoch, 1);
  rejects(w, "split_brain", () => write(w, { ...b, owner: "a" }, 3));
  rejects(w, "invalid_token", () => write(w, { ...b, token: a.token }, 4));
  rejects(w, "invalid_token", () => write(w, { ...b, token: "" }, 5));
  rejects(w, "invalid_token", () => write(w, { ...b, epoch: 3 }, 6));
  // The lease holder itself, once expired.
  write(w, b, 7);
  w.now += LEASE_MS;
  rejects(w, "stale_owner", () => write(w, b, 8));
  // A batch with one bad fence writes none of its items.
  const c = w.own().claim("c", LEASE_MS);
  rejects(w, "stale_owner", () =>
    w.store.appendBatch([
      { coord: coordOther, kind: KIND, payload: { n: 9 }, options: { fence: c } },
      { coord: ORDER, kind: KIND, payload: { n: 10 }, options: { fence: b } },
    ]));
  assert.deepEqual(
    w.store.query(Region.scope(SCOPE).withCategory(0x1)).map((e) => w.store.get(e.eventId).payload),
    [{ n: 1 }, { n: 7 }],
  );
  w.store.appendBatch([{
    coord: coordOther,
    kind: KIND,
    payload: { n: 11 },
    options: { fence: c },
  }]);
  assert.equal(w.store.stream(coordOther.entity).length, 1);
});

Deno.test("lease_held comes only from claim and takeover: an append checks the fence, not the lease queue", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  rejects(w, "lease_held", () => w.own().claim("b", LEASE_MS));
  rejects(w, "lease_held", () => w.own().takeover("b", w.own().current()!, LEASE_MS));
  write(w, a);
});

Deno.test("a fence guards only its own scope", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  const elsewhere = new Coordinate("invoice:1", "billing");
  assert.throws(
    () => w.store.append(elsewhere, KIND, {}, { fence: a }),
    (e) => e instanceof OwnershipError && e.reason === "invalid_token" && e.scope === "billing",
  );
  const b = w.store.ownership("billing").claim("a", LEASE_MS); // same owner name, epoch 1
  assert.throws(
    () => w.store.append(elsewhere, KIND, {}, { fence: a }),
    (e) => e instanceof OwnershipError && e.reason === "invalid_token",
  );
  w.store.append(elsewhere, KIND, {}, { fence: b });
  // Unfenced appends are not checked at all: fencing is opt-in per write.
  w.store.append(ORDER, KIND, {});
});

// --- persistence ----------------------------------------------------------------

Deno.test("the token never reaches the disk: the log keeps only its hash", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  w.store.close();
  const needle = new TextEncoder().encode(a.token);
  for (const path of w.fs.listFiles()) {
    const bytes = w.fs.readFile(path);
    const hay = new TextDecoder("latin1").decode(bytes);
    assert.ok(!hay.includes(a.token), `${path} holds the token`);
    assert.ok(!hay.includes(new TextDecoder("latin1").decode(needle)), `${path} holds the token`);
  }
});

for (const reopen of ["image", "rebuild"] as const) {
  Deno.test(`fences survive close and reopen of a real directory (${reopen} path)`, () => {
    const dir = Deno.makeTempDirSync();
    let now = T0;
    const config = {
      dataDir: dir,
      clock: () => now,
      enableMmapIndex: reopen === "image",
      enableCheckpoint: reopen === "image",
    };
    try {
      let store = Store.open(config);
      const a = store.ownership(SCOPE).claim("a", LEASE_MS);
      store.append(ORDER, KIND, { n: 1 }, { fence: a });
      store.close();
      store = Store.open(config);
      assert.equal(
        store.diagnostics().openReport.path,
        reopen === "image" ? "image" : "rebuild",
      );
      const own = store.ownership(SCOPE);
      assert.deepEqual(own.current(), { owner: "a", epoch: 1, token: "" });
      // The owner's token still works; a forged one, a rival and a claim do not.
      store.append(ORDER, KIND, { n: 2 }, { fence: a });
      assert.throws(
        () => store.append(ORDER, KIND, {}, { fence: { ...a, token: "f".repeat(32) } }),
        (e) => e instanceof OwnershipError && e.reason === "invalid_token",
      );
      assert.throws(
        () => store.append(ORDER, KIND, {}, { fence: { ...a, owner: "b" } }),
        (e) => e instanceof OwnershipError && e.reason === "split_brain",
      );
      assert.throws(
        () => own.claim("b", LEASE_MS),
        (e) => e instanceof OwnershipError && e.reason === "lease_held",
      );
      assert.deepEqual(own.renew(a, LEASE_MS), a);
      // Expiry keeps running on the clock across the reopen.
      now += LEASE_MS;
      const b = own.takeover("b", own.current()!, LEASE_MS);
      assert.equal(b.epoch, 2);
      store.close();
      store = Store.open(config);
      assert.deepEqual(store.ownership(SCOPE).current(), { owner: "b", epoch: 2, token: "" });
      assert.throws(
        () => store.append(ORDER, KIND, {}, { fence: a }),
        (e) => e instanceof OwnershipError && e.reason === "stale_owner",
      );
      store.append(ORDER, KIND, { n: 3 }, { fence: b });
      assert.equal(store.stream(ORDER.entity).length, 3);
      store.close();
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("fences survive a crash after sync; the owner's token still works, a forged one does not", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  write(w, a, 1);
  w.store.sync();
  w.fs = w.fs.crash();
  w.open();
  assert.equal(w.store.diagnostics().openReport.path, "rebuild");
  assert.deepEqual(w.own().current(), { owner: "a", epoch: 1, token: "" });
  write(w, a, 2);
  rejects(w, "invalid_token", () => write(w, { ...a, token: "0".repeat(32) }));
  rejects(w, "lease_held", () => w.own().claim("b", LEASE_MS));
  w.now += LEASE_MS;
  rejects(w, "stale_owner", () => write(w, a, 3));
  w.store.close();
});

Deno.test("a fence change not yet synced is lost in a crash, and the lost token is then refused", () => {
  const w = world();
  const a = w.own().claim("a", LEASE_MS);
  w.store.sync();
  w.now += LEASE_MS;
  const b = w.own().takeover("b", w.own().current()!, LEASE_MS); // never synced
  w.fs = w.fs.crash();
  w.open();
  assert.deepEqual(w.own().current(), { owner: "a", epoch: 1, token: "" });
  rejects(w, "invalid_token", () => write(w, b)); // epoch 2 was never issued, as far as the log knows
  rejects(w, "stale_owner", () => write(w, a)); // expired
  const c = w.own().takeover("c", w.own().current()!, LEASE_MS);
  assert.equal(c.epoch, 2);
  rejects(w, "split_brain", () => write(w, b)); // same epoch, other owner: the crash cannot mint two writers
  write(w, c);
  w.store.close();
});

// --- bad inputs -------------------------------------------------------------------

Deno.test("bad inputs to ownership calls throw typed errors and write nothing", () => {
  const w = world();
  const own = w.own();
  const bad = (fn: () => unknown) => invalid(w, InvalidArgumentError, fn);
  bad(() => own.claim("", LEASE_MS));
  bad(() => own.claim("x".repeat(257), LEASE_MS));
  bad(() => own.claim(42 as unknown as string, LEASE_MS));
  bad(() => own.claim("a", 0));
  bad(() => own.claim("a", -5));
  bad(() => own.claim("a", 1.5));
  bad(() => own.claim("a", Number.NaN));
  bad(() => own.claim("a", LEASE_MS_MAX + 1));
  bad(() => own.claim("a", "100" as unknown as number));
  const a = own.claim("a", LEASE_MS);
  bad(() => own.renew(undefined as unknown as Fence, LEASE_MS));
  bad(() => own.renew({ ...a, epoch: 0 }, LEASE_MS));
  bad(() => own.renew({ ...a, epoch: 1.5 }, LEASE_MS));
  bad(() => own.renew({ owner: "a", epoch: 1 } as unknown as Fence, LEASE_MS));
  bad(() => own.renew(a, 0));
  bad(() => own.takeover("b", null as unknown as Fence, LEASE_MS));
  bad(() => own.takeover("", own.current()!, LEASE_MS));
  bad(() => own.release({ ...a, token: 7 } as unknown as Fence));
  bad(() => w.store.append(ORDER, KIND, {}, { fence: { ...a, epoch: 0 } }));
  bad(() => w.store.append(ORDER, KIND, {}, { fence: "a" as unknown as Fence }));
  invalid(w, InvalidCoordinateError, () => w.store.ownership(""));
  invalid(w, InvalidCoordinateError, () => w.store.ownership("a\u0000b"));
  invalid(w, InvalidCoordinateError, () => w.store.ownership(7 as unknown as string));
  // None of that moved the fence.
  write(w, a);
});

Deno.test("a clock that returns NaN is refused instead of minting a lease that never expires", () => {
  const w = world();
  w.now = Number.NaN;
  invalid(w, InvalidArgumentError, () => w.own().claim("a", LEASE_MS));
});

Deno.test("a scope of the maximum length can be owned (its fence entity is hashed)", () => {
  const w = world();
  const scope = "s".repeat(1024);
  const own = w.store.ownership(scope);
  const a = own.claim("a", LEASE_MS);
  w.store.append(new Coordinate("e", scope), KIND, {}, { fence: a });
  assert.deepEqual(own.current(), { owner: "a", epoch: 1, token: "" });
  w.store.sync();
  w.fs = w.fs.crash();
  w.open();
  assert.deepEqual(w.store.ownership(scope).current(), { owner: "a", epoch: 1, token: "" });
  w.store.append(new Coordinate("e", scope), KIND, {}, { fence: a });
  w.store.close();
});

Deno.test("ownership calls on a closed store throw StoreClosedError", () => {
  const w = world();
  const own = w.own();
  const a = own.claim("a", LEASE_MS);
  w.store.close();
  assert.throws(() => own.current(), StoreClosedError);
  assert.throws(() => own.claim("b", LEASE_MS), StoreClosedError);
  assert.throws(() => own.renew(a, LEASE_MS), StoreClosedError);
  assert.throws(() => own.takeover("b", a, LEASE_MS), StoreClosedError);
  assert.throws(() => own.release(a), StoreClosedError);
  assert.throws(() => w.store.ownership(SCOPE), StoreClosedError);
});

Deno.test("tokens differ for every grant", () => {
  const w = world();
  const tokens = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const f = w.own().claim(`w${i}`, LEASE_MS);
    tokens.add(f.token);
    w.own().release(f);
  }
  assert.equal(tokens.size, 20);
});

/**
 * Regression tests for issue 10, items 12–18 ("silent surprises for users",
 * "every error a StoreError", "full disk"). Each test asserts the contract of
 * `../shared/API.md` (errors, idempotency, cursors) and failed on the code the
 * issue was filed against, for the reason the issue gives.
 *
 * - 12: idempotency keys are per entity and kind; a retry is `duplicate: true`;
 *   a key on another entity or kind, or twice in a batch, is an
 *   `IdempotencyConflictError` and writes nothing.
 * - 13: `saveCursor` creates no event a user region delivers and does not grow
 *   the log; system events are only in `Region.all().withSystem()`.
 * - 14: a payload is read once: getters and Proxy traps run once, and what they
 *   returned first is what is stored (or the append is rejected, typed).
 * - 15: a tiny payload that is huge when encoded (sparse arrays) fails fast,
 *   typed (run in a child process with a kill timeout).
 * - 16: a broken clock (NaN, ±Infinity, negative, bigint, string, ≥ 2^48,
 *   throwing) is rejected, typed, by every caller; nothing written, no ghost
 *   entity.
 * - 17: every error of `Store.open`, `close()`, `snapshot()` and appends is a
 *   `StoreError`, keeping the cause; a failed close releases the lock. File
 *   permissions are tested for real: the child process runs without
 *   CAP_DAC_OVERRIDE (`setpriv --bounding-set`), so modes bind it though we are root.
 * - 18: on a real, full 2 MiB tmpfs: `STORAGE_FULL`, the store opens and reads
 *   while full, and recovers once space frees.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type AppendReceipt,
  Coordinate,
  Denial,
  EventKind,
  IdempotencyConflictError,
  InvalidPayloadError,
  IoError,
  Region,
  StorageFullError,
  Store,
  type StoreConfig,
  StoreError,
} from "../../mod.ts";
import { type FsOp, InjectedFaultError, MemoryFileSystem } from "../../testing.ts";
import {
  cloneFs,
  DIR,
  KIND_A,
  KIND_B,
  memStore,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const FIXTURES = new URL("../fixtures/defects_api/", import.meta.url);
const SPARSE_CHILD = fileURLToPath(new URL("sparse_child.ts", FIXTURES));
const OPEN_CHILD = fileURLToPath(new URL("open_child.ts", FIXTURES));

/** The `duplicate` flag of a receipt (new in the contract; absent on the old code). */
function duplicateOf(r: AppendReceipt): unknown {
  return (r as AppendReceipt & { duplicate?: unknown }).duplicate;
}

/** The identity of a receipt: what a retry must give back. */
function identity(r: AppendReceipt) {
  return {
    eventId: r.eventId,
    sequence: r.sequence,
    globalSequence: r.globalSequence,
    eventHash: r.eventHash,
  };
}

/** What a rejected call must leave unchanged. */
function counts(store: Store): { events: number; entities: number } {
  const d = store.diagnostics();
  return { events: d.events, entities: d.entities };
}

/** `e` and its `cause` chain. */
function causeChain(e: unknown): unknown[] {
  const out: unknown[] = [];
  let at: unknown = e;
  while (at !== undefined && at !== null && out.length < 10) {
    out.push(at);
    at = (at as { cause?: unknown }).cause;
  }
  return out;
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return `${e.constructor.name}${code !== undefined ? `(${String(code)})` : ""}: ${
      e.message.slice(0, 160)
    }`;
  }
  return `a thrown ${typeof e}: ${String(e)}`;
}

/** Fail listing the first problems (a sweep can find hundreds). */
function assertNoProblems(problems: string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, 16).map((p) => `  - ${p}`).join("\n");
  const more = problems.length > 16 ? `\n  … and ${problems.length - 16} more` : "";
  assert.fail(`${problems.length} problem(s):\n${shown}${more}`);
}

/** Run `fn`; the error it threw, or `undefined`. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** True when the injected `fault` is kept somewhere in the error's cause chain. */
function keepsInjectedCause(e: unknown, fault: "EIO" | "ENOSPC"): boolean {
  return causeChain(e).some((c) =>
    c instanceof InjectedFaultError ||
    (c as { code?: unknown })?.code === fault ||
    (fault === "ENOSPC" && (c as { code?: unknown })?.code === "STORAGE_FULL")
  );
}

const BANK = "bank";
const DEPOSITED = EventKind.custom(0x1, 1);
const WITHDRAWN = EventKind.custom(0x1, 2);
const ACCT1 = new Coordinate("account:1", BANK);
const ACCT2 = new Coordinate("account:2", BANK);

// =====================================================================================
// 12. Idempotency keys: per entity and kind; conflicts are errors
// =====================================================================================

Deno.test("defect 12: a deposit to account 2 with a key account 1 used is rejected, not answered with account 1's receipt", () => {
  const { store } = memStore();
  try {
    const first = store.append(ACCT1, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-1" });
    const before = counts(store);
    const e = throwsType(
      () => store.append(ACCT2, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-1" }),
      IdempotencyConflictError,
    );
    assert.equal(e.code, "IDEMPOTENCY_CONFLICT");
    assert.deepEqual(counts(store), before, "nothing written, no new entity");
    assert.deepEqual(store.stream("account:2"), []);
    assert.deepEqual(store.stream("account:1").map((x) => x.eventId), [first.eventId]);
    // The store stays usable: the deposit with its own key goes through.
    const own = store.append(ACCT2, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-2" });
    assert.equal(own.sequence, 1);
    assert.equal(duplicateOf(own), false);
  } finally {
    store.close();
  }
});

Deno.test("defect 12: the same key with another kind on the same entity is an IdempotencyConflictError", () => {
  const { store } = memStore();
  try {
    store.append(ACCT1, DEPOSITED, { amount: 10 }, { idempotencyKey: "op-7" });
    const before = counts(store);
    const e = throwsType(
      () => store.append(ACCT1, WITHDRAWN, { amount: 10 }, { idempotencyKey: "op-7" }),
      IdempotencyConflictError,
    );
    assert.equal(e.code, "IDEMPOTENCY_CONFLICT");
    assert.deepEqual(counts(store), before);
    assert.equal(store.stream("account:1").length, 1);
  } finally {
    store.close();
  }
});

Deno.test("defect 12: a retry gets the first receipt with duplicate: true, whatever its payload, also after close+reopen and crash+reopen", () => {
  const { fs, store } = memStore();
  const first = store.append(ACCT1, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-1" });
  const big = store.append(ACCT1, DEPOSITED, { amount: 5 }, { idempotencyKey: 2n ** 100n });
  assert.equal(duplicateOf(first), false, "a first write has duplicate: false");
  assert.equal(duplicateOf(big), false);
  const check = (s: Store, where: string) => {
    const before = counts(s);
    const again = s.append(ACCT1, DEPOSITED, { amount: 999 }, { idempotencyKey: "tx-1" });
    assert.deepEqual(identity(again), identity(first), `${where}: the first receipt`);
    assert.equal(duplicateOf(again), true, `${where}: a retry has duplicate: true`);
    const again2 = s.append(ACCT1, DEPOSITED, "other", { idempotencyKey: 2n ** 100n });
    assert.deepEqual(identity(again2), identity(big), `${where}: the first receipt (bigint key)`);
    assert.equal(duplicateOf(again2), true, `${where}: bigint retry has duplicate: true`);
    assert.deepEqual(counts(s), before, `${where}: a retry writes nothing`);
    assert.deepEqual(s.get(first.eventId).payload, { amount: 10 }, `${where}: first payload kept`);
    // A key the store knows stays bound to its entity after a reopen, too.
    throwsType(
      () => s.append(ACCT2, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-1" }),
      IdempotencyConflictError,
    );
    assert.deepEqual(counts(s), before, `${where}: a conflict writes nothing`);
  };
  check(store, "while open");
  store.close();
  const reopened = reopen(fs);
  check(reopened, "after close+reopen");
  reopened.close();
  const rebuilt = reopen(fs, { enableMmapIndex: false, enableCheckpoint: false });
  check(rebuilt, "after a reopen by full scan");
  rebuilt.sync();
  const crashed = reopen(fs.crash());
  check(crashed, "after sync+crash+reopen");
  crashed.close();
});

Deno.test("defect 12: a transfer batch with one key on both legs throws IdempotencyConflictError and writes neither leg", () => {
  const { store } = memStore();
  try {
    const before = counts(store);
    const transfer = (key1: string, key2: string) => [
      {
        coord: ACCT1,
        kind: WITHDRAWN,
        payload: { amount: 50 },
        options: { idempotencyKey: key1 },
      },
      {
        coord: ACCT2,
        kind: DEPOSITED,
        payload: { amount: 50 },
        options: { idempotencyKey: key2 },
      },
    ];
    const e = throwsType(
      () => store.appendBatch(transfer("transfer-9", "transfer-9")),
      IdempotencyConflictError,
    );
    assert.equal(e.code, "IDEMPOTENCY_CONFLICT");
    assert.deepEqual(counts(store), before, "nothing of the batch is written");
    assert.deepEqual(store.stream("account:1"), [], "the withdrawal leg is not written");
    assert.deepEqual(store.stream("account:2"), []);
    // Same entity and kind twice in one batch: a conflict too.
    const one = { coord: ACCT1, kind: DEPOSITED, payload: 1, options: { idempotencyKey: "k" } };
    throwsType(() => store.appendBatch([one, { ...one, payload: 2 }]), IdempotencyConflictError);
    assert.deepEqual(counts(store), before);
    // The store stays usable: the transfer with a key per leg writes both legs.
    const receipts = store.appendBatch(transfer("transfer-9:out", "transfer-9:in"));
    assert.deepEqual(receipts.map((r) => r.globalSequence), [1, 2]);
    assert.deepEqual(receipts.map(duplicateOf), [false, false]);
  } finally {
    store.close();
  }
});

Deno.test("defect 12: a batch item reusing another entity's key fails the whole batch", () => {
  const { store } = memStore();
  try {
    store.append(ACCT1, DEPOSITED, { amount: 10 }, { idempotencyKey: "tx-1" });
    const before = counts(store);
    throwsType(
      () =>
        store.appendBatch([
          { coord: new Coordinate("account:3", BANK), kind: DEPOSITED, payload: 1 },
          { coord: ACCT2, kind: DEPOSITED, payload: 2, options: { idempotencyKey: "tx-1" } },
        ]),
      IdempotencyConflictError,
    );
    assert.deepEqual(counts(store), before, "nothing of the batch written, no new entity");
    assert.deepEqual(store.stream("account:3"), []);
  } finally {
    store.close();
  }
});

Deno.test("defect 12: a batch retried whole returns every item's first receipt with duplicate: true, also after reopen", () => {
  const { fs, store } = memStore();
  const batch = (tag: string) => [
    { coord: ACCT1, kind: WITHDRAWN, payload: { tag }, options: { idempotencyKey: "t-out" } },
    { coord: ACCT2, kind: DEPOSITED, payload: { tag }, options: { idempotencyKey: "t-in" } },
  ];
  const first = store.appendBatch(batch("first"));
  assert.deepEqual(first.map(duplicateOf), [false, false]);
  const check = (s: Store, where: string) => {
    const before = counts(s);
    const again = s.appendBatch(batch("retry"));
    assert.deepEqual(again.map(identity), first.map(identity), `${where}: first receipts`);
    assert.deepEqual(again.map(duplicateOf), [true, true], `${where}: duplicate: true`);
    assert.deepEqual(counts(s), before, `${where}: nothing written`);
  };
  check(store, "while open");
  store.close();
  const again = reopen(fs);
  check(again, "after close+reopen");
  again.close();
});

Deno.test('defect 12: string key "1" and bigint key 1n are different keys', () => {
  const { store } = memStore();
  try {
    const s = store.append(ACCT1, DEPOSITED, { amount: 1 }, { idempotencyKey: "1" });
    const b = store.append(ACCT1, DEPOSITED, { amount: 2 }, { idempotencyKey: 1n });
    assert.notEqual(b.eventId, s.eventId, '1n is not a retry of "1"');
    assert.deepEqual([duplicateOf(s), duplicateOf(b)], [false, false]);
    // Neither is a conflict for another entity's use of the other form.
    const other = store.append(ACCT2, DEPOSITED, { amount: 3 }, { idempotencyKey: "2" });
    const otherBig = store.append(ACCT1, DEPOSITED, { amount: 4 }, { idempotencyKey: 2n });
    assert.notEqual(otherBig.eventId, other.eventId);
    const retry = store.append(ACCT1, DEPOSITED, { amount: 9 }, { idempotencyKey: 1n });
    assert.deepEqual(identity(retry), identity(b));
    assert.equal(duplicateOf(retry), true);
    assert.equal(store.diagnostics().events, 4);
  } finally {
    store.close();
  }
});

// =====================================================================================
// 13. Cursor positions are not events; system events only with withSystem()
// =====================================================================================

const USER = new Coordinate("job:1", "jobs");

/** `Region.all().withSystem()`, called so that this file compiles before the method exists. */
function allWithSystem(): Region | undefined {
  return (Region.all() as Any).withSystem?.() as Region | undefined;
}

Deno.test("defect 13: a Region.all() cursor that saves its position after every poll catches up", () => {
  const { store } = memStore();
  try {
    const user = [1, 2, 3].map((i) => store.append(USER, KIND_A, { i }).globalSequence);
    const cursor = store.cursorGuaranteed(Region.all());
    const delivered: string[] = [];
    let caughtUp = false;
    for (let polls = 0; polls < 50; polls++) {
      const e = cursor.poll();
      if (e === undefined) {
        caughtUp = true;
        break;
      }
      delivered.push(`${e.globalSequence}:${e.entity}`);
      store.saveCursor("mailer", cursor.position);
    }
    assert.ok(
      caughtUp,
      `the cursor never caught up: after 50 polls it delivered ${
        delivered.slice(0, 8).join(", ")
      }, …`,
    );
    assert.deepEqual(delivered, user.map((g) => `${g}:job:1`), "only the user events");
    assert.equal(store.loadCursor("mailer"), user[2]);
  } finally {
    store.close();
  }
});

Deno.test("defect 13: saveCursor adds no event: query(Region.all()) and diagnostics().events do not change", () => {
  const { store } = memStore();
  try {
    for (let i = 0; i < 5; i++) store.append(USER, KIND_A, { i });
    const before = store.query(Region.all()).map((e) => e.eventId);
    const events = store.diagnostics().events;
    for (let p = 1; p <= 5; p++) store.saveCursor("reader", p);
    store.saveCursor("other", 3);
    assert.equal(store.diagnostics().events, events, "diagnostics().events unchanged");
    assert.deepEqual(store.query(Region.all()).map((e) => e.eventId), before);
    assert.deepEqual(store.cursorGuaranteed(Region.all(), { after: 5 }).pollBatch(100), []);
    assert.equal(store.loadCursor("reader"), 5);
    assert.equal(store.loadCursor("other"), 3);
  } finally {
    store.close();
  }
});

Deno.test("defect 13: a Region.all() subscription delivers nothing because of saveCursor", async () => {
  const { store } = memStore();
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), 5_000);
  try {
    store.append(USER, KIND_A, "u1");
    store.append(USER, KIND_A, "u2");
    store.saveCursor("sub", 2);
    store.append(USER, KIND_A, "u3");
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of store.subscribe(Region.all(), { signal: stop.signal })) {
        seen.push(`${e.entity}=${JSON.stringify(e.payload)}`);
        if (seen.length === 3) {
          // Caught up: a save while following, then one more user event.
          store.saveCursor("sub", 3);
          store.append(USER, KIND_A, "u4");
        }
        if (e.payload === "u4" || seen.length >= 10) stop.abort();
      }
    })();
    await following;
    assert.deepEqual(seen, ['job:1="u1"', 'job:1="u2"', 'job:1="u3"', 'job:1="u4"']);
  } finally {
    clearTimeout(timer);
    store.close();
  }
});

Deno.test("defect 13: saving a cursor after every poll 10,000 times leaves the segment files' size unchanged and the directory small", () => {
  const dir = Deno.makeTempDirSync({ prefix: "defect13-" });
  const segmentBytes = () =>
    [...Deno.readDirSync(dir)].filter((f) => f.name.endsWith(".fbat"))
      .reduce((sum, f) => sum + Deno.statSync(`${dir}/${f.name}`).size, 0);
  const allBytes = () =>
    [...Deno.readDirSync(dir)].reduce((sum, f) => sum + Deno.statSync(`${dir}/${f.name}`).size, 0);
  try {
    const setup = Store.open(dir);
    for (let i = 0; i < 1_000; i++) {
      setup.append(new Coordinate(`job:${i % 10}`, "jobs"), KIND_A, i);
    }
    setup.close();
    const segmentsBefore = segmentBytes();
    const store = Store.open(dir);
    const events = store.diagnostics().events;
    let saves = 0;
    // Ten consumers, each reading the 1,000 events and saving after every poll.
    for (let c = 0; c < 10; c++) {
      const cursor = store.cursorGuaranteed(Region.entity("job:"));
      for (let e = cursor.poll(); e !== undefined && saves < 10_000; e = cursor.poll()) {
        store.saveCursor(`consumer-${c}`, cursor.position);
        saves++;
      }
    }
    assert.equal(saves, 10_000);
    assert.equal(store.diagnostics().events, events, "diagnostics().events unchanged");
    store.close();
    assert.equal(segmentBytes(), segmentsBefore, "segment files' total size (bytes) unchanged");
    const total = allBytes();
    assert.ok(total < 1024 * 1024, `the data directory holds ${total} bytes (< 1 MiB expected)`);
    const again = Store.open(dir);
    assert.equal(again.loadCursor("consumer-9"), 1_000);
    assert.equal(again.diagnostics().events, events);
    again.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("defect 13: a saved cursor survives close+reopen (every open path) and sync+crash, without adding events", () => {
  const { fs, store } = memStore();
  for (let i = 0; i < 4; i++) store.append(USER, KIND_A, { i });
  store.saveCursor("billing", 2);
  store.saveCursor("billing", 3);
  store.saveCursor("audit", 4);
  assert.equal(store.diagnostics().events, 4, "saveCursor added events");
  store.close();
  const paths: [string, Partial<StoreConfig>][] = [
    ["image", {}],
    ["checkpoint or rebuild", { enableMmapIndex: false }],
    ["rebuild", { enableMmapIndex: false, enableCheckpoint: false }],
  ];
  for (const [label, config] of paths) {
    const s = reopen(fs, config);
    assert.equal(s.loadCursor("billing"), 3, `${label}: last saved position`);
    assert.equal(s.loadCursor("audit"), 4, label);
    assert.equal(s.diagnostics().events, 4, `${label}: no cursor events`);
    s.close();
  }
  const live = reopen(fs);
  live.saveCursor("billing", 4);
  live.sync();
  const crashed = reopen(fs.crash());
  assert.equal(crashed.loadCursor("billing"), 4, "durable after sync(), survives a crash");
  assert.equal(crashed.loadCursor("audit"), 4);
  assert.equal(crashed.diagnostics().events, 4);
  crashed.close();
});

Deno.test("defect 13: system events (fences, denials) appear in Region.all().withSystem() only", async () => {
  const { store } = memStore();
  try {
    const u = store.append(new Coordinate("order:1", "shop"), KIND_A, "user");
    store.ownership("shop").claim("worker-a", 60_000); // a fence event
    store.appendDenial(new Denial("limit", "Over the limit. Investigate: caller")); // a denial
    const v = store.append(new Coordinate("order:1", "shop"), KIND_B, "user 2");
    const user = [u.eventId, v.eventId];
    const entities = (es: { entity: string }[]) => es.map((e) => e.entity);
    assert.deepEqual(
      entities(store.query(Region.all())),
      ["order:1", "order:1"],
      "Region.all() delivers user events only",
    );
    assert.deepEqual(
      store.cursorGuaranteed(Region.all()).pollBatch(100).map((e) => e.eventId),
      user,
      "a Region.all() cursor delivers user events only",
    );
    const stop = new AbortController();
    const seen: string[] = [];
    for await (const e of store.subscribe(Region.all(), { signal: stop.signal })) {
      seen.push(e.eventId);
      if (e.eventId === v.eventId || seen.length > 5) stop.abort();
    }
    assert.deepEqual(seen, user, "a Region.all() subscription delivers user events only");
    const withSystem = allWithSystem();
    assert.ok(withSystem instanceof Region, "Region.all().withSystem() exists and is a Region");
    const all = entities(store.query(withSystem));
    assert.equal(all.length, 4, "withSystem() has the user and the system events");
    assert.ok(all.some((e) => e.startsWith("$fence:")), "the fence event");
    assert.ok(all.includes("$denials"), "the denial event");
  } finally {
    store.close();
  }
});

// =====================================================================================
// 14. A payload is read once
// =====================================================================================

/** An object whose `v` getter returns `first` on its first read and `later` after. */
function flipping(first: unknown, later: unknown, reads = { n: 0 }): Record<string, unknown> {
  return {
    get v() {
      return reads.n++ === 0 ? first : later;
    },
  };
}

/** A Proxy over `{ v }` whose get trap returns `first` once and `later` after. */
function flippingProxy(first: unknown, later: unknown): Record<string, unknown> {
  let n = 0;
  return new Proxy({ v: first } as Record<string, unknown>, {
    get(target, key, receiver) {
      if (key === "v") return n++ === 0 ? first : later;
      return Reflect.get(target, key, receiver);
    },
  });
}

/**
 * Append `payload` (alone, then as a batch item): either it is stored as
 * `expected` (the first value read), or it is rejected with
 * InvalidPayloadError and nothing is written. Returns what went wrong.
 */
function storesFirstRead(
  make: () => unknown,
  expected: unknown,
): string[] {
  const problems: string[] = [];
  for (const how of ["append", "appendBatch"] as const) {
    const { fs, store } = memStore();
    try {
      let id: string;
      try {
        id = how === "append" ? store.append(USER, KIND_A, make()).eventId : store.appendBatch([
          { coord: USER, kind: KIND_A, payload: "before" },
          { coord: USER, kind: KIND_A, payload: make() },
        ])[1].eventId;
      } catch (e) {
        if (!(e instanceof InvalidPayloadError)) {
          problems.push(`${how}: threw ${describeError(e)}, not InvalidPayloadError`);
        }
        if (store.diagnostics().events !== 0) problems.push(`${how}: rejected, but wrote`);
        continue;
      }
      const got = store.get(id).payload;
      try {
        assert.deepEqual(got, expected);
      } catch {
        problems.push(`${how}: stored ${Deno.inspect(got)}, not the first value read`);
        continue;
      }
      store.close();
      const again = reopen(fs);
      try {
        assert.deepEqual(again.get(id).payload, expected);
      } catch {
        problems.push(`${how}: after reopen ${Deno.inspect(again.get(id).payload)}`);
      }
      again.close();
    } finally {
      store.close();
    }
  }
  return problems;
}

Deno.test("defect 14: a getter returning 2n and then 2n ** 70n stores 2n (or is rejected), never 0n", () => {
  assert.deepEqual(storesFirstRead(() => flipping(2n, 2n ** 70n), { v: 2n }), []);
});

Deno.test("defect 14: a Proxy get trap returning 2n and then 2n ** 70n stores 2n (or is rejected)", () => {
  assert.deepEqual(storesFirstRead(() => flippingProxy(2n, 2n ** 70n), { v: 2n }), []);
});

Deno.test("defect 14: a getter returning a valid Date and then an invalid one stores the valid Date (or is rejected), not 1970", () => {
  const when = new Date("2024-05-01T12:00:00.000Z");
  assert.deepEqual(storesFirstRead(() => flipping(when, new Date(NaN)), { v: when }), []);
});

Deno.test("defect 14: a getter returning a plain object and then a Map stores the object (or is rejected), not {}", () => {
  assert.deepEqual(
    storesFirstRead(() => flipping({ a: 1 }, new Map([["a", 1]])), { v: { a: 1 } }),
    [],
  );
  assert.deepEqual(
    storesFirstRead(() => flippingProxy({ a: 1 }, new Map([["a", 1]])), { v: { a: 1 } }),
    [],
  );
});

Deno.test("defect 14: each payload getter runs exactly once per append and once per batch item", () => {
  const { store } = memStore();
  try {
    const reads = { n: 0 };
    const nestedReads = { n: 0 };
    store.append(USER, KIND_A, { outer: flipping(1, 1, nestedReads), x: flipping(1, 1, reads) });
    assert.deepEqual([reads.n, nestedReads.n], [1, 1], "append: each getter read once");
    const perItem = [{ n: 0 }, { n: 0 }, { n: 0 }];
    store.appendBatch(perItem.map((r, i) => ({
      coord: new Coordinate(`batch:${i}`, "jobs"),
      kind: KIND_A,
      payload: flipping(i, i, r),
    })));
    assert.deepEqual(perItem.map((r) => r.n), [1, 1, 1], "appendBatch: once per item");
    let trapReads = 0;
    const proxy = new Proxy({ v: 1 }, {
      get(t, k, r) {
        if (k === "v") trapReads++;
        return Reflect.get(t, k, r);
      },
    });
    store.append(USER, KIND_A, proxy);
    assert.ok(trapReads <= 1, `a Proxy get trap runs at most once per append (ran ${trapReads})`);
  } finally {
    store.close();
  }
});

// =====================================================================================
// 15. Tiny payloads that are huge when encoded fail fast (child process, kill timeout)
// =====================================================================================

Deno.test("defect 15: { a: new Array(2 ** 32 - 1) } and similar sparse payloads fail fast with a typed StoreError, nothing written", async () => {
  const KILL_AFTER_MS = 30_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, SPARSE_CHILD],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }, KILL_AFTER_MS);
  const [status, out, err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  clearTimeout(timer);
  const lines = out.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
  const started = lines.filter((l) => l.start).map((l) => l.start);
  const done = lines.filter((l) => l.case !== undefined);
  const hung = started.filter((s: string) => !done.some((d) => d.case === s));
  assert.ok(
    !killed,
    `the child was killed after ${KILL_AFTER_MS / 1000} s: hung in "${hung.join('", "')}"`,
  );
  assert.equal(status.code, 0, err);
  for (const d of done) {
    assert.ok(d.ok, `${d.case}: ${d.detail}`);
  }
  assert.ok(lines.some((l) => l.usable === true), "the store is usable afterwards");
  assert.ok(done.length >= 4, out);
});

// =====================================================================================
// 16. A broken clock is rejected, typed, by every caller
// =====================================================================================

const T0 = 1_700_000_000_000;
const BAD_CLOCKS: [string, () => unknown][] = [
  ["NaN", () => NaN],
  ["Infinity", () => Infinity],
  ["-Infinity", () => -Infinity],
  ["-1", () => -1],
  ["a bigint", () => BigInt(T0 + 5_000)],
  ["a string", () => String(T0 + 5_000)],
  ["2 ** 48", () => 2 ** 48],
  ["throws", () => {
    throw new Error("the clock broke");
  }],
];

interface ClockWorld {
  fs: MemoryFileSystem;
  store: Store;
  fence: { owner: string; epoch: number; token: string };
  setClock(c: () => unknown): void;
}

/** A store whose clock is good until `setClock`, with a claimed, then used, fence on "bank". */
function clockWorld(): ClockWorld {
  let clock: () => unknown = () => T0;
  const fs = new MemoryFileSystem();
  const store = Store.open({ dataDir: DIR, fs, clock: () => clock() as number });
  const fence = store.ownership(BANK).claim("worker-a", 1_000);
  store.append(ACCT1, DEPOSITED, { amount: 1 }, { fence });
  return { fs, store, fence, setClock: (c) => (clock = c) };
}

const GHOST = new Coordinate("account:ghost", BANK);

/**
 * For every bad clock: a fresh world, the clock broken, `op` called; it must
 * throw a StoreError and write nothing (no event, no ghost entity). Returns
 * one line per violation.
 */
function brokenClockViolations(opName: string, op: (w: ClockWorld) => unknown): string[] {
  const problems: string[] = [];
  for (const [label, bad] of BAD_CLOCKS) {
    const w = clockWorld();
    const before = counts(w.store);
    w.setClock(bad);
    const e = caught(() => op(w));
    w.setClock(() => T0 + 1);
    if (e === undefined) problems.push(`${opName}, clock ${label}: accepted`);
    else if (!(e instanceof StoreError)) {
      problems.push(`${opName}, clock ${label}: raw ${describeError(e)}`);
    }
    const after = counts(w.store);
    if (after.events !== before.events) {
      problems.push(`${opName}, clock ${label}: ${after.events - before.events} event(s) written`);
    } else if (after.entities !== before.entities) {
      problems.push(
        `${opName}, clock ${label}: ghost entity (entities ${before.entities} → ${after.entities})`,
      );
    } else if (w.store.stream(GHOST.entity).length !== 0) {
      problems.push(`${opName}, clock ${label}: stream(${GHOST.entity}) not empty`);
    }
    w.store.close();
  }
  return problems;
}

Deno.test("defect 16: a broken clock (NaN, Infinity, -1, bigint, string, ≥ 2^48, throwing) never lets a fenced append or batch through", () => {
  const problems = [
    ...brokenClockViolations(
      "fenced append",
      (w) => w.store.append(GHOST, DEPOSITED, { amount: 5 }, { fence: w.fence }),
    ),
    ...brokenClockViolations("fenced appendBatch", (w) =>
      w.store.appendBatch([
        { coord: GHOST, kind: DEPOSITED, payload: 1, options: { fence: w.fence } },
        { coord: ACCT1, kind: DEPOSITED, payload: 2, options: { fence: w.fence } },
      ])),
  ];
  assertNoProblems(problems);
});

Deno.test("defect 16: ownership claim / renew / takeover / release reject a broken clock, typed, writing nothing", () => {
  const problems = [
    ...brokenClockViolations("claim", (w) => w.store.ownership("other").claim("worker-b", 1_000)),
    ...brokenClockViolations("renew", (w) => w.store.ownership(BANK).renew(w.fence, 1_000)),
    ...brokenClockViolations(
      "takeover",
      (w) => w.store.ownership(BANK).takeover("worker-b", w.fence, 1_000),
    ),
    ...brokenClockViolations("release", (w) => w.store.ownership(BANK).release(w.fence)),
  ];
  assertNoProblems(problems);
});

Deno.test("defect 16: plain appends and batches reject a broken clock, typed; nothing written, no ghost entity", () => {
  const problems = [
    ...brokenClockViolations("append", (w) => w.store.append(GHOST, DEPOSITED, 1)),
    ...brokenClockViolations("appendBatch", (w) =>
      w.store.appendBatch([
        { coord: GHOST, kind: DEPOSITED, payload: 1 },
        { coord: ACCT1, kind: DEPOSITED, payload: 2 },
      ])),
  ];
  assertNoProblems(problems);
});

// =====================================================================================
// 17. Every error a StoreError
// =====================================================================================

/** Assert `fn` throws a StoreError; returns it. */
function throwsStoreError(fn: () => unknown, what: string): StoreError {
  const e = caught(fn);
  assert.ok(e !== undefined, `${what}: nothing was thrown`);
  assert.ok(e instanceof StoreError, `${what}: expected a StoreError, got ${describeError(e)}`);
  return e;
}

Deno.test("defect 17: Store.open with a NUL byte in dataDir throws a StoreError", () => {
  const dir = Deno.makeTempDirSync({ prefix: "defect17-" });
  try {
    throwsStoreError(() => Store.open(`${dir}/a\0b`), "NUL in dataDir");
    throwsStoreError(() => Store.open({ dataDir: `${dir}/a\0b`, readOnly: true }), "read-only");
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing created");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("defect 17: Store.open under a regular file throws an IoError (not_a_directory) keeping the cause", () => {
  const file = Deno.makeTempFileSync({ prefix: "defect17-" });
  try {
    for (const dataDir of [`${file}/db`, `${file}/db/deeper`]) {
      const e = throwsStoreError(() => Store.open(dataDir), dataDir);
      assert.ok(e instanceof IoError, `expected IoError, got ${describeError(e)}`);
      assert.equal(e.kind, "not_a_directory");
      assert.ok(e.cause instanceof Error, "the runtime's error is kept as cause");
    }
    const e = throwsStoreError(
      () => Store.open({ dataDir: `${file}/db`, readOnly: true }),
      "read-only under a file",
    );
    assert.equal(e.code === "IO_ERROR" || e.code === "INVALID_ARGUMENT", true, e.message);
  } finally {
    Deno.removeSync(file);
  }
});

Deno.test('defect 17: Store.open("/proc/nope/x") throws a StoreError keeping the cause', () => {
  const e = throwsStoreError(() => Store.open("/proc/nope/x"), "/proc/nope/x");
  assert.ok(e.cause instanceof Error, `the runtime's error is kept as cause (${e.message})`);
});

Deno.test("defect 17: a segment renamed to a 7-digit name (instead of or beside 000001.fbat) never makes open throw a raw NotFound, nor lose its events", () => {
  const problems: string[] = [];
  const configs: [string, Partial<StoreConfig>][] = [
    ["default", {}],
    ["full scan", { enableMmapIndex: false, enableCheckpoint: false }],
    ["read-only", { readOnly: true }],
  ];
  for (const variant of ["instead", "beside"] as const) {
    for (const [label, config] of configs) {
      const dir = Deno.makeTempDirSync({ prefix: "defect17-" });
      try {
        const s = Store.open(dir);
        for (let i = 0; i < 3; i++) s.append(USER, KIND_A, i);
        s.close();
        if (variant === "instead") Deno.renameSync(`${dir}/000001.fbat`, `${dir}/0000001.fbat`);
        else Deno.copyFileSync(`${dir}/000001.fbat`, `${dir}/0000001.fbat`);
        const where = `7-digit name ${variant} 000001.fbat, ${label} open`;
        let opened: Store | undefined;
        const e = caught(() => (opened = Store.open({ dataDir: dir, ...config })));
        if (e !== undefined && !(e instanceof StoreError)) {
          problems.push(`${where}: raw ${describeError(e)}`);
        } else if (opened !== undefined) {
          // Opening is acceptable only with every event there.
          const n = opened.stream(USER.entity).length;
          if (n !== 3) problems.push(`${where}: opened with ${n} of 3 events`);
          opened.close();
        }
        if (e !== undefined && variant === "instead") {
          // The failed open released the lock and changed nothing: undo the rename and it opens.
          Deno.renameSync(`${dir}/0000001.fbat`, `${dir}/000001.fbat`);
          const again = Store.open(dir);
          if (again.stream(USER.entity).length !== 3) problems.push(`${where}: events lost`);
          again.close();
        }
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    }
  }
  assertNoProblems(problems);
});

/** Run the open child without CAP_DAC_OVERRIDE, so file modes bind us (we are root). */
async function openAsUnprivileged(dir: string, probe: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("setpriv", {
    args: [
      "--bounding-set=-dac_override,-dac_read_search",
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      CONFIG,
      OPEN_CHILD,
      dir,
      probe,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(text.split("\n").at(-1)!);
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("defect 17: a segment, sidecar, LOCK or data directory the process may not open makes Store.open throw a StoreError keeping the cause", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "defect17-" });
  const probe = `${dir}.probe`;
  const dirMode = Deno.statSync(dir).mode! & 0o777;
  try {
    Deno.writeTextFileSync(probe, "x");
    Deno.chmodSync(probe, 0o444);
    const s = Store.open({ dataDir: dir, segmentMaxBytes: 4096 });
    for (let i = 0; i < 60; i++) s.append(USER, KIND_A, "x".repeat(100));
    s.close();
    const names = [...Deno.readDirSync(dir)].map((f) => f.name);
    const segments = names.filter((n) => n.endsWith(".fbat")).sort();
    assert.ok(segments.length >= 2);
    let privileged = false;
    const problems: string[] = [];
    const cases: [string, string, number][] = [
      ["last segment 0444", segments.at(-1)!, 0o444],
      ["last segment 0000", segments.at(-1)!, 0o000],
      ["first segment 0000", segments[0], 0o000],
      ["data directory 0500", ".", 0o500],
      ["data directory 0000", ".", 0o000],
    ];
    // The lock file and the sidecars, where this version of the store has them.
    if (names.includes("LOCK")) {
      cases.push(["LOCK 0444", "LOCK", 0o444], ["LOCK 0000", "LOCK", 0o000]);
    }
    if (names.includes("index.img")) cases.push(["index.img 0000", "index.img", 0o000]);
    for (const [label, name, mode] of cases) {
      const path = name === "." ? dir : `${dir}/${name}`;
      // A full-scan open (image off) removes the image it did not restore from: write it again.
      if (name === "index.img") Store.open(dir).close();
      const restore = Deno.statSync(path).mode! & 0o777;
      Deno.chmodSync(path, mode);
      try {
        for (const extra of ["", "full-scan"]) {
          const r = await openAsUnprivileged(dir, extra === "" ? probe : `${probe}:${extra}`);
          const where = `${label}${extra ? `, ${extra}` : ""}`;
          if (r.outcome === "privileged") privileged = true;
          else if (r.outcome === "opened") {
            // Acceptable if reads work, or fail typed (the child checked, then closed).
            if (r.readError !== undefined && r.readStoreError !== true) {
              problems.push(`${where}: opened, but a read throws raw ${r.readError}`);
            }
            if (r.closeError !== undefined && r.closeStoreError !== true) {
              problems.push(`${where}: opened, but close throws raw ${r.closeError}`);
            }
          } else if (r.storeError !== true) {
            problems.push(`${where}: raw ${r.name}: ${r.message}`);
          } else if (r.causeName === undefined) {
            problems.push(`${where}: ${r.name} without the cause`);
          }
        }
      } finally {
        // The image may be gone: a full-scan open (image off) removes one it did not restore from.
        if (name !== "index.img" || existsSync(path)) Deno.chmodSync(path, restore);
      }
      if (privileged) break;
    }
    if (privileged) {
      console.log("defect 17 (permissions): skipped, the child kept CAP_DAC_OVERRIDE");
      return;
    }
    assertNoProblems(problems);
    const again = Store.open(dir);
    assert.equal(again.stream(USER.entity).length, 60, "nothing was damaged");
    again.close();
  } finally {
    Deno.chmodSync(dir, dirMode);
    Deno.removeSync(dir, { recursive: true });
    Deno.removeSync(probe);
  }
});

/**
 * Inject `fault` at the k-th file-system operation (k = 0, 1, …) of `act`,
 * until `act` completes without reaching k. `prepare()` builds a fresh world
 * for each k: its file system, the action, and `after(error)`, which checks
 * what the fault left. Returns the violations and the kinds of operation hit.
 */
function faultSweep(
  label: string,
  fault: "EIO" | "ENOSPC",
  prepare: () => { fs: MemoryFileSystem; act: () => void; after: (e: unknown) => string[] },
): { problems: string[]; ops: Set<string> } {
  const problems: string[] = [];
  const ops = new Set<string>();
  for (let k = 0; k < 500; k++) {
    const world = prepare();
    let n = 0;
    let hit: FsOp | undefined;
    world.fs.setFaultInjector((op) => {
      if (n++ !== k) return undefined;
      hit = op;
      return { error: fault };
    });
    const e = caught(world.act);
    world.fs.setFaultInjector();
    if (hit === undefined) {
      if (e !== undefined) problems.push(`${label}: failed without a fault: ${describeError(e)}`);
      break;
    }
    ops.add(hit.kind);
    const where = `${label}, ${fault} at op #${k} (${hit.kind} ${hit.path})`;
    if (e !== undefined) {
      if (!(e instanceof StoreError)) problems.push(`${where}: raw ${describeError(e)}`);
      else if (!keepsInjectedCause(e, fault)) {
        problems.push(`${where}: ${describeError(e)} without the injected cause`);
      }
    }
    for (const p of world.after(e)) problems.push(`${where}: ${p}`);
  }
  return { problems, ops };
}

/** A closed store on a memory fs: `n` durable events over a few segments. */
function closedStore(n: number): MemoryFileSystem {
  const { fs, store } = memStore({ segmentMaxBytes: 1024 });
  for (let i = 0; i < n; i++) store.append(new Coordinate(`e:${i % 3}`, "s"), KIND_A, { i });
  store.close();
  return fs;
}

/** Reopen without faults: the lock must be free and every durable event there. */
function reopensWith(fs: MemoryFileSystem, atLeast: number): string[] {
  let s: Store;
  try {
    s = reopen(fs);
  } catch (e) {
    return [`the reopen without faults failed: ${describeError(e)}`];
  }
  try {
    const events = s.diagnostics().events;
    const problems: string[] = [];
    if (events < atLeast) problems.push(`only ${events} of ${atLeast} durable events`);
    if (!s.verify().ok) problems.push("verify() not ok after reopen");
    return problems;
  } finally {
    s.close();
  }
}

Deno.test("defect 17: EIO/ENOSPC at any file-system operation of Store.open is a StoreError keeping the cause, and the lock is released", async () => {
  const clean = closedStore(40);
  // Crashed with an unsynced tail: the open also cuts a torn tail.
  const { fs: crashing, store } = memStore({ segmentMaxBytes: 1024 });
  for (let i = 0; i < 20; i++) store.append(USER, KIND_A, { i });
  store.sync();
  for (let i = 0; i < 5; i++) store.append(USER, KIND_A, { i, tail: true });
  await new Promise((r) => setTimeout(r, 0)); // the tail reaches the OS, unsynced
  const torn = crashing.crash({ tornWrites: true, seed: 11 });
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const fault of ["EIO", "ENOSPC"] as const) {
    for (const [name, base, durable] of [["clean", clean, 40], ["torn", torn, 20]] as const) {
      const r = faultSweep(`open (${name})`, fault, () => {
        const fs = cloneFs(base);
        return {
          fs,
          act: () => reopen(fs).close(),
          after: () => reopensWith(fs, durable),
        };
      });
      problems.push(...r.problems);
      r.ops.forEach((o) => seen.add(o));
    }
  }
  assert.ok(seen.has("open"), `the sweep reached the file opens (${[...seen]})`);
  assertNoProblems(problems);
});

Deno.test("defect 17: EIO/ENOSPC in close() (the preallocation truncate, its fdatasync, the image) is a StoreError keeping the cause; the lock is released", () => {
  const base = closedStore(10);
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const fault of ["EIO", "ENOSPC"] as const) {
    const r = faultSweep("close", fault, () => {
      const fs = cloneFs(base);
      const s = reopen(fs);
      for (let i = 0; i < 3; i++) s.append(USER, KIND_A, { i }); // preallocates the segment
      s.sync(); // all 13 events durable before close
      return { fs, act: () => s.close(), after: () => reopensWith(fs, 13) };
    });
    problems.push(...r.problems);
    r.ops.forEach((o) => seen.add(o));
  }
  assert.ok(
    seen.has("truncate") || seen.has("syncData"),
    `the sweep reached the preallocation truncate or the fdatasync (${[...seen]})`,
  );
  assertNoProblems(problems);
});

Deno.test("defect 17: EIO/ENOSPC in snapshot() is a StoreError keeping the cause; the store keeps serving reads", () => {
  const base = closedStore(30);
  const problems: string[] = [];
  for (const fault of ["EIO", "ENOSPC"] as const) {
    const r = faultSweep("snapshot", fault, () => {
      const fs = cloneFs(base);
      const s = reopen(fs);
      return {
        fs,
        act: () => s.snapshot("/snap"),
        after: () => {
          const out: string[] = [];
          if (s.diagnostics().events !== 30) out.push("events changed");
          const e = caught(() => s.stream("e:1"));
          if (e !== undefined) out.push(`reads fail afterwards: ${describeError(e)}`);
          const c = caught(() => s.close());
          if (c !== undefined && !(c instanceof StoreError)) {
            out.push(`close afterwards: raw ${describeError(c)}`);
          }
          out.push(...reopensWith(fs, 30));
          return out;
        },
      };
    });
    problems.push(...r.problems);
  }
  assertNoProblems(problems);
});

Deno.test("defect 17: a clock that throws or returns a bigint makes append throw a StoreError (keeping the clock's error) and leaves no ghost entity", () => {
  const boom = new Error("clock source unavailable");
  const clocks: [string, () => unknown][] = [
    ["throws", () => {
      throw boom;
    }],
    ["bigint", () => 1_700_000_000_000n],
  ];
  for (const [label, bad] of clocks) {
    for (const how of ["append", "appendBatch"] as const) {
      let clock: () => unknown = () => T0;
      const { store } = memStore({ clock: () => clock() as number });
      try {
        store.append(ACCT1, DEPOSITED, 1);
        const before = counts(store);
        clock = bad;
        const e = throwsStoreError(
          () =>
            how === "append"
              ? store.append(GHOST, DEPOSITED, 2)
              : store.appendBatch([{ coord: GHOST, kind: DEPOSITED, payload: 2 }]),
          `${how}, clock ${label}`,
        );
        if (label === "throws") {
          assert.ok(causeChain(e).includes(boom), `${how}: the clock's error is kept as cause`);
        }
        clock = () => T0 + 1;
        assert.deepEqual(
          counts(store),
          before,
          `${how}, clock ${label}: no event, no ghost entity`,
        );
        assert.deepEqual(store.stream(GHOST.entity), []);
        assert.equal(store.append(ACCT1, DEPOSITED, 3).sequence, 2, "the store stays usable");
      } finally {
        store.close();
      }
    }
  }
});

// =====================================================================================
// 18. Full disk: a real 2 MiB tmpfs
// =====================================================================================

function run(cmd: string, ...args: string[]): { ok: boolean; err: string } {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: out.success, err: new TextDecoder().decode(out.stderr).trim() };
  } catch (e) {
    return { ok: false, err: String(e) };
  }
}

/** Write `path` until the device is full (down to single bytes). */
function fillUp(path: string): void {
  const f = Deno.openSync(path, { write: true, create: true, append: true });
  try {
    for (const chunk of [65536, 4096, 512, 1]) {
      const data = new Uint8Array(chunk).fill(0x55);
      for (;;) {
        try {
          const n = f.writeSync(data);
          if (n < chunk) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    f.close();
  }
}

/** Mount a 2 MiB tmpfs on a new temporary directory; `undefined` (logged once) when not permitted. */
function mountTmpfs(test: string): string | undefined {
  const mnt = Deno.makeTempDirSync({ prefix: "defect18-" });
  const mounted = run("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt);
  if (mounted.ok) return mnt;
  console.log(`${test}: skipped, cannot mount a tmpfs here (${mounted.err})`);
  Deno.removeSync(mnt);
  return undefined;
}

/** Unmount (lazily if still busy) and remove the mount point; true when it was not busy. */
function unmountTmpfs(mnt: string): boolean {
  const clean = run("umount", mnt).ok;
  if (!clean) run("umount", "-l", mnt);
  try {
    Deno.removeSync(mnt, { recursive: true });
  } catch { /* still busy */ }
  return clean;
}

/** Descriptors of this process open on files under `dir`. */
function openFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${fd.name}`);
      if (target.startsWith(dir + "/")) out.push(target);
    } catch { /* closed meanwhile */ }
  }
  return out;
}

Deno.test("defect 18: Store.open of a new store on a full disk (real tmpfs) throws StorageFullError and leaves no file open", () => {
  const mnt = mountTmpfs("defect 18 (new store)");
  if (mnt === undefined) return;
  let clean = false;
  try {
    fillUp(`${mnt}/filler`);
    const e = caught(() => Store.open(`${mnt}/db`).close());
    assert.ok(
      e === undefined || e instanceof StorageFullError,
      `Store.open on a full disk: expected StorageFullError (or success), got ${describeError(e)}`,
    );
    assert.deepEqual(openFilesUnder(mnt), [], "the failed open left files open");
    Deno.removeSync(`${mnt}/filler`);
    const s = Store.open(`${mnt}/db`);
    s.append(USER, KIND_A, 1);
    s.close();
    const again = Store.open(`${mnt}/db`);
    assert.equal(again.stream(USER.entity).length, 1);
    assert.equal(again.verify().ok, true);
    again.close();
  } finally {
    clean = unmountTmpfs(mnt);
  }
  assert.ok(clean, "the tmpfs was still busy");
});

Deno.test("defect 18: on a full disk (real 2 MiB tmpfs) appends throw STORAGE_FULL, the store opens and reads while full, and recovers when space frees", () => {
  const mnt = mountTmpfs("defect 18");
  if (mnt === undefined) return;
  const dir = `${mnt}/db`;
  const filler = `${mnt}/filler`;
  const topUp = `${mnt}/top-up`;
  const open: Store[] = [];
  const openStore = (c: Partial<StoreConfig> = {}) => {
    const s = Store.open({ dataDir: dir, ...c });
    open.push(s);
    return s;
  };
  try {
    Deno.writeFileSync(filler, new Uint8Array(384 * 1024).fill(1));
    const coord = new Coordinate("log:1", "disk");
    const body = (i: number) => `${i}:` + "x".repeat(1000);
    // Every append synced: each acknowledged append is durable.
    const store = openStore({ sync: { everyNEvents: 1 } });
    let acked = 0;
    let first: unknown;
    let visibleAfterFailure = 0;
    for (let i = 0; i < 4000 && first === undefined; i++) {
      try {
        store.append(coord, KIND_A, body(i));
        acked++;
      } catch (e) {
        first = e;
        visibleAfterFailure = store.stream(coord.entity).length;
      }
    }
    assert.ok(first !== undefined, "the disk never filled up");
    assert.ok(acked > 100, `only ${acked} appends fitted`);
    assert.ok(
      first instanceof StorageFullError,
      `the first failing append throws StorageFullError, got ${describeError(first)}`,
    );
    assert.equal((first as StoreError).code, "STORAGE_FULL");
    assert.equal(visibleAfterFailure, acked, "nothing of the failing append is visible");
    // The failed append changed nothing, so the store stays writable: a later append that fits
    // the space already allocated succeeds (and is durable: it synced), one that needs more
    // space throws STORAGE_FULL again. A store that stopped instead says WRITER_POISONED.
    for (const later of [() => store.append(coord, KIND_A, "later"), () => store.sync()]) {
      const e = caught(later);
      if (e === undefined) continue;
      assert.ok(
        e instanceof StoreError && (e.code === "STORAGE_FULL" || e.code === "WRITER_POISONED"),
        `a later call throws STORAGE_FULL or WRITER_POISONED, got ${describeError(e)}`,
      );
    }
    let lastPayload: unknown = body(acked - 1);
    if (store.stream(coord.entity).length === acked + 1) {
      acked++; // "later" went in
      lastPayload = "later";
    }
    assert.equal(store.stream(coord.entity).length, acked, "reads still work");
    const closeError = caught(() => store.close());
    assert.ok(
      closeError === undefined || closeError instanceof StoreError,
      `close: ${describeError(closeError)}`,
    );
    // Still full (top it up to the last byte), a read-write open must work and serve reads.
    fillUp(topUp);
    const full = openStore({ sync: { everyNEvents: 1 } });
    const events = full.stream(coord.entity);
    assert.equal(events.length, acked, "every durable event is there");
    assert.deepEqual(full.get(events.at(-1)!.eventId).payload, lastPayload);
    const report = full.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    let whileFull: unknown;
    for (let i = 0; i < 3000 && whileFull === undefined; i++) {
      const before = full.stream(coord.entity).length;
      try {
        full.append(coord, KIND_A, body(acked));
        acked++;
      } catch (e) {
        whileFull = e;
        assert.equal(full.stream(coord.entity).length, before);
      }
    }
    assert.ok(
      whileFull instanceof StoreError && whileFull.code === "STORAGE_FULL",
      `appends on the full disk throw STORAGE_FULL, got ${describeError(whileFull)}`,
    );
    const closeFull = caught(() => full.close());
    assert.ok(closeFull === undefined || closeFull instanceof StoreError, describeError(closeFull));
    // Space frees: reopen, append, everything durable is there.
    Deno.removeSync(filler);
    Deno.removeSync(topUp);
    const freed = openStore();
    assert.equal(freed.stream(coord.entity).length, acked);
    for (let i = 0; i < 10; i++) freed.append(coord, KIND_A, body(acked + i));
    freed.sync();
    assert.equal(freed.stream(coord.entity).length, acked + 10);
    assert.equal(freed.verify().ok, true);
    freed.close();
    const last = openStore();
    assert.equal(last.stream(coord.entity).length, acked + 10);
    assert.deepEqual(last.get(last.stream(coord.entity)[0].eventId).payload, body(0));
    last.close();
  } finally {
    for (const s of open) {
      try {
        s.close();
      } catch { /* already reported */ }
    }
    unmountTmpfs(mnt);
  }
});

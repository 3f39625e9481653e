/**
 * Stream lifecycle: deleteStream, truncateBefore, setRetention and redact —
 * every read path hides (or strips) what they say is gone, at once and after
 * reopen through every open path; appends, CAS and idempotency around them;
 * typed errors for bad input; durability at return.
 */

import assert from "node:assert/strict";
import {
  ConcurrencyError,
  Coordinate,
  InvalidArgumentError,
  InvalidCoordinateError,
  NotFoundError,
  ReadOnlyError,
  Region,
  Store,
  type StoredEvent,
  StreamDeletedError,
} from "../../mod.ts";
import { MemoryFileSystem } from "../../testing.ts";
import { DIR, KIND_A, KIND_B, memStore, reopen, throwsType } from "../fixtures/store_helpers.ts";

const ACCT = new Coordinate("acct:1", "bank");
const OTHER = new Coordinate("acct:10", "bank");

/** Every way a user reads `entity`'s events, as sequence lists (payloads checked elsewhere). */
async function everyRead(store: Store, entity: string): Promise<Record<string, number[]>> {
  const seqs = (events: { sequence: number; entity: string }[]) =>
    events.filter((e) => e.entity === entity).map((e) => e.sequence);
  const cursor = store.cursorGuaranteed(Region.all());
  const polled: StoredEvent[] = [];
  for (let e = cursor.poll(); e; e = cursor.poll()) polled.push(e);
  const batch = store.cursorGuaranteed(Region.entity(entity)).pollBatch(1000);
  const subscribed: StoredEvent[] = [];
  const abort = new AbortController();
  const last = store.query(Region.all()).at(-1)?.globalSequence ?? 0;
  if (last > 0) {
    for await (const e of store.subscribe(Region.all(), { signal: abort.signal })) {
      subscribed.push(e);
      if (e.globalSequence >= last) break;
    }
  }
  const count = store.project(entity, {
    initial: () => [] as number[],
    apply: (s, e) => [...s, e.sequence],
  }) ?? [];
  return {
    stream: seqs(store.stream(entity)),
    readStream: seqs(store.readStream(entity)),
    backwards: seqs(store.readStream(entity, { direction: "backwards" })).reverse(),
    queryAll: seqs(store.query(Region.all())),
    queryStream: seqs(store.query(Region.stream(entity))),
    queryPrefix: seqs(store.query(Region.entity(entity))),
    queryScope: seqs(store.query(Region.scope("bank"))),
    read: seqs(store.read(Region.all(), { after: 0, limit: 1000 })),
    cursor: seqs(polled),
    pollBatch: seqs(batch),
    subscribe: seqs(subscribed),
    project: count,
  };
}

function allEqual(reads: Record<string, number[]>, expected: number[], why: string): void {
  for (const [path, got] of Object.entries(reads)) {
    assert.deepEqual(got, expected, `${why}: ${path}`);
  }
}

// ------------------------------------------------------------------ deleteStream

Deno.test("deleteStream: no read path returns the stream's events; others and lastSequence stay", async () => {
  const { fs, store } = memStore();
  const ids = [1, 2, 3].map((i) => store.append(ACCT, KIND_A, { i }).eventId);
  store.append(OTHER, KIND_A, { other: 1 });
  allEqual(await everyRead(store, "acct:1"), [1, 2, 3], "before");
  store.deleteStream("acct:1");
  allEqual(await everyRead(store, "acct:1"), [], "after the delete");
  allEqual(await everyRead(store, "acct:10"), [1], "the prefix neighbour");
  assert.equal(store.lastSequence("acct:1"), 3);
  for (const id of ids) throwsType(() => store.get(id), NotFoundError, /was deleted/);
  store.close();
  for (
    const extra of [{}, { enableMmapIndex: false }, {
      enableMmapIndex: false,
      enableCheckpoint: false,
    }]
  ) {
    const again = reopen(fs, extra);
    allEqual(await everyRead(again, "acct:1"), [], `after reopen ${JSON.stringify(extra)}`);
    assert.equal(again.lastSequence("acct:1"), 3);
    throwsType(() => again.append(ACCT, KIND_A, {}), StreamDeletedError);
    again.close();
  }
});

Deno.test("deleteStream: appends, CAS and batches to it are refused; a keyed retry still returns its receipt", () => {
  const { store } = memStore();
  const first = store.append(ACCT, KIND_A, { i: 1 }, { idempotencyKey: "k1" });
  store.deleteStream("acct:1");
  const events = store.diagnostics().events;
  const e = throwsType(() => store.append(ACCT, KIND_A, {}), StreamDeletedError);
  assert.equal(e.code, "STREAM_DELETED");
  assert.equal(e.entity, "acct:1");
  throwsType(() => store.append(ACCT, KIND_A, {}, { expectedSequence: 1 }), StreamDeletedError);
  throwsType(
    () =>
      store.appendBatch([
        { coord: OTHER, kind: KIND_A, payload: 1 },
        { coord: ACCT, kind: KIND_A, payload: 2 },
      ]),
    StreamDeletedError,
  );
  assert.equal(store.diagnostics().events, events, "nothing written");
  const retry = store.append(ACCT, KIND_A, { different: true }, { idempotencyKey: "k1" });
  assert.equal(retry.eventId, first.eventId);
  assert.equal(retry.duplicate, true);
  // Deleting again writes nothing; deleting a stream with no events reserves it as deleted.
  store.deleteStream("acct:1");
  assert.equal(store.diagnostics().events, events);
  store.deleteStream("never:1");
  throwsType(() => store.append(new Coordinate("never:1", "bank"), KIND_A, {}), StreamDeletedError);
  assert.equal(store.lastSequence("never:1"), 0);
  store.close();
});

Deno.test("deleteStream: durable when it returns (a crash right after keeps it)", () => {
  const { fs, store } = memStore({ sync: { everyNEvents: 1_000_000 } });
  store.append(ACCT, KIND_A, { secret: 1 });
  store.deleteStream("acct:1");
  const after = reopen(fs.crash({ tornWrites: true, seed: 7 }));
  assert.deepEqual(after.readStream("acct:1"), []);
  throwsType(() => after.append(ACCT, KIND_A, {}), StreamDeletedError);
  after.close();
});

Deno.test("deleteStream: a cursor's or subscription's read-ahead page does not deliver deleted events", async () => {
  const { store } = memStore();
  for (let i = 0; i < 5; i++) store.append(ACCT, KIND_A, { i });
  store.append(OTHER, KIND_A, { last: true });
  const cursor = store.cursorGuaranteed(Region.all());
  assert.equal(cursor.poll()?.sequence, 1); // the page holds the rest already
  const sub = store.subscribe(Region.all())[Symbol.asyncIterator]();
  assert.equal((await sub.next()).value?.sequence, 1);
  store.deleteStream("acct:1");
  assert.equal(cursor.poll()?.entity, "acct:10");
  assert.equal(cursor.poll(), undefined);
  assert.equal((await sub.next()).value?.entity, "acct:10");
  await sub.return?.();
  store.close();
});

// --------------------------------------------------------------- truncateBefore

Deno.test("truncateBefore: events below the sequence are gone from every read; appends continue", async () => {
  const { fs, store } = memStore();
  for (let i = 1; i <= 6; i++) store.append(ACCT, KIND_A, { i });
  const third = store.readStream("acct:1")[2].eventId;
  const first = store.readStream("acct:1")[0].eventId;
  store.truncateBefore("acct:1", 4);
  allEqual(await everyRead(store, "acct:1"), [4, 5, 6], "truncated");
  assert.deepEqual(store.readStream("acct:1", { from: 2, maxCount: 2 }).map((e) => e.sequence), [
    4,
    5,
  ]);
  assert.deepEqual(
    store.readStream("acct:1", { from: 5, direction: "backwards" }).map((e) => e.sequence),
    [5, 4],
  );
  assert.deepEqual(store.readStream("acct:1", { from: 3, direction: "backwards" }), []);
  throwsType(() => store.get(first), NotFoundError, /truncated before sequence 4/);
  throwsType(() => store.get(third), NotFoundError);
  assert.equal(store.append(ACCT, KIND_A, { i: 7 }, { expectedSequence: 6 }).sequence, 7);
  // A lower truncation changes nothing (and writes nothing).
  const events = store.diagnostics().events;
  store.truncateBefore("acct:1", 2);
  assert.equal(store.diagnostics().events, events);
  allEqual(await everyRead(store, "acct:1"), [4, 5, 6, 7], "after a lower truncation");
  store.close();
  const again = reopen(fs, { enableMmapIndex: false });
  allEqual(await everyRead(again, "acct:1"), [4, 5, 6, 7], "after reopen");
  again.truncateBefore("acct:1", 8); // everything
  allEqual(await everyRead(again, "acct:1"), [], "all truncated");
  assert.equal(again.append(ACCT, KIND_A, { i: 8 }).sequence, 8);
  allEqual(await everyRead(again, "acct:1"), [8], "a new event after truncating all");
  again.close();
});

Deno.test("truncateBefore: bad arguments are typed errors and write nothing", () => {
  const { store } = memStore();
  store.append(ACCT, KIND_A, 1);
  const events = store.diagnostics().events;
  for (const bad of [0, -1, 1.5, 3, Number.NaN, "2", undefined]) {
    throwsType(() => store.truncateBefore("acct:1", bad as number), InvalidArgumentError);
  }
  throwsType(() => store.truncateBefore("$fence:x", 1), InvalidArgumentError, /store's own/);
  throwsType(() => store.truncateBefore("", 1), InvalidCoordinateError);
  throwsType(() => store.truncateBefore(42 as unknown as string, 1), InvalidArgumentError);
  store.deleteStream("acct:1");
  throwsType(() => store.truncateBefore("acct:1", 2), StreamDeletedError);
  assert.equal(store.diagnostics().events, events + 1, "only the deletion");
  store.close();
});

// ---------------------------------------------------------------- setRetention

Deno.test("setRetention maxCount: only the last N of each entity of the scope are returned", async () => {
  const { fs, store } = memStore();
  for (let i = 1; i <= 5; i++) {
    store.append(ACCT, KIND_A, { i });
    store.append(OTHER, KIND_B, { i });
  }
  const outside = new Coordinate("acct:1", "other-scope");
  store.setRetention("bank", { maxCount: 2 });
  allEqual(await everyRead(store, "acct:1"), [4, 5], "maxCount 2");
  store.append(ACCT, KIND_A, { i: 6 });
  allEqual(await everyRead(store, "acct:1"), [5, 6], "a new event pushes the oldest out");
  assert.deepEqual(store.readStream("acct:10").map((e) => e.sequence), [4, 5]);
  store.close();
  const again = reopen(fs, { enableMmapIndex: false, enableCheckpoint: false });
  allEqual(await everyRead(again, "acct:1"), [5, 6], "after a rebuild");
  // Removing the policy (before any compaction) brings the events back.
  again.setRetention("bank", {});
  allEqual(await everyRead(again, "acct:1"), [1, 2, 3, 4, 5, 6], "policy removed");
  // Another scope's events are not affected; the count is by the entity's sequence, so its
  // events in another scope count too (the last one, sequence 7, is not in "bank").
  again.append(outside, KIND_A, { elsewhere: true });
  again.setRetention("bank", { maxCount: 2 });
  assert.deepEqual(again.readStream("acct:1").map((e) => [e.sequence, e.scope]), [
    [6, "bank"],
    [7, "other-scope"],
  ]);
  again.close();
});

Deno.test("setRetention maxAgeMs: events older than the age (store clock) stop being returned", () => {
  let now = 1_000_000;
  const { store } = memStore({ clock: () => now });
  store.append(ACCT, KIND_A, { at: now });
  now += 60_000;
  store.append(ACCT, KIND_A, { at: now });
  store.setRetention("bank", { maxAgeMs: 30_000 });
  assert.deepEqual(store.readStream("acct:1").map((e) => e.sequence), [2]);
  now += 31_000;
  assert.deepEqual(store.readStream("acct:1"), [], "the second one expired too, by the clock");
  assert.deepEqual(store.query(Region.scope("bank")), []);
  store.close();
});

Deno.test("setRetention: bad scopes and policies are typed errors, and the policy is read once", () => {
  const { store } = memStore();
  const events = store.diagnostics().events;
  const bad: unknown[] = [
    null,
    [],
    42,
    { maxCount: 0 },
    { maxCount: -1 },
    { maxAgeMs: 1.5 },
    { maxAgeMs: "1" },
    { maxCount: 2, extra: 1 },
  ];
  for (const policy of bad) {
    throwsType(() => store.setRetention("bank", policy as never), InvalidArgumentError);
  }
  throwsType(() => store.setRetention("$system", { maxCount: 1 }), InvalidArgumentError);
  throwsType(() => store.setRetention("", { maxCount: 1 }), InvalidCoordinateError);
  let reads = 0;
  store.setRetention("bank", {
    get maxCount() {
      return ++reads === 1 ? 3 : -5;
    },
  });
  assert.equal(reads, 1);
  assert.equal(store.diagnostics().events, events + 1, "one retention event");
  store.setRetention("bank", { maxCount: 3 }); // the same policy: nothing written
  assert.equal(store.diagnostics().events, events + 1);
  store.close();
});

// ---------------------------------------------------------------------- redact

Deno.test("redact: every read returns the event without its payload; verify still proves the chain", async () => {
  const { fs, store } = memStore();
  const a = store.append(ACCT, KIND_A, { n: 1 });
  const b = store.append(ACCT, KIND_A, { ssn: "123-45-6789" });
  const c = store.append(ACCT, KIND_A, { n: 3 });
  store.redact(b.eventId, "GDPR request 42");
  const check = async (s: Store, why: string) => {
    const got = s.get(b.eventId);
    assert.equal(got.payload, undefined, why);
    assert.equal(got.redacted, true, why);
    assert.equal(got.eventHash, b.eventHash, why);
    assert.equal(s.get(c.eventId).prevHash, b.eventHash, why);
    assert.equal(s.get(a.eventId).redacted, undefined, why);
    const paths: StoredEvent[][] = [
      s.readStream("acct:1"),
      s.read(Region.all(), { after: 0, limit: 10 }),
      s.cursorGuaranteed(Region.all()).pollBatch(10),
    ];
    const live: StoredEvent[] = [];
    for await (const e of s.subscribe(Region.stream("acct:1"))) {
      live.push(e);
      if (e.sequence === 3) break;
    }
    paths.push(live);
    for (const events of paths) {
      const e = events.find((x) => x.eventId === b.eventId)!;
      assert.equal(e.payload, undefined, why);
      assert.equal(e.redacted, true, why);
    }
    assert.deepEqual(
      s.project("acct:1", { initial: () => [] as unknown[], apply: (st, e) => [...st, e.payload] }),
      [{ n: 1 }, undefined, { n: 3 }],
      why,
    );
    const report = s.verify();
    assert.deepEqual(report.problems, [], why);
  };
  await check(store, "at once");
  // The reason is kept in the redaction's system event.
  const lifecycle = store.readStream("$lifecycle");
  assert.deepEqual(lifecycle.at(-1)?.payload, {
    globalSequence: b.globalSequence,
    eventId: b.eventId,
    reason: "GDPR request 42",
  });
  store.close();
  for (const extra of [{}, { enableMmapIndex: false, enableCheckpoint: false }]) {
    const again = reopen(fs, extra);
    await check(again, `after reopen ${JSON.stringify(extra)}`);
    again.close();
  }
});

Deno.test("redact: bad ids, the store's own events and bad reasons are typed errors", () => {
  const { store } = memStore();
  const r = store.append(ACCT, KIND_A, 1);
  throwsType(() => store.redact("not-an-id" as never), InvalidArgumentError);
  throwsType(() => store.redact("0190b3a2-0000-7000-8000-000000000000"), NotFoundError);
  throwsType(() => store.redact(r.eventId, 5 as never), InvalidArgumentError);
  throwsType(() => store.redact(r.eventId, "x".repeat(1025)), InvalidArgumentError);
  throwsType(() => store.redact(r.eventId, "\ud800"), InvalidArgumentError);
  store.deleteStream("other");
  const system = store.query(Region.all().withSystem()).at(-1)!;
  throwsType(() => store.redact(system.eventId), InvalidArgumentError, /store's own/);
  store.redact(r.eventId);
  const events = store.diagnostics().events;
  store.redact(r.eventId, "again");
  assert.equal(store.diagnostics().events, events, "redacting twice writes nothing");
  store.close();
});

// ------------------------------------------------------------------ projections

Deno.test("a cached projection folds afresh when a truncation or deletion hides what it folded", () => {
  const { store } = memStore();
  for (let i = 1; i <= 4; i++) store.append(ACCT, KIND_A, { amount: i });
  let applied = 0;
  const balance = {
    initial: () => 0,
    apply: (s: number, e: StoredEvent) => (applied++, s + (e.payload as { amount: number }).amount),
  };
  assert.equal(store.project("acct:1", balance), 10);
  assert.equal(applied, 4);
  store.append(ACCT, KIND_A, { amount: 5 });
  assert.equal(store.project("acct:1", balance), 15);
  assert.equal(applied, 5, "only the new event applied");
  store.truncateBefore("acct:1", 3);
  assert.equal(store.project("acct:1", balance), 12, "3 + 4 + 5");
  assert.equal(applied, 8, "folded afresh");
  assert.equal(store.project("acct:1", balance, { maybeStaleMs: 60_000 }), 12);
  store.deleteStream("acct:1");
  assert.equal(store.project("acct:1", balance, { maybeStaleMs: 60_000 }), undefined);
  store.close();
});

// ------------------------------------------------------------------- read-only

Deno.test("lifecycle calls on a read-only store throw ReadOnlyError; its reads see the writer's", () => {
  const fs = new MemoryFileSystem();
  const writer = Store.open({ dataDir: DIR, fs });
  const r = writer.append(ACCT, KIND_A, 1);
  writer.sync();
  const reader = Store.open({ dataDir: DIR, fs, readOnly: true }) as Store;
  throwsType(() => reader.deleteStream("acct:1"), ReadOnlyError);
  throwsType(() => reader.truncateBefore("acct:1", 1), ReadOnlyError);
  throwsType(() => reader.setRetention("bank", { maxCount: 1 }), ReadOnlyError);
  throwsType(() => reader.redact(r.eventId), ReadOnlyError);
  writer.redact(r.eventId);
  writer.deleteStream("acct:1");
  reader.refresh();
  assert.deepEqual(reader.readStream("acct:1"), []);
  reader.close();
  writer.close();
});

Deno.test("concurrency: CAS on a truncated stream sees its real last sequence", () => {
  const { store } = memStore();
  for (let i = 0; i < 3; i++) store.append(ACCT, KIND_A, i);
  store.truncateBefore("acct:1", 4);
  const e = throwsType(
    () => store.append(ACCT, KIND_A, 9, { expectedSequence: 0 }),
    ConcurrencyError,
  );
  assert.equal(e.actual, 3);
  store.close();
});

/**
 * The log writer under I/O faults: an EIO or a failed fsync poisons it (reads
 * still work, a reopen recovers, nothing acknowledged is lost), a failed
 * rotation or a full disk fails that append alone, and close still releases
 * the directory when its fsync fails.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  IoError,
  Region,
  StorageFullError,
  type Store,
  StoreClosedError,
  StoreError,
  WriterPoisonedError,
} from "../../mod.ts";
import {
  assertHealthy,
  DIR,
  dump,
  KIND_A,
  KIND_B,
  memStore,
  onSegments,
  reopen,
  throwsType,
} from "../fixtures/store_helpers.ts";

for (const [name, kind] of [["write", "write"], ["syncData", "syncData"]] as const) {
  Deno.test(`poisoning: EIO on ${name} poisons the writer, reads work, reopen recovers`, async () => {
    const { fs, store } = memStore();
    const c = new Coordinate("p", "s");
    for (let i = 0; i < 5; i++) store.append(c, KIND_A, i);
    await store.durable();
    const durable = dump(store);
    store.append(c, KIND_A, 5);
    fs.setFaultInjector(onSegments(kind, { error: "EIO" }));
    // The failing call reports the I/O error itself...
    const e = throwsType(() => store.sync(), IoError);
    assert.equal(e.code, "IO_ERROR");
    assert.match(e.message, /EIO/);
    fs.setFaultInjector();
    // ...and later writes are refused, even with the disk healthy again, naming it as the cause.
    const later = throwsType(() => store.append(c, KIND_A, 6), WriterPoisonedError, /I\/O failure/);
    assert.equal(later.cause, e);
    throwsType(
      () => store.appendBatch([{ coord: c, kind: KIND_A, payload: 7 }]),
      WriterPoisonedError,
    );
    throwsType(() => store.sync(), WriterPoisonedError);
    await assert.rejects(store.durable(), WriterPoisonedError);
    // Reads still work.
    assert.equal(store.stream("p").length, 6);
    for (const ev of durable) assert.deepEqual(store.get(ev.eventId as string).payload, ev.payload);
    // A crash and reopen recovers everything acknowledged durable.
    const again = reopen(fs.crash());
    assert.deepEqual(dump(again).slice(0, 5), durable);
    assertHealthy(again);
    again.append(c, KIND_A, "recovered");
    again.close();
  });
}

Deno.test("poisoning: a failed async fsync rejects durable() and poisons the writer", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("p", "s");
  store.append(c, KIND_A, 0);
  await store.durable();
  store.append(c, KIND_A, 1);
  fs.setFaultInjector(onSegments("syncData", { error: "EIO" }));
  await assert.rejects(store.durable(), IoError);
  throwsType(() => store.append(c, KIND_A, 2), WriterPoisonedError);
  assert.equal(store.stream("p").length, 2);
  store.close(); // closing a poisoned store releases it
  const again = reopen(fs.crash());
  assert.equal(again.stream("p").length, 1);
  assertHealthy(again);
  again.close();
});

Deno.test("poisoning: a failed off-thread fsync shared by two durable() callers rejects both", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("p", "s");
  store.append(c, KIND_A, 0);
  await store.durable();
  store.append(c, KIND_A, 1);
  fs.setFaultInjector(onSegments("syncData", { error: "EIO" }));
  const [a, b] = await Promise.allSettled([store.durable(), store.durable()]);
  assert.equal(a.status, "rejected");
  assert.equal(b.status, "rejected");
  assert.ok((a as PromiseRejectedResult).reason instanceof IoError);
  assert.equal((a as PromiseRejectedResult).reason, (b as PromiseRejectedResult).reason);
  throwsType(() => store.append(c, KIND_A, 2), WriterPoisonedError);
  store.close();
  const again = reopen(fs.crash());
  assert.equal(again.stream("p").length, 1);
  again.close();
});

Deno.test("group commit: a lone durable() syncs on the calling thread, two or more share one off-thread sync", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("g", "s");
  store.append(c, KIND_A, 0);
  store.sync(); // the first append also syncs the space it allocates
  const calls: string[] = [];
  fs.setFaultInjector((op) => {
    if (op.path.endsWith(".fbat") && (op.kind === "syncData" || op.kind === "sync")) {
      calls.push(op.async ? "async" : "blocking");
    }
    return undefined;
  });
  store.append(c, KIND_A, 1);
  await store.durable();
  assert.deepEqual(calls, ["blocking"]);
  calls.length = 0;
  store.append(c, KIND_A, 2);
  await Promise.all([store.durable(), store.durable()]);
  assert.deepEqual(calls, ["async"]);
  store.append(c, KIND_A, 3); // not waited for: may be lost
  // Everything the callers waited for is durable: a crash now keeps events 1 to 3.
  const again = reopen(fs.crash());
  assert.deepEqual(again.stream("g").map((e) => e.sequence).slice(0, 3), [1, 2, 3]);
  again.close();
});

Deno.test("poisoning: an EIO while an append flushes a full buffer fails that append", () => {
  const { fs, store } = memStore();
  const c = new Coordinate("p", "s");
  store.append(c, KIND_A, "durable");
  store.sync();
  fs.setFaultInjector(onSegments("write", { error: "EIO" }));
  const big = "z".repeat(200 * 1024);
  store.append(c, KIND_A, big); // fits the 256 KiB write buffer
  throwsType(() => store.append(c, KIND_A, big), StoreError); // forces a flush
  fs.setFaultInjector();
  throwsType(() => store.append(c, KIND_A, 1), WriterPoisonedError);
  assert.equal(store.get(store.stream("p")[0].eventId).payload, "durable");
  store.close();
  const again = reopen(fs.crash());
  assert.equal(again.diagnostics().events, 1);
  assertHealthy(again);
  again.close();
});

Deno.test("poisoning: a failed segment rotation poisons; nothing acknowledged is lost", () => {
  const { fs, store } = memStore({ segmentMaxBytes: 512, sync: { everyNEvents: 1 } });
  const c = new Coordinate("rot", "s");
  let acknowledged = 0;
  fs.setFaultInjector((op) =>
    op.kind === "open" && op.path.endsWith("000003.fbat") ? { error: "ENOSPC" } : undefined
  );
  let failure: unknown;
  for (let i = 0; i < 100 && failure === undefined; i++) {
    try {
      store.append(c, KIND_A, { i, pad: "r".repeat(30) });
      acknowledged++;
    } catch (e) {
      failure = e;
    }
  }
  assert.ok(failure instanceof StoreError, String(failure));
  throwsType(() => store.append(c, KIND_A, "more"), WriterPoisonedError);
  const again = reopen(fs.crash());
  assert.equal(again.diagnostics().events, acknowledged);
  assertHealthy(again);
  again.close();
});

Deno.test("I/O faults: one failing operation anywhere in a rotating workload loses nothing durable", () => {
  const payloadsOf = (s: Store) => s.query(Region.all()).map((e) => s.get(e.eventId).payload);
  let faulted = 0;
  let opsSeen = 0;
  const OPS_MAX = 250;
  for (let at = 0; at < OPS_MAX; at++) {
    for (const torn of [false, true]) {
      const { fs, store } = memStore({ segmentMaxBytes: 512, sync: { everyNEvents: 3 } });
      let first = -1;
      let hit = false;
      fs.setFaultInjector((op) => {
        if (first < 0) first = op.seq;
        opsSeen = Math.max(opsSeen, op.seq - first);
        if (op.seq - first !== at) return undefined;
        if (torn && op.kind !== "write") return undefined;
        hit = true;
        return torn ? { tornWrite: Math.floor((op.length ?? 0) / 2) } : { error: "EIO" };
      });
      const cs = [new Coordinate("a", "s"), new Coordinate("b", "t")];
      const written: unknown[] = [];
      let durable = 0;
      let failure: unknown;
      try {
        for (let i = 0; i < 30; i++) {
          if (i % 5 === 4) {
            store.appendBatch([
              { coord: cs[0], kind: KIND_A, payload: i },
              { coord: cs[1], kind: KIND_B, payload: -i },
            ]);
            written.push(i, -i);
            durable = written.length; // a batch returns durable
          } else {
            store.append(cs[i % 2], KIND_A, i);
            written.push(i);
          }
          if (i % 7 === 6) {
            store.sync();
            durable = written.length;
          }
        }
      } catch (e) {
        failure = e;
      }
      if (hit) faulted++;
      if (failure !== undefined) {
        assert.ok(failure instanceof StoreError, `op ${at}: ${failure}`);
        // A failure stops the writer (WRITER_POISONED), or, when only space could not be had
        // (nothing of the log changed), the store stays writable.
        try {
          store.append(cs[0], KIND_A, "x");
          assert.ok(!(failure instanceof IoError), `op ${at}: writable after ${failure}`);
          written.push("x");
        } catch (e) {
          assert.ok(e instanceof WriterPoisonedError, `op ${at}: ${e}`);
        }
      }
      const again = reopen(fs.crash({ tornWrites: true, seed: at * 2 + (torn ? 1 : 0) }));
      const got = payloadsOf(again);
      assert.ok(got.length >= durable, `op ${at}: ${got.length} events back, ${durable} durable`);
      assert.deepEqual(got, written.slice(0, got.length), `op ${at}: a prefix of what was written`);
      assertHealthy(again);
      again.close();
    }
  }
  assert.ok(opsSeen < OPS_MAX, `the sweep covers every operation (${opsSeen} seen)`);
  // Every operation index of the workload was faulted at least once (plus the torn writes).
  assert.ok(faulted > opsSeen, `${faulted} runs hit their fault over ${opsSeen} operations`);
});

Deno.test("close with a failing fsync throws a StoreError but still releases the directory", async () => {
  const { fs, store } = memStore();
  const c = new Coordinate("cl", "s");
  store.append(c, KIND_A, "durable");
  store.sync();
  store.append(c, KIND_A, "not durable");
  fs.setFaultInjector(onSegments("syncData", { error: "EIO" }));
  const e = throwsType(() => store.close(), StoreError);
  assert.match(e.message, /EIO/);
  await assert.rejects(store.durable(), StoreClosedError);
  store.close(); // idempotent, even after a failed close
  fs.setFaultInjector();
  // Not locked any more; no image vouches for the unsynced event.
  assert.equal(fs.stat(`${DIR}/index.img`), undefined);
  const again = reopen(fs.crash());
  assert.deepEqual(again.stream("cl").map((ev) => again.get(ev.eventId).payload), ["durable"]);
  again.close();
});

Deno.test("a rotation that cannot create the next segment keeps writing to the current one and retries", () => {
  const { fs, store } = memStore({ segmentMaxBytes: 512, sync: { everyNEvents: 1 } });
  const c = new Coordinate("rot", "s");
  let failures = 0;
  // The next segment's temporary file cannot be created (a full disk, an exhausted pool).
  fs.setFaultInjector((op) => {
    if (op.kind === "open" && op.path.endsWith("000002.fbat.tmp") && failures < 3) {
      failures++;
      return { error: "ENOSPC" };
    }
    return undefined;
  });
  const receipts = [];
  for (let i = 0; i < 30; i++) receipts.push(store.append(c, KIND_A, { i, pad: "r".repeat(30) }));
  assert.equal(failures, 3, "the rotation was tried at three appends and failed each time");
  assert.ok(store.diagnostics().segments >= 2, "then it succeeded");
  assert.equal(store.stream("rot").length, 30);
  const again = reopen(fs.crash());
  assert.deepEqual(
    again.stream("rot").map((e) => e.eventId),
    receipts.map((r) => r.eventId),
    "nothing acknowledged was lost; segment 1 simply grew past segmentMaxBytes",
  );
  assertHealthy(again);
  again.close();
});

Deno.test("a full disk while allocating space fails that append alone; the store writes again once space frees", () => {
  const { fs, store } = memStore({ segmentMaxBytes: 4 * 1024 * 1024 });
  const c = new Coordinate("full", "s");
  store.append(c, KIND_A, "first"); // allocates the first megabyte
  let full = true;
  fs.setFaultInjector((op) =>
    full && op.kind === "write" && op.path.endsWith(".fbat") && (op.length ?? 0) > 64 * 1024
      ? { error: "ENOSPC" }
      : undefined
  );
  const big = new Uint8Array(1200 * 1024); // needs the next megabyte
  const e = throwsType(() => store.append(c, KIND_A, big), StorageFullError);
  assert.equal(e.code, "STORAGE_FULL");
  assert.equal(store.stream("full").length, 1, "nothing of the failed append is visible");
  store.append(c, KIND_A, "small"); // fits the space already allocated
  full = false;
  store.append(c, KIND_A, big);
  store.sync();
  const again = reopen(fs.crash());
  assert.deepEqual(again.stream("full").map((ev) => again.get(ev.eventId).payload), [
    "first",
    "small",
    big,
  ]);
  again.close();
});

Deno.test("group commit: a loop of append + await durable() lets the event loop turn between rounds", async () => {
  // Regression: lone rounds once resolved from a microtask, so this loop never let a timer
  // (or a stdin read that says stop) run, and a writer process looped forever.
  const { store } = memStore();
  const c = new Coordinate("loop", "s");
  let stop = false;
  const timer = setTimeout(() => stop = true, 20);
  let rounds = 0;
  const cap = 100_000;
  try {
    while (!stop && rounds < cap) {
      store.append(c, KIND_A, rounds++);
      await store.durable();
    }
  } finally {
    clearTimeout(timer);
  }
  assert.ok(stop, `the timer never ran in ${rounds} rounds`);
  assert.ok(rounds < cap);
  store.close();
});

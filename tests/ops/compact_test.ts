/**
 * Compaction: the payload bytes of deleted, truncated, expired and redacted
 * events leave every file, disk usage drops, nothing live changes (global
 * order, hashes, verify), cursors and subscriptions across it skip nothing,
 * and a crash or an I/O failure at any file operation of it loses nothing.
 */

import assert from "node:assert/strict";
import {
  Coordinate,
  ReadOnlyError,
  Region,
  Store,
  StoreClosedError,
  StoreError,
  WriterPoisonedError,
} from "../../mod.ts";
import { type FsOp, MemoryFileSystem } from "../../testing.ts";
import { cloneFs, DIR, dump, KIND_A, KIND_B, memStore, reopen } from "../fixtures/store_helpers.ts";

const BANK = (n: number) => new Coordinate(`acct:${n}`, "bank");
const SECRET = "TOP-SECRET-";

/** Every byte of every file of the store, as latin1 text (to search like `grep`). */
function allBytes(fs: MemoryFileSystem): string {
  let text = "";
  for (const path of fs.listFiles()) {
    text += new TextDecoder("latin1").decode(fs.readFile(path));
  }
  return text;
}

Deno.test("compact: secrets leave every file, space drops, live events and verify unchanged", async () => {
  const now = { ms: 1_000_000 };
  const { fs, store } = memStore({ segmentMaxBytes: 4096, clock: () => now.ms });
  for (let i = 0; i < 120; i++) {
    now.ms += 10;
    const who = i % 6;
    store.append(BANK(who), i % 2 ? KIND_A : KIND_B, {
      i,
      note: who <= 2 ? `${SECRET}${who}-${i}` : `live-${i}`,
    }, { idempotencyKey: i % 25 === 0 ? `key-${i}` : undefined });
    if (i % 40 === 0) {
      store.append(new Coordinate(`tmp:${i}`, "scratch"), KIND_A, { note: `${SECRET}tmp` });
    }
  }
  const redacted = store.append(BANK(5), KIND_A, { note: `${SECRET}redacted` });
  store.append(BANK(5), KIND_A, { note: "live-after-redacted" });
  store.deleteStream("acct:0");
  store.truncateBefore("acct:1", 15);
  store.setRetention("scratch", { maxAgeMs: 100 });
  store.redact(redacted.eventId, "request 7");
  // acct:2's secrets are live: they must stay.
  const before = dump(store);
  const withSystem = store.query(Region.all().withSystem()).map((e) => e.globalSequence);
  assert.ok(allBytes(fs).includes(`${SECRET}0-`), "the secrets are on disk before");
  const progress: [number, number][] = [];
  const report = await store.compact({ onProgress: (done, total) => progress.push([done, total]) });
  assert.ok(report.segmentsRewritten > 1, `rewrote ${report.segmentsRewritten}`);
  // acct:0 (20 events), acct:1 below sequence 15 (14), tmp:* (3), the redacted one.
  assert.equal(report.eventsDropped, 20 + 14 + 3 + 1);
  assert.equal(report.eventsNotErasable, 0);
  assert.ok(report.bytesAfter < report.bytesBefore, JSON.stringify(report));
  assert.deepEqual(progress.map(([d]) => d), progress.map((_, i) => i + 1));
  assert.ok(progress.every(([, t]) => t === report.segmentsRewritten));
  const text = allBytes(fs);
  for (const gone of [`${SECRET}0-`, `${SECRET}1-1-`, `${SECRET}tmp`, `${SECRET}redacted`]) {
    assert.ok(!text.includes(gone), `${gone} is still on disk`);
  }
  assert.ok(text.includes(`${SECRET}2-`), "a live secret stays");
  assert.ok(text.includes(`${SECRET}1-85`), "acct:1's events from sequence 15 stay");
  assert.deepEqual(dump(store), before, "every live event is byte-identical");
  assert.deepEqual(
    store.query(Region.all().withSystem()).map((e) => e.globalSequence),
    withSystem,
    "global order unchanged",
  );
  assert.deepEqual(store.verify().problems, []);
  // Idempotency keys of erased events still deduplicate.
  assert.equal(
    store.append(BANK(0), KIND_B, "retry", { idempotencyKey: "key-0" }).duplicate,
    true,
  );
  store.close();
  for (
    const extra of [{}, { enableMmapIndex: false }, {
      enableMmapIndex: false,
      enableCheckpoint: false,
    }]
  ) {
    const again = reopen(fs, { ...extra, clock: () => now.ms });
    assert.deepEqual(dump(again), before, `after reopen ${JSON.stringify(extra)}`);
    assert.deepEqual(again.verify().problems, []);
    assert.equal(again.get(redacted.eventId).redacted, true);
    // A second compaction finds nothing new.
    const second = await again.compact();
    assert.equal(second.eventsDropped, 0);
    again.close();
  }
});

Deno.test("compact: a removed retention policy brings expired events back as redacted", async () => {
  const now = { ms: 5_000 };
  const { store } = memStore({ clock: () => now.ms });
  const old = store.append(BANK(1), KIND_A, { note: "old" });
  now.ms += 1_000;
  store.append(BANK(1), KIND_A, { note: "new" });
  store.setRetention("bank", { maxAgeMs: 500 });
  assert.equal((await store.compact()).eventsDropped, 1);
  store.setRetention("bank", {});
  const back = store.get(old.eventId);
  assert.equal(back.payload, undefined);
  assert.equal(back.redacted, true);
  assert.deepEqual(store.verify().problems, []);
  store.close();
});

Deno.test("compact: cursors and subscriptions across a compaction, with appends during it, skip nothing", async () => {
  const { store } = memStore({ segmentMaxBytes: 2048 });
  for (let i = 0; i < 200; i++) store.append(BANK(i % 4), KIND_A, { i, pad: "p".repeat(40) });
  store.deleteStream("acct:0");
  const cursor = store.cursorGuaranteed(Region.all());
  const polled: number[] = [];
  for (let k = 0; k < 30; k++) polled.push(cursor.poll()!.globalSequence);
  const seen: number[] = [];
  const abort = new AbortController();
  const live = (async () => {
    for await (const e of store.subscribe(Region.all(), { signal: abort.signal })) {
      seen.push(e.globalSequence);
      if (e.entity === "acct:9") break;
    }
  })();
  let appended = 0;
  const report = await store.compact({
    onProgress: () => {
      store.append(BANK(1 + (appended % 3)), KIND_A, { during: appended++ });
    },
  });
  assert.ok(report.segmentsRewritten > 2);
  store.append(new Coordinate("acct:9", "bank"), KIND_A, { last: true });
  await live;
  abort.abort();
  const expected = store.query(Region.all()).map((e) => e.globalSequence);
  assert.deepEqual(seen, expected, "the subscription saw every live event once, in order");
  for (let e = cursor.poll(); e; e = cursor.poll()) polled.push(e.globalSequence);
  assert.deepEqual(polled, expected, "the cursor too");
  assert.equal(appended, report.segmentsRewritten);
  assert.deepEqual(store.verify().problems, []);
  store.close();
});

/** Build the fixture store (closed) on a fresh file system; returns its fs and live dump. */
function lifecycleStore(): { fs: MemoryFileSystem; before: Record<string, unknown>[] } {
  const { fs, store } = memStore({ segmentMaxBytes: 1024 });
  for (let i = 0; i < 60; i++) {
    store.append(BANK(i % 3), KIND_A, { i, note: i % 3 === 0 ? `${SECRET}${i}` : `live-${i}` });
  }
  store.deleteStream("acct:0");
  const victim = store.readStream("acct:1")[4];
  store.redact(victim.eventId);
  const before = dump(store);
  store.close();
  return { fs, before };
}

Deno.test("compact: a crash at every file operation of a compaction loses nothing; a rerun finishes", async () => {
  const base = lifecycleStore();
  // How many file operations a whole compaction takes.
  let total = 0;
  {
    const fs = cloneFs(base.fs);
    const store = reopen(fs);
    fs.setFaultInjector(() => (total++, undefined));
    await store.compact();
    fs.setFaultInjector(undefined);
    store.close();
  }
  assert.ok(total > 20, `${total} operations`);
  for (let k = 0; k < total; k++) {
    for (const torn of [false, true]) {
      const fs = cloneFs(base.fs);
      const store = reopen(fs);
      let seen = 0;
      let fired: FsOp | undefined;
      // From operation k on, the process is dead: every operation fails.
      fs.setFaultInjector((op) => {
        if (seen++ < k) return undefined;
        fired ??= op;
        return { error: "EIO" };
      });
      const outcome = await store.compact().then(() => "done", (e) => e);
      if (outcome !== "done") {
        assert.ok(outcome instanceof StoreError, `k=${k}: ${outcome}`);
      }
      const crashed = fs.crash({ tornWrites: torn, seed: k });
      const after = reopen(crashed);
      const where = `crash at operation ${k} (${fired?.kind} ${fired?.path}), torn ${torn}`;
      assert.deepEqual(dump(after), base.before, where);
      assert.deepEqual(after.verify().problems, [], where);
      await after.compact();
      assert.ok(!allBytes(crashed).includes(SECRET), `${where}: the rerun erased everything`);
      assert.deepEqual(dump(after), base.before, where);
      after.close();
    }
  }
});

Deno.test("compact: an I/O failure or a full disk mid-compaction is a typed error and loses nothing", async () => {
  for (const error of ["EIO", "ENOSPC"] as const) {
    for (const kind of ["read", "write", "syncData", "rename", "remove", "syncDir"] as const) {
      const { fs, before } = lifecycleStore();
      const store = reopen(fs);
      let fired: FsOp | undefined;
      // Sealing the active segment creates the next one (through its own .tmp); a rewrite
      // writes an existing segment's .tmp.
      const active = fs.listFiles().filter((f) => f.endsWith(".fbat")).sort().at(-1)!;
      let rewriting = false;
      let firedSealing = false;
      fs.setFaultInjector((op) => {
        if (op.path.endsWith(".fbat.tmp") && op.path <= `${active}.tmp`) rewriting = true;
        if (fired || op.kind !== kind || op.path.endsWith("cursors.dat")) return undefined;
        fired = op;
        firedSealing = !rewriting;
        return { error };
      });
      const outcome = await store.compact().then(() => undefined, (e) => e);
      fs.setFaultInjector(undefined);
      const where = `${error} on ${kind} ${fired?.path}`;
      assert.ok(fired, `${where}: the fault fired`);
      assert.ok(outcome instanceof StoreError, `${where}: ${outcome}`);
      assert.deepEqual(dump(store), before, `${where}: reads before a reopen`);
      // Only a failure of the log itself (sealing the active segment) stops the writer.
      let usable = true;
      try {
        store.append(BANK(2), KIND_A, { after: where });
      } catch (e) {
        assert.ok(e instanceof WriterPoisonedError, `${where}: ${e}`);
        assert.ok(firedSealing, `${where}: poisoned by a failure outside the log`);
        usable = false;
      }
      store.close();
      const again = reopen(fs);
      assert.deepEqual(dump(again).slice(0, before.length), before, where);
      assert.equal(dump(again).length, before.length + (usable ? 1 : 0), where);
      await again.compact();
      assert.ok(!allBytes(fs).includes(SECRET), `${where}: a rerun erases everything`);
      assert.deepEqual(again.verify().problems, [], where);
      again.close();
    }
  }
});

Deno.test("compact: refused on a read-only or closed store, and while another compaction runs", async () => {
  const { fs } = lifecycleStore();
  const reader = Store.open({ dataDir: DIR, fs, readOnly: true }) as Store;
  await assert.rejects(() => reader.compact(), ReadOnlyError);
  reader.close();
  const store = reopen(fs);
  const first = store.compact();
  await assert.rejects(() => store.compact(), /already running/);
  await first;
  await assert.rejects(() => store.compact({ onProgress: 5 as never }), StoreError);
  store.close();
  await assert.rejects(() => store.compact(), StoreClosedError);
});

Deno.test("compact: closing the store mid-compaction stops it between segments, nothing lost", async () => {
  const { fs, before } = lifecycleStore();
  const store = reopen(fs);
  const run = store.compact({ onProgress: (done) => done === 1 && store.close() });
  await assert.rejects(() => run, StoreClosedError);
  const again = reopen(fs);
  assert.deepEqual(dump(again), before);
  assert.deepEqual(again.verify().problems, []);
  again.close();
});

Deno.test("compact: a format-1 store (written before format 2) is read, verified, redacted; its payloads are kept and counted", async () => {
  const fixture = new URL("../fixtures/format1_store/", import.meta.url);
  const fs = new MemoryFileSystem();
  fs.mkdir(DIR);
  for (const entry of Deno.readDirSync(fixture)) {
    if (entry.name.endsWith(".md")) continue;
    fs.writeFile(`${DIR}/${entry.name}`, Deno.readFileSync(new URL(entry.name, fixture)));
  }
  const store = reopen(fs);
  assert.equal(store.diagnostics().events, 42);
  assert.deepEqual(store.verify().problems, []);
  const first = store.readStream("v1:1")[0];
  assert.deepEqual(first.payload, { i: 1, secret: "V1SECRET-1", list: [1, "x", null] });
  // A format-2 event appended after them chains to a format-1 one.
  const next = store.append(new Coordinate("v1:1", "old"), KIND_A, { v2: true });
  assert.equal(store.get(next.eventId).prevHash, store.readStream("v1:1").at(-2)!.eventHash);
  store.redact(first.eventId);
  assert.equal(store.get(first.eventId).redacted, true);
  const report = await store.compact();
  assert.equal(report.eventsNotErasable, 1);
  assert.equal(report.eventsDropped, 0);
  assert.deepEqual(store.verify().problems, []);
  assert.equal(store.get(first.eventId).payload, undefined, "still hidden from reads");
  store.close();
  const again = reopen(fs, { enableMmapIndex: false, enableCheckpoint: false });
  assert.equal(again.diagnostics().events, 42 + 2);
  assert.deepEqual(again.verify().problems, []);
  again.close();
});

Deno.test("compact: bad options are typed errors", async () => {
  const { store } = memStore();
  for (const bad of [null, 5, "x"]) {
    await assert.rejects(() => store.compact(bad as never), StoreError);
  }
  store.close();
});

Deno.test("compact: started from inside a read (a replay's visitor, a projection's apply), it moves no frame under that read", async () => {
  for (const reader of ["replay", "project"] as const) {
    const { store } = memStore({ segmentMaxBytes: 4096 });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const coord = new Coordinate(`e${i % 3}`, "s");
      ids.push(store.append(coord, KIND_A, { i, pad: "p".repeat(30) }).eventId);
    }
    store.sync();
    for (let i = 0; i < 300; i += 5) store.redact(ids[i]);
    let compaction: Promise<unknown> | undefined;
    let seen = 0;
    const start = () => {
      if (++seen === 3) compaction = store.compact();
    };
    if (reader === "replay") store.replay(Region.all(), start);
    else {
      store.project("e0", { initial: () => 0, apply: (n: number) => (start(), n + 1) });
    }
    assert.equal(seen, reader === "replay" ? 300 : 100, reader);
    const report = (await compaction) as { segmentsRewritten: number };
    assert.ok(report.segmentsRewritten > 0, reader);
    assert.equal(store.readStream("e1").length, 100);
    assert.equal(store.verify().ok, true);
    store.close();
  }
});

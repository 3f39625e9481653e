// The storage port on real OPFS, in headless Chromium: the port's behavioural cases in a
// dedicated worker, then what only OPFS has (reopen by a new worker, the cross-worker lock, a
// reload, a crashed renderer, the quota, the pool running dry and growing back).
import assert from "node:assert/strict";
import { type BrowserSession, chromiumOrSkip, startBrowser, WorkerCallError } from "./_harness.ts";

const chromium = chromiumOrSkip("tests/browser/opfs_fs_test.ts");
const ENTRY = new URL("./_fs_worker.ts", import.meta.url).pathname;
const isError = (code: string) => (e: unknown) => e instanceof WorkerCallError && e.code === code;

if (chromium !== undefined) {
  Deno.test({
    name: "OPFS port in Chromium",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const session: BrowserSession = await startBrowser({ chromium, entries: { fs: ENTRY } });
      try {
        await portCases(t, session);
        await opfsOnly(t, session);
      } finally {
        await session.close();
      }
    },
  });
}

async function portCases(t: Deno.TestContext, session: BrowserSession): Promise<void> {
  const page = await session.page();
  const worker = await page.spawn("fs");
  for (const name of await worker.call<string[]>("cases")) {
    await t.step(`port: ${name}`, () => worker.call("runCase", name));
  }
  await page.assertClean();
  await page.close();
}

async function opfsOnly(t: Deno.TestContext, session: BrowserSession): Promise<void> {
  await t.step("a new worker reopens the pool with every file, directory and byte", async () => {
    const page = await session.page();
    const first = await page.spawn("fs");
    await first.call("open", "reopen");
    await first.call("mkdir", "reopen", "/db/sub");
    await first.call("write", "reopen", "/db/000001.fbat", "segment one");
    await first.call("write", "reopen", "/db/tmp", "renamed");
    await first.call("rename", "reopen", "/db/tmp", "/db/index.ckpt");
    await first.terminate(); // no close: the worker just ends
    const second = await page.spawn("fs");
    await second.call("open", "reopen", { lockWaitMs: 5_000 });
    assert.deepEqual(await second.call("readDir", "reopen", "/db"), [
      "000001.fbat",
      "index.ckpt",
      "sub",
    ]);
    assert.equal(await second.call("read", "reopen", "/db/000001.fbat"), "segment one");
    assert.equal(await second.call("read", "reopen", "/db/index.ckpt"), "renamed");
    await second.call("close", "reopen");
    await second.call("drop", "reopen");
    await page.assertClean();
    await page.close();
  });

  await t.step("a second worker, or another tab, gets StoreLockedError", async () => {
    const page = await session.page();
    const holder = await page.spawn("fs");
    await holder.call("open", "locked");
    const rival = await page.spawn("fs");
    await assert.rejects(rival.call("open", "locked"), isError("STORE_LOCKED"));
    const tab = await session.page();
    const other = await tab.spawn("fs");
    await assert.rejects(other.call("open", "locked"), isError("STORE_LOCKED"));
    await holder.call("close", "locked");
    await other.call("open", "locked");
    await other.call("close", "locked");
    await other.call("drop", "locked");
    await page.assertClean();
    await tab.assertClean();
    await page.close();
    await tab.close();
  });

  await t.step("after a reload the new page's worker opens the pool", async () => {
    const page = await session.page();
    const before = await page.spawn("fs");
    await before.call("open", "reload");
    await before.call("write", "reload", "/kept", "durable before the reload");
    await page.reload();
    const after = await page.spawn("fs");
    await after.call("open", "reload", { lockWaitMs: 5_000 });
    assert.equal(await after.call("read", "reload", "/kept"), "durable before the reload");
    await after.call("close", "reload");
    await after.call("drop", "reload");
    await page.assertClean();
    await page.close();
  });

  await t.step("after Page.crash a new tab opens the pool with everything written", async () => {
    const page = await session.page();
    const worker = await page.spawn("fs");
    await worker.call("open", "crash");
    await worker.call("write", "crash", "/flushed", "flushed");
    await worker.call("write", "crash", "/written", "written, not flushed", { sync: false });
    await page.crash();
    await page.close();
    const tab = await session.page();
    const again = await tab.spawn("fs");
    await again.call("open", "crash", { lockWaitMs: 5_000 });
    assert.equal(await again.call("read", "crash", "/flushed"), "flushed");
    // A renderer crash loses nothing the OS was given: only power loss loses unflushed bytes.
    assert.equal(await again.call("read", "crash", "/written"), "written, not flushed");
    await again.call("close", "crash");
    await again.call("drop", "crash");
    await tab.assertClean();
    await tab.close();
  });

  await t.step(
    "a write past the quota is StorageFullError, writes nothing, reads go on",
    async () => {
      const page = await session.page();
      const worker = await page.spawn("fs");
      await worker.call("open", "quota");
      await worker.call("write", "quota", "/f", "before");
      await page.setQuota(2 * 1024 * 1024);
      try {
        await assert.rejects(
          worker.call("grow", "quota", "/f", 4 * 1024 * 1024),
          isError("STORAGE_FULL"),
        );
        assert.equal(await worker.call("size", "quota", "/f"), 6, "the failed write wrote nothing");
        assert.equal(await worker.call("read", "quota", "/f"), "before");
      } finally {
        await page.setQuota(undefined);
      }
      await worker.call("grow", "quota", "/f", 4 * 1024 * 1024);
      assert.equal(await worker.call("size", "quota", "/f"), 6 + 4 * 1024 * 1024);
      await worker.call("close", "quota");
      await worker.call("drop", "quota");
      await page.assertClean();
      await page.close();
    },
  );

  await t.step("a burst past the spares is StorageFullError; the pool grows back", async () => {
    const page = await session.page();
    const worker = await page.spawn("fs");
    await worker.call("open", "burst", { spares: 2 });
    // Synchronous creations use the spares; the third finds none: nothing is created.
    assert.deepEqual(await worker.call("burst", "burst", "/f", 5), {
      created: 2,
      code: "STORAGE_FULL",
    });
    await worker.call("settled", "burst");
    assert.deepEqual(await worker.call("burst", "burst", "/g", 2), { created: 2 });
    await worker.call("reserve", "burst", 16);
    assert.ok((await worker.call<{ spares: number }>("stats", "burst")).spares >= 16);
    assert.deepEqual(await worker.call("readDir", "burst", "/"), ["f0", "f1", "g0", "g1"]);
    await worker.call("close", "burst");
    await worker.call("drop", "burst");
    await page.assertClean();
    await page.close();
  });
}
